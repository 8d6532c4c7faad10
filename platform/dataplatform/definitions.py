"""The code location: merges the domains' assets, checks and sensors with the environment's
resources. Global policy lives here; everything else lives with its domain."""

import dagster as dg

from assets.cloudfront import assets as cloudfront
from assets.vpc_flow import assets as vpc_flow
from dataplatform import environments
from dataplatform.dbt import build_dbt_assets
from dataplatform.retention import partition_retention, retention_schedule
from sensors.landing_zones import sensors as landing_sensors


def _downstream_is_eager(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Global policy: anything computed from other assets refreshes when they change.
    Partitioned raw assets are driven by the arrival sensors instead."""
    if spec.partitions_def is not None:
        return spec
    return spec.replace_attributes(automation_condition=spec.automation_condition or dg.AutomationCondition.eager())


def build_definitions() -> dg.Definitions:
    python_assets = dg.map_asset_specs(
        _downstream_is_eager,
        [
            cloudfront.landing_access_logs,
            cloudfront.cloudfront_raw,
            cloudfront.user_agent_dimension,
            vpc_flow.landing_flow_logs,
            vpc_flow.vpc_flow_raw,
        ],
    )
    return dg.Definitions(
        assets=[*python_assets, build_dbt_assets()],
        sensors=landing_sensors,
        jobs=[partition_retention],
        schedules=[retention_schedule],
        resources=environments.resources(),
    )


defs = build_definitions()
