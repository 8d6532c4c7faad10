"""Every asset carries owners, group, kinds, description, column schema and classification,
all derived from platform/policies."""

from __future__ import annotations

import dagster as dg
import pytest

from dataplatform.governance import policies
from dataplatform.governance.policies import CLASSIFICATION_TAG


@pytest.fixture(scope="module")
def specs():
    from dataplatform.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    return [graph.get(key) for key in graph.get_all_asset_keys()]


def test_every_asset_is_governed(specs):
    domains = policies.load("domains")["domains"]
    levels = set(policies.load("classification")["levels"])
    assert specs
    for node in specs:
        name = node.key.to_user_string()
        assert node.group_name in domains, name
        assert node.owners == domains[node.group_name]["owners"], name
        assert node.kinds and len(node.kinds) <= 3, name
        assert node.description and len(node.description) > 20, name
        schema = node.metadata.get("dagster/column_schema")
        assert schema is not None and schema.columns, f"{name} has no column schema"
        for column in schema.columns:
            assert column.tags.get(CLASSIFICATION_TAG) in levels, f"{name}.{column.name} unclassified"
        assert node.tags.get(CLASSIFICATION_TAG) in levels, name


def test_personal_data_is_tagged_where_it_flows(specs):
    by_key = {node.key.to_user_string(): node for node in specs}
    for name in (
        "raw/cloudfront/access_logs", "marts/cloudfront_top_viewers", "staging/stg_cloudfront__access_logs",
        "raw/vpc_flow/flow_logs", "marts/vpc_top_talkers", "marts/vpc_rejected_traffic",
        "raw/clinical/patients", "staging/stg_mimic__patients", "marts/person", "marts/condition_occurrence",
    ):
        node = by_key[name]
        assert node.tags[CLASSIFICATION_TAG] == "personal", name
        assert node.tags["dataplatform/contains_personal_data"] == "true", name
    columns = {c.name: c for c in by_key["marts/cloudfront_top_viewers"].metadata["dagster/column_schema"].columns}
    assert columns["client_ip"].tags[CLASSIFICATION_TAG] == "personal"
    assert columns["bytes_sent"].tags[CLASSIFICATION_TAG] == "internal"
    # No personal column: the bandwidth mart is internal.
    assert by_key["marts/cloudfront_bandwidth_by_edge"].tags[CLASSIFICATION_TAG] == "internal"


def test_undeclared_domain_or_dataset_fails_loudly():
    with pytest.raises(KeyError, match="not declared"):
        policies.domain("no_such_domain")
    with pytest.raises(KeyError, match="not declared"):
        policies.python_asset_spec(["raw", "cloudfront", "undeclared"], "cloudfront", [])


@pytest.mark.parametrize(
    "landing, marts",
    [
        ("landing/cloudfront/access_logs", ["cloudfront_bot_traffic", "cloudfront_bandwidth_by_edge", "cloudfront_top_viewers"]),
        (
            "landing/vpc_flow/flow_logs",
            ["vpc_top_talkers", "vpc_top_talkers_by_port", "vpc_rejected_traffic", "vpc_interface_exposure", "vpc_flow_log_coverage"],
        ),
    ],
)
def test_lineage_is_one_connected_graph_from_landing_to_marts(specs, landing, marts):
    graph = {node.key: node for node in specs}
    start = dg.AssetKey.from_user_string(landing)
    downstream = {start}
    frontier = [start]
    while frontier:
        key = frontier.pop()
        for child in graph[key].child_keys:
            if child not in downstream:
                downstream.add(child)
                frontier.append(child)
    for mart in marts:
        assert dg.AssetKey(["marts", mart]) in downstream
        assert graph[dg.AssetKey(["marts", mart])].group_name == graph[start].group_name
