"""The web-analytics domain: the event stream's checkpointed ranges, exactly-once counters and
live KPIs in the key-value store, anomaly alerts."""

import dagster as dg

from assets.web_analytics.assets import assets
from dataplatform.streams import streams
from sensors.kinesis_checkpoints import checkpoint_sensor

DOMAIN = "web_analytics"

defs = dg.Definitions(
    assets=assets,
    sensors=[checkpoint_sensor(policy) for policy in streams().values() if policy.domain == DOMAIN],
)
