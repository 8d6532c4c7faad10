"""The orders database's changes leave exactly once: triggers -> transactional outbox -> relay ->
stream, on SQLite and on PostgreSQL (Debian's server, started by .ci/run). Expectations come from
the application's own record of what it committed and from the database's final state, never from
the outbox's SQL."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import defaultdict
from datetime import timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from assets.orders.app import OrderApplication
from assets.orders.schema import ORDERS, migrate
from dataplatform import faults, outbox
from dataplatform.resources.oltp import PostgresDatabase, SqliteDatabase
from dataplatform.resources.stream import LocalStreamStore

STREAM = "orders_changes"
COLUMNS = [c.name for c in ORDERS.columns]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        database = SqliteDatabase(tmp_path / "orders.sqlite")
    else:
        database = PostgresDatabase(request.getfixturevalue("postgres_url"))
    assert migrate(database) == [1, 2]
    return database


@pytest.fixture
def stream(tmp_path):
    store = LocalStreamStore(tmp_path / "streams.sqlite")
    store.create_stream(STREAM, 2)
    return store


def published(stream) -> list[outbox.Event]:
    """Everything on the stream, duplicates included, per shard in sequence order."""
    events = []
    for shard in stream.list_shards(STREAM):
        events += [outbox.decode(r.data) for r in stream.read(STREAM, shard.shard_id, limit=1_000_000)]
    return events


def rows(db) -> dict[str, dict]:
    """The orders table as the consumer should see it: values in the payload's encoding."""
    out = {}
    for row in db.query(f"SELECT {', '.join(COLUMNS)} FROM orders"):
        record = dict(zip(COLUMNS, row))
        for c in ORDERS.columns:
            value = record[c.name]
            if c.kind == "decimal" and value is not None:
                record[c.name] = str(Decimal(str(value)).quantize(Decimal("0.01")))
            elif c.kind == "timestamp" and not isinstance(value, str):  # PostgreSQL: TIMESTAMPTZ
                record[c.name] = value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            elif c.name == "order_id":
                record[c.name] = str(value)
        out[record["order_id"]] = record
    return out


def replayed(events: list[outbox.Event]) -> dict[str, dict]:
    """The orders table rebuilt from the first delivery of each change, in stream order per order."""
    state: dict[str, dict] = {}
    for event in outbox.first_deliveries(events):
        if event.event_type == "deleted":
            state.pop(event.aggregate_id, None)
        else:
            new = dict(event.payload["new"])
            new["unit_price"] = str(Decimal(new["unit_price"]).quantize(Decimal("0.01")))
            state[event.aggregate_id] = new
    return state


def outbox_rows(db) -> list[tuple]:
    return db.query("SELECT id, aggregate_id, event_type, published_at IS NOT NULL FROM outbox ORDER BY id")


def order(order_id: str, **changes) -> dict:
    base = {"order_id": order_id, "order_date": "2026-12-07T10:00:00.000000Z", "ship_method": "Ground",
            "bill_address": '12 Elm St, Apt "B"\nrear', "bill_city": "Boston", "bill_postal_code": "02134",
            "product_category": "Books", "unit_price": "12.50", "order_qty": 2, "status": "placed",
            "updated_at": "2026-12-07T10:00:00.000000Z"}
    return {**base, **changes}


def insert(con, record: dict) -> None:
    con.execute(f"INSERT INTO orders ({', '.join(record)}) VALUES ({', '.join('?' for _ in record)})", list(record.values()))


ID = ["00000000-0000-4000-8000-%012d" % n for n in range(10)]


def test_migrate_is_idempotent(db):
    assert migrate(db) == []
    assert [v for v, in db.query("SELECT version FROM schema_migrations ORDER BY version")] == [1, 2]


def test_a_rollback_leaves_no_event_and_a_commit_one_per_changed_row(db):
    with pytest.raises(RuntimeError), db.transaction() as con:
        insert(con, order(ID[0]))
        con.execute("UPDATE orders SET status = 'paid' WHERE order_id = ?", (ID[0],))
        raise RuntimeError("the application gives up")
    assert outbox_rows(db) == [] and rows(db) == {}
    with db.transaction() as con:
        for n in (1, 2, 3):
            insert(con, order(ID[n]))
        con.execute("UPDATE orders SET status = 'paid' WHERE order_id = ?", (ID[1],))
        con.execute("DELETE FROM orders WHERE order_id = ?", (ID[2],))
    found = outbox_rows(db)
    assert [(a, e) for _, a, e, _ in found] == [(ID[1], "created"), (ID[2], "created"), (ID[3], "created"),
                                               (ID[1], "updated"), (ID[2], "deleted")]
    assert len({i for i, *_ in found}) == 5
    payloads = [json.loads(p) if isinstance(p, str) else p for p, in db.query("SELECT payload FROM outbox ORDER BY id")]
    created = payloads[0]["new"]
    assert created["bill_address"] == '12 Elm St, Apt "B"\nrear' and created["bill_postal_code"] == "02134"
    assert Decimal(created["unit_price"]) == Decimal("12.50") and created["order_qty"] == 2
    assert payloads[0]["old"] is None and payloads[4]["new"] is None and payloads[4]["old"]["order_id"] == ID[2]
    assert (payloads[3]["old"]["status"], payloads[3]["new"]["status"]) == ("placed", "paid")


