"""CloudFront access logs: landing files -> raw hourly Parquet -> user agents -> dbt marts."""
