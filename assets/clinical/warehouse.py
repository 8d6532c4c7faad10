"""The clinical warehouse build: the OMOP CDM models and seeds in a dbt invocation of their own,
on the warehouse target (`dbt_warehouse`: its own DuckDB file locally, Redshift in aws), followed
by the OMOP data-quality summary of that invocation."""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from assets.clinical.dq_summary import dq_summary_events
from dataplatform.dbt import TRANSLATOR, dbt_project, invocation_target
from dataplatform.domains import registered

NAME = "dbt_warehouse_models"
SELECTION = next(domain.dbt_select for domain in registered() if domain.name == "clinical")


def build_warehouse_assets() -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(manifest=project.manifest_path, project=project, dagster_dbt_translator=TRANSLATOR,
                name=NAME, select=SELECTION)
    def dbt_warehouse_models(context: dg.AssetExecutionContext, dbt_warehouse: DbtCliResource):
        with invocation_target(NAME, context.run.run_id, dbt_warehouse.target) as target_path:
            invocation = dbt_warehouse.cli(["build"], context=context, raise_on_error=False, target_path=target_path)
            yield from invocation.stream()
            yield from dq_summary_events(context, invocation)  # OMOP DQ pass/fail on omop_dq_results
        if not invocation.is_successful():
            raise invocation.get_error()

    return dbt_warehouse_models
