"""Lineage is one connected graph in the Dagster UI: CloudFront landing to marts (the group's
lineage tab), point-of-sale deliveries through window completeness and the window loads to the
marts (the pos group's tab) and the clinical source to the OMOP CDM (the upstream lineage of
marts/person).

Two views of the same fact: the webserver's GraphQL API (the dependency edges Dagster loaded)
and the rendered page (the asset nodes and the edges drawn between them in the lineage SVG).
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import pytest

from .conftest import DagsterDev

GROUP = "cloudfront"
LANDING = ("landing", "cloudfront", "access_logs")
MARTS = (
    ("marts", "cloudfront_bot_traffic"),
    ("marts", "cloudfront_bandwidth_by_edge"),
    ("marts", "cloudfront_top_viewers"),
)
EXPECTED = (
    LANDING,
    ("raw", "cloudfront", "access_logs"),
    ("raw", "cloudfront", "access_log_rejects"),
    ("raw", "cloudfront", "access_log_user_agents"),
    ("raw", "cloudfront", "user_agents"),
    ("staging", "stg_cloudfront__access_logs"),
    ("staging", "stg_cloudfront__user_agents"),
    ("intermediate", "int_cloudfront__requests_classified"),
    *MARTS,
)

POS_LANDING = ("landing", "pos", "deliveries")
POS_MARTS = (("marts", "pos_daily_sales"), ("marts", "pos_store_completeness"), ("marts", "pos_region_daily"))
POS_EXPECTED = (
    POS_LANDING,
    ("landing", "pos", "window_completeness"),
    ("raw", "pos", "transactions"),
    ("raw", "pos", "transaction_rejects"),
    ("raw", "pos", "window_deliveries"),
    ("raw", "pos", "item_master"),
    ("staging", "stg_pos__transactions"),
    ("staging", "stg_pos__window_deliveries"),
    ("staging", "stg_pos__item_master"),
    *POS_MARTS,
)

OUTREACH_LANDING = ("landing", "outreach", "deliveries")
OUTREACH_MARTS = (("marts", "outreach_health_check"), ("marts", "outreach_medication_adherence"),
                  ("marts", "outreach_campaign_results"), ("marts", "member_engagement"))
OUTREACH_EXPECTED = (
    OUTREACH_LANDING,
    ("raw_restricted", "outreach", "responses"),
    ("raw_restricted", "outreach", "members"),
    ("raw_restricted", "outreach", "pharmacy_claims"),
    ("curated", "outreach", "responses"),
    ("curated", "outreach", "members"),
    ("curated", "outreach", "pharmacy_claims"),
    ("staging", "stg_outreach__responses"),
    ("staging", "stg_outreach__members"),
    ("staging", "stg_outreach__pharmacy_claims"),
    *OUTREACH_MARTS,
)
ORDERS_TABLE = ("oltp", "orders")
ORDERS_EXPECTED = (ORDERS_TABLE, ("stream", "orders_changes"))
COLUMN_TAGS_QUERY = """
{
  assetNodes(assetKeys: [{path: ["curated", "outreach", "members"]}, {path: ["raw_restricted", "outreach", "members"]}]) {
    assetKey { path }
    metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name tags { key value } } } } }
  }
}
"""

CLINICAL_LANDING = ("landing", "clinical", "mimic_deliveries")
CLINICAL_CDM = (("marts", "person"),)
CLINICAL_EXPECTED = (
    CLINICAL_LANDING,
    ("raw", "clinical", "patients"),
    ("raw", "clinical", "admissions"),
    ("staging", "stg_mimic__patients"),
    ("staging", "stg_mimic__admissions"),
    ("reference", "vocab_source_to_concept_map"),
    ("marts", "source_to_concept_map"),
    *CLINICAL_CDM,
)

ARTIFACTS = Path(__file__).with_name("artifacts")

ASSET_NODES_QUERY = """
{
  assetNodes {
    assetKey { path }
    groupName
    dependencyKeys { path }
    repository { name location { name } }
  }
}
"""

# The lineage graph is an SVG: one <foreignObject> per asset node, one <path marker-end=...> per edge.
GRAPH_SVG = "svg:has(foreignObject)"

# For each asset node: the asset key it links to and its box; for each edge: its end points.
RENDERED_GRAPH_JS = """
() => {
  const svg = [...document.querySelectorAll('svg')].find(s => s.querySelector('foreignObject'));
  if (!svg) return {nodes: [], edges: []};
  const nodes = [...svg.querySelectorAll('foreignObject')].map(fo => {
    const keys = [...fo.querySelectorAll('a[href^="/assets/"]')]
      .map(a => decodeURIComponent(a.getAttribute('href').split('?')[0].slice('/assets/'.length)));
    const label = fo.querySelector('[data-tooltip]');
    return {
      keys: [...new Set(keys)],
      name: label ? label.getAttribute('data-tooltip') : null,
      x: +fo.getAttribute('x'), y: +fo.getAttribute('y'),
      width: +fo.getAttribute('width'), height: +fo.getAttribute('height'),
    };
  });
  const edges = [...svg.querySelectorAll('path[marker-end]')].map(p => {
    const numbers = (p.getAttribute('d').match(/-?[\\d.]+/g) || []).map(Number);
    return numbers.length >= 4
      ? {x1: numbers[0], y1: numbers[1], x2: numbers[numbers.length - 2], y2: numbers[numbers.length - 1]}
      : null;
  }).filter(Boolean);
  return {nodes, edges};
}
"""

SETTLED_JS = """
() => {
  const svg = [...document.querySelectorAll('svg')].find(s => s.querySelector('foreignObject'));
  if (!svg) return false;
  const r = svg.querySelector('foreignObject').getBoundingClientRect();
  const box = [r.x, r.y, r.width, r.height].map(v => v.toFixed(1)).join(',');
  const state = window.__lineageSettle || (window.__lineageSettle = {box: null, frames: 0});
  state.frames = box === state.box ? state.frames + 1 : 0;
  state.box = box;
  return state.frames >= 10;
}
"""


def _key(path: tuple[str, ...] | list[str]) -> str:
    return "/".join(path)


def _reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, queue = {start}, deque([start])
    while queue:
        for child in edges.get(queue.popleft(), ()):
            if child not in seen:
                seen.add(child)
                queue.append(child)
    return seen


def _api_graph(server: DagsterDev) -> tuple[dict[str, dict[str, Any]], dict[str, set[str]]]:
    """Asset nodes by key and downstream edges (parent -> children), from the webserver's GraphQL API."""
    nodes = {_key(node["assetKey"]["path"]): node for node in server.graphql(ASSET_NODES_QUERY)["assetNodes"]}
    downstream: dict[str, set[str]] = defaultdict(set)
    for key, node in nodes.items():
        for parent in node["dependencyKeys"]:
            downstream[_key(parent["path"])].add(key)
    return nodes, downstream


