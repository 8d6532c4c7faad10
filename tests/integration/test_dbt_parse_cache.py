"""dbt parses the project once per home and target: the next invocation reuses the parse.

Before, every build re-parsed 65 models and 474 tests (~10 s): dagster-dbt seeded each
invocation with the project's cache, parsed for another home's connection, and the invocation's
own re-parse was deleted with its target folder."""

from __future__ import annotations

import json

import pytest

from dataplatform import settings


def parse() -> dict:
    """dbt's own account of the parse (target/perf_info.json of `dbt parse`)."""
    from dataplatform.dbt import dbt_resource, invocation_target

    dbt = dbt_resource()
    with invocation_target("parse-cache-test", "00000000", dbt.target) as target_path:
        dbt.cli(["parse"], target_path=target_path).wait()
        return json.loads((target_path / "perf_info.json").read_text())


@pytest.mark.slow
def test_a_second_invocation_of_an_unchanged_project_does_not_reparse(tmp_path, monkeypatch):
    monkeypatch.setenv("DATAPLATFORM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DATAPLATFORM_ENV", "local")
    first = parse()  # a new home: whatever the project's own cache says, a full parse
    assert first["parsed_path_count"] > 100 and first["parsed_path_count"] == first["path_count"]
    assert (settings.home() / "dbt" / "partial_parse.local.msgpack").exists()

    second = parse()
    assert second["is_partial_parse_enabled"] and second["parsed_path_count"] == 0
