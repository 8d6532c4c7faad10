"""The transactional outbox: row triggers write each change of a captured table into `outbox` in
the changing transaction (a rollback leaves nothing; triggers never call out of the database), and
a relay publishes unpublished rows to the stream port, then marks them.

Why it is exact:
- The relay selects rows by their `published_at IS NULL` flag, never "ids after the last one": a
  PostgreSQL identity value can commit after a higher one, and a cursor on ids would skip it.
  Within a run, a row that turns up behind the scan ends the run before the next put (its
  aggregate's later change may be in that put); the next run starts from the lowest id.
- One aggregate's changes are ordered by outbox id: a second writer of a row waits on the first's
  row lock, so its trigger (and its id) comes after the first's commit. The relay keeps that order:
  partition key = aggregate id, ids ascending, at most one change per aggregate in one put (a
  retried partial put cannot reorder it), and a change that cannot be published holds back the
  later changes of its aggregate.
- A row is marked only after its put succeeded; a relay killed in between publishes the same ids
  again, and consumers drop ids they have seen (the outbox id is the record's dedupe key).
- A row the stream refuses (too large) or a failed put keeps the row unpublished with the reason
  and an attempt count; it is retried on every run and shows in the backlog.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from dataplatform import faults
from dataplatform.resources.oltp import Database
from dataplatform.resources.stream import StreamStore

MAX_RECORD_BYTES = 1024 * 1024  # Kinesis: data + partition key of one record
KILL_AFTER_PUT = "outbox_relay_after_put"
_EVENT = {"INSERT": "created", "UPDATE": "updated", "DELETE": "deleted"}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | integer | decimal (exact, as a JSON string) | timestamp (UTC ISO-8601, as a JSON string)


@dataclass(frozen=True)
class CapturedTable:
    table: str
    aggregate_type: str
    key: str  # the column whose value is the aggregate id (and the stream's partition key)
    columns: tuple[Column, ...]


# -- installation -------------------------------------------------------------------------------

def install_sql(dialect: str, tables: Sequence[CapturedTable]) -> list[str]:
    """The outbox table and each captured table's triggers, idempotent (triggers are replaced)."""
    return _sqlite(tables) if dialect == "sqlite" else _postgres(tables)


def _sqlite(tables: Sequence[CapturedTable]) -> list[str]:
    statements = [
        """CREATE TABLE IF NOT EXISTS outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT, aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL,
            event_type TEXT NOT NULL, payload TEXT NOT NULL, txid INTEGER,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            published_at TEXT, stream_shard TEXT, stream_sequence TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)""",
        "CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL",
        "CREATE INDEX IF NOT EXISTS outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL",
    ]
    for t in tables:
        for operation, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            def image(ref: str) -> str:
                return "json_object(" + ", ".join(f"'{c.name}', {ref}.{c.name}" for c in t.columns) + ")"

            new = image("NEW") if operation != "DELETE" else "NULL"
            old = image("OLD") if operation != "INSERT" else "NULL"
            name = f"{t.table}_outbox_{operation.lower()}"
            statements += [
                f"DROP TRIGGER IF EXISTS {name}",
                f"""CREATE TRIGGER {name} AFTER {operation} ON {t.table} FOR EACH ROW BEGIN
                    INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
                    VALUES ('{t.aggregate_type}', {row}.{t.key}, '{_EVENT[operation]}', json_object('new', {new}, 'old', {old}));
                END""",
            ]
    return statements


