"""The built OMOP CDM conforms to the v5.4 specification (platform/policies/omop_spec), read
from the spec rather than restated: every table exists in the CDM schema with the spec's
columns in spec order and types, required columns are NOT NULL (enforced contract) and hold
no nulls, primary keys are unique.

`clinical_warehouse` (tests/integration/conftest.py) yields a DuckDB file with all clinical
models built from a generated 300-patient delivery."""

from __future__ import annotations

import re

import duckdb
import pytest

from assets.clinical import omop_spec

CDM_SCHEMA = "omop_cdm"
DUCKDB_TYPES = {"integer": "INTEGER", "float": "DOUBLE", "date": "DATE", "datetime": "TIMESTAMP"}


def duckdb_type(cdm_datatype: str) -> str:
    return "VARCHAR" if re.match(r"varchar", cdm_datatype, re.I) else DUCKDB_TYPES[cdm_datatype.lower()]


@pytest.fixture(scope="module")
def warehouse(clinical_warehouse):
    connection = duckdb.connect(str(clinical_warehouse), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def catalog(warehouse) -> dict[str, list[tuple[str, str, str]]]:
    rows = warehouse.execute(
        "select table_name, column_name, data_type, is_nullable from information_schema.columns"
        " where table_schema = ? order by table_name, ordinal_position",
        [CDM_SCHEMA],
    ).fetchall()
    tables: dict[str, list[tuple[str, str, str]]] = {}
    for table, column, data_type, nullable in rows:
        tables.setdefault(table, []).append((column, data_type, nullable))
    return tables


@pytest.mark.parametrize("table", omop_spec.CDM_TABLES)
def test_table_matches_the_spec(table, warehouse, catalog):
    fields = omop_spec.fields()[table]
    assert table in catalog, f"{CDM_SCHEMA}.{table} was not built"
    built = catalog[table]
    assert [column for column, _, _ in built] == [f.name for f in fields], "columns or their order differ from the spec"
    assert {c: t for c, t, _ in built} == {f.name: duckdb_type(f.datatype) for f in fields}
    required = [f.name for f in fields if f.required]
    assert [c for c, _, nullable in built if nullable == "NO"] == required, "NOT NULL columns differ from isRequired"
    relation = f"{CDM_SCHEMA}.{table}"
    if required:
        nulls = warehouse.execute(
            f"select {', '.join(f'count(*) - count({c})' for c in required)} from {relation}").fetchone()
        assert dict(zip(required, nulls)) == dict.fromkeys(required, 0)
    for key in [f.name for f in fields if f.primary_key]:
        total, distinct = warehouse.execute(f"select count(*), count(distinct {key}) from {relation}").fetchone()
        assert total == distinct, f"{table}.{key} is not unique"


def test_core_tables_hold_the_delivery(warehouse):
    counts = {t: warehouse.execute(f"select count(*) from {CDM_SCHEMA}.{t}").fetchone()[0]
              for t in ("person", "observation_period", "visit_occurrence", "concept")}
    assert all(counts.values()), counts


def test_dq_results_cover_every_generated_check(warehouse):
    """omop_dq_results reports one row per DQ test, with consistent numbers."""
    expected = sum(len(omop_spec.enabled_checks(t)) for t in omop_spec.CDM_TABLES)
    rows = warehouse.execute(
        "select count(*), count(distinct test_name),"
        " sum(case when passed = (pct_violated <= threshold_pct) then 0 else 1 end),"
        " sum(case when num_violated_rows > num_denominator_rows then 1 else 0 end)"
        " from omop_results.omop_dq_results").fetchone()
    assert rows == (expected, expected, 0, 0)
    blocking_failed = warehouse.execute(
        "select check_name, cdm_table, cdm_field from omop_results.omop_dq_results"
        " where severity = 'error' and not passed").fetchall()
    assert blocking_failed == []
