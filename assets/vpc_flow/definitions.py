"""The VPC Flow Logs domain: its landing zone, raw hours and their arrival sensor."""

import dagster as dg

from assets.vpc_flow.assets import landing_flow_logs, vpc_flow_raw
from dataplatform.landing_zones import zones
from sensors.s3_arrivals import arrival_sensor

DOMAIN = "vpc_flow"

defs = dg.Definitions(
    assets=[landing_flow_logs, vpc_flow_raw],
    sensors=[arrival_sensor(zone) for zone in zones().values() if zone.domain == DOMAIN],
)
