"""The CloudFront domain: access logs at rest (landing zone -> raw hours -> user agents) and the
real-time log stream (checkpointed ranges). Its dbt models are built by the shared lake build."""

import dagster as dg

from assets.cloudfront.assets import cloudfront_raw, landing_access_logs, user_agent_dimension
from assets.cloudfront.realtime import realtime_ranges
from dataplatform.streams import streams
from sensors.kinesis_checkpoints import checkpoint_sensor
from sensors.reconciliation import landing_zone_definitions

DOMAIN = "cloudfront"

defs = dg.Definitions.merge(
    landing_zone_definitions(DOMAIN),
    dg.Definitions(
        assets=[landing_access_logs, cloudfront_raw, user_agent_dimension, realtime_ranges],
        sensors=[checkpoint_sensor(policy) for policy in streams().values() if policy.domain == DOMAIN],
    ),
)
