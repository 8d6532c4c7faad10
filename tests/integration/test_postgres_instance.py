"""The production instance storage: a Dagster instance on a real PostgreSQL (dagster-postgres)
holds what catch-up did - its runs, the marts' materialisations and catch-up's cursors.

Needs a server reachable through DATAPLATFORM_PG_DSN (default
postgresql://dataplatform:dataplatform@127.0.0.1:5432/dataplatform; the role needs CREATEDB).
Each test run gets a database of its own, dropped afterwards. Skipped without a server, a
failure instead where PostgreSQL is required (CI sets DATAPLATFORM_REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import psycopg
import pytest
import yaml

from assets.cloudfront import sample
from dataplatform import settings
from dataplatform.automation import AUTOMATION_SENSOR
from dataplatform.catchup import CURSOR_PREFIX, InstanceCursors, catch_up
from dataplatform.resources.lake import LocalObjectStore

MART = dg.AssetKey(["marts", "cloudfront_top_viewers"])
ARRIVALS = "cloudfront_arrivals"


def dagster_url(url: str) -> str:
    """The same database for dagster-postgres: its SQL (NOTIFY with a bound parameter) needs
    psycopg2, and SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3 (dagster.aws.yaml sets
    the same scheme)."""
    return urlunsplit(urlsplit(url)._replace(scheme="postgresql+psycopg2"))


def query(url: str, statement: str, *params) -> list[tuple]:
    with psycopg.connect(url, connect_timeout=5) as connection:
        return connection.execute(statement, params).fetchall()


@pytest.mark.slow
def test_catch_up_on_a_postgres_instance(home, tmp_path, monkeypatch, postgres_url):
    from dataplatform.definitions import build_definitions

    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(
        yaml.safe_dump({"telemetry": {"enabled": False}, "storage": {"postgres": {"postgres_url": dagster_url(postgres_url)}}})
    )
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    sample.generate(
        LocalObjectStore(settings.lake_root()),
        sample.SampleSpec(start=datetime(2026, 11, 24, tzinfo=timezone.utc), hours=2, lines=300, distributions=1, files_per_hour=1),
    )
    defs = build_definitions()

    with dg.DagsterInstance.get() as instance:
        summary = catch_up(defs, instance)
        assert summary.failed_runs == [] and summary.partitions == 2
        assert MART in summary.materialized
        assert summary.automation_runs >= 1 and summary.runs > summary.automation_runs  # sensor runs too
        arrivals_cursor = InstanceCursors(instance).get(ARRIVALS)
        assert arrivals_cursor

    # What PostgreSQL itself holds, read without Dagster.
    runs = query(postgres_url, "select status, count(*) from runs group by status")
    assert dict(runs) == {"SUCCESS": summary.runs}

    materialisations = query(
        postgres_url,
        "select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' and asset_key = %s",
        MART.to_string(),
    )
    assert materialisations[0][0] >= 1

    cursors = dict(query(postgres_url, "select key, value from kvs where key like %s", CURSOR_PREFIX + "%"))
    assert {CURSOR_PREFIX + ARRIVALS, CURSOR_PREFIX + AUTOMATION_SENSOR} <= set(cursors)
    assert cursors[CURSOR_PREFIX + ARRIVALS] == arrivals_cursor

    # A second catch-up on the same database finds nothing to do (state survived in PostgreSQL).
    with dg.DagsterInstance.get() as instance:
        assert catch_up(defs, instance).runs == 0
    assert dict(query(postgres_url, "select status, count(*) from runs group by status")) == {"SUCCESS": summary.runs}
