"""The OMOP DQ summary shown on the omop_dq_results asset, from run_results + manifest."""

from assets.clinical import dq_summary

MANIFEST = {"nodes": {
    "model.dataplatform.person": {"resource_type": "model", "name": "person"},
    "model.dataplatform.observation_period": {"resource_type": "model", "name": "observation_period"},
    "test.dataplatform.pk": {
        "resource_type": "test", "tags": ["omop_dq", "conformance"], "attached_node": "model.dataplatform.person",
        "test_metadata": {"name": "omop_primary_key_unique", "kwargs": {"column_name": "person_id", "threshold_pct": 0}},
    },
    "test.dataplatform.fk": {
        "resource_type": "test", "tags": ["omop_dq", "conformance"], "attached_node": "model.dataplatform.person",
        "test_metadata": {"name": "omop_foreign_key_exists", "kwargs": {
            "column_name": "gender_concept_id", "to_table": "concept", "to_field": "concept_id", "threshold_pct": 0}},
    },
    "test.dataplatform.overlap": {
        "resource_type": "test", "tags": ["omop_dq", "plausibility"], "attached_node": "model.dataplatform.observation_period",
        "test_metadata": {"name": "omop_no_overlapping_observation_periods", "kwargs": {"threshold_pct": 0}},
    },
    "test.dataplatform.other": {
        "resource_type": "test", "tags": [], "attached_node": "model.dataplatform.person",
        "test_metadata": {"name": "not_null", "kwargs": {"column_name": "person_id"}},
    },
}}
RUN_RESULTS = {"results": [
    {"unique_id": "model.dataplatform.person", "status": "success"},
    {"unique_id": "test.dataplatform.pk", "status": "pass"},
    {"unique_id": "test.dataplatform.fk", "status": "warn"},
    {"unique_id": "test.dataplatform.overlap", "status": "pass"},
    {"unique_id": "test.dataplatform.other", "status": "fail"},
]}


def test_rows_are_the_omop_dq_tests_only():
    rows = dq_summary.dq_results(RUN_RESULTS, MANIFEST)
    assert [(r["check"], r["level"], r["table"], r["field"], r["status"]) for r in rows] == [
        ("primary_key_unique", "conformance", "person", "person_id", "pass"),
        ("foreign_key_exists", "conformance", "person", "gender_concept_id", "warn"),
        ("no_overlapping_observation_periods", "plausibility", "observation_period", "", "pass"),
    ]


def test_observation_counts_and_markdown():
    observation = dq_summary.summary_observation(RUN_RESULTS, MANIFEST)
    assert observation.asset_key == dq_summary.DQ_ASSET_KEY
    metadata = {key: value.value for key, value in observation.metadata.items()}
    assert (metadata["dq_checks"], metadata["dq_checks_passed"], metadata["dq_checks_failed"]) == (3, 2, 1)
    assert metadata["dq_checks_blocking_failed"] == 0 and metadata["dq_failed_conformance"] == 1
    table = metadata["dq_summary"].splitlines()
    assert "| conformance | foreign_key_exists | person | 0 | 1 | gender_concept_id (warn) | 0 |" in table
    assert "| plausibility | no_overlapping_observation_periods | observation_period | 1 | 0 |  | 0 |" in table


def test_no_observation_without_dq_tests():
    assert dq_summary.summary_observation({"results": []}, MANIFEST) is None


def test_failing_groups_come_first():
    rows = dq_summary.dq_results(RUN_RESULTS, MANIFEST)
    assert dq_summary.summary_markdown(rows).splitlines()[2].startswith("| conformance | foreign_key_exists |")


def test_no_summary_and_no_error_of_its_own_when_dbt_ran_no_node(tmp_path):
    """dbt that could not reach the warehouse writes no run_results.json: the build's own error
    (e.g. the connection refused) is what reaches the console, not a FileNotFoundError from here."""
    from types import SimpleNamespace

    from assets.clinical.dq_summary import DQ_ASSET_KEY, dq_summary_events

    context = SimpleNamespace(selected_asset_keys={DQ_ASSET_KEY})
    invocation = SimpleNamespace(target_path=tmp_path, get_artifact=lambda name: (tmp_path / name).read_text())
    assert dq_summary_events(context, invocation) == []
