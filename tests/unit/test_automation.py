"""The derived-asset condition, evaluated by Dagster's own evaluator over a small graph (through
catch-up's `evaluate_automation`, which also works where an event loop is running)."""

from __future__ import annotations

import asyncio

import dagster as dg

from dataplatform.automation import apply_policy
from dataplatform.catchup import evaluate_automation

HOURS = dg.HourlyPartitionsDefinition(start_date="2026-11-24-00:00")


@dg.asset(partitions_def=HOURS)
def raw(): ...


@dg.asset(deps=[raw])
def mart(): ...


@dg.asset(deps=[mart])
def report(): ...


def _defs() -> dg.Definitions:
    return dg.Definitions(assets=apply_policy([raw, mart, report], sensor_driven=set()))


def _requested(result) -> set[str]:
    return {key for key in ("raw", "mart", "report") if result.get_num_requested(dg.AssetKey(key))}


def test_nothing_is_requested_before_any_input_exists():
    instance = dg.DagsterInstance.ephemeral()
    assert _requested(evaluate_automation(_defs(), instance, None)) == set()


def test_one_materialised_hour_is_enough_and_the_first_evaluation_counts():
    instance = dg.DagsterInstance.ephemeral()
    defs = _defs()
    first = evaluate_automation(defs, instance, None)
    assert _requested(first) == set()
    dg.materialize([raw], instance=instance, partition_key="2026-11-24-05:00")
    # The mart is requested although only one hour of its hourly input exists: its other
    # partitions are not "missing inputs"; `report` goes in the same request, after the mart.
    second = evaluate_automation(defs, instance, first.cursor)
    assert _requested(second) == {"mart", "report"}


def test_a_fresh_deployment_builds_derived_assets_of_data_landed_before_the_first_tick():
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([raw], instance=instance, partition_key="2026-11-24-05:00")
    # No previous evaluation: Dagster's eager() would ignore this first one.
    assert _requested(evaluate_automation(_defs(), instance, None)) == {"mart", "report"}


def test_an_updated_input_requests_again_once_and_only_once():
    instance = dg.DagsterInstance.ephemeral()
    defs = _defs()
    dg.materialize([raw], instance=instance, partition_key="2026-11-24-05:00")
    first = evaluate_automation(defs, instance, None)
    assert _requested(first) == {"mart", "report"}
    dg.materialize([mart, report], instance=instance)
    second = evaluate_automation(defs, instance, first.cursor)
    assert _requested(second) == set()
    dg.materialize([mart], instance=instance)  # refreshed by hand: only what reads it follows
    third = evaluate_automation(defs, instance, second.cursor)
    assert _requested(third) == {"report"}
    dg.materialize([report], instance=instance)
    fourth = evaluate_automation(defs, instance, third.cursor)
    assert _requested(fourth) == set()
    dg.materialize([raw], instance=instance, partition_key="2026-11-24-06:00")  # a new hour
    fifth = evaluate_automation(defs, instance, fourth.cursor)
    assert _requested(fifth) == {"mart", "report"}  # in one request: report after the mart


FAIL = {"mart": False}


@dg.asset(deps=[raw], name="mart")
def flaky_mart():
    if FAIL["mart"]:
        raise RuntimeError("warehouse not writable")


def test_a_failed_refresh_is_requested_again_until_it_succeeds_without_new_data():
    instance = dg.DagsterInstance.ephemeral()
    defs = _defs()
    dg.materialize([raw], instance=instance, partition_key="2026-11-24-05:00")
    first = evaluate_automation(defs, instance, None)
    dg.materialize([mart, report], instance=instance)
    dg.materialize([raw], instance=instance, partition_key="2026-11-24-06:00")
    second = evaluate_automation(defs, instance, first.cursor)
    assert _requested(second) == {"mart", "report"}
    FAIL["mart"] = True
    try:
        assert not dg.materialize([flaky_mart], instance=instance, raise_on_error=False).success
    finally:
        FAIL["mart"] = False
    # No new data since: eager() would wait for some; the mart is still older than its input.
    third = evaluate_automation(defs, instance, second.cursor)
    assert _requested(third) == {"mart", "report"}
    fourth = evaluate_automation(defs, instance, third.cursor)  # requested, not yet run: still stale
    assert _requested(fourth) == {"mart", "report"}
    dg.materialize([mart, report], instance=instance)
    assert _requested(evaluate_automation(defs, instance, fourth.cursor)) == set()


def test_a_missing_asset_whose_build_failed_is_requested_again():
    instance = dg.DagsterInstance.ephemeral()
    defs = _defs()
    dg.materialize([raw], instance=instance, partition_key="2026-11-24-05:00")
    first = evaluate_automation(defs, instance, None)
    assert _requested(first) == {"mart", "report"}
    FAIL["mart"] = True
    try:
        dg.materialize([flaky_mart], instance=instance, raise_on_error=False)
    finally:
        FAIL["mart"] = False
    assert _requested(evaluate_automation(defs, instance, first.cursor)) == {"mart", "report"}


def test_evaluation_works_inside_a_running_event_loop():
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([raw], instance=instance, partition_key="2026-11-24-05:00")

    async def inside_a_loop():
        return evaluate_automation(_defs(), instance, None)

    # Dagster's evaluator calls asyncio.run(); Playwright's sync API or a notebook keeps a loop
    # running in the calling thread.
    assert _requested(asyncio.run(inside_a_loop())) == {"mart", "report"}


# What dagster-dbt 0.29 raised for `dbt build --target redshift` with nothing listening (copied
# from a real run): catch-up must print dbt's cause, not the wrapper's first line.
DBT_FAILURE = (
    "The dbt CLI process with command\n\n`/venv/bin/dbt build --target redshift --select path:models/clinical`\n\n"
    "failed with exit code `2`. Check the stdout in the Dagster compute logs for the full information about the "
    "error, or view the dbt debug log: /x/dbt.log.\n\nErrors parsed from dbt logs:\n\nEncountered an error:\n"
    "Database Error\n  ('communication error', ConnectionRefusedError(111, 'Connection refused'))\n"
)


def test_a_failed_runs_cause_is_one_line_with_dbts_own_error():
    from dataplatform.catchup import failure_reason

    @dg.asset
    def warehouse_models():
        raise RuntimeError(DBT_FAILURE)

    @dg.asset
    def lake_table():
        raise ValueError("bucket acme-raw does not exist\nmore detail")

    instance = dg.DagsterInstance.ephemeral()
    reasons = []
    for asset in (warehouse_models, lake_table):
        result = dg.materialize([asset], instance=instance, raise_on_error=False)
        reasons.append(failure_reason(instance, result.run_id))
    assert reasons[0] == ("warehouse_models: dbt (redshift): Database Error ('communication error', "
                          "ConnectionRefusedError(111, 'Connection refused'))")
    assert reasons[1] == "lake_table: ValueError: bucket acme-raw does not exist"
