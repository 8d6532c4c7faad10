"""The dbt project must compile for Athena and Redshift and parse in their SQL dialects:
a model that only works on DuckDB fails here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from dataplatform.deployment import SCHEMA_PREFIX_VARIABLE
from dataplatform.settings import DBT_PROJECT_DIR

DIALECTS = {"athena": "athena", "redshift": "redshift"}
NAMESPACE = "acme_prod_"

# Expression types sqlglot accepts from any dialect but that only DuckDB (of our engines) runs.
DUCKDB_ONLY = (exp.ReadParquet, exp.ReadCSV, exp.Struct, exp.Lambda)


def portability_problems(sql: str, dialect: str) -> list[str]:
    """Parse as `dialect`; report what the target engine would not run. sqlglot's parser is
    lenient, so unknown functions and DuckDB-only constructs are checked explicitly."""
    try:
        statements = sqlglot.parse(sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.ParseError as error:
        return [f"does not parse: {error}"]
    problems = []
    for tree in filter(None, statements):
        problems += [f"unknown function {f.name}()" for f in tree.find_all(exp.Anonymous)]
        problems += [f"DuckDB-only {type(node).__name__}" for node in tree.find_all(*DUCKDB_ONLY)]
        problems += ["SELECT * EXCLUDE/REPLACE" for star in tree.find_all(exp.Star) if star.args.get("except_") or star.args.get("except") or star.args.get("replace")]
    if dialect == "athena" and "::" in sql:
        problems.append("`::` casts (Trino has only CAST)")
    return problems


@pytest.fixture(scope="module", params=sorted(DIALECTS))
def compiled(request, tmp_path_factory):
    target = request.param
    target_path = tmp_path_factory.mktemp(f"dbt-{target}")
    # Compiled as one deployment of several in an account: its namespace on every schema.
    env = {**os.environ, "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR), SCHEMA_PREFIX_VARIABLE: NAMESPACE}
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")), "compile", "--target", target, "--no-populate-cache",
            "--target-path", str(target_path), "--no-partial-parse", "--quiet",
        ],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    yield target, target_path / "compiled" / "dataplatform"
    shutil.rmtree(target_path, ignore_errors=True)


def test_every_model_parses_in_the_target_dialect(compiled):
    target, root = compiled
    models = sorted((root / "models").rglob("*.sql"))
    tests = sorted((root / "tests").rglob("*.sql")) if (root / "tests").exists() else []
    assert len(models) >= 7, models
    problems = {path.name: portability_problems(path.read_text(), DIALECTS[target]) for path in models + tests}
    assert {name: found for name, found in problems.items() if found} == {}


@pytest.mark.parametrize(
    "sql",
    [
        "select url_decode(ua) from t",
        "select * exclude (a) from t",
        "select * from read_parquet('x/*.parquet')",
        "select {'a': 1} as s",
        "select list_transform(xs, x -> x + 1) from t",
    ],
)
def test_duckdb_only_sql_is_caught(sql):
    for dialect in DIALECTS.values():
        assert portability_problems(sql, dialect), (sql, dialect)


def test_portable_sql_passes():
    sql = "select a, cast(b as bigint), count(*) over (partition by a order by b) from t where c in ('x', 'y')"
    assert all(portability_problems(sql, d) == [] for d in DIALECTS.values())


def test_every_schema_read_or_built_carries_the_deployment_namespace(compiled):
    """Sources read `<namespace>raw_*` (the Glue databases the catalog port registers) and
    models build into `<namespace><layer>`: deployments in one account share no schema."""
    import json

    _, root = compiled
    manifest = json.loads((root.parents[1] / "manifest.json").read_text())
    schemas = {node["schema"] for node in manifest["nodes"].values() if node["resource_type"] in ("model", "seed")}
    sources = {source["schema"] for source in manifest["sources"].values()}
    assert schemas and all(schema.startswith(NAMESPACE) for schema in schemas), schemas
    assert {f"{NAMESPACE}raw_cloudfront", f"{NAMESPACE}raw_vpc_flow", f"{NAMESPACE}raw_mimic"} <= sources
    staging = (root / "models" / "cloudfront" / "staging" / "stg_cloudfront__access_logs.sql").read_text()
    assert f"{NAMESPACE}raw_cloudfront" in staging