def _pg_value(ref: str, c: Column) -> str:
    if c.kind == "decimal":
        return f"{ref}.{c.name}::text"
    if c.kind == "timestamp":
        return f"""to_char({ref}.{c.name} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    return f"{ref}.{c.name}"


def _postgres(tables: Sequence[CapturedTable]) -> list[str]:
    statements = [
        """CREATE TABLE IF NOT EXISTS outbox (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, aggregate_type TEXT NOT NULL, aggregate_id TEXT NOT NULL,
            event_type TEXT NOT NULL, payload JSONB NOT NULL, txid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
            created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
            published_at TIMESTAMPTZ, stream_shard TEXT, stream_sequence TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT)""",
        "CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL",
        "CREATE INDEX IF NOT EXISTS outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL",
    ]
    for t in tables:
        def image(ref: str) -> str:
            return "jsonb_build_object(" + ", ".join(f"'{c.name}', {_pg_value(ref, c)}" for c in t.columns) + ")"

        function = f"{t.table}_outbox_capture"
        statements += [
            f"""CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
                    VALUES ('{t.aggregate_type}', NEW.{t.key}::text, 'created', jsonb_build_object('new', {image('NEW')}, 'old', NULL));
                ELSIF TG_OP = 'UPDATE' THEN
                    INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
                    VALUES ('{t.aggregate_type}', NEW.{t.key}::text, 'updated', jsonb_build_object('new', {image('NEW')}, 'old', {image('OLD')}));
                ELSE
                    INSERT INTO outbox (aggregate_type, aggregate_id, event_type, payload)
                    VALUES ('{t.aggregate_type}', OLD.{t.key}::text, 'deleted', jsonb_build_object('new', NULL, 'old', {image('OLD')}));
                END IF;
                RETURN NULL;
            END $$""",
            f"REVOKE ALL ON FUNCTION {function}() FROM PUBLIC",  # only the trigger runs it
            f"DROP TRIGGER IF EXISTS {t.table}_outbox ON {t.table}",
            f"CREATE TRIGGER {t.table}_outbox AFTER INSERT OR UPDATE OR DELETE ON {t.table} FOR EACH ROW EXECUTE FUNCTION {function}()",
        ]
    return statements


# -- events -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    id: int
    aggregate_type: str
    aggregate_id: str
    event_type: str
    payload: dict
    txid: int | None
    created_at: str  # UTC ISO-8601

    def record(self) -> tuple[str, bytes]:
        """(partition key, data) for the stream: the outbox id travels as the dedupe key."""
        body = {"id": self.id, "aggregate_type": self.aggregate_type, "aggregate_id": self.aggregate_id,
                "event_type": self.event_type, "payload": self.payload, "txid": self.txid, "created_at": self.created_at}
        return self.aggregate_id, json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def decode(data: bytes) -> Event:
    body = json.loads(data)
    return Event(body["id"], body["aggregate_type"], body["aggregate_id"], body["event_type"], body["payload"],
                 body["txid"], body["created_at"])


def first_deliveries(events: Iterable[Event]) -> Iterator[Event]:
    """Each outbox id once: what a consumer of at-least-once delivery keeps."""
    seen: set[int] = set()
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            yield event


def utc_text(moment: datetime) -> str:
    """A moment as the outbox writes times where the database has no timestamp type (SQLite):
    UTC ISO-8601 with microseconds and Z, so text order is time order."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso(value) -> str:
    return utc_text(value) if isinstance(value, datetime) else value


def _now(db: Database):
    now = datetime.now(timezone.utc)
    return _iso(now) if db.dialect == "sqlite" else now


# -- relay --------------------------------------------------------------------------------------

@dataclass
class RelayResult:
    published: int = 0
    puts: int = 0
    held: int = 0  # rows behind an unpublishable change of their aggregate
    failures: dict[int, str] = field(default_factory=dict)  # outbox id -> reason, this run
    error: str | None = None  # the stream refused a whole put (outage): the run stopped there
    lags: list[float] = field(default_factory=list)  # seconds from each published row's change to its put


def _unpublished(db: Database, after: int, limit: int) -> list[Event]:
    rows = db.query("SELECT id, aggregate_type, aggregate_id, event_type, payload, txid, created_at FROM outbox "
                    "WHERE published_at IS NULL AND id > ? ORDER BY id LIMIT ?", (after, limit))
    return [Event(r[0], r[1], r[2], r[3], r[4] if isinstance(r[4], dict) else json.loads(r[4]), r[5], _iso(r[6])) for r in rows]


def _rounds(sendable: Sequence[tuple[Event, tuple[str, bytes]]]) -> list[list[tuple[Event, tuple[str, bytes]]]]:
    """Consecutive puts with at most one change per aggregate each, ids ascending within an aggregate."""
    rounds: list[list] = []
    depth: dict[str, int] = {}
    for item in sendable:
        n = depth.get(item[0].aggregate_id, 0)
        depth[item[0].aggregate_id] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(item)
    return rounds


def _fail(db: Database, ids: Sequence[int], reason: str) -> None:
    with db.transaction() as con:
        con.executemany("UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", [(reason[:1000], i) for i in ids])


