"""The KeyValueStore contract: every test runs against SqliteKeyValueStore and DynamoDbKeyValueStore (moto)."""

from __future__ import annotations

import multiprocessing
import random
import threading
import time

import pytest

from dataplatform.resources.kv import ConditionFailed, SqliteKeyValueStore

TABLE = "counters"


@pytest.fixture
def table(kv) -> str:
    kv.ensure_table(TABLE)
    return TABLE


def test_ensure_table_is_idempotent_and_missing_tables_raise(kv):
    with pytest.raises(LookupError):
        kv.get("missing", "k")
    with pytest.raises(LookupError):
        kv.put("missing", "k", {"a": 1}, expected_version=None)
    with pytest.raises(LookupError):
        kv.add_once("missing", "k", {"a": 1}, guard="g", token=1)
    with pytest.raises(LookupError):
        kv.scan("missing")
    kv.ensure_table(TABLE)
    kv.put(TABLE, "k", {"a": 1}, expected_version=None)
    kv.ensure_table(TABLE)  # again: keeps the data
    assert kv.get(TABLE, "k") == {"a": 1, "version": 1}


def test_put_get_round_trip(kv, table):
    assert kv.get(table, "absent") is None
    item = {"count": 42, "big": 10**37, "negative": -7, "ratio": 0.1, "tiny": 1.5e-7, "name": "ε-ünïcode", "empty": ""}
    assert kv.put(table, "stream/shard-0001", item, expected_version=None) == 1
    got = kv.get(table, "stream/shard-0001")
    assert got == {**item, "version": 1}
    assert all(type(got[name]) is type(value) for name, value in item.items())


def test_integral_floats_come_back_as_int(kv, table):
    # DynamoDB stores numbers, not floats: 2.0 and 2 are the same value there, so both adapters say int.
    kv.put(table, "k", {"whole": 2.0, "half": 2.5}, expected_version=None)
    got = kv.get(table, "k")
    assert (got["whole"], type(got["whole"])) == (2, int)
    assert (got["half"], type(got["half"])) == (2.5, float)


def test_version_increments_and_put_replaces_the_whole_item(kv, table):
    assert kv.put(table, "k", {"a": 1, "b": "x"}, expected_version=None) == 1
    assert kv.put(table, "k", {"a": 2}, expected_version=1) == 2
    assert kv.get(table, "k") == {"a": 2, "version": 2}  # b is gone: put writes the whole item
    # A read-modify-write may hand back the item `get` returned, version included.
    item = kv.get(table, "k")
    item["a"] += 1
    assert kv.put(table, "k", item, expected_version=item["version"]) == 3
    assert kv.get(table, "k") == {"a": 3, "version": 3}


def test_put_with_stale_version_raises_and_leaves_item_unchanged(kv, table):
    kv.put(table, "k", {"a": 1}, expected_version=None)
    kv.put(table, "k", {"a": 2}, expected_version=1)
    for stale in (1, 0, 3, 99):
        with pytest.raises(ConditionFailed):
            kv.put(table, "k", {"a": 100}, expected_version=stale)
    assert kv.get(table, "k") == {"a": 2, "version": 2}


def test_put_expecting_absence_on_existing_item_raises(kv, table):
    kv.put(table, "k", {"a": 1}, expected_version=None)
    with pytest.raises(ConditionFailed):
        kv.put(table, "k", {"a": 100}, expected_version=None)
    assert kv.get(table, "k") == {"a": 1, "version": 1}
    with pytest.raises(ConditionFailed):  # and expecting a version of a missing item
        kv.put(table, "other", {"a": 1}, expected_version=1)
    assert kv.get(table, "other") is None


def test_put_rejects_values_dynamodb_cannot_hold(kv, table):
    for bad, error in (
        ({"pk": "x"}, ValueError),
        ({"flag": True}, TypeError),
        ({"nested": {"a": 1}}, TypeError),
        ({"nan": float("nan")}, ValueError),
        ({"huge": 10**38}, ValueError),
        ({"guard#s": "not a token"}, ValueError),
    ):
        with pytest.raises(error):
            kv.put(table, "k", bad, expected_version=None)
    assert kv.get(table, "k") is None


def test_add_once_applies_then_ignores_replays(kv, table):
    assert kv.add_once(table, "k", {"events": 10, "bytes": 1000}, guard="shard-1", token=5) is True
    assert kv.get(table, "k") == {"events": 10, "bytes": 1000, "guard#shard-1": 5, "version": 1}
    assert kv.add_once(table, "k", {"events": 10, "bytes": 1000}, guard="shard-1", token=5) is False  # same
    assert kv.add_once(table, "k", {"events": 3, "bytes": 3}, guard="shard-1", token=4) is False  # lower
    assert kv.add_once(table, "k", {"events": 3}, guard="shard-1", token=0) is False
    assert kv.get(table, "k") == {"events": 10, "bytes": 1000, "guard#shard-1": 5, "version": 1}
    assert kv.add_once(table, "k", {"events": 1, "errors": 2}, guard="shard-1", token=6) is True  # higher
    assert kv.get(table, "k") == {"events": 11, "bytes": 1000, "errors": 2, "guard#shard-1": 6, "version": 2}


