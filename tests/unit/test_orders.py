"""The orders domain around the outbox: the relay sensor's ticks, the per-minute order metrics and
their alert, and `dataplatform orders` / `produce orders` on a home's SQLite database."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import dagster as dg
import pytest

from assets.orders import metrics
from assets.orders.app import OrderApplication
from assets.orders.assets import outbox_relay
from assets.orders.schema import migrate
from assets.orders.sensor import evaluate, outbox_relay_sensor
from dataplatform.cli import main
from dataplatform.outbox import relay
from dataplatform.resources.kv import SqliteKeyValueStore
from dataplatform.resources.metrics import LocalMetrics
from dataplatform.resources.notify import LocalOutbox
from dataplatform.resources.oltp import SqliteDatabase
from dataplatform.resources.stream import LocalStreamStore
from dataplatform.run_attempts import DONE, RUNNING


@pytest.fixture
def db(tmp_path):
    return SqliteDatabase(tmp_path / "oltp.sqlite")


def test_the_sensor_waits_for_a_migrated_database_then_requests_one_run_per_backlog(db, tmp_path):
    now = datetime.now(timezone.utc)
    runs: dict[str, tuple] = {}  # run key -> (outcome, ended), as run_attempts.run_state reads the instance

    def tick():
        return evaluate(db, now, runs.get)

    assert "dataplatform orders migrate" in tick().skip_message
    migrate(db)
    assert "every committed change" in tick().skip_message
    OrderApplication(db, seed=1).run(rate=10_000, seconds=0.01)
    first = tick()
    assert isinstance(first, dg.RunRequest) and tick().run_key == first.run_key  # same backlog, same key
    runs[first.run_key] = (RUNNING, None)
    assert "in progress" in tick().skip_message  # never two runs on one backlog
    runs[first.run_key] = (DONE, now - timedelta(minutes=5))  # it ended and left the backlog (killed, or the lock was held)
    assert tick().run_key == f"{first.run_key}#2"
    stream = LocalStreamStore(tmp_path / "streams.sqlite")
    stream.create_stream("orders_changes", 2)
    relay(db, stream, "orders_changes")
    assert isinstance(tick(), dg.SkipReason)
    # The definition ticks with its resource, as the daemon runs it.
    OrderApplication(db, seed=2).run(rate=10_000, seconds=0.005)
    ports = {"oltp": db, "stream": stream, "kv": SqliteKeyValueStore(tmp_path / "kv.sqlite"),
             "metrics": LocalMetrics(tmp_path / "metrics.sqlite"), "notify": LocalOutbox(tmp_path / "outbox")}
    definitions = dg.Definitions(assets=[outbox_relay], sensors=[outbox_relay_sensor], resources=ports)
    with dg.instance_for_test() as instance, dg.build_sensor_context(
            instance=instance, resources={"oltp": db}, definitions=definitions) as context:
        sensor_tick = outbox_relay_sensor.evaluate_tick(context)
    assert [r.run_key for r in sensor_tick.run_requests] == [evaluate(db, now, runs.get).run_key]


def test_minute_metrics_equal_the_created_orders_and_alert_once(db, tmp_path, monkeypatch):
    migrate(db)
    OrderApplication(db, seed=2).run(rate=10_000, seconds=0.03)
    expected = defaultdict(lambda: [0, Decimal(0)])  # (minute, category) -> orders, revenue, from the payloads
    for created_at, payload in db.query("select created_at, payload from outbox where event_type = 'created'"):
        new = json.loads(payload)["new"]
        minute = datetime.fromisoformat(created_at.replace("Z", "+00:00")).replace(second=0, microsecond=0)
        expected[(minute, new["product_category"])][0] += 1
        expected[(minute, new["product_category"])][1] += Decimal(new["unit_price"]) * new["order_qty"]
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    top = max(revenue for _, revenue in expected.values())
    settings = {**metrics.policy(), "alerts": {"revenue_per_minute_above": float(top) / 2}}
    monkeypatch.setattr(metrics, "policy", lambda: settings)
    kv, store, notify = SqliteKeyValueStore(tmp_path / "kv.sqlite"), LocalMetrics(tmp_path / "metrics.sqlite"), LocalOutbox(tmp_path / "outbox")
    done = metrics.emit(db, kv, store, notify, now=later)
    assert done["minutes"] >= 1 and done["alerts"] >= 1
    for (minute, category), (orders, revenue) in expected.items():
        got = dict(store.query(settings["namespace"], "Revenue", {"ProductCategory": category}, minute, minute + timedelta(minutes=1)))
        assert got == {minute: pytest.approx(float(revenue))}
        got = dict(store.query(settings["namespace"], "Orders", {"ProductCategory": category}, minute, minute + timedelta(minutes=1)))
        assert got == {minute: orders}
    alerts = notify.messages(metrics.ALERT_TOPIC)
    assert len(alerts) == done["alerts"]
    assert metrics.emit(db, kv, store, notify, now=later) == {"minutes": 0, "alerts": 0}  # the cursor moved
    sent = datetime.fromisoformat(alerts[0]["message"]["minute"])
    assert metrics._alert(kv, notify, sent, top, settings) == 0  # another evaluation of a sent minute sends nothing
    assert len(notify.messages(metrics.ALERT_TOPIC)) == len(alerts)  # once per minute


def test_orders_migrate_produce_and_status(home, capsys):
    assert main(["orders", "migrate"]) == 0 and "applied migration(s) 1, 2" in capsys.readouterr().out
    assert main(["orders", "migrate"]) == 0 and "up to date" in capsys.readouterr().out
    assert main(["produce", "orders", "--rate", "200", "--seconds", "1", "--seed", "3"]) == 0
    produced = capsys.readouterr().out
    assert main(["orders", "status"]) == 0
    status = capsys.readouterr().out
    changes = int(produced.split("(")[1].split(" row changes")[0].replace(",", ""))
    assert changes > 0 and status.startswith(f"orders outbox: {changes} unpublished")


def test_the_relay_asset_publishes_and_reports_its_backlog_and_freshness(db, tmp_path):
    migrate(db)
    produced = OrderApplication(db, seed=6).run(rate=10_000, seconds=0.02)
    stream = LocalStreamStore(tmp_path / "streams.sqlite")
    ports = {"oltp": db, "stream": stream, "kv": SqliteKeyValueStore(tmp_path / "kv.sqlite"),
             "metrics": LocalMetrics(tmp_path / "metrics.sqlite"), "notify": LocalOutbox(tmp_path / "outbox")}
    result = dg.materialize([outbox_relay], resources=ports)
    assert result.success
    (materialization,) = result.get_asset_materialization_events()
    meta = materialization.materialization.metadata
    assert meta["published"].value == produced.changes and meta["backlog"].value == 0
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "relay_fresh" and check.passed
    shards = stream.list_shards("orders_changes")
    assert sum(len(stream.read("orders_changes", s.shard_id, limit=100_000)) for s in shards) == produced.changes
