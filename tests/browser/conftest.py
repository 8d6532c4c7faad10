"""Fixtures for the browser tests: a throwaway `dagster dev` and a headless Chromium.

`dagster dev` runs against a fresh DATAPLATFORM_HOME in a tmp dir holding a small CloudFront
delivery, which its daemon takes to the marts (the lineage graph comes from the definitions alone). It is started through tests/browser/dagster_dev.py, which
restores the default SIGINT/SIGTERM handlers before exec'ing `dagster dev` (started in the
background, it would otherwise ignore them), in its own session, so teardown can stop the whole
process tree - webserver, daemon and code servers - by signalling the process group
(SIGINT, as Ctrl-C would; SIGTERM makes the code servers exit before `dagster dev` asks them to,
and it then restarts one and waits for it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dataplatform import settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WRAPPER = Path(__file__).with_name("dagster_dev.py")
CODE_LOCATION_MODULE = "dataplatform.definitions"
STARTUP_TIMEOUT_S = 120.0
SHUTDOWN_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.25


def _require_browser() -> bool:
    return os.environ.get("DATAPLATFORM_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> None:
    """Skip locally; fail where the browser is required (CI sets DATAPLATFORM_REQUIRE_BROWSER=1)."""
    if _require_browser():
        pytest.fail(f"{reason} (DATAPLATFORM_REQUIRE_BROWSER=1, so this is a failure, not a skip)")
    pytest.skip(f"{reason}; set DATAPLATFORM_REQUIRE_BROWSER=1 to make this a failure")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 120) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<no log: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class DagsterDev:
    base_url: str
    home: Path
    log_path: Path
    process: subprocess.Popen

    def graphql(self, query: str, variables: dict[str, Any] | None = None, timeout: float = 30.0) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.load(response)
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def log_tail(self, lines: int = 120) -> str:
        return _tail(self.log_path, lines)


WORKSPACE_QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on RepositoryLocation { name repositories { name } }
          ... on PythonError { message stack }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


def _wait_until_ready(server: DagsterDev, deadline: float) -> None:
    """Bounded polling: /server_info answers, then the code location has loaded (or failed to)."""

    def fail(why: str) -> None:
        pytest.fail(f"dagster dev {why}; log {server.log_path}:\n{server.log_tail()}")

    while True:
        if server.process.poll() is not None:
            fail(f"exited with code {server.process.returncode} before it was ready")
        if time.monotonic() > deadline:
            fail(f"did not come up within {STARTUP_TIMEOUT_S:.0f}s")
        try:
            with urllib.request.urlopen(f"{server.base_url}/server_info", timeout=5) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(POLL_INTERVAL_S)

    while True:
        if server.process.poll() is not None:
            fail(f"exited with code {server.process.returncode} while loading the code location")
        if time.monotonic() > deadline:
            fail(f"did not load the code location within {STARTUP_TIMEOUT_S:.0f}s")
        workspace = server.graphql(WORKSPACE_QUERY)["workspaceOrError"]
        entries = workspace.get("locationEntries") or []
        if entries and all(entry["loadStatus"] == "LOADED" for entry in entries):
            errors = [e for e in entries if e["locationOrLoadError"]["__typename"] != "RepositoryLocation"]
            if errors:
                fail(f"could not load the code location: {json.dumps(errors, indent=2)}")
            return
        time.sleep(POLL_INTERVAL_S)


def _stop(process: subprocess.Popen) -> None:
    """Signal the whole process group the way Ctrl-C in a terminal does (SIGINT), wait for the
    wrapper (now `dagster dev`) to exit; escalate to SIGTERM, then SIGKILL, if it won't."""
    pgid = process.pid  # start_new_session=True: the wrapper leads its own process group
    for sig, timeout in ((signal.SIGINT, SHUTDOWN_TIMEOUT_S), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if process.poll() is not None:
            break
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
    # Stragglers (code servers) still in the group once `dagster dev` itself has gone.
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


SAMPLE_START = datetime(2026, 11, 24, tzinfo=timezone.utc)


def _deliver_sample(home: Path) -> None:
    """A few hours of CloudFront files in the landing zone before `dagster dev` starts: its
    daemon (arrival sensor, then the automation sensor) takes them to the marts by itself."""
    from assets.cloudfront import sample
    from dataplatform.resources.lake import LocalObjectStore

    sample.generate(LocalObjectStore(home / "lake"),
                    sample.SampleSpec(start=SAMPLE_START, hours=2, lines=600, distributions=1, files_per_hour=1, late_files=0))


@pytest.fixture(scope="session")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterDev]:
    root = tmp_path_factory.mktemp("dagster_dev")
    home = root / "dataplatform_home"
    log_path = root / "dagster_dev.log"
    port = _free_port()

    env = dict(os.environ)
    env.update(DATAPLATFORM_HOME=str(home), DATAPLATFORM_ENV="local", PYTHONUNBUFFERED="1")
    for name in ("DAGSTER_HOME", "DBT_TARGET"):
        env.pop(name, None)  # the wrapper derives DAGSTER_HOME=$DATAPLATFORM_HOME/dagster, telemetry off

    _deliver_sample(home)
    command = [sys.executable, str(WRAPPER), "-m", CODE_LOCATION_MODULE, "-h", "127.0.0.1", "-p", str(port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=settings.PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = DagsterDev(base_url=f"http://127.0.0.1:{port}", home=home, log_path=log_path, process=process)
    try:
        _wait_until_ready(server, time.monotonic() + STARTUP_TIMEOUT_S)
        yield server
    finally:
        _stop(process)


# Module scope: Playwright's sync API keeps an asyncio loop running in the main thread while it is
# open, which would leak into every later test of the session (asyncio.run() refuses to start).
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found (install Debian's chromium package; no browser is downloaded)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"the playwright package is not installed ({exc}); install the project with [test] extras")

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # Wide enough that the zoom-to-fit keeps full asset nodes (names, links) rather than minimal boxes.
    context = browser.new_context(viewport={"width": 2400, "height": 1300})
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()
