"""The code location: merges the domains' assets, checks and sensors with the environment's
resources. Global policy lives here; everything else lives with its domain."""

import dagster as dg

from assets.clinical.assets import clinical_raw, landing_deliveries
from assets.cloudfront import assets as cloudfront
from assets.cloudfront.realtime import realtime_ranges
from assets.vpc_flow import assets as vpc_flow
from assets.warehouse_ops import assets as warehouse_ops
from assets.web_analytics import assets as web_analytics
from dataplatform import environments
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


PARTIAL_INPUTS_OK = "dataplatform/partial_inputs_ok"


def _downstream_is_eager(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Global policy: anything computed from other assets refreshes when they change, once
    all its inputs exist (assets tagged partial_inputs_ok also run on some of them).
    Raw assets are driven by the arrival, checkpoint and delivery sensors instead."""
    if spec.partitions_def is not None or spec.key in SENSOR_DRIVEN:
        return spec
    condition = dg.AutomationCondition.eager()
    if spec.tags.get(PARTIAL_INPUTS_OK) == "true":
        condition = condition.without(~dg.AutomationCondition.any_deps_missing())
    return spec.replace_attributes(automation_condition=spec.automation_condition or condition)


def build_definitions() -> dg.Definitions:
    python_assets = dg.map_asset_specs(
        _downstream_is_eager,
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
        ],
    )
    return dg.Definitions(
        assets=[*python_assets, *build_dbt_assets(), *warehouse_ops.assets],
        sensors=[*landing_sensors, *(checkpoint_sensor(policy) for policy in streams().values()), snapshot_rpo_sensor(),
                 clinical_delivery_sensor],
        jobs=[partition_retention, snapshot_restore_drill],
        schedules=[retention_schedule, *restore_drill_schedules()],
        resources=environments.resources(),
    )


defs = build_definitions()
