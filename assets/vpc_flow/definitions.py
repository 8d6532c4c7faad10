"""The VPC Flow Logs domain: its landing zone, raw hours, arrival and reconciliation sensors."""

import dagster as dg

from assets.vpc_flow.assets import landing_flow_logs, vpc_flow_raw
from sensors.reconciliation import landing_zone_definitions

DOMAIN = "vpc_flow"

defs = dg.Definitions.merge(
    dg.Definitions(assets=[landing_flow_logs, vpc_flow_raw]),
    landing_zone_definitions(DOMAIN),
)
