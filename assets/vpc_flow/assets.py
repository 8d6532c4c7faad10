"""VPC Flow Logs assets: landing files -> raw hourly Parquet (+ rejects). dbt takes it from
there (models/vpc_flow)."""

from assets.vpc_flow.format import parse_object_name
from assets.vpc_flow.ingest import FLOW_LOGS
from dataplatform.landing_zones import zone
from dataplatform.raw_logs import raw_log_asset

ZONE = zone("vpcflowlogs")

landing_flow_logs, vpc_flow_raw = raw_log_asset(
    zone=ZONE,
    log_format=FLOW_LOGS,
    constants_for_key=lambda key: {"flow_log_id": parse_object_name(key).flow_log_id, "source_key": key},
    column_descriptions={
        "srcaddr": "Source address (IPv4 or IPv6); empty for NODATA/SKIPDATA.",
        "dstaddr": "Destination address.",
        "start_time": "Start of the aggregation interval (UTC), from `start`.",
        "end_time": "End of the aggregation interval (UTC), from `end`.",
        "log_status": "OK, NODATA (no traffic) or SKIPDATA (records skipped).",
        "flow_log_id": "Flow log that delivered the file, from the object name.",
    },
)
