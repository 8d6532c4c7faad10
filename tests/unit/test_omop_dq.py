"""The OMOP DQ tests are generated for every spec rule that applies, with the policy's
thresholds and severities, and the dbt macros know every check the generator emits."""

import re

import yaml

from assets.clinical import omop_spec
from dataplatform.settings import DBT_PROJECT_DIR

MACROS = DBT_PROJECT_DIR / "macros" / "omop"


def generated_tests() -> set[tuple[str, str | None, str]]:
    """(table, field or None, test name) of every test in the generated YAMLs."""
    found = set()
    for table in omop_spec.CDM_TABLES:
        (model,) = yaml.safe_load(omop_spec.render(table))["models"]
        for test in model.get("data_tests", []):
            found |= {(table, None, name) for name in test}
        for column in model["columns"]:
            for test in column.get("data_tests", []):
                found |= {(table, column["name"], name) for name in test}
    return found


def spec_fields():
    return [f for fields in omop_spec.fields().values() for f in fields]


def test_every_primary_key_required_and_foreign_key_field_is_checked():
    tests = generated_tests()
    for f in spec_fields():
        if f.primary_key:
            assert (f.table, f.name, "omop_primary_key_unique") in tests
        if f.required:
            assert (f.table, f.name, "omop_required_present") in tests
        if f.fk_table:
            assert (f.table, f.name, "omop_foreign_key_exists") in tests, (f.table, f.name)
        if f.fk_domain:
            assert (f.table, f.name, "omop_fk_domain") in tests


def test_standard_concept_and_plausibility_checks_apply_where_dqd_applies_them():
    tests = generated_tests()
    standard = {(t, f) for t, f, name in tests if name == "omop_standard_valid_concept"}
    assert ("condition_occurrence", "condition_concept_id") in standard
    assert ("condition_occurrence", "condition_source_concept_id") not in standard
    assert not {t for t, _ in standard} & set(omop_spec.VOCABULARY_TABLES)
    completeness = {(t, f) for t, f, name in tests if name == "omop_standard_concept_completeness"}
    assert {("measurement", "measurement_concept_id"), ("measurement", "unit_concept_id"),
            ("drug_exposure", "drug_concept_id"), ("visit_occurrence", "visit_concept_id")} <= completeness
    assert ("condition_occurrence", "condition_source_value", "omop_source_value_completeness") in tests
    start_end = {t for t, _, name in tests if name == "omop_start_before_end"}
    assert {"observation_period", "visit_occurrence", "visit_detail", "condition_occurrence", "drug_exposure"} <= start_end
    for table in omop_spec.EVENT_TABLES:
        assert (table, omop_spec.event_date(table), "omop_after_birth") in tests
    assert ("observation_period", None, "omop_no_overlapping_observation_periods") in tests
    assert ("measurement", "measurement_date", "omop_within_observation_period") in tests


def test_thresholds_and_severity_come_from_the_policy():
    (model,) = yaml.safe_load(omop_spec.render("measurement"))["models"]
    columns = {c["name"]: {name: body for t in c.get("data_tests", []) for name, body in t.items()} for c in model["columns"]}
    assert columns["measurement_id"]["omop_primary_key_unique"]["config"]["severity"] == "error"  # blocking
    assert columns["person_id"]["omop_foreign_key_exists"]["config"]["severity"] == "warn"
    default = omop_spec.policy()["checks"]["standard_concept_completeness"]["threshold_pct"]
    assert columns["measurement_concept_id"]["omop_standard_concept_completeness"]["arguments"]["threshold_pct"] == default
    override = omop_spec.check_setting("standard_concept_completeness", "measurement", "unit_concept_id")["threshold_pct"]
    assert columns["unit_concept_id"]["omop_standard_concept_completeness"]["arguments"]["threshold_pct"] == override


def test_every_check_has_a_test_macro_and_shared_sql():
    tests_sql = (MACROS / "dq_tests.sql").read_text()
    checks_sql = (MACROS / "dq_checks.sql").read_text()
    for check, setting in omop_spec.policy()["checks"].items():
        assert setting["level"] in ("conformance", "completeness", "plausibility")
        assert f"{{% test omop_{check}(" in tests_sql, check
        assert f"{{% macro omop_dq__{check}(" in checks_sql, check
        assert f"check == '{check}'" in checks_sql, check


def test_results_model_depends_on_every_cdm_table():
    listed = re.findall(r"'(\w+)'", (MACROS / "dq_results.sql").read_text().split("omop_cdm_tables()", 1)[1].split("endmacro")[0])
    assert tuple(listed) == omop_spec.CDM_TABLES
