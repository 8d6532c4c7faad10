"""The code location: every registered domain's Definitions merged with the platform's own
(the shared lake dbt build, partition retention), then global policy: automation conditions on
derived assets, the automation sensor, links to source code, the environment's resources."""

import dagster as dg

from dataplatform import automation, domains, environments
from dataplatform.dbt import build_dbt_assets
from dataplatform.retention import partition_retention, retention_schedule


def build_definitions() -> dg.Definitions:
    merged = dg.Definitions.merge(
        *(domain.definitions() for domain in domains.registered()),
        dg.Definitions(assets=[build_dbt_assets()], jobs=[partition_retention], schedules=[retention_schedule]),
    )
    assets = automation.apply_policy(merged.assets, automation.sensor_driven(merged))
    return dg.Definitions(
        assets=dg.with_source_code_references(assets),
        asset_checks=merged.asset_checks,
        sensors=[*merged.sensors, automation.automation_sensor()],
        jobs=merged.jobs,
        schedules=merged.schedules,
        resources=environments.resources(),
    )


defs = build_definitions()