def _node_keys(graph: dict[str, Any], expected: set[str]) -> list[str | None]:
    """Each drawn node's asset key: from the links it holds (to its checks, automation, ...) or,
    for a node without links (e.g. sensor-driven), from its name when exactly one expected key
    not already drawn with links ends with it."""
    linked = {node["keys"][0] for node in graph["nodes"] if len(node["keys"]) == 1}
    keys = []
    for node in graph["nodes"]:
        candidates = [k for k in expected - linked if k.rsplit("/", 1)[-1] == node["name"]]
        keys.append(node["keys"][0] if len(node["keys"]) == 1 else
                    candidates[0] if not node["keys"] and len(candidates) == 1 else None)
    return keys


def _rendered_edges(graph: dict[str, Any], expected: set[str], tolerance: float = 12.0) -> set[tuple[str, str]]:
    """Map each drawn edge to the nodes it joins: it leaves a node's right side, ends at (the arrow
    before) the next node's left side, both within the nodes' vertical extent."""

    node_keys = _node_keys(graph, expected)

    def node_at(x: float, y: float, side: str) -> str | None:
        for node, key in zip(graph["nodes"], node_keys):
            edge_x = node["x"] + node["width"] if side == "right" else node["x"]
            if key and abs(edge_x - x) <= tolerance and node["y"] <= y <= node["y"] + node["height"]:
                return key
        return None

    edges = set()
    for edge in graph["edges"]:
        source, target = node_at(edge["x1"], edge["y1"], "right"), node_at(edge["x2"], edge["y2"], "left")
        if source and target:
            edges.add((source, target))
    return edges


