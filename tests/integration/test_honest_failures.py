"""A build that cannot reach its warehouse says so, once, with the real cause: `dataplatform
catch-up` exits 1, counts the failed dbt invocation and prints dbt's own error in one line;
no stack trace reaches the console (the run's whole log is in the instance, for the UI)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

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
