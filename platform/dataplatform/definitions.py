"""The code location: merges the domains' assets, checks and sensors with the environment's
resources. Global policy lives here; everything else lives with its domain."""

import dagster as dg

from assets.clinical.assets import clinical_raw, landing_deliveries
from assets.cloudfront import assets as cloudfront
from assets.cloudfront.realtime import realtime_ranges
from assets.vpc_flow import assets as vpc_flow
from assets.warehouse_ops import assets as warehouse_ops
from assets.web_analytics import assets as web_analytics
from dataplatform import automation, environments
from dataplatform.dbt import build_dbt_assets
from dataplatform.retention import partition_retention, retention_schedule
from dataplatform.snapshots import restore_drill_schedules, snapshot_restore_drill
from dataplatform.streams import streams
from sensors.clinical_deliveries import clinical_delivery_sensor
from sensors.kinesis_checkpoints import checkpoint_sensor
from sensors.landing_zones import sensors as landing_sensors
from sensors.snapshot_rpo import snapshot_rpo_sensor


# Driven by their sensors (checkpoints, delivery manifests), never by automation.
SENSOR_DRIVEN = {key for policy in streams().values() for key in policy.asset_keys} | set(clinical_raw.keys)


def build_definitions() -> dg.Definitions:
    governed_assets = automation.apply_policy(
        [
            cloudfront.landing_access_logs,
            cloudfront.cloudfront_raw,
            cloudfront.user_agent_dimension,
            vpc_flow.landing_flow_logs,
            vpc_flow.vpc_flow_raw,
            realtime_ranges,
            *web_analytics.assets,
            landing_deliveries,
            clinical_raw,
            *build_dbt_assets(),
        ],
        SENSOR_DRIVEN,
    )
    return dg.Definitions(
        assets=[*governed_assets, *warehouse_ops.assets],
        sensors=[*landing_sensors, *(checkpoint_sensor(policy) for policy in streams().values()), snapshot_rpo_sensor(),
                 clinical_delivery_sensor, automation.automation_sensor()],
        jobs=[partition_retention, snapshot_restore_drill],
        schedules=[retention_schedule, *restore_drill_schedules()],
        resources=environments.resources(),
    )


defs = build_definitions()
