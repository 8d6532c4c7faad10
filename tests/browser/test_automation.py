"""Under `dagster dev`, with nothing switched on by hand, the code location's automation sensor
is running and builds the marts from the delivery the arrival sensor loaded; the UI shows both.

Screenshots: tests/browser/artifacts/automation.png (the automation page: the sensor running)
and automation-mart.png (the mart's asset page, materialised by a run of that sensor).
"""

from __future__ import annotations

import re

import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import DagsterDev
from .test_lineage import _api_graph, _dismiss_community_modal, _save_screenshot

MART = ["marts", "cloudfront_top_viewers"]
AUTOMATION_SENSOR = "automation"
BUILD_TIMEOUT_S = 600.0

MATERIALIZATION_QUERY = """
query ($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset { assetMaterializations(limit: 1) { runId timestamp } }
  }
}
"""
RUN_TAGS_QUERY = """
query ($runId: ID!) { runOrError(runId: $runId) { ... on Run { status tags { key value } } } }
"""
SENSORS_QUERY = """
query ($repository: String!, $location: String!) {
  sensorsOrError(repositorySelector: {repositoryName: $repository, repositoryLocationName: $location}) {
    ... on Sensors { results { name sensorType sensorState { status } } } } }
"""


def _wait_for_mart(server: DagsterDev) -> str:
    """Bounded poll of the GraphQL API until the mart has a materialisation; its run id."""
    deadline = time.monotonic() + BUILD_TIMEOUT_S
    while time.monotonic() < deadline:
        asset = server.graphql(MATERIALIZATION_QUERY, {"path": MART})["assetOrError"]
        materializations = (asset or {}).get("assetMaterializations") or []
        if materializations:
            return materializations[0]["runId"]
        time.sleep(1.0)
    pytest.fail(f"{'/'.join(MART)} not materialised within {BUILD_TIMEOUT_S:.0f}s; log:\n{server.log_tail()}")


@pytest.mark.browser
def test_the_automation_sensor_runs_and_builds_the_marts(browser: Any, page: Any, dagster_dev: DagsterDev,
                                                         tmp_path: Path) -> None:
    from playwright.sync_api import expect

    run_id = _wait_for_mart(dagster_dev)
    run = dagster_dev.graphql(RUN_TAGS_QUERY, {"runId": run_id})["runOrError"]
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert tags.get("dagster/sensor_name") == AUTOMATION_SENSOR, f"the mart was built by {tags}"

    api_nodes, _ = _api_graph(dagster_dev)
    repository = api_nodes["/".join(MART)]["repository"]
    variables = {"repository": repository["name"], "location": repository["location"]["name"]}
    sensors = {s["name"]: s for s in dagster_dev.graphql(SENSORS_QUERY, variables)["sensorsOrError"]["results"]}
    assert sensors[AUTOMATION_SENSOR]["sensorState"]["status"] == "RUNNING"
    assert sensors[AUTOMATION_SENSOR]["sensorType"] == "AUTO_MATERIALIZE"  # an automation condition sensor

    page.goto(f"{dagster_dev.base_url}/automation", wait_until="domcontentloaded")
    _dismiss_community_modal(page, dagster_dev)
    # The list of the code location's automations: the sensor, its type and its last tick (its
    # RUNNING state is asserted above through the same server's GraphQL).
    link = page.locator(f"a[href$='/sensors/{AUTOMATION_SENSOR}']")
    expect(link).to_be_visible(timeout=60_000)
    expect(link.get_by_text("Automation condition sensor")).to_be_visible()
    _save_screenshot(page, tmp_path, "automation.png")

    page.goto(f"{dagster_dev.base_url}/assets/{'/'.join(MART)}", wait_until="domcontentloaded")
    # "Latest materialization" links to the automation sensor's run.
    expect(page.locator(f"a[href*='/runs/{run_id}']").first).to_be_visible(timeout=60_000)
    _save_screenshot(page, tmp_path, "automation-mart.png")
    # The asset's automation evaluations: the condition tree the daemon evaluated, tick by tick.
    tab = page.get_by_role("tab", name="Automation")
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("Loading evaluations")).to_have_count(0, timeout=60_000)
    # The tick that requested the mart (case matters: other rows say "Not requested").
    expect(page.get_by_role("row").filter(has_text=re.compile("Requested")).first).to_be_visible()
    _save_screenshot(page, tmp_path, "automation-evaluations.png")
