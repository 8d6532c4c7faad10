"""dbt in the run's own process: dagster-dbt's invocations without a dbt subprocess.

dagster-dbt starts `dbt` as a subprocess for every invocation and reads its JSON log from the
pipe. On these machines the subprocess pays ~2.5 s of Python start-up and dbt imports before
it reads the project, while this process has imported dbt already (dagster-dbt does). Here the
same command line runs through dbt's programmatic entry point (`dbtRunner`) on a thread, and
its events reach dagster-dbt as the same JSON lines through a pipe, so dagster-dbt's event
handling, artifacts and failure messages are unchanged.

dbt's programmatic invocations are not safe to run concurrently in one process (dbt keeps
global flags and adapters): they are serialised. A run process (daemon) or catch-up runs one
dbt command at a time anyway.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import types
from collections.abc import Iterator, Mapping, Sequence

_ONE_AT_A_TIME = threading.Lock()
_LEVELS_SHOWN = {"info", "warn", "error"}  # what dbt prints at its default log level


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """The subprocess's environment for dbt's options (click reads them at invocation)."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open until the process exits (a subprocess's exit): close
    it, so this process and others can open the file afterwards."""
    connections = sys.modules.get("dbt.adapters.duckdb.connections")
    if connections is not None:
        connections.DuckDBConnectionManager.close_all_connections()


class InProcessDbt:
    """The part of `subprocess.Popen` dagster-dbt uses (args, stdout, wait, returncode,
    send_signal), for a dbt command run by dbtRunner on a thread."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str] | None = None, **_popen_options):
        from dbt_common.events.functions import msg_to_json

        self.args = list(args)
        self.returncode: int | None = None
        read_end, write_end = os.pipe()
        self.stdout = os.fdopen(read_end, "rb")
        self._lines = os.fdopen(write_end, "wb")
        self._to_json = msg_to_json
        self._errors_reported = False
        self._terminated = False
        # The variables dagster-dbt sets for its subprocess (log format, target path, ...).
        self._env = {key: value for key, value in (env or {}).items() if key.startswith(("DBT_", "DAGSTER_DBT"))}
        self._thread = threading.Thread(target=self._run, name="dbt", daemon=True)
        self._thread.start()

    def _forward(self, message) -> None:
        if message.info.level in _LEVELS_SHOWN:
            self._errors_reported |= message.info.level == "error"
            self._write(self._to_json(message))

    def _write(self, line: str) -> None:
        if self._lines.closed:
            return
        try:
            self._lines.write(line.encode() + b"\n")
            self._lines.flush()
        except BrokenPipeError:  # the reader stopped (its run failed): dbt finishes unheard
            self._lines.close()

    def _run(self) -> None:
        from dbt.cli.main import dbtRunner

        try:
            # The JSON lines go to the pipe; dbt's console output would go to ours, and its debug
            # log file to the invocation's target folder, which is removed afterwards.
            with _ONE_AT_A_TIME, _environment({**self._env, "DBT_LOG_LEVEL": "none", "DBT_LOG_LEVEL_FILE": "none"}):
                try:
                    result = dbtRunner(callbacks=[self._forward]).invoke(self.args[1:])
                finally:
                    _release_duckdb()
            # dbt's CLI exit codes: 0 success, 1 a handled failure, 2 an unhandled error.
            self.returncode = 0 if result.success else 1 if result.exception is None else 2
            if result.exception is not None:
                self._error_line(result.exception)
        except BaseException as error:  # noqa: BLE001 - reported through the pipe as dbt would
            self.returncode = 2
            self._error_line(error)
        finally:
            with contextlib.suppress(BrokenPipeError):
                self._lines.close()

    def _error_line(self, error: BaseException) -> None:
        """dbt reports most errors as events; one it raised before logging (a usage error) as
        its CLI prints it."""
        if not self._errors_reported:
            info = {"name": "MainEncounteredError", "level": "error", "msg": f"Encountered an error:\n{error}"}
            self._write(json.dumps({"info": info, "data": {"exc": str(error)}}))

    def wait(self, timeout: float | None = None) -> int | None:
        self._thread.join(timeout)
        if self._thread.is_alive() and not self._terminated:
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        """A terminated run (dagster-dbt forwards it, then waits a bounded time): dbt cannot be
        stopped from another thread, so the termination goes on to Dagster without waiting for
        dbt's exit code, and dbt's daemon thread ends with the run's process."""
        self._terminated = True


@contextlib.contextmanager
def dbt_in_process() -> Iterator[None]:
    """While active, dagster-dbt starts its dbt commands in this process."""
    from dagster_dbt.core import dbt_cli_invocation

    real = dbt_cli_invocation.subprocess
    dbt_cli_invocation.subprocess = types.SimpleNamespace(Popen=InProcessDbt, PIPE=real.PIPE, STDOUT=real.STDOUT)
    try:
        yield
    finally:
        dbt_cli_invocation.subprocess = real