def _save_screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=False)
    shutil.copy2(path, tmp_path / name)
    return path


def _dismiss_community_modal(page: Any, server: DagsterDev) -> None:
    """The "Join the Dagster community" dialog covers the page on a fresh instance (shown on
    localhost, one second after load, until skipped). The server says whether it will show: if it
    will, wait for it and press Skip, which records the dismissal on the server."""
    from playwright.sync_api import expect

    if not server.graphql("{ shouldShowNux }")["shouldShowNux"]:
        return
    dialog = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
    expect(dialog).to_be_visible(timeout=30_000)
    dialog.get_by_role("button", name="Skip").click()
    expect(dialog).to_be_hidden()
    page.mouse.move(0, 0)  # off the graph: a pointer left over a node highlights it and its edges


@pytest.mark.browser
def test_cloudfront_lineage_landing_to_marts(browser: Any, page: Any, dagster_dev: DagsterDev, tmp_path: Path) -> None:
    api_nodes, downstream = _api_graph(dagster_dev)
    assert {api_nodes[_key(key)]["groupName"] for key in EXPECTED if _key(key) in api_nodes} == {GROUP}
    # The group's lineage tab, /locations/<repository>@<location>/asset-groups/<group>.
    repository = api_nodes[_key(LANDING)]["repository"]
    url = f"{dagster_dev.base_url}/locations/{repository['name']}@{repository['location']['name']}/asset-groups/{GROUP}"
    _assert_lineage_drawn(page, dagster_dev, tmp_path, url, EXPECTED, LANDING, MARTS, "lineage.png")


@pytest.mark.browser
def test_pos_lineage_deliveries_through_completeness_to_marts(
    browser: Any, page: Any, dagster_dev: DagsterDev, tmp_path: Path
) -> None:
    api_nodes, downstream = _api_graph(dagster_dev)
    assert {api_nodes[_key(key)]["groupName"] for key in POS_EXPECTED} == {"pos"}
    completeness, transactions = _key(POS_EXPECTED[1]), _key(POS_EXPECTED[2])
    assert completeness in downstream[_key(POS_LANDING)] and transactions in downstream[completeness]
    repository = api_nodes[_key(POS_LANDING)]["repository"]
    url = f"{dagster_dev.base_url}/locations/{repository['name']}@{repository['location']['name']}/asset-groups/pos"
    _assert_lineage_drawn(page, dagster_dev, tmp_path, url, POS_EXPECTED, POS_LANDING, POS_MARTS, "pos-lineage.png")