def test_add_once_guards_are_independent(kv, table):
    assert kv.add_once(table, "k", {"events": 1}, guard="shard-1", token=100) is True
    assert kv.add_once(table, "k", {"events": 2}, guard="shard-2", token=1) is True  # lower, other guard
    assert kv.add_once(table, "k", {"events": 4}, guard="shard-2", token=1) is False
    assert kv.add_once(table, "k", {"events": 8}, guard="shard-1", token=100) is False
    got = kv.get(table, "k")
    assert (got["events"], got["guard#shard-1"], got["guard#shard-2"]) == (3, 100, 1)


def test_add_once_orders_kinesis_sized_sequence_numbers(kv, table):
    # Kinesis sequence numbers run to 56 digits and more: beyond DynamoDB's 38-digit numbers, and a
    # plain string comparison would put "9..." (55 digits) after "1..." (56 digits).
    low = 9 * 10**54 + 1
    high = 49590338271490256608559692538361571095921575989136588898
    assert len(str(high)) == 56 and low < high
    assert kv.add_once(table, "k", {"events": 1}, guard="shard-1", token=high) is True
    assert kv.add_once(table, "k", {"events": 1}, guard="shard-1", token=low) is False
    assert kv.add_once(table, "k", {"events": 1}, guard="shard-1", token=high + 1) is True
    got = kv.get(table, "k")
    assert (got["events"], got["guard#shard-1"]) == (2, high + 1)


def test_add_once_keeps_other_attributes_and_bumps_the_version(kv, table):
    kv.put(table, "k", {"events": 5, "label": "cloudfront"}, expected_version=None)
    before = kv.get(table, "k")
    assert kv.add_once(table, "k", {"events": 1}, guard="g", token=1) is True
    assert kv.get(table, "k") == {"events": 6, "label": "cloudfront", "guard#g": 1, "version": 2}
    # A writer that read before the increment cannot overwrite it (and the guard) with its stale copy.
    with pytest.raises(ConditionFailed):
        kv.put(table, "k", {**before, "label": "changed"}, expected_version=before["version"])
    assert kv.get(table, "k")["events"] == 6


def test_add_once_rejects_bad_counters_and_tokens(kv, table):
    kv.put(table, "k", {"label": "text"}, expected_version=None)
    with pytest.raises(TypeError):
        kv.add_once(table, "k", {"label": 1}, guard="g", token=1)  # not a number
    for counters, token in (({"events": 1.5}, 1), ({"events": True}, 1), ({"version": 1}, 1), ({"events": 1}, -1)):
        with pytest.raises((TypeError, ValueError)):
            kv.add_once(table, "k", counters, guard="g", token=token)
    assert kv.get(table, "k") == {"label": "text", "version": 1}


class LostReply(ConnectionError):
    pass


def lose_first_reply(operation):
    """The operation takes effect but the caller sees an error, as when a response times out."""
    calls = []

    def wrapper(*args, **kwargs):
        result = operation(*args, **kwargs)
        calls.append(result)
        if len(calls) == 1:
            raise LostReply("reply lost after the write was applied")
        return result

    wrapper.calls = calls
    return wrapper


def with_retries(action, attempts: int = 3):
    for _ in range(attempts - 1):
        try:
            return action()
        except LostReply:
            continue
    return action()


def naive_increment(kv, table, key, counters):
    """The seed's consumer: read, add, write back (versioned, yet not idempotent)."""
    item = kv.get(table, key) or {}
    updated = dict(item)
    for name, delta in counters.items():
        updated[name] = updated.get(name, 0) + delta
    kv.put(table, key, updated, expected_version=item.get("version"))


def test_retried_naive_increment_double_counts_where_add_once_does_not(kv, table, monkeypatch):
    batch = {"events": 500, "bytes": 123_456}

    # Bug: the first write lands, its reply is lost, the retry re-reads and adds the batch again.
    # The version check does not help: the retry reads the new version and "legitimately" writes.
    monkeypatch.setattr(kv, "put", lose_first_reply(kv.put))
    with_retries(lambda: naive_increment(kv, table, "naive", batch))
    assert len(kv.put.calls) == 2
    naive = kv.get(table, "naive")
    assert (naive["events"], naive["bytes"]) == (1000, 246_912)  # double counted

    # Fix: the same lost reply and retry with add_once, guarded by the range's last sequence number.
    monkeypatch.setattr(kv, "add_once", lose_first_reply(kv.add_once))
    applied = with_retries(lambda: kv.add_once(table, "exact", batch, guard="shard-0", token=41_000))
    assert kv.add_once.calls == [True, False]  # the retry was recognised as a replay
    assert applied is False
    exact = kv.get(table, "exact")
    assert (exact["events"], exact["bytes"]) == (500, 123_456)


