"""Broken source data is caught by the named data-quality check, not silently loaded: a
duplicated patient, discharges before admission, and a diagnosis code that is not ICD-9."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc

from assets.clinical import sample


def with_rows(table: pa.Table, rows: list[dict]) -> pa.Table:
    return pa.concat_tables([table, pa.Table.from_pylist(rows, schema=table.schema)])


def broken_tables() -> tuple[dict, dict]:
    tables = sample.generate_tables(sample.SampleSpec(patients=60, seed=5))
    patients = tables["PATIENTS"].to_pylist()
    tables["PATIENTS"] = with_rows(tables["PATIENTS"], [{**patients[0], "ROW_ID": 10_000_000}])

    admissions = tables["ADMISSIONS"].to_pylist()
    broken_ids = {admissions[1]["HADM_ID"], admissions[2]["HADM_ID"]}
    for admission in admissions:
        if admission["HADM_ID"] in broken_ids:
            admission["DISCHTIME"] = admission["ADMITTIME"] - timedelta(days=2)
    tables["ADMISSIONS"] = pa.Table.from_pylist(admissions, schema=tables["ADMISSIONS"].schema)

    diagnosis = tables["DIAGNOSES_ICD"].to_pylist()[0]
    tables["DIAGNOSES_ICD"] = with_rows(
        tables["DIAGNOSES_ICD"], [{**diagnosis, "ROW_ID": 10_000_000, "SEQ_NUM": 99, "ICD9_CODE": "XYZ99"}]
    )
    faults = {"duplicated_subject_id": patients[0]["SUBJECT_ID"], "broken_hadm_ids": broken_ids}
    return tables, faults


def failed_checks(build) -> set[tuple[str, str]]:
    """Failed checks of the clinical graph (other domains' checks, e.g. snapshot RPO, aside)."""
    return {
        key for key, evaluation in build.checks.items()
        if not evaluation.passed and key[0].startswith(("raw/clinical/", "staging/", "intermediate/", "marts/"))
    }


def test_each_fault_is_caught_by_its_named_check(tmp_path, build_clinical):
    tables, faults = broken_tables()
    assert pc.sum(pc.equal(tables["PATIENTS"]["SUBJECT_ID"], faults["duplicated_subject_id"])).as_py() == 2

    build = build_clinical(tmp_path / "home", tables)
    failed = failed_checks(build)
    names = {f"{asset}:{check.split('__')[0]}" for asset, check in failed}

    # A duplicated patient: the person primary key, a blocking check - the build stops there.
    assert any(a == "marts/person" and c.startswith("omop_primary_key_unique_person_person_id") for a, c in failed)
    assert build.failed_runs, "a blocking check must fail the run"
    # Discharges before admission: plausibility of the visit's start and end.
    assert any(
        a == "marts/visit_occurrence" and c.startswith("omop_start_before_end_visit_occurrence_visit_start_date")
        for a, c in failed
    ), names
    # A code that is not in the vocabulary: source concept completeness of conditions.
    assert any(
        a == "marts/condition_occurrence"
        and c.startswith("omop_source_concept_completeness_condition_occurrence_condition_source_concept_id")
        for a, c in failed
    ), names
    # ... and nothing unrelated: every failure is on a table the faults touch.
    assert {a for a, _ in failed} <= {
        "marts/person", "marts/visit_occurrence", "marts/condition_occurrence", "marts/procedure_occurrence",
        "marts/observation", "marts/death", "marts/observation_period",
    }, names