@pytest.mark.browser
def test_outreach_lineage_landing_restricted_curated_marts_with_classified_columns(
    browser: Any, page: Any, dagster_dev: DagsterDev, tmp_path: Path
) -> None:
    api_nodes, downstream = _api_graph(dagster_dev)
    assert {api_nodes[_key(key)]["groupName"] for key in OUTREACH_EXPECTED} == {"outreach"}
    # landing -> raw_restricted -> curated (-> staging -> marts), per feed
    for feed in ("responses", "members", "pharmacy_claims"):
        raw, curated = f"raw_restricted/outreach/{feed}", f"curated/outreach/{feed}"
        assert raw in downstream[_key(OUTREACH_LANDING)] and curated in downstream[raw]
    # Each column says what was done to it: the Safe Harbor type and the rule's action, as tags.
    columns = {}
    for node in dagster_dev.graphql(COLUMN_TAGS_QUERY)["assetNodes"]:
        schema = next(e["schema"] for e in node["metadataEntries"] if e["label"] == "dagster/column_schema")
        columns[_key(node["assetKey"]["path"])] = {c["name"]: {t["key"]: t["value"] for t in c["tags"]} for c in schema["columns"]}
    curated, raw = columns["curated/outreach/members"], columns["raw_restricted/outreach/members"]
    assert curated["phone_encrypted"]["dataplatform/protection"] == "encrypt"
    assert curated["member_token"]["dataplatform/safe_harbor"] == "health_plan_beneficiary_number"
    assert curated["zip3"]["dataplatform/protection"] == "generalize" and "name" not in curated
    assert raw["name"]["dataplatform/classification"] == "restricted" and raw["name"]["dataplatform/safe_harbor"] == "name"
    repository = api_nodes[_key(OUTREACH_LANDING)]["repository"]
    url = f"{dagster_dev.base_url}/locations/{repository['name']}@{repository['location']['name']}/asset-groups/outreach"
    _assert_lineage_drawn(page, dagster_dev, tmp_path, url, OUTREACH_EXPECTED, OUTREACH_LANDING, OUTREACH_MARTS,
                          "outreach-lineage.png")
    # The curated members' page, with its column table (classification per column), for the record.
    page.goto(f"{dagster_dev.base_url}/assets/curated/outreach/members", wait_until="domcontentloaded")
    from playwright.sync_api import expect

    expect(page.get_by_text("phone_encrypted").first).to_be_visible(timeout=60_000)
    print(f"columns screenshot: {_save_screenshot(page, tmp_path, 'outreach-curated-members.png')}")


@pytest.mark.browser
def test_orders_lineage_database_to_stream(browser: Any, page: Any, dagster_dev: DagsterDev, tmp_path: Path) -> None:
    api_nodes, _ = _api_graph(dagster_dev)
    assert {api_nodes[_key(key)]["groupName"] for key in ORDERS_EXPECTED} == {"orders"}
    repository = api_nodes[_key(ORDERS_TABLE)]["repository"]
    url = f"{dagster_dev.base_url}/locations/{repository['name']}@{repository['location']['name']}/asset-groups/orders"
    _assert_lineage_drawn(page, dagster_dev, tmp_path, url, ORDERS_EXPECTED, ORDERS_TABLE, (("stream", "orders_changes"),),
                          "orders-lineage.png")


@pytest.mark.browser
def test_clinical_lineage_source_to_cdm(browser: Any, page: Any, dagster_dev: DagsterDev, tmp_path: Path) -> None:
    api_nodes, _ = _api_graph(dagster_dev)
    assert {api_nodes[_key(key)]["groupName"] for key in CLINICAL_EXPECTED if _key(key) in api_nodes} == {"clinical"}
    # The CDM table's lineage tab, everything upstream of it (graph depth "All").
    url = f"{dagster_dev.base_url}/assets/{_key(CLINICAL_CDM[0])}?view=lineage&lineageScope=upstream"
    _assert_lineage_drawn(
        page, dagster_dev, tmp_path, url, CLINICAL_EXPECTED, CLINICAL_LANDING, CLINICAL_CDM, "clinical-lineage.png",
        prepare=lambda: page.get_by_role("button", name="All", exact=True).click(),
    )


