"""The StreamStore contract: every test runs against LocalStreamStore and KinesisStreamStore (moto)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from collections import defaultdict
from pathlib import Path

import pytest

from dataplatform.resources.stream import KinesisStreamStore, LocalStreamStore, PutRecordsError, Shard

HALF = 2**127  # the midpoint where a one-shard stream splits


def md5_int(key: str) -> int:
    return int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16)


def by_shard(results) -> dict[str, list[str]]:
    """Sequence numbers per shard, in put order."""
    shards = defaultdict(list)
    for shard_id, sequence in results:
        shards[shard_id].append(sequence)
    return dict(shards)


def read_all(store, name: str, shard_id: str, limit: int = 10_000):
    return store.read(name, shard_id, position="TRIM_HORIZON", limit=limit)


def assert_strictly_increasing(sequences: list[str]) -> None:
    numbers = [int(s) for s in sequences]
    assert all(s.isdigit() for s in sequences), sequences
    assert numbers == sorted(set(numbers)), sequences


def test_create_and_list_shards(stream_store, stream_name):
    stream_store.create_stream(stream_name, 3)
    shards = stream_store.list_shards(stream_name)
    assert len(shards) == 3
    assert [s.shard_id for s in shards] == sorted({s.shard_id for s in shards})
    for shard in shards:
        assert isinstance(shard, Shard)
        assert shard.parent_shard_ids == ()
        assert shard.ending_sequence is None
        assert shard.starting_sequence.isdigit()


def test_create_stream_is_idempotent(stream_store, stream_name):
    stream_store.create_stream(stream_name, 2)
    [(shard_id, sequence)] = stream_store.put_records(stream_name, [("k", b"kept")])
    stream_store.create_stream(stream_name, 2)
    stream_store.create_stream(stream_name, 5)  # any shard count: the existing stream is left alone
    assert len(stream_store.list_shards(stream_name)) == 2
    assert [(r.sequence_number, r.data) for r in read_all(stream_store, stream_name, shard_id)] == [(sequence, b"kept")]


def test_put_read_round_trip(stream_store, stream_name):
    stream_store.create_stream(stream_name, 2)
    records = [(f"key-{i % 7}", bytes([i]) + bytes(range(256)) * (i % 3)) for i in range(40)]
    records += [("empty", b""), ("ünïcode-κλειδί", "données\x00\xff".encode())]
    results = stream_store.put_records(stream_name, records)
    assert len(results) == len(records)
    shard_ids = {s.shard_id for s in stream_store.list_shards(stream_name)}
    assert {shard_id for shard_id, _ in results} <= shard_ids
    written = {(shard_id, int(seq)): record for (shard_id, seq), record in zip(results, records)}
    read = {}
    for shard_id in shard_ids:
        for record in read_all(stream_store, stream_name, shard_id):
            assert record.shard_id == shard_id
            assert isinstance(record.data, bytes)
            assert record.arrival_timestamp > 1_600_000_000
            read[(shard_id, int(record.sequence_number))] = (record.partition_key, record.data)
    assert read == written


def test_routing_is_md5_of_partition_key_over_even_ranges(stream_store, stream_name):
    stream_store.create_stream(stream_name, 4)
    shard_ids = [s.shard_id for s in stream_store.list_shards(stream_name)]
    keys = [f"user-{i}" for i in range(60)]
    first = stream_store.put_records(stream_name, [(key, b"1") for key in keys])
    second = stream_store.put_records(stream_name, [(key, b"2") for key in reversed(keys)])
    routed = {key: shard_id for key, (shard_id, _) in zip(keys, first)}
    assert routed == {key: shard_id for key, (shard_id, _) in zip(reversed(keys), second)}  # same key, same shard
    expected = {key: shard_ids[min(md5_int(key) // (2**128 // 4), 3)] for key in keys}
    assert routed == expected
    assert len(set(routed.values())) == 4  # 60 keys reach every shard


def test_sequence_numbers_strictly_increase_per_shard(stream_store, stream_name):
    stream_store.create_stream(stream_name, 2)
    results = []
    for batch in range(4):
        results += stream_store.put_records(stream_name, [(f"k{i}", f"{batch}:{i}".encode()) for i in range(9)])
    for shard_id, sequences in by_shard(results).items():
        assert_strictly_increasing(sequences)
        assert [r.sequence_number for r in read_all(stream_store, stream_name, shard_id)] == sequences


def test_trim_horizon_reads_all_in_put_order(stream_store, stream_name):
    stream_store.create_stream(stream_name, 1)
    payloads = [f"record {i}".encode() for i in range(30)]
    for start in range(0, 30, 7):
        stream_store.put_records(stream_name, [("same", p) for p in payloads[start : start + 7]])
    [shard] = stream_store.list_shards(stream_name)
    records = read_all(stream_store, stream_name, shard.shard_id)
    assert [r.data for r in records] == payloads
    assert_strictly_increasing([r.sequence_number for r in records])
    assert all(int(r.sequence_number) >= int(shard.starting_sequence) for r in records)
    assert [r.data for r in read_all(stream_store, stream_name, shard.shard_id, limit=4)] == payloads[:4]


def test_after_sequence_number_resumes_exactly(stream_store, stream_name):
    stream_store.create_stream(stream_name, 1)
    [shard_id] = [s.shard_id for s in stream_store.list_shards(stream_name)]
    expected = []

    def put(count: int) -> None:
        batch = [f"r{len(expected) + i}".encode() for i in range(count)]
        stream_store.put_records(stream_name, [(f"k{len(expected) + i}", data) for i, data in enumerate(batch)])
        expected.extend(batch)

    def drain(checkpoint):
        seen = []
        for _ in range(50):  # bounded: a reader that never advances fails instead of hanging
            if checkpoint is None:
                page = stream_store.read(stream_name, shard_id, position="TRIM_HORIZON", limit=3)
            else:
                page = stream_store.read(
                    stream_name, shard_id, position="AFTER_SEQUENCE_NUMBER", sequence_number=checkpoint, limit=3
                )
            if not page:
                return seen, checkpoint
            assert len(page) <= 3
            seen.extend(page)
            checkpoint = page[-1].sequence_number
        raise AssertionError(f"still reading after 50 pages: {len(seen)} records")

    for count in (5, 1, 8):
        put(count)
    seen, checkpoint = drain(None)
    assert [r.data for r in seen] == expected
    put(4)  # new records after the reader caught up: resuming picks up exactly these
    more, checkpoint = drain(checkpoint)
    assert [r.data for r in more] == expected[-4:]
    assert_strictly_increasing([r.sequence_number for r in seen + more])
    assert stream_store.read(stream_name, shard_id, position="AFTER_SEQUENCE_NUMBER", sequence_number=checkpoint) == []


def test_at_sequence_number_includes_it(stream_store, stream_name):
    stream_store.create_stream(stream_name, 1)
    results = stream_store.put_records(stream_name, [("k", f"{i}".encode()) for i in range(10)])
    shard_id, sequence = results[6]
    at = stream_store.read(stream_name, shard_id, position="AT_SEQUENCE_NUMBER", sequence_number=sequence)
    assert [r.data for r in at] == [b"6", b"7", b"8", b"9"]
    assert at[0].sequence_number == sequence
    one = stream_store.read(stream_name, shard_id, position="AT_SEQUENCE_NUMBER", sequence_number=sequence, limit=1)
    assert [r.data for r in one] == [b"6"]
    after = stream_store.read(stream_name, shard_id, position="AFTER_SEQUENCE_NUMBER", sequence_number=sequence)
    assert [r.data for r in after] == [b"7", b"8", b"9"]


def test_latest_returns_nothing_for_a_one_shot_read(stream_store, stream_name):
    stream_store.create_stream(stream_name, 1)
    [(shard_id, _)] = stream_store.put_records(stream_name, [("k", b"old")])
    assert stream_store.read(stream_name, shard_id, position="LATEST") == []


def test_split_shard(stream_store, stream_name):
    stream_store.create_stream(stream_name, 1)
    [parent] = stream_store.list_shards(stream_name)
    keys = [f"device-{i}" for i in range(24)]
    old = stream_store.put_records(stream_name, [(key, f"old {key}".encode()) for key in keys])
    assert {shard_id for shard_id, _ in old} == {parent.shard_id}

    low, high = stream_store.split_shard(stream_name, parent.shard_id)

    shards = {s.shard_id: s for s in stream_store.list_shards(stream_name)}
    assert list(shards) == sorted(shards) and set(shards) == {parent.shard_id, low, high}
    closed = shards[parent.shard_id]
    assert closed.ending_sequence is not None and closed.ending_sequence.isdigit()
    assert int(closed.ending_sequence) >= max(int(seq) for _, seq in old)
    for child in (low, high):
        assert shards[child].parent_shard_ids == (parent.shard_id,)
        assert shards[child].ending_sequence is None

    new = stream_store.put_records(stream_name, [(key, f"new {key}".encode()) for key in keys])
    # New puts land only on the children, split at the hash-key midpoint (lower half first).
    assert [shard_id for shard_id, _ in new] == [low if md5_int(key) < HALF else high for key in keys]
    assert {shard_id for shard_id, _ in new} == {low, high}

    # The parent keeps exactly its old records, then ends.
    parent_records = read_all(stream_store, stream_name, parent.shard_id)
    assert [(r.partition_key, r.data, r.sequence_number) for r in parent_records] == [
        (key, f"old {key}".encode(), seq) for key, (_, seq) in zip(keys, old)
    ]
    end = parent_records[-1].sequence_number
    assert stream_store.read(stream_name, parent.shard_id, position="AFTER_SEQUENCE_NUMBER", sequence_number=end) == []
    for child in (low, high):
        records = read_all(stream_store, stream_name, child)
        assert [r.data for r in records] == [f"new {key}".encode() for key, (s, _) in zip(keys, new) if s == child]
        assert_strictly_increasing([r.sequence_number for r in records])


def test_split_rejects_closed_and_unknown_shards(stream_store, stream_name):
    stream_store.create_stream(stream_name, 2)
    first = stream_store.list_shards(stream_name)[0].shard_id
    low, _ = stream_store.split_shard(stream_name, first)
    with pytest.raises(ValueError):
        stream_store.split_shard(stream_name, first)
    with pytest.raises(LookupError):
        stream_store.split_shard(stream_name, "shardId-999999999999")
    assert stream_store.split_shard(stream_name, low)  # a child splits again
    assert len(stream_store.list_shards(stream_name)) == 6


def test_missing_stream_and_shard_raise_lookup_error(stream_store, stream_name):
    with pytest.raises(LookupError):
        stream_store.list_shards(stream_name)
    with pytest.raises(LookupError):
        stream_store.put_records(stream_name, [("k", b"x")])
    stream_store.create_stream(stream_name, 1)
    with pytest.raises(LookupError):
        stream_store.read(stream_name, "shardId-999999999999")


def test_invalid_arguments_raise_value_error(stream_store, stream_name):
    stream_store.create_stream(stream_name, 1)
    [shard_id] = [s.shard_id for s in stream_store.list_shards(stream_name)]
    with pytest.raises(ValueError):
        stream_store.read(stream_name, shard_id, position="AT_SEQUENCE_NUMBER")
    with pytest.raises(ValueError):
        stream_store.read(stream_name, shard_id, position="SOMEWHERE")
    for key in ("", "k" * 257):
        with pytest.raises(ValueError):
            stream_store.put_records(stream_name, [("ok", b"x"), (key, b"x")])
    assert read_all(stream_store, stream_name, shard_id) == []  # a rejected call puts nothing
    assert stream_store.put_records(stream_name, []) == []


def test_put_records_beyond_one_batch(stream_store, stream_name):
    stream_store.create_stream(stream_name, 2)
    records = [(f"k{i}", i.to_bytes(2, "big")) for i in range(1_100)]  # > 500, PutRecords' limit
    results = stream_store.put_records(stream_name, records)
    assert len(results) == len(records)
    for sequences in by_shard(results).values():
        assert_strictly_increasing(sequences)
    read = [r for s in stream_store.list_shards(stream_name) for r in read_all(stream_store, stream_name, s.shard_id)]
    assert sorted(r.data for r in read) == sorted(data for _, data in records)


# Local-only behaviour.


@pytest.fixture
def local_streams(tmp_path) -> LocalStreamStore:
    return LocalStreamStore(tmp_path / "streams.sqlite")


def test_local_sequence_numbers_are_fixed_width(local_streams):
    local_streams.create_stream("s", 1)
    [parent] = local_streams.list_shards("s")
    old = local_streams.put_records("s", [("k", b"x")] * 12)
    low, high = local_streams.split_shard("s", parent.shard_id)
    new = local_streams.put_records("s", [(f"k{i}", b"y") for i in range(12)])
    shards = {s.shard_id: s for s in local_streams.list_shards("s")}
    numbers = [seq for _, seq in old + new] + [s.starting_sequence for s in shards.values()]
    numbers.append(shards[parent.shard_id].ending_sequence)
    assert {len(n) for n in numbers} == {LocalStreamStore.SEQUENCE_DIGITS}
    assert sorted(numbers) == sorted(numbers, key=int)  # string order is numeric order
    # Children continue strictly after the parent's end.
    for child in (low, high):
        assert int(shards[child].starting_sequence) > int(shards[parent.shard_id].ending_sequence)
        assert all(int(seq) >= int(shards[child].starting_sequence) for shard_id, seq in new if shard_id == child)


def test_local_store_is_durable(tmp_path):
    path = tmp_path / "streams.sqlite"
    first = LocalStreamStore(path)
    first.create_stream("s", 2)
    results = first.put_records("s", [(f"k{i}", f"{i}".encode()) for i in range(10)])
    first.split_shard("s", results[0][0])
    del first
    again = LocalStreamStore(path)
    assert len(again.list_shards("s")) == 4
    read = {
        (r.shard_id, r.sequence_number): r.data for s in again.list_shards("s") for r in read_all(again, "s", s.shard_id)
    }
    assert read == {result: f"{i}".encode() for i, result in enumerate(results)}
    follow_up = again.put_records("s", [("k0", b"later")])
    assert int(follow_up[0][1]) > max(int(seq) for _, seq in results)


WORKERS, BATCHES, BATCH_SIZE = 2, 20, 25


def _put_concurrently(path: str, worker: int, barrier, out: str) -> None:
    """A separate process: wait for the others, then put BATCHES batches to the same stream file."""
    store = LocalStreamStore(Path(path))
    barrier.wait(timeout=60)
    results = []
    for batch in range(BATCHES):
        records = [(f"k{i % 10}", f"w{worker}-{batch}-{i}".encode()) for i in range(BATCH_SIZE)]
        put = store.put_records("s", records)
        results += [(shard_id, seq, data.decode()) for (shard_id, seq), (_, data) in zip(put, records)]
        time.sleep(0.01)  # let the other writer in: SQLite's busy handler backs off, so a writer could run alone
    Path(out).write_text(json.dumps(results))


def test_local_concurrent_processes_get_unique_increasing_sequences(tmp_path):
    path = tmp_path / "streams.sqlite"
    store = LocalStreamStore(path)
    store.create_stream("s", 2)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    outputs = [tmp_path / f"worker-{w}.json" for w in range(WORKERS)]
    processes = [
        context.Process(target=_put_concurrently, args=(str(path), w, barrier, str(outputs[w]))) for w in range(WORKERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=180)
    assert [p.exitcode for p in processes] == [0] * WORKERS

    put = [tuple(entry) for out in outputs for entry in json.loads(out.read_text())]
    assert len(put) == WORKERS * BATCHES * BATCH_SIZE
    assert len({(shard_id, seq) for shard_id, seq, _ in put}) == len(put)  # unique
    for worker_output in outputs:  # each writer sees its own puts strictly increase per shard
        for sequences in by_shard([(s, q) for s, q, _ in json.loads(worker_output.read_text())]).values():
            assert_strictly_increasing(sequences)
    stored = []
    for shard in store.list_shards("s"):
        records = read_all(store, "s", shard.shard_id)
        assert_strictly_increasing([r.sequence_number for r in records])
        stored += [(r.shard_id, r.sequence_number, r.data.decode()) for r in records]
    assert sorted(stored) == sorted(put)  # nothing lost, nothing extra, each at the number it was given


# AWS-only behaviour: PutRecords' partial failures, with botocore's Stubber (no server).


@pytest.fixture
def stubbed_kinesis(monkeypatch):
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(
        "kinesis", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield KinesisStreamStore(client, max_poll_interval=0.01), stubber
        stubber.assert_no_pending_responses()


def _entries(records):
    return [{"PartitionKey": key, "Data": data} for key, data in records]


def test_kinesis_put_retries_only_failed_entries(stubbed_kinesis):
    store, stubber = stubbed_kinesis
    records = [("a", b"1"), ("b", b"2"), ("c", b"3")]
    throttled = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"}
    stubber.add_response(
        "put_records",
        {
            "FailedRecordCount": 2,
            "Records": [throttled, {"ShardId": "shardId-000000000000", "SequenceNumber": "11"}, throttled],
        },
        {"StreamName": "s", "Records": _entries(records)},
    )
    stubber.add_response(
        "put_records",
        {"FailedRecordCount": 1, "Records": [{"ShardId": "shardId-000000000001", "SequenceNumber": "12"}, throttled]},
        {"StreamName": "s", "Records": _entries([records[0], records[2]])},
    )
    stubber.add_response(
        "put_records",
        # No FailedRecordCount: Kinesis sends 0, but the Stubber's model has a minimum of 1.
        {"Records": [{"ShardId": "shardId-000000000000", "SequenceNumber": "13"}]},
        {"StreamName": "s", "Records": _entries([records[2]])},
    )
    assert store.put_records("s", records) == [
        ("shardId-000000000001", "12"),
        ("shardId-000000000000", "11"),
        ("shardId-000000000000", "13"),
    ]


def test_kinesis_put_raises_when_entries_keep_failing(stubbed_kinesis):
    store, stubber = stubbed_kinesis
    store.put_attempts = 3
    failed = {"ErrorCode": "InternalFailure", "ErrorMessage": "oops"}
    for _ in range(3):
        stubber.add_response("put_records", {"FailedRecordCount": 1, "Records": [failed]})
    with pytest.raises(PutRecordsError) as raised:
        store.put_records("s", [("a", b"1")])
    assert raised.value.errors == {0: "InternalFailure"}