def test_concurrent_add_once_applies_each_token_at_most_once(kv, table):
    threads_count = 8
    start = threading.Barrier(threads_count)
    results: dict[int, list[bool]] = {}
    errors = []

    def consume(token: int) -> None:
        try:
            start.wait()
            first = kv.add_once(table, "k", {"events": token, "batches": 1}, guard="shard-1", token=token)
            retry = kv.add_once(table, "k", {"events": token, "batches": 1}, guard="shard-1", token=token)
            results[token] = [first, retry]
        except Exception as error:  # surfaced below
            errors.append(error)

    tokens = [(index + 1) * 10 for index in range(threads_count)]
    threads = [threading.Thread(target=consume, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(results) == tokens
    assert all(retry is False for _, retry in results.values())
    applied = [token for token, (first, _) in results.items() if first]
    got = kv.get(table, "k")
    assert got["events"] == sum(applied)
    assert got["batches"] == len(applied) == got["version"]
    assert max(tokens) in applied  # nothing can beat the highest token
    assert got["guard#shard-1"] == max(tokens)


def test_scan_with_prefix_is_sorted_by_key(kv, table):
    keys = ["vpc/eni-b", "cloudfront/E2", "cloudfront/E1", "cloudfronts/x", "vpc/eni-a", "z"]
    for index, key in enumerate(keys):
        kv.put(table, key, {"n": index}, expected_version=None)
    assert [key for key, _ in kv.scan(table)] == sorted(keys)
    assert kv.scan(table, "cloudfront/") == [("cloudfront/E1", {"n": 2, "version": 1}), ("cloudfront/E2", {"n": 1, "version": 1})]
    assert [key for key, _ in kv.scan(table, "cloudfront")] == ["cloudfront/E1", "cloudfront/E2", "cloudfronts/x"]
    assert kv.scan(table, "nothing") == []


def test_scan_pages_through_many_items(kv, table):
    # Enough data to pass DynamoDB's 1 MB scan page.
    filler = "x" * 40_000
    for index in range(30):
        kv.put(table, f"k{index:03d}", {"pad": filler, "n": index}, expected_version=None)
    found = kv.scan(table, "k0")
    assert [item["n"] for _, item in found] == list(range(30))


# Local only: two processes.


def _consume_in_process(path, barrier, results, name, parity, count):
    store = SqliteKeyValueStore(path)
    shared, interleaved = [], []
    jitter = random.Random(name)
    barrier.wait()
    for token in range(1, count + 1):
        # Both processes replay the same shard: each range must land exactly once between them.
        if store.add_once(TABLE, "shared", {"events": token}, guard="shard-1", token=token):
            shared.append(token)
        # Two writers take turns on one guard: whatever lands must be counted exactly.
        if token % 2 == parity and store.add_once(TABLE, "interleaved", {"events": token}, guard="shard-1", token=token):
            interleaved.append(token)
        time.sleep(jitter.random() * 0.004)  # uneven pace, so the lead passes back and forth
    results.put((name, shared, interleaved))


def test_local_two_processes_count_exactly(tmp_path):
    path = tmp_path / "kv.sqlite"
    store = SqliteKeyValueStore(path)
    store.ensure_table(TABLE)
    count = 150
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [
        context.Process(target=_consume_in_process, args=(path, barrier, results, name, parity, count))
        for name, parity in (("a", 0), ("b", 1))
    ]
    for process in processes:
        process.start()
    collected = {}
    for _ in processes:
        name, shared, interleaved = results.get(timeout=120)
        collected[name] = (shared, interleaved)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    (shared_a, inter_a), (shared_b, inter_b) = collected["a"], collected["b"]
    assert not set(shared_a) & set(shared_b)
    assert sorted(shared_a + shared_b) == list(range(1, count + 1))
    assert store.get(TABLE, "shared")["events"] == count * (count + 1) // 2

    assert all(token % 2 == 0 for token in inter_a) and all(token % 2 == 1 for token in inter_b)
    interleaved = store.get(TABLE, "interleaved")
    assert interleaved["events"] == sum(inter_a + inter_b)
    assert interleaved["version"] == len(inter_a + inter_b)
    assert interleaved["guard#shard-1"] == count
