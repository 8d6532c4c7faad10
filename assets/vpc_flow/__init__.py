"""VPC Flow Logs: landing files (default v2 and custom formats) -> raw hourly Parquet -> dbt marts."""