def test_the_stream_holds_exactly_the_committed_changes_of_a_workload(db, stream, tmp_path):
    log = tmp_path / "app.jsonl"
    produced = OrderApplication(db, seed=11, log=log).run(rate=10_000, seconds=0.04)  # 400 transactions, unpaced
    assert produced.rolled_back > 0 and produced.by_kind.get("delete") and produced.by_kind.get("multi")
    result = outbox.relay(db, stream, STREAM, batch_size=97)
    events = published(stream)
    committed = [json.loads(line) for line in log.read_text().splitlines()]
    assert result.published == len(events) == sum(c["changes"] for c in committed) == produced.changes
    assert len({e.id for e in events}) == len(events)
    per_order = defaultdict(list)
    for event in events:
        per_order[event.aggregate_id].append(event.id)
    assert all(ids == sorted(ids) for ids in per_order.values())  # each order's changes in commit order
    assert replayed(events) == rows(db)  # the stream rebuilds the database's final state
    assert outbox.backlog(db).unpublished == 0
    assert outbox.relay(db, stream, STREAM).published == 0  # a rerun publishes nothing again


def _relay_in_child(db, stream_path, kill_at: str) -> int:
    def child():
        os.environ[faults.KILL_AT] = kill_at
        outbox.relay(db, LocalStreamStore(stream_path), STREAM, batch_size=50)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(120)
    return process.exitcode


def test_a_relay_killed_between_put_and_mark_republishes_the_same_ids(db, stream, tmp_path):
    produced = OrderApplication(db, seed=5).run(rate=10_000, seconds=0.02)
    assert _relay_in_child(db, tmp_path / "streams.sqlite", outbox.KILL_AFTER_PUT) == -9  # SIGKILL after the first put
    first = published(stream)
    assert 0 < len(first) <= 50 and outbox.backlog(db).unpublished == produced.changes  # put, not marked
    outbox.relay(db, stream, STREAM, batch_size=50)
    events = published(stream)
    assert len(events) == produced.changes + len(first)  # the killed run's batch twice
    kept = list(outbox.first_deliveries(events))
    assert len(kept) == produced.changes and replayed(events) == rows(db)
    assert outbox.backlog(db).unpublished == 0


def test_a_restart_resumes_and_clean_up_deletes_only_published_rows(db, stream):
    produced = OrderApplication(db, seed=3).run(rate=10_000, seconds=0.02)
    first = outbox.relay(db, stream, STREAM, batch_size=20, max_rows=40)
    assert first.published == 40 and outbox.backlog(db).unpublished == produced.changes - 40
    assert outbox.clean_up(db, timedelta(0)) == 40  # retention over: the published rows go
    assert outbox.backlog(db).unpublished == produced.changes - 40 and outbox.backlog(db).published_retained == 0
    outbox.relay(db, stream, STREAM, batch_size=20)
    events = published(stream)
    assert len(events) == produced.changes and replayed(events) == rows(db)
    assert outbox.clean_up(db, timedelta(hours=1)) == 0  # still within retention


def test_a_change_the_stream_cannot_take_is_kept_with_its_reason_and_holds_back_its_order(db, stream):
    with db.transaction() as con:
        insert(con, order(ID[0]))
        insert(con, order(ID[1], bill_address="x" * (outbox.MAX_RECORD_BYTES + 10)))
    with db.transaction() as con:
        con.execute("UPDATE orders SET status = 'paid' WHERE order_id = ?", (ID[1],))  # behind the oversized change
        con.execute("UPDATE orders SET status = 'paid' WHERE order_id = ?", (ID[0],))
    for attempt in (1, 2):  # retried on every run, never skipped, never reordered
        result = outbox.relay(db, stream, STREAM)
        assert list(result.failures.values())[0].startswith("record of") and result.held == 1
        waiting = outbox.backlog(db)
        assert (waiting.unpublished, waiting.failing) == (2, 1) and "exceeds the stream" in waiting.last_error
        assert db.query("SELECT max(attempts) FROM outbox")[0][0] == attempt
    assert [(e.aggregate_id, e.event_type) for e in published(stream)] == [(ID[0], "created"), (ID[0], "updated")]


