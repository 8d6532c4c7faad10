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
from dataplatform.governance.policies import governed_spec

LAYERS = ("staging", "intermediate", "marts")

DBT_TARGETS = {"local": "local", "aws": "athena"}


def dbt_target() -> str:
    return os.environ.get("DBT_TARGET") or DBT_TARGETS[settings.environment()]


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
        if props["resource_type"] != "model":
            return spec  # sources: their key comes from meta.dagster.asset_key
        layer, domain = props["fqn"][-2], props["fqn"][1]
        if layer not in LAYERS:
            raise ValueError(f"model {props['name']} is not under models/<domain>/<{'|'.join(LAYERS)}>/")
        columns = [
            (name, column.get("data_type") or "", column.get("description") or "")
            for name, column in props.get("columns", {}).items()
        ]
        spec = spec.replace_attributes(key=dg.AssetKey([layer, props["name"]]))
        return governed_spec(spec, domain, columns).replace_attributes(
            automation_condition=dg.AutomationCondition.eager()
        )


TRANSLATOR = Translator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def build_dbt_assets() -> dg.AssetsDefinition:
    project = dbt_project()

    @dbt_assets(manifest=project.manifest_path, project=project, dagster_dbt_translator=TRANSLATOR, name="dbt_models")
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()

    return dbt_models


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project(), target=dbt_target())
