"""Streams end to end: a known stream, a consumer that crashes mid-stream and restarts, a
replayed range — and the windows and counters still equal an independent computation from
the records on the stream (deduplicated by request/event, late records left out)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import dagster as dg
import duckdb
import pytest

from assets.cloudfront.realtime_format import parse_record
from assets.cloudfront.realtime_sample import RealtimeSpec, records
from assets.cloudfront.user_agents import classify
from assets.web_analytics.sample import EventsSpec, events
from dataplatform import environments
from dataplatform.catchup import catch_up
from dataplatform.streams import streams

START = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
LATENESS = 120
CLOUDFRONT, WEB = streams()["cloudfront_realtime"], streams()["web_analytics_events"]


def decode(text):
    for _ in range(3):
        if text is None or "%" not in text:
            break
        try:
            decoded = unquote(text, errors="strict")
        except UnicodeDecodeError:
            break
        if decoded == text:
            break
        text = decoded
    return text


def stream_in_order(store, name):
    """Every record of the stream by shard, in sequence order: the consumer's input."""
    return {
        shard.shard_id: store.read(name, shard.shard_id, position="TRIM_HORIZON", limit=1_000_000)
        for shard in store.list_shards(name)
    }


def on_time_first_deliveries(by_shard, parse):
    """(shard, seq, event_time, key, values) kept: the first delivery of each key, not late."""
    rows = []
    for shard, shard_records in by_shard.items():
        watermark = None
        for record in shard_records:
            event_time, key, values = parse(record.data)
            late = watermark is not None and event_time < watermark - LATENESS
            watermark = event_time if watermark is None else max(watermark, event_time)
            rows.append((shard, int(record.sequence_number), event_time, key, values, late))
    first = {}
    for row in sorted(rows, key=lambda r: (r[0], r[1])):
        first.setdefault(row[3], row)
    return [row for row in first.values() if not row[5]], sum(1 for row in first.values() if row[5])


def parse_cloudfront(data):
    record = parse_record(data)
    return record["timestamp"], record["x-edge-request-id"], record


def parse_event(data):
    event = json.loads(data)
    seconds, _, fraction = event["utc_timestamp"].rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(seconds + "+00:00").timestamp() + float(f"0.{fraction}")
    return stamp, hashlib.sha256(data).hexdigest(), event


