"""A build that cannot reach its warehouse says so, once, with the real cause: `dataplatform
catch-up` exits 1, counts the failed dbt invocation and prints dbt's own error in one line;
no stack trace reaches the console (the run's whole log is in the instance, for the UI). Once the
cause is fixed, the next catch-up rebuilds what failed, without waiting for new data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

BIN = Path(sys.executable).parent


def _closed_port() -> int:
    with socket.socket() as sock:  # bound, then released: nothing listens there afterwards
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_an_unreachable_warehouse_is_one_line_with_its_cause(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env.update(DATAPLATFORM_HOME=str(tmp_path / "home"), DATAPLATFORM_ENV="local", COLUMNS="400",
               DBT_WAREHOUSE_TARGET="redshift", REDSHIFT_HOST="127.0.0.1", REDSHIFT_PORT=str(_closed_port()))
    sample = subprocess.run([str(BIN / "dataplatform"), "sample", "mimic", "--patients", "3", "--quiet"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert sample.returncode == 0, sample.stderr
    result = subprocess.run([str(BIN / "dataplatform"), "catch-up"], env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 dbt invocations (1 failed)" in result.stdout
    failed = [line for line in result.stdout.splitlines() if line.startswith("failed run ")]
    assert len(failed) == 1 and "dbt (redshift)" in failed[0] and "Connection refused" in failed[0], result.stdout
    assert "Stack Trace" not in result.stdout + result.stderr and "Traceback" not in result.stdout + result.stderr

    # The cause fixed (the warehouse target reachable: here, the embedded one): the next catch-up
    # rebuilds the warehouse without any new delivery (level-triggered), and says so.
    for name in ("DBT_WAREHOUSE_TARGET", "REDSHIFT_HOST", "REDSHIFT_PORT"):
        env.pop(name)
    healed = subprocess.run([str(BIN / "dataplatform"), "catch-up"], env=env, capture_output=True, text=True, timeout=900)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    assert "runs (0 failed)" in healed.stdout and "1 automation runs, 1 dbt invocations," in healed.stdout, healed.stdout
    with duckdb.connect(str(tmp_path / "home" / "clinical_warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from omop_cdm.person").fetchone()[0] == 3
