"""Stream port: sharded, ordered record streams. `local` = one SQLite file, `aws` = Kinesis Data Streams.

Records are routed like Kinesis: the MD5 of the partition key, read as a 128-bit integer,
falls in exactly one open shard's hash-key range. Within a shard, sequence numbers are
decimal strings that strictly increase; compare them with `int()`, since Kinesis' strings
differ in length. Splitting a shard closes it (its records stay readable up to its end)
and opens two children that take all new puts; consumers finish a parent before its
children to keep per-key order.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HASH_KEY_SPACE = 2**128
POSITIONS = ("TRIM_HORIZON", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "LATEST")
MAX_PARTITION_KEY = 256  # Kinesis' limit, in Unicode characters


@dataclass(frozen=True)
class Shard:
    shard_id: str
    parent_shard_ids: tuple[str, ...]  # () for original shards; 1 parent after a split, 2 after a merge
    starting_sequence: str  # decimal string
    ending_sequence: str | None  # None while open; set when closed by a reshard


@dataclass(frozen=True)
class StreamRecord:
    shard_id: str
    sequence_number: str  # decimal string, strictly increasing per shard; compare with int()
    partition_key: str
    data: bytes
    arrival_timestamp: float  # epoch seconds


class StreamStore(ABC):
    @abstractmethod
    def create_stream(self, name: str, shards: int) -> None:
        """Create the stream with `shards` evenly split shards; a no-op if it already exists."""

    @abstractmethod
    def list_shards(self, name: str) -> list[Shard]:
        """Every shard, closed ones included, ordered by shard id."""

    @abstractmethod
    def put_records(self, name: str, records: Sequence[tuple[str, bytes]]) -> list[tuple[str, str]]:
        """Append `(partition_key, data)` records; returns `(shard_id, sequence_number)` for each, in order."""

    @abstractmethod
    def read(
        self,
        name: str,
        shard_id: str,
        *,
        position: str = "TRIM_HORIZON",
        sequence_number: str | None = None,
        limit: int = 10_000,
    ) -> list[StreamRecord]:
        """Up to `limit` records of one shard in sequence order, starting at `position`:
        TRIM_HORIZON (oldest), AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER (`sequence_number`
        included / excluded) or LATEST (only records put after the call, so a one-shot read
        returns []). Reading a closed shard past its end returns []."""

    @abstractmethod
    def split_shard(self, name: str, shard_id: str) -> tuple[str, str]:
        """Close an open shard and split its hash-key range in two at the midpoint; returns the
        children's ids (lower half first). New puts go to the children."""


def hash_key(partition_key: str) -> int:
    """Where Kinesis routes a partition key: MD5 of its UTF-8 bytes as a 128-bit integer."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def even_hash_ranges(shards: int) -> list[tuple[int, int]]:
    """Inclusive hash-key ranges of `shards` evenly split shards, as Kinesis creates them."""
    step = HASH_KEY_SPACE // shards
    return [(i * step, HASH_KEY_SPACE - 1 if i == shards - 1 else (i + 1) * step - 1) for i in range(shards)]


def split_point(start: int, end: int) -> int:
    """The children's boundary for an inclusive range: the upper child starts here."""
    if end - start < 2:
        raise ValueError(f"hash-key range {start}..{end} is too small to split")
    return (start + end + 1) // 2


def _check_create(shards: int) -> None:
    if shards < 1:
        raise ValueError(f"a stream needs at least one shard, not {shards}")


def _check_records(records: Sequence[tuple[str, bytes]]) -> None:
    for key, data in records:
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_PARTITION_KEY:
            raise ValueError(f"partition key must be 1 to {MAX_PARTITION_KEY} characters: {key!r:.80}")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"record data must be bytes, not {type(data).__name__}")