def minute_of(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch // 60 * 60, timezone.utc).replace(tzinfo=None)


def expected_windows(kept):
    bots = {}
    bandwidth, viewers = defaultdict(lambda: [0, 0, 0]), defaultdict(lambda: [0, 0, 0])
    for _, _, event_time, _, record, _ in kept:
        agent = decode(record["cs-user-agent"])
        if agent is not None and agent not in bots:
            bots[agent] = classify(agent)["is_bot"]
        is_bot = bots.get(agent, False)
        minute = minute_of(event_time)
        windows = [("tumbling_1m", minute, 1)] + [("sliding_5m", minute - timedelta(minutes=h), 5) for h in range(5)]
        for kind, start, length in windows:
            b = bandwidth[(kind, start, start + timedelta(minutes=length), record["cs-host"], record["x-edge-location"])]
            b[0] += 1
            b[1] += record["sc-bytes"]
            b[2] += is_bot
            v = viewers[(kind, start, start + timedelta(minutes=length), record["cs-host"], record["c-ip"])]
            v[0] += 1
            v[1] += record["sc-bytes"]
            v[2] += is_bot
    bandwidth_rows = {
        (*key, n, b, round(b * 8 / (60 if key[0] == "tumbling_1m" else 300), 6), bots_n, round(bots_n / n, 6))
        for key, (n, b, bots_n) in bandwidth.items()
    }
    ranked = defaultdict(list)
    for (kind, start, end, host, ip), (n, b, bots_n) in viewers.items():
        ranked[(kind, start, end, host)].append((-b, ip, n, bots_n))
    top = {
        (*key, rank, ip, n, -neg, bots_n * 2 > n)
        for key, rows in ranked.items()
        for rank, (neg, ip, n, bots_n) in enumerate(sorted(rows)[:50], start=1)
    }
    return bandwidth_rows, top


def actual_windows(home):
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        bandwidth = set(con.execute(
            "select window_type, window_start, window_end, distribution, edge_location, requests, bytes_sent, "
            "round(bandwidth_bps, 6), bot_requests, round(bot_request_share, 6) from marts.cloudfront_realtime_bandwidth"
        ).fetchall())
        top = set(con.execute(
            "select window_type, window_start, window_end, distribution, viewer_rank, client_ip, requests, bytes_sent, is_bot "
            "from marts.cloudfront_realtime_top_viewers"
        ).fetchall())
        late = con.execute("select coalesce(sum(late_records), 0) from marts.cloudfront_realtime_late_records").fetchone()[0]
    return bandwidth, top, late


def expected_counters(kept):
    counts = Counter()
    for _, _, event_time, _, event, _ in kept:
        counts[("minute", event["event"], f"{minute_of(event_time):%Y-%m-%dT%H:%M}")] += 1
        counts[("hour", event["event"], f"{minute_of(event_time):%Y-%m-%dT%H}")] += 1
    return {f"{g}#{e}#{w}": n for (g, e, w), n in counts.items()}


class CrashingStream:
    """The stream, except that one read in a run's range crashes (the consumer dies)."""

    def __init__(self, store):
        self.store, self.crashes = store, 1

    def read(self, name, shard_id, **kwargs):
        if kwargs.get("position") == "AT_SEQUENCE_NUMBER" and self.crashes:
            self.crashes -= 1
            raise RuntimeError("consumer killed mid-range")
        return self.store.read(name, shard_id, **kwargs)

    def __getattr__(self, name):
        return getattr(self.store, name)


def publish(store, policy, produced):
    store.create_stream(policy.name, policy.shards)
    batch = list(produced)
    for start in range(0, len(batch), 500):
        store.put_records(policy.name, batch[start : start + 500])


@pytest.mark.slow
def test_windows_and_counters_are_exactly_once_through_crash_restart_and_replay(home):
    from dataplatform.definitions import build_definitions

    ports = environments.resources()
    store = ports["stream"]
    crashing = CrashingStream(store)
    base = build_definitions()
    defs = dg.Definitions(assets=base.assets, sensors=base.sensors, jobs=base.jobs,
                          resources={**base.resources, "stream": crashing})
    cloudfront_spec = RealtimeSpec(start=START, seconds=480, rate=12, seed=5, duplicate_share=0.05, late_share=0.05)
    events_spec = EventsSpec(start=START, seconds=900, rate=8, seed=5, duplicate_share=0.05, late_share=0.03, anomaly_minute=11)
    produced_cloudfront, produced_events = list(records(cloudfront_spec)), list(events(events_spec))

    with dg.instance_for_test() as instance:
        # First half of both streams; the consumer is killed in the middle of its first range.
        half_cf, half_ev = len(produced_cloudfront) // 2, len(produced_events) // 2
        publish(store, CLOUDFRONT, produced_cloudfront[:half_cf])
        publish(store, WEB, produced_events[:half_ev])
        crashed = catch_up(defs, instance)
        assert len(crashed.failed_runs) == 1
        # Restarted: the failed range is retried, nothing was acknowledged twice.
        restarted = catch_up(defs, instance)
        assert restarted.failed_runs == []

        # The rest of the streams arrive; the consumer picks up after its checkpoints.
        publish(store, CLOUDFRONT, produced_cloudfront[half_cf:])
        publish(store, WEB, produced_events[half_ev:])
        assert catch_up(defs, instance).failed_runs == []

        def check():
            kept, late = on_time_first_deliveries(stream_in_order(store, CLOUDFRONT.name), parse_cloudfront)
            bandwidth, top = expected_windows(kept)
            actual_bandwidth, actual_top, actual_late = actual_windows(home)
            assert actual_bandwidth == bandwidth
            assert actual_top == top
            assert actual_late == late > 0
            kept_events, _ = on_time_first_deliveries(stream_in_order(store, WEB.name), parse_event)
            counters = {key: item["count"] for key, item in ports["kv"].scan("web_analytics_counters")}
            assert counters == expected_counters(kept_events)

        check()
        before = actual_windows(home)

        # Replay ranges that were already applied (the first run of each stream, again):
        # same windows, same counters.
        job = defs.resolve_implicit_global_asset_job_def()
        for policy in (CLOUDFRONT, WEB):
            (first_run,) = instance.get_runs(
                filters=dg.RunsFilter(tags={"dataplatform/stream": policy.name}, statuses=[dg.DagsterRunStatus.SUCCESS]),
                limit=1, ascending=True,
            )
            assert job.execute_in_process(
                instance=instance, asset_selection=policy.asset_keys, run_config=first_run.run_config
            ).success
        replayed = [key for policy in (CLOUDFRONT, WEB) for key in policy.asset_keys]
        downstream = dg.AssetSelection.assets(*replayed).downstream(include_self=False).resolve(defs.resolve_asset_graph())
        streaming = [k for k in downstream if "realtime" in k.path[-1] or "web_analytics" in k.path or k.path[-1] == "user_agents"]
        assert job.execute_in_process(instance=instance, asset_selection=streaming).success
        check()
        assert actual_windows(home) == before

        # The anomaly minute was alerted once, however often the KPIs were recomputed.
        alerts = ports["notify"].messages("web-analytics-alerts")
        anomaly = f"{START + timedelta(minutes=11):%Y-%m-%dT%H:%M}"
        assert [a["message"]["minute"] for a in alerts] == [anomaly]


def test_stream_tables_are_registered_by_shard(home):
    """Athena reads the stream's ranges through the catalog, as DuckDB reads the files."""
    from assets.web_analytics.stream import web_analytics_ranges

    ports = environments.resources()
    publish(ports["stream"], WEB, list(events(EventsSpec(start=START, seconds=60, rate=5, seed=1))))
    ranges = {
        shard.shard_id: [records_[0].sequence_number, records_[-1].sequence_number]
        for shard in ports["stream"].list_shards(WEB.name)
        if (records_ := ports["stream"].read(WEB.name, shard.shard_id, limit=100_000))
    }
    with dg.instance_for_test() as instance:
        assert dg.materialize(
            [web_analytics_ranges], resources=ports, instance=instance,
            run_config={"ops": {"web_analytics_events_ranges": {"config": {"ranges": ranges}}}},
        ).success
    table = ports["catalog"].get_table("raw_web_analytics", "events")
    assert table.partition_keys == (("shard", "string"),)
    assert ports["catalog"].list_partitions("raw_web_analytics", "events") == sorted((shard,) for shard in ranges)
    for shard in ranges:
        assert list(ports["lake"].list_keys("raw", f"web_analytics/events/shard={shard}/"))
