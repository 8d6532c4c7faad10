"""dbt runs inside the run's own process (no dbt subprocess and its ~2.5 s of start-up), and
behaves as the subprocess did for dagster-dbt: the same events, the same failure messages, and
the warehouse file free for other processes afterwards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from dataplatform import settings


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One home for the module: its first invocation parses the whole project."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATAPLATFORM_HOME", str(tmp_path_factory.mktemp("home")))
        patch.setenv("DATAPLATFORM_ENV", "local")
        yield settings.home()


@pytest.mark.slow
def test_dbt_runs_in_this_process_and_leaves_the_warehouse_free(home):
    from dataplatform.dbt import dbt_resource, invocation_target

    dbt = dbt_resource()
    smallest_seed = min((settings.DBT_PROJECT_DIR / "seeds").rglob("*.csv"), key=lambda path: path.stat().st_size).stem
    with invocation_target("in-process-test", "00000000", dbt.target) as target_path:
        invocation = dbt.cli(["seed", "--select", smallest_seed], target_path=target_path)
        events = [event.raw_event for event in invocation.stream_raw_events()]
        results = invocation.get_artifact("run_results.json")["results"]

    assert invocation.is_successful() and [r["status"] for r in results] == ["success"]
    assert events and {event["info"]["pid"] for event in events} == {os.getpid()}
    assert not any(event["info"]["level"] == "debug" for event in events)  # as dbt prints them

    # Another process can open the warehouse for writing: dbt-duckdb let go of it.
    opened = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('checkpoint')",
         str(settings.warehouse_path())],
        capture_output=True, text=True, timeout=120,
    )
    assert opened.returncode == 0, opened.stderr


@pytest.mark.slow
def test_a_failed_invocation_reports_dbts_error_and_the_next_one_runs(home):
    from dataplatform.dbt import dbt_resource, invocation_target

    dbt = dbt_resource()
    with invocation_target("in-process-test", "00000000", dbt.target) as target_path:
        with pytest.raises(DagsterDbtCliRuntimeError, match="no-such-option"):
            dbt.cli(["run", "--no-such-option"], target_path=target_path).wait()
        with pytest.raises(DagsterDbtCliRuntimeError, match="no_such_macro"):
            dbt.cli(["run-operation", "no_such_macro"], target_path=target_path).wait()

        listed = dbt.cli(["ls", "--resource-type", "seed", "--output", "name"], target_path=target_path)
        names = {event.raw_event["info"]["msg"] for event in listed.stream_raw_events()}
    seeds = {path.stem for path in (settings.DBT_PROJECT_DIR / "seeds").rglob("*.csv")}
    assert listed.is_successful() and seeds <= names


@pytest.mark.slow
def test_a_terminated_run_is_not_held_up_by_dbt(home):
    """dagster-dbt forwards a run's termination (SIGINT), then waits for dbt a bounded time and
    re-raises the interrupt: that wait returns at once instead of raising TimeoutExpired, and
    the invocation and the next one still run."""
    import signal

    from dataplatform import dbt_in_process
    from dataplatform.dbt import dbt_resource, invocation_target

    dbt = dbt_resource()
    with invocation_target("in-process-test", "00000000", dbt.target) as target_path:
        with dbt_in_process._ONE_AT_A_TIME:  # dbt busy with another invocation of this process
            invocation = dbt.cli(["ls", "--resource-type", "seed"], target_path=target_path)
            invocation.process.send_signal(signal.SIGINT)
            assert invocation.process.wait(timeout=0.5) is None  # a running subprocess: TimeoutExpired
        assert invocation.process.wait(timeout=120) == 0
        assert dbt.cli(["ls", "--resource-type", "seed"], target_path=target_path).wait().is_successful()