def _check_read(position: str, sequence_number: str | None, limit: int) -> int | None:
    """Validates read arguments; returns the sequence number as an int for AT/AFTER."""
    if position not in POSITIONS:
        raise ValueError(f"position must be one of {POSITIONS}, not {position!r}")
    if limit < 1:
        raise ValueError(f"limit must be positive, not {limit}")
    if position in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        if sequence_number is None or not str(sequence_number).isdigit():
            raise ValueError(f"{position} needs a decimal sequence_number, not {sequence_number!r}")
        return int(sequence_number)
    return None


class LocalStreamStore(StreamStore):
    """All streams in one SQLite file, safe for several processes.

    Writes take the database's write lock up front (`BEGIN IMMEDIATE`), so routing against
    the open shards and assigning sequence numbers is atomic across processes. Sequence
    numbers come from one counter per stream and are rendered zero-padded to a fixed width,
    so string and numeric order agree. A split burns one number: the parent's
    `ending_sequence` is the last number it could hold and its children start after it.
    Hash keys (128-bit) are stored as decimal text, since SQLite integers are 64-bit.
    """

    SEQUENCE_DIGITS = 21
    SHARD_ID = "shardId-{:012d}"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("pragma journal_mode=wal")
            con.executescript(
                """
                create table if not exists streams (
                    name text primary key,
                    next_sequence integer not null,
                    next_shard integer not null);
                create table if not exists shards (
                    stream text not null, shard_id text not null, parents text not null,
                    starting_hash text not null, ending_hash text not null,
                    starting_sequence integer not null, ending_sequence integer,
                    primary key (stream, shard_id));
                create table if not exists records (
                    stream text not null, shard_id text not null, sequence integer not null,
                    partition_key text not null, data blob not null, arrival real not null,
                    primary key (stream, shard_id, sequence)) without rowid;
                """
            )

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock from its first statement."""
        with self._connect() as con:
            con.execute("begin immediate")
            try:
                yield con
            except BaseException:
                con.execute("rollback")
                raise
            con.execute("commit")

    def _seq(self, number: int) -> str:
        return f"{number:0{self.SEQUENCE_DIGITS}d}"

    @staticmethod
    def _require_stream(con: sqlite3.Connection, name: str) -> tuple[int, int]:
        row = con.execute("select next_sequence, next_shard from streams where name = ?", (name,)).fetchone()
        if row is None:
            raise LookupError(f"stream {name!r} does not exist")
        return row

    def create_stream(self, name: str, shards: int) -> None:
        _check_create(shards)
        with self._write() as con:
            if con.execute("select 1 from streams where name = ?", (name,)).fetchone():
                return
            first_sequence = 1
            con.executemany(
                "insert into shards values (?, ?, '', ?, ?, ?, null)",
                [
                    (name, self.SHARD_ID.format(index), str(start), str(end), first_sequence)
                    for index, (start, end) in enumerate(even_hash_ranges(shards))
                ],
            )
            con.execute("insert into streams values (?, ?, ?)", (name, first_sequence, shards))

    def list_shards(self, name: str) -> list[Shard]:
        with self._connect() as con:
            self._require_stream(con, name)
            rows = con.execute(
                "select shard_id, parents, starting_sequence, ending_sequence from shards"
                " where stream = ? order by shard_id",
                (name,),
            ).fetchall()
        return [
            Shard(
                shard_id,
                tuple(parents.split(",")) if parents else (),
                self._seq(starting),
                None if ending is None else self._seq(ending),
            )
            for shard_id, parents, starting, ending in rows
        ]

    def put_records(self, name: str, records: Sequence[tuple[str, bytes]]) -> list[tuple[str, str]]:
        _check_records(records)
        if not records:
            return []
        routed = [(hash_key(key), key, bytes(data)) for key, data in records]
        with self._write() as con:
            next_sequence, _ = self._require_stream(con, name)
            open_shards = sorted(
                (int(start), int(end), shard_id)
                for shard_id, start, end in con.execute(
                    "select shard_id, starting_hash, ending_hash from shards"
                    " where stream = ? and ending_sequence is null",
                    (name,),
                )
            )
            now = time.time()
            rows, results = [], []
            for offset, (key_hash, key, data) in enumerate(routed):
                shard_id = next(s for start, end, s in open_shards if start <= key_hash <= end)
                rows.append((name, shard_id, next_sequence + offset, key, data, now))
                results.append((shard_id, self._seq(next_sequence + offset)))
            con.executemany("insert into records values (?, ?, ?, ?, ?, ?)", rows)
            con.execute(
                "update streams set next_sequence = ? where name = ?", (next_sequence + len(rows), name)
            )
        return results

    def read(
        self,
        name: str,
        shard_id: str,
        *,
        position: str = "TRIM_HORIZON",
        sequence_number: str | None = None,
        limit: int = 10_000,
    ) -> list[StreamRecord]:
        number = _check_read(position, sequence_number, limit)
        with self._connect() as con:
            self._require_stream(con, name)
            shard = con.execute("select 1 from shards where stream = ? and shard_id = ?", (name, shard_id)).fetchone()
            if shard is None:
                raise LookupError(f"shard {shard_id!r} of stream {name!r} does not exist")
            if position == "LATEST":
                return []
            if position == "TRIM_HORIZON":
                condition, number = "sequence >= ?", 0
            else:
                condition = "sequence >= ?" if position == "AT_SEQUENCE_NUMBER" else "sequence > ?"
            rows = con.execute(
                "select sequence, partition_key, data, arrival from records"
                f" where stream = ? and shard_id = ? and {condition} order by sequence limit ?",
                (name, shard_id, number, limit),
            ).fetchall()
        return [StreamRecord(shard_id, self._seq(seq), key, bytes(data), arrival) for seq, key, data, arrival in rows]

    def split_shard(self, name: str, shard_id: str) -> tuple[str, str]:
        with self._write() as con:
            next_sequence, next_shard = self._require_stream(con, name)
            row = con.execute(
                "select starting_hash, ending_hash, ending_sequence from shards where stream = ? and shard_id = ?",
                (name, shard_id),
            ).fetchone()
            if row is None:
                raise LookupError(f"shard {shard_id!r} of stream {name!r} does not exist")
            start, end, ending = int(row[0]), int(row[1]), row[2]
            if ending is not None:
                raise ValueError(f"shard {shard_id!r} of stream {name!r} is closed and cannot be split")
            middle = split_point(start, end)
            children = (self.SHARD_ID.format(next_shard), self.SHARD_ID.format(next_shard + 1))
            # The parent's last possible number is burned, so its children start strictly after it.
            con.execute(
                "update shards set ending_sequence = ? where stream = ? and shard_id = ?",
                (next_sequence, name, shard_id),
            )
            con.executemany(
                "insert into shards values (?, ?, ?, ?, ?, ?, null)",
                [
                    (name, children[0], shard_id, str(start), str(middle - 1), next_sequence + 1),
                    (name, children[1], shard_id, str(middle), str(end), next_sequence + 1),
                ],
            )
            con.execute(
                "update streams set next_sequence = ?, next_shard = ? where name = ?",
                (next_sequence + 1, next_shard + 2, name),
            )
        return children


class PutRecordsError(RuntimeError):
    """Some records were still rejected after retrying; `errors` maps record index -> error code."""

    def __init__(self, stream: str, errors: dict[int, str]):
        self.errors = errors
        codes = sorted(set(errors.values()))
        super().__init__(f"{len(errors)} record(s) not accepted by stream {stream!r}: {', '.join(codes)}")


class KinesisStreamStore(StreamStore):
    """Kinesis Data Streams (provisioned mode).

    `put_records` sends batches within PutRecords' limits (500 records, 5 MiB) and retries
    just the rejected entries (throttling, internal failures) with a short backoff; records
    of one partition key keep their order only when nothing is retried, as with Kinesis.
    Control-plane calls (create, split) wait until the stream is ACTIVE again.
    """

    BATCH_RECORDS = 500
    BATCH_BYTES = 5 * 1024 * 1024
    GET_RECORDS_LIMIT = 10_000
    MAX_EMPTY_POLLS = 20  # empty pages (gaps in the shard) followed before giving up on a read

    def __init__(self, client, *, stream_prefix: str = "", put_attempts: int = 5, wait_timeout: float = 600.0,
                 max_poll_interval: float = 1.0):
        self.client = client
        # The deployment's namespace: callers name `web_analytics_events`, Kinesis holds
        # `<prefix>web_analytics_events`, so a second deployment never consumes this one's records.
        self.stream_prefix = stream_prefix
        self.put_attempts = put_attempts
        self.wait_timeout = wait_timeout
        self.max_poll_interval = max_poll_interval

    def _sleep(self, attempt: int) -> None:
        time.sleep(min(0.05 * 2**attempt, self.max_poll_interval))

    def _wait_active(self, name: str) -> None:
        deadline = time.monotonic() + self.wait_timeout
        for attempt in range(1_000_000):
            status = self.client.describe_stream_summary(StreamName=self.stream_prefix + name)["StreamDescriptionSummary"]["StreamStatus"]
            if status == "ACTIVE":
                return
            if status == "DELETING" or time.monotonic() > deadline:
                raise TimeoutError(f"stream {name!r} is {status}, not ACTIVE")
            self._sleep(attempt)

    @contextlib.contextmanager
    def _errors(self, name: str, shard_id: str | None = None) -> Iterator[None]:
        """Kinesis' missing-resource and bad-argument errors as LookupError and ValueError."""
        try:
            yield
        except self.client.exceptions.ResourceNotFoundException as error:
            what = f"shard {shard_id!r} of stream {name!r}" if shard_id else f"stream {name!r}"
            raise LookupError(f"{what} does not exist") from error
        except self.client.exceptions.InvalidArgumentException as error:
            raise ValueError(str(error)) from error

    def create_stream(self, name: str, shards: int) -> None:
        _check_create(shards)
        try:
            self.client.create_stream(StreamName=self.stream_prefix + name, ShardCount=shards)
        except self.client.exceptions.ResourceInUseException:
            pass  # exists (or is being created): wait for it below
        self._wait_active(name)

    def _describe_shards(self, name: str) -> list[dict]:
        shards, kwargs = [], {"StreamName": self.stream_prefix + name}
        with self._errors(name):
            while True:
                page = self.client.list_shards(**kwargs)
                shards.extend(page["Shards"])
                if not page.get("NextToken"):
                    return sorted(shards, key=lambda s: s["ShardId"])
                kwargs = {"NextToken": page["NextToken"]}  # a token excludes StreamName

    def list_shards(self, name: str) -> list[Shard]:
        result = []
        for shard in self._describe_shards(name):
            parents = tuple(shard[k] for k in ("ParentShardId", "AdjacentParentShardId") if shard.get(k))
            sequences = shard["SequenceNumberRange"]
            result.append(
                Shard(
                    shard["ShardId"],
                    parents,
                    sequences["StartingSequenceNumber"],
                    sequences.get("EndingSequenceNumber"),
                )
            )
        return result

    def _batches(self, records: Sequence[tuple[str, bytes]]) -> Iterator[list[int]]:
        batch, size = [], 0
        for index, (key, data) in enumerate(records):
            record_size = len(key.encode("utf-8")) + len(data)
            if batch and (len(batch) == self.BATCH_RECORDS or size + record_size > self.BATCH_BYTES):
                yield batch
                batch, size = [], 0
            batch.append(index)
            size += record_size
        if batch:
            yield batch

    def put_records(self, name: str, records: Sequence[tuple[str, bytes]]) -> list[tuple[str, str]]:
        _check_records(records)
        results: list[tuple[str, str] | None] = [None] * len(records)
        for batch in self._batches(records):
            pending, errors = batch, {}
            for attempt in range(self.put_attempts):
                if attempt:
                    self._sleep(attempt)
                entries = [{"PartitionKey": records[i][0], "Data": bytes(records[i][1])} for i in pending]
                with self._errors(name):
                    response = self.client.put_records(StreamName=self.stream_prefix + name, Records=entries)
                failed, errors = [], {}
                for index, entry in zip(pending, response["Records"], strict=True):
                    if entry.get("ErrorCode"):
                        failed.append(index)
                        errors[index] = entry["ErrorCode"]
                    else:
                        results[index] = (entry["ShardId"], entry["SequenceNumber"])
                pending = failed
                if not pending:
                    break
            if pending:
                raise PutRecordsError(name, errors)
        return results  # type: ignore[return-value]

    def read(
        self,
        name: str,
        shard_id: str,
        *,
        position: str = "TRIM_HORIZON",
        sequence_number: str | None = None,
        limit: int = 10_000,
    ) -> list[StreamRecord]:
        _check_read(position, sequence_number, limit)
        kwargs = {"StreamName": self.stream_prefix + name, "ShardId": shard_id, "ShardIteratorType": position}
        if sequence_number is not None and position.endswith("_SEQUENCE_NUMBER"):
            kwargs["StartingSequenceNumber"] = str(sequence_number)
        with self._errors(name, shard_id):
            iterator = self.client.get_shard_iterator(**kwargs)["ShardIterator"]
        if position == "LATEST":
            return []  # a one-shot read: only records put after the iterator was made would follow
        records: list[StreamRecord] = []
        empty_polls = 0
        while iterator and len(records) < limit:
            with self._errors(name, shard_id):
                page = self.client.get_records(
                    ShardIterator=iterator, Limit=min(limit - len(records), self.GET_RECORDS_LIMIT)
                )
            records.extend(
                StreamRecord(
                    shard_id,
                    item["SequenceNumber"],
                    item["PartitionKey"],
                    bytes(item["Data"]),
                    item["ApproximateArrivalTimestamp"].timestamp(),
                )
                for item in page["Records"]
            )
            iterator = page.get("NextShardIterator")  # None once a closed shard is read to its end
            if page["Records"]:
                empty_polls = 0
            elif page.get("MillisBehindLatest", 0) == 0:
                break  # caught up with the shard's tip
            else:
                empty_polls += 1  # an empty page behind the tip: a gap in the shard, keep going
                if empty_polls >= self.MAX_EMPTY_POLLS:
                    break
        return records[:limit]

    def split_shard(self, name: str, shard_id: str) -> tuple[str, str]:
        shards = {s["ShardId"]: s for s in self._describe_shards(name)}
        shard = shards.get(shard_id)
        if shard is None:
            raise LookupError(f"shard {shard_id!r} of stream {name!r} does not exist")
        if "EndingSequenceNumber" in shard["SequenceNumberRange"]:
            raise ValueError(f"shard {shard_id!r} of stream {name!r} is closed and cannot be split")
        start = int(shard["HashKeyRange"]["StartingHashKey"])
        end = int(shard["HashKeyRange"]["EndingHashKey"])
        middle = split_point(start, end)
        with self._errors(name, shard_id):
            self.client.split_shard(StreamName=self.stream_prefix + name, ShardToSplit=shard_id, NewStartingHashKey=str(middle))
        self._wait_active(name)
        children = [
            s
            for s in self._describe_shards(name)
            if s.get("ParentShardId") == shard_id and not s.get("AdjacentParentShardId")
        ]
        children.sort(key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
        if len(children) != 2:
            raise RuntimeError(f"split of {shard_id!r} in stream {name!r} produced {len(children)} children")
        return children[0]["ShardId"], children[1]["ShardId"]