class DownStream(LocalStreamStore):
    def put_records(self, name, records):
        raise ConnectionError("stream endpoint unreachable")


def test_a_stream_outage_keeps_every_row_with_the_reason_and_the_next_run_catches_up(db, stream, tmp_path):
    produced = OrderApplication(db, seed=9).run(rate=10_000, seconds=0.01)
    result = outbox.relay(db, DownStream(tmp_path / "streams.sqlite"), STREAM)
    assert result.published == 0 and "unreachable" in result.error
    waiting = outbox.backlog(db)
    assert waiting.unpublished == produced.changes and "unreachable" in waiting.last_error
    outbox.relay(db, stream, STREAM)
    assert replayed(published(stream)) == rows(db) and outbox.backlog(db).failing == 0


def test_a_row_committed_after_a_higher_id_is_not_skipped(db, stream):
    """PostgreSQL hands out identity values at insert, not at commit: B (id 2) commits before A (id 1)."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite writers are serialised: ids commit in order")
    a, b = psycopg.connect(db.dsn), psycopg.connect(db.dsn)
    try:
        a.execute("INSERT INTO orders SELECT * FROM json_populate_record(NULL::orders, %s::json)", (json.dumps(order(ID[1])),))
        b.execute("INSERT INTO orders SELECT * FROM json_populate_record(NULL::orders, %s::json)", (json.dumps(order(ID[2])),))
        b.commit()
        assert outbox.relay(db, stream, STREAM).published == 1  # B's row; A's is not visible yet
        a.commit()
        assert outbox.relay(db, stream, STREAM).published == 1  # A's lower id, committed later
    finally:
        a.close()
        b.close()
    events = published(stream)
    assert sorted(e.id for e in events) == [1, 2] and [e.aggregate_id for e in events if e.id == 1] == [ID[1]]


class InterleavingStream(LocalStreamStore):
    """After the relay's first put: the open transaction holding a lower id commits, and another
    transaction then updates that order (a higher id) - both before the relay reads again."""

    def __init__(self, path, on_first_put):
        super().__init__(path)
        self.on_first_put = on_first_put

    def put_records(self, name, records):
        positions = super().put_records(name, records)
        if self.on_first_put:
            self.on_first_put()
            self.on_first_put = None
        return positions


def test_a_late_commit_behind_the_scan_keeps_its_order_ahead_of_its_later_change(db, tmp_path):
    """Within one run: batch 1 is read while A's create (a low id) is uncommitted; A's create and
    then an update of A commit before batch 2 is read. The update must not reach the stream first."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite writers are serialised: ids commit in order")
    a = psycopg.connect(db.dsn)
    a.execute("INSERT INTO orders SELECT * FROM json_populate_record(NULL::orders, %s::json)", (json.dumps(order(ID[0])),))
    with db.transaction() as con:
        for n in range(1, 6):
            insert(con, order(ID[n]))

    def interleave():
        a.commit()
        with db.transaction() as con:
            con.execute("UPDATE orders SET status = 'paid' WHERE order_id = ?", (ID[0],))

    stream = InterleavingStream(tmp_path / "streams.sqlite", interleave)
    stream.create_stream(STREAM, 2)
    try:
        while outbox.backlog(db).unpublished:
            outbox.relay(db, stream, STREAM, batch_size=2)
    finally:
        a.close()
    events = published(stream)
    assert [e.event_type for e in events if e.aggregate_id == ID[0]] == ["created", "updated"]
    assert replayed(events) == rows(db) and len(events) == 7


def test_minute_metrics_count_every_created_order_on_both_databases(db, tmp_path):
    from datetime import datetime

    from assets.orders import metrics
    from dataplatform.resources.kv import SqliteKeyValueStore
    from dataplatform.resources.metrics import LocalMetrics
    from dataplatform.resources.notify import LocalOutbox

    log = tmp_path / "app.jsonl"
    produced = OrderApplication(db, seed=12, log=log).run(rate=10_000, seconds=0.03)
    store = LocalMetrics(tmp_path / "metrics.sqlite")
    done = metrics.emit(db, SqliteKeyValueStore(tmp_path / "kv.sqlite"), store, LocalOutbox(tmp_path / "outbox"),
                        now=datetime.now(timezone.utc) + timedelta(minutes=5))
    total = sum(value for minute in range(done["minutes"] + 2) for _, value in store.query(
        metrics.policy()["namespace"], "Orders", {}, datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=minute),
        datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=minute - 1)))
    created = sum(1 for line in log.read_text().splitlines() for _ in range(json.loads(line)["changes"])
                  if json.loads(line)["kind"] in ("insert", "multi"))
    assert total == created == sum(1 for e in db.query("SELECT 1 FROM outbox WHERE event_type = 'created'")) > 0
    assert produced.committed > 0
