"""The dbt project as Dagster assets: one cached DbtProject, one translator that owns keys.

Key convention: a model's key is [layer, model name] where the layer is its folder
(staging, intermediate, marts); sources map to the Python assets that write them through
`meta.dagster.asset_key`, so lineage is one connected graph. The group is the domain (the
model's first folder) and owners, kinds and classification come from platform/policies.
"""


import os
from collections.abc import Mapping
from functools import cache
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from dataplatform import settings
from dataplatform.dq_summary import dq_summary_events
from dataplatform.governance.policies import governed_spec

LAYERS = ("staging", "intermediate", "marts")

# The lake domains run on the lake engine (Athena in aws); the clinical warehouse on Redshift.
DBT_TARGETS = {"local": "local", "aws": "athena"}
WAREHOUSE_TARGETS = {"local": "local_warehouse", "aws": "redshift"}
WAREHOUSE_SELECTION = "path:models/clinical path:seeds/clinical"


def dbt_target() -> str:
    return os.environ.get("DBT_TARGET") or DBT_TARGETS[settings.environment()]


def warehouse_target() -> str:
    return os.environ.get("DBT_WAREHOUSE_TARGET") or WAREHOUSE_TARGETS[settings.environment()]


@cache
def dbt_project() -> DbtProject:
    # dbt resolves DATAPLATFORM_HOME in source locations: hand it an absolute path.
    os.environ["DATAPLATFORM_HOME"] = str(settings.home())
    project = DbtProject(
        project_dir=settings.DBT_PROJECT_DIR,
        profiles_dir=settings.DBT_PROJECT_DIR,
        target=dbt_target(),
    )
    if _manifest_is_stale(project):
        # A fresh clone has no manifest, and an edited project an outdated one: asset
        # definitions must describe the models dbt will actually run.
        DbtCliResource(project_dir=project).cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project


def _manifest_is_stale(project: DbtProject) -> bool:
    if not project.manifest_path.exists():
        return True
    built = project.manifest_path.stat().st_mtime
    sources = [
        path
        for folder in ("models", "macros", "tests", "seeds")
        for path in (settings.DBT_PROJECT_DIR / folder).rglob("*")
        if path.is_file()
    ] + [settings.DBT_PROJECT_DIR / "dbt_project.yml"]
    return any(path.stat().st_mtime > built for path in sources)


class Translator(DagsterDbtTranslator):
    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] not in ("model", "seed"):
            return spec  # sources: their key comes from meta.dagster.asset_key
        domain = props["fqn"][1]
        if props["resource_type"] == "seed":
            key = dg.AssetKey(["reference", props["name"]])  # reference data shipped with the project
        else:
            layer = props["fqn"][-2]
            if layer not in LAYERS:
                raise ValueError(f"model {props['name']} is not under models/<domain>/<{'|'.join(LAYERS)}>/")
            key = dg.AssetKey([layer, props["name"]])
        columns = [
            (name, column.get("data_type") or "", column.get("description") or "")
            for name, column in props.get("columns", {}).items()
        ]
        return governed_spec(spec.replace_attributes(key=key), domain, columns).replace_attributes(
            automation_condition=dg.AutomationCondition.eager()
        )


TRANSLATOR = Translator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def build_dbt_assets() -> list[dg.AssetsDefinition]:
    """Two invocation groups over one manifest: the lake models (resource `dbt`) and the clinical
    warehouse (resource `dbt_warehouse`), so each runs on its own engine in aws."""
    project = dbt_project()

    @dbt_assets(manifest=project.manifest_path, project=project, dagster_dbt_translator=TRANSLATOR,
                name="dbt_models", exclude=WAREHOUSE_SELECTION)
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()

    @dbt_assets(manifest=project.manifest_path, project=project, dagster_dbt_translator=TRANSLATOR,
                name="dbt_warehouse_models", select=WAREHOUSE_SELECTION)
    def dbt_warehouse_models(context: dg.AssetExecutionContext, dbt_warehouse: DbtCliResource):
        invocation = dbt_warehouse.cli(["build"], context=context, raise_on_error=False)
        yield from invocation.stream()
        yield from dq_summary_events(context, invocation)  # OMOP DQ pass/fail on omop_dq_results
        if not invocation.is_successful():
            raise invocation.get_error()

    return [dbt_models, dbt_warehouse_models]


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), target=dbt_target())


def dbt_warehouse_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), target=warehouse_target())
