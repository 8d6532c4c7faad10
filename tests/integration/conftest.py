"""A clinical warehouse built once per session the way production builds it: a generated MIMIC
delivery lands, `catch-up` runs the delivery sensor, the raw load and the dbt build."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

CLINICAL_PATIENTS, CLINICAL_SEED = 300, 11


@dataclass(frozen=True)
class ClinicalBuild:
    home: Path
    warehouse: Path
    tables: dict  # the generated MIMIC tables (pyarrow), as delivered
    checks: dict[tuple[str, str], dg.AssetCheckEvaluation]  # (asset key, check name) -> evaluation
    failed_runs: list[str]


def asset_check_evaluations(instance: dg.DagsterInstance) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    """The latest evaluation of every asset check recorded in the instance."""
    records = instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION), ascending=True
    )
    evaluations = {}
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        evaluations[(evaluation.asset_key.to_user_string(), evaluation.check_name)] = evaluation
    return evaluations


def build_clinical_warehouse(home: Path, tables: dict) -> ClinicalBuild:
    """Deliver `tables` into a fresh home and catch up; env vars are restored afterwards."""
    from assets.clinical import sample
    from dataplatform import settings
    from dataplatform.catchup import catch_up
    from dataplatform.definitions import build_definitions
    from dataplatform.resources.lake import LocalObjectStore

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATAPLATFORM_HOME", str(home))
        patch.setenv("DATAPLATFORM_ENV", "local")
        patch.delenv("DAGSTER_HOME", raising=False)
        sample.write_delivery(LocalObjectStore(settings.lake_root()), tables, "delivery-1")
        defs = build_definitions()
        with dg.instance_for_test() as instance:
            summary = catch_up(defs, instance)
            checks = asset_check_evaluations(instance)
        return ClinicalBuild(home, home / "clinical_warehouse.duckdb", tables, checks, summary.failed_runs)


@pytest.fixture(scope="session")
def clinical_build(tmp_path_factory) -> ClinicalBuild:
    from assets.clinical import sample

    tables = sample.generate_tables(sample.SampleSpec(patients=CLINICAL_PATIENTS, seed=CLINICAL_SEED))
    return build_clinical_warehouse(tmp_path_factory.mktemp("clinical") / "home", tables)


@pytest.fixture(scope="session")
def clinical_warehouse(clinical_build) -> Path:
    """The DuckDB file holding the CDM (schema omop_cdm) built from 300 generated patients."""
    return clinical_build.warehouse


@pytest.fixture
def build_clinical():
    """build_clinical_warehouse, for tests that deliver tables of their own."""
    return build_clinical_warehouse
