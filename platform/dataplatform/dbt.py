"""The dbt project as Dagster assets: one cached DbtProject, one translator that owns keys.

Key convention: a model's key is [layer, model name] where the layer is its folder
(staging, intermediate, marts); sources map to the Python assets that write them through
`meta.dagster.asset_key`, so lineage is one connected graph. The group is the domain (the
model's first folder) and owners, kinds and classification come from platform/policies.
"""


import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from dataplatform import faults, settings
from dataplatform.dbt_in_process import dbt_in_process
from dataplatform.domains import own_dbt_selections
from dataplatform.governance.policies import governed_spec

LAYERS = ("staging", "intermediate", "marts")
PROFILE = "dataplatform"  # profiles.yml

# The lake models run on the lake engine (Athena in aws); a domain's own warehouse on Redshift.
DBT_TARGETS = {"local": "local", "aws": "athena"}
WAREHOUSE_TARGETS = {"local": "local_warehouse", "aws": "redshift"}


def dbt_target() -> str:
    return os.environ.get("DBT_TARGET") or DBT_TARGETS[settings.environment()]


def warehouse_target() -> str:
    return os.environ.get("DBT_WAREHOUSE_TARGET") or WAREHOUSE_TARGETS[settings.environment()]


@cache
def dbt_project() -> DbtProject:
    # dbt resolves DATAPLATFORM_HOME in source locations: hand it an absolute path.
    os.environ["DATAPLATFORM_HOME"] = str(settings.home())
    # A subset build (automation refreshes what changed) runs a test only when every model it
    # reads is built or selected: a relationship test into a table not built yet is not run
    # rather than failing the build. (dagster-dbt passes this variable on to dbt.)
    os.environ.setdefault("DBT_INDIRECT_SELECTION", "cautious")
    project = DbtProject(
        project_dir=settings.DBT_PROJECT_DIR,
        profiles_dir=settings.DBT_PROJECT_DIR,
        target=dbt_target(),
    )
    if _manifest_is_stale(project):
        # A fresh clone has no manifest, and an edited project an outdated one: asset
        # definitions must describe the models dbt will actually run.
        LocalDbtCli(project_dir=project, dbt_executable=settings.executable("dbt")).cli(["parse", "--quiet"], target_path=project.target_path).wait()
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
        # dagster-dbt asks for each node's spec several times per load (as its own base memoises).
        memo = self.__dict__.setdefault("_governed_specs", {})
        memo_id = (id(manifest), unique_id, id(project))
        if memo_id not in memo:
            memo[memo_id] = self._governed_spec(manifest, unique_id, project)
        return memo[memo_id]

    def _governed_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
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
        return governed_spec(spec.replace_attributes(key=key), domain, columns)


# Code references: each model's page links to its .sql file, not to the Python that loads dbt.
TRANSLATOR = Translator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=True))


def build_dbt_assets() -> dg.AssetsDefinition:
    """The shared lake build: every model and seed but those a domain builds in its own dbt
    invocation (`dbt_select` in domains.yaml). One invocation per run, however many domains'
    models it refreshes."""
    project = dbt_project()

    @dbt_assets(manifest=project.manifest_path, project=project, dagster_dbt_translator=TRANSLATOR,
                name="dbt_models", exclude=" ".join(own_dbt_selections()) or None)
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        with invocation_target("dbt_models", context.run.run_id, dbt.target) as target_path:
            for event in dbt.cli(["build"], context=context, target_path=target_path).stream():
                yield event
                faults.point("dbt.during_build")  # dbt's process is still building the rest

    return dbt_models


def _partial_parse_cache(target: str) -> Path:
    # dbt re-parses everything when the connection info changes, and the local targets' info
    # holds the home's path: a cache per home and target stays valid across invocations.
    return settings.home() / "dbt" / f"partial_parse.{target}.msgpack"


@contextlib.contextmanager
def invocation_target(name: str, run_id: str, target: str) -> Iterator[Path]:
    """A target folder for one dbt invocation on `target`, in the process's temporary space
    (under $DATAPLATFORM_HOME/scratch in catch-up) and removed afterwards: dagster-dbt's default
    leaves one 2-10 MB folder per run under dbt_project/target/. The folder is seeded with the
    home's partial-parse cache for the target and the cache kept after: dagster-dbt would seed it
    with the project's cache, parsed for another home or target, so every build re-parsed the
    whole project (~10 s). Every build passes here first, so this is also where a target's
    database is checked to be writable."""
    check_database_writable(target)
    path = Path(tempfile.mkdtemp(prefix=f"{name}-{run_id[:8]}-"))
    cache = _partial_parse_cache(target)
    if cache.exists():
        shutil.copyfile(cache, path / "partial_parse.msgpack")
    try:
        yield path
        parsed = path / "partial_parse.msgpack"
        if parsed.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            staged = cache.with_suffix(f".{uuid.uuid4().hex[:7]}")
            shutil.copyfile(parsed, staged)
            os.replace(staged, cache)  # atomic: a concurrent build reads the old cache or the new one
    finally:
        shutil.rmtree(path, ignore_errors=True)


def check_database_writable(target: str) -> None:
    """Fail at once, naming the file, when a DuckDB target's database cannot be opened for
    writing (read-only file or disk): dbt-duckdb retries every IOException as if another writer
    held the lock, so it would back off for minutes before saying anything."""
    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    set_invocation_context(os.environ)
    raw = read_profile(str(settings.DBT_PROJECT_DIR))[PROFILE]
    _, profile = Profile.render_profile(raw, PROFILE, target, ProfileRenderer({}))
    if profile.get("type") != "duckdb" or not Path(profile["path"]).exists():
        return
    os.close(os.open(profile["path"], os.O_RDWR))  # PermissionError / OSError with the path


class LocalDbtCli(DbtCliResource):
    """dagster-dbt's resource, run in this process (dbt_in_process.py: no dbt subprocess) and
    without two more fixed costs it pays before every invocation (3-5 s each on these machines):
    a `dbt --version` subprocess (this dbt is the installed, pinned dbt-core) and a dbt adapter
    set up for its row-count and column-metadata fetchers (not called here)."""

    @cached_property
    def _cli_version(self):
        from dbt.version import __version__
        from packaging import version

        return version.parse(__version__)

    def _initialize_dbt_core_adapter(self, args):
        return None

    def cli(self, *args, **kwargs):
        with dbt_in_process():
            return super().cli(*args, **kwargs)


def dbt_resource() -> DbtCliResource:
    return LocalDbtCli(project_dir=dbt_project(), target=dbt_target(), dbt_executable=settings.executable("dbt"))


def dbt_warehouse_resource() -> DbtCliResource:
    return LocalDbtCli(project_dir=dbt_project(), target=warehouse_target(), dbt_executable=settings.executable("dbt"))