def relay(db: Database, stream: StreamStore, stream_name: str, *, batch_size: int = 500, max_rows: int | None = None) -> RelayResult:
    """Publish unpublished outbox rows in id order until none is left (or `max_rows`); the caller
    holds `db.exclusive('outbox-relay')`. Returns what happened, failures with their reasons."""
    result = RelayResult()
    blocked: set[str] = set()
    # Within one run the scan moves forward by id; each run starts again from the first unpublished
    # row. A row that committed behind the scan (a lower id, committed late) ends the run before
    # the batch is put: a later change of its aggregate may be in the batch, and must follow it.
    after = 0
    left: set[int] = set()  # refused or held rows of this run: behind the scan on purpose
    while max_rows is None or result.published + result.held + len(result.failures) < max_rows:
        events = _unpublished(db, after, batch_size)
        if after and any(i not in left for i, in db.query(
                "SELECT id FROM outbox WHERE published_at IS NULL AND id <= ? ORDER BY id LIMIT ?", (after, len(left) + 1))):
            break
        if events:
            after = events[-1].id
        sendable, failed = [], []
        for event in events:
            if event.aggregate_id in blocked:
                result.held += 1
                left.add(event.id)
                continue
            key, data = record = event.record()
            if len(data) + len(key.encode()) > MAX_RECORD_BYTES:
                failed.append(event.id)
                result.failures[event.id] = f"record of {len(data):,} bytes exceeds the stream's {MAX_RECORD_BYTES:,}"
                blocked.add(event.aggregate_id)
                left.add(event.id)
                continue
            sendable.append((event, record))
        for event_id in failed:
            _fail(db, [event_id], result.failures[event_id])
        for round_ in _rounds(sendable):
            batch = [event for event, _ in round_]
            try:
                positions = stream.put_records(stream_name, [record for _, record in round_])
            except Exception as error:  # an outage or a refused put: keep the rows, say why, retry next run
                result.error = f"{type(error).__name__}: {error}"
                _fail(db, [e.id for e in batch], result.error)
                return result
            put_at = time.time()
            result.puts += 1
            faults.point(KILL_AFTER_PUT)
            with db.transaction() as con:
                con.executemany("UPDATE outbox SET published_at = ?, stream_shard = ?, stream_sequence = ?, last_error = NULL "
                                "WHERE id = ? AND published_at IS NULL",
                                [(_now(db), shard, sequence, e.id) for e, (shard, sequence) in zip(batch, positions)])
            result.published += len(batch)
            result.lags += [put_at - datetime.fromisoformat(e.created_at.replace("Z", "+00:00")).timestamp() for e in batch]
        if len(events) < batch_size:
            break
    return result


# -- housekeeping -------------------------------------------------------------------------------

def installed(db: Database) -> bool:
    """Whether the database has an outbox (a migrate has run)."""
    if db.dialect == "sqlite":
        return bool(db.query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'outbox'")[0][0])
    return db.query("SELECT to_regclass('outbox') IS NOT NULL")[0][0]


def waiting(db: Database) -> tuple[int, int, int]:
    """(unpublished rows, their highest id, their attempts so far): cheap, for a sensor's tick."""
    count, top, attempts = db.query("SELECT count(*), coalesce(max(id), 0), coalesce(sum(attempts), 0) FROM outbox "
                                    "WHERE published_at IS NULL")[0]
    return count, top, attempts

@dataclass(frozen=True)
class Backlog:
    unpublished: int
    failing: int  # unpublished rows with a recorded reason
    oldest_age_seconds: float | None
    last_error: str | None
    published_retained: int


def backlog(db: Database) -> Backlog:
    (count, failing, oldest, retained), = db.query(
        "SELECT count(*) FILTER (WHERE published_at IS NULL), count(*) FILTER (WHERE published_at IS NULL AND last_error IS NOT NULL), "
        "min(created_at) FILTER (WHERE published_at IS NULL), count(*) FILTER (WHERE published_at IS NOT NULL) FROM outbox")
    errors = db.query("SELECT last_error FROM outbox WHERE published_at IS NULL AND last_error IS NOT NULL ORDER BY id LIMIT 1")
    age = None
    if oldest is not None:
        created = oldest if isinstance(oldest, datetime) else datetime.fromisoformat(oldest.replace("Z", "+00:00"))
        age = max(0.0, (datetime.now(timezone.utc) - created).total_seconds())
    return Backlog(count, failing, age, errors[0][0] if errors else None, retained)


def clean_up(db: Database, retention: timedelta) -> int:
    """Delete published rows older than `retention`; unpublished rows are never deleted."""
    cutoff = datetime.now(timezone.utc) - retention
    with db.transaction() as con:
        cursor = con.execute("DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?",
                             (_iso(cutoff) if db.dialect == "sqlite" else cutoff,))
        return cursor.rowcount
