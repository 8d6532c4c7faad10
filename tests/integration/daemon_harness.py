"""Dagster's own runtime for tests and benchmarks: a gRPC code server and `dagster-daemon run`
on 127.0.0.1 over a fresh DATAPLATFORM_HOME, stopped by the PIDs (process groups) started here,
and bounded polls of the instance (no fixed sleeps).

    with DagsterRuntime(home) as runtime:
        ...deliver files...
        runtime.wait_for(lambda instance: ..., what="marts built")
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from dataplatform.catchup import failure_reason

POLL_S = 0.5
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _default_signals() -> None:
    # Started without a terminal, Dagster's processes would inherit ignored SIGINT/SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group (the server and the run workers it started), then SIGKILL."""
    for sig, timeout in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=timeout)
        except ProcessLookupError:
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(process.pid, signal.SIGKILL)  # stragglers once the leader has gone
    except ProcessLookupError:
        pass


class DagsterRuntime:
    """A code server + the daemon over `home` (DAGSTER_HOME = home/dagster, telemetry off)."""

    def __init__(self, home: Path, startup_timeout_s: float = 180.0):
        self.home = home
        self.dagster_home = home / "dagster"
        self.startup_timeout_s = startup_timeout_s
        self.processes: list[subprocess.Popen] = []
        self.logs = home.parent / f"{home.name}-runtime-logs"
        self.instance: dg.DagsterInstance | None = None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DBT_TARGET", "DBT_WAREHOUSE_TARGET")}
        env.update(DATAPLATFORM_HOME=str(self.home), DAGSTER_HOME=str(self.dagster_home), DATAPLATFORM_ENV="local",
                   PYTHONUNBUFFERED="1")
        return env

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                command, env=self._env(), cwd=self.home.parent, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_default_signals,
            )
        self.processes.append(process)
        return process

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(
            f"--- {path.name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            for path in sorted(self.logs.glob("*.log"))
        )

    def __enter__(self) -> DagsterRuntime:
        from dataplatform import settings

        os.environ["DATAPLATFORM_HOME"] = str(self.home)
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)
        settings.ensure_dagster_home()
        port = free_port()
        workspace = self.home / "workspace.yaml"
        workspace.write_text(
            f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {port}\n      location_name: dataplatform\n"
        )
        try:
            server = self._start("code_server", [str(BIN / "dagster"), "api", "grpc", "-m", "dataplatform.definitions",
                                                 "-h", "127.0.0.1", "-p", str(port)])
            self._wait_for_port(server, port)
            self._start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)])
            self.instance = dg.DagsterInstance.from_config(str(self.dagster_home))
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_port(self, server: subprocess.Popen, port: int) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"code server exited ({server.returncode}):\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"code server not listening after {self.startup_timeout_s:.0f}s") from None
            time.sleep(POLL_S)

    def wait_for(self, done: Callable[[dg.DagsterInstance], bool], what: str, timeout_s: float = 600.0) -> float:
        """Poll until `done(instance)` and no run is in progress; fail on a failed run or a dead
        process. Returns the seconds waited."""
        started = time.monotonic()
        while True:
            failed = self.instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
            if failed:
                reason = failure_reason(self.instance, failed[0].run_id)
                raise AssertionError(f"run {failed[0].run_id} failed while waiting for {what}: {reason}")
            dead = [p for p in self.processes if p.poll() is not None]
            if dead:
                raise AssertionError(f"{dead[0].args[0]} exited ({dead[0].returncode}):\n{self.log_tail()}")
            busy = self.instance.get_runs(filters=dg.RunsFilter(statuses=IN_PROGRESS), limit=1)
            if not busy and done(self.instance):
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"no {what} within {timeout_s:.0f}s:\n{self.log_tail()}")
            time.sleep(POLL_S)

    def stop(self) -> None:
        for process in reversed(self.processes):
            _stop(process)
        if self.instance is not None:
            self.instance.dispose()

    def __exit__(self, *exc) -> None:
        self.stop()


def latest_timestamp(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None = None) -> float:
    """When `key` (or one partition of it) was last materialised; 0 if never."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None), limit=1
    ).records
    return records[0].timestamp if records else 0.0