def _assert_lineage_drawn(
    page: Any, dagster_dev: DagsterDev, tmp_path: Path, url: str, expected: tuple, landing: tuple, marts: tuple,
    screenshot_name: str, prepare: Any = None,
) -> None:
    from playwright.sync_api import expect

    # 1. The API: every expected asset is loaded and each mart is downstream of landing.
    api_nodes, downstream = _api_graph(dagster_dev)
    missing = [_key(key) for key in expected if _key(key) not in api_nodes]
    assert not missing, f"assets missing from the code location: {missing}"
    from_landing = _reachable(downstream, _key(landing))
    unreachable = [_key(mart) for mart in marts if _key(mart) not in from_landing]
    assert not unreachable, f"marts not downstream of {_key(landing)} in the API graph: {unreachable}"

    keys = {_key(key) for key in expected}

    # 2. The page.
    page.goto(url, wait_until="domcontentloaded")
    try:
        _dismiss_community_modal(page, dagster_dev)
        if prepare:
            prepare()

        # Every expected asset is drawn as a full node (it links to its asset page) with its name,
        # and the zoom-to-fit has settled with all of them in view.
        svg = page.locator(GRAPH_SVG)
        for key in expected:
            labels = svg.locator(f'foreignObject [data-tooltip="{key[-1]}"]')
            expect(labels.first, f"lineage node for {_key(key)}").to_be_visible(timeout=60_000)
        # The edges are drawn: at least one per dependency among the expected assets.
        expected_edges = {(parent, child) for parent in keys for child in downstream.get(parent, ()) if child in keys}
        page.wait_for_function(
            "n => document.querySelectorAll('svg path[marker-end]').length >= n", arg=len(expected_edges)
        )
        # Live data (latest event, checks) has arrived for every node (the UI writes "Loading..."
        # with three dots in the nodes, "Loading…" elsewhere; slow machines show it for seconds).
        expect(svg.get_by_text(re.compile(r"^\s*Loading(…|\.\.\.)\s*$"))).to_have_count(0, timeout=60_000)
        # The zoom-to-fit has come to rest: the graph's on-screen box is unchanged for 10 frames.
        page.wait_for_function(SETTLED_JS, polling="raf")
    except Exception:
        failure = _save_screenshot(page, tmp_path, f"failure-{screenshot_name}")
        drawn_nodes = [(node["keys"], node["name"]) for node in page.evaluate(RENDERED_GRAPH_JS)["nodes"]]
        print(f"screenshot of the failure: {failure}\nnodes drawn: {drawn_nodes}\n"
              f"dagster dev log:\n{dagster_dev.log_tail(40)}")
        raise

    screenshot = _save_screenshot(page, tmp_path, screenshot_name)
    print(f"lineage screenshot: {screenshot} (copy in {tmp_path})")

    # Every expected asset is drawn as one node, fully in view, with its name.
    graph = page.evaluate(RENDERED_GRAPH_JS)
    drawn_keys = _node_keys(graph, keys)
    assert sorted(k for k in drawn_keys if k in keys) == sorted(keys), f"nodes drawn: {graph['nodes']}"
    for key in expected:
        for label in page.locator(GRAPH_SVG).locator(f'foreignObject [data-tooltip="{key[-1]}"]').all():
            expect(label, f"label of {_key(key)}").to_be_in_viewport(ratio=1.0)

    # 3. Connectivity as drawn: the edges in the SVG join the nodes exactly as the API says, so
    #    there is a drawn path from landing to each mart.
    rendered = _rendered_edges(graph, keys)
    drawn = {(parent, child) for parent, child in rendered if parent in keys and child in keys}
    assert drawn == expected_edges, (
        f"drawn edges differ from the API's: not drawn {sorted(expected_edges - drawn)}, "
        f"unexpected {sorted(drawn - expected_edges)}"
    )
    drawn_downstream: dict[str, set[str]] = defaultdict(set)
    for parent, child in rendered:
        drawn_downstream[parent].add(child)
    reached = _reachable(drawn_downstream, _key(landing))
    unreachable = [_key(mart) for mart in marts if _key(mart) not in reached]
    assert not unreachable, f"no drawn path from {_key(landing)} to {unreachable}; drawn edges: {sorted(rendered)}"
