"""Web-analytics time series: exactly-once counters per event per minute and hour in the
key-value store, and live KPIs with an alert on anomalous minutes.

Counters are recomputed from the stored ranges (deduplicated, late records excluded) and
written with conditional puts: a retried, replayed or duplicated range produces the same
values, so nothing is counted twice — unlike the seed's blind `ADD`.
"""

import json
import statistics

import dagster as dg
import duckdb

from assets.web_analytics.stream import web_analytics_ranges
from dataplatform.governance.policies import python_asset_spec
from dataplatform.resources.kv import ConditionFailed
from dataplatform.streams import streams

POLICY = streams()["web_analytics_events"]
EVENTS_KEY = POLICY.asset_keys[0]
EVENTS_PREFIX = "/".join(EVENTS_KEY.path[1:])
COUNTERS_TABLE, KPI_TABLE, ALERTS_TABLE = "web_analytics_counters", "web_analytics_live_kpis", "web_analytics_alerts"
ALERT_TOPIC = "web-analytics-alerts"
BASELINE_MINUTES, MIN_BASELINE, DEVIATION_FACTOR = 10, 5, 4.0

# One row per distinct event (first delivery wins), late records left out.
DEDUPED = """
    select * from (
        select *, row_number() over (partition by dedupe_key order by shard_id, sequence_number) as delivery
        from read_parquet($paths)
    ) where delivery = 1 and not is_late
"""


def _events(lake) -> duckdb.DuckDBPyConnection:
    keys = [key for key in lake.list_keys("raw", prefix=f"{EVENTS_PREFIX}/") if key.endswith(".parquet")]
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")  # minutes and hours are UTC
    if not keys:
        con.execute("create view events as select null::varchar as event, null::double as event_time, "
                    "null::varchar as ip_address, null::varchar as url where false")
        return con
    with lake.localized("raw", keys) as paths:
        con.execute(f"create table events as {DEDUPED}", {"paths": [str(p) for p in paths]})
    return con


def _alert_once(kv, notify, minute: str, count: int, mean: float, spread: float) -> int:
    """Publish the minute's alert unless it was sent: the alert is recorded (conditional
    create) before publishing and marked sent after, so a failed publish is retried by the
    next materialisation and a sent alert is never repeated."""
    record = kv.get(ALERTS_TABLE, minute)
    if record is not None and record.get("sent"):
        return 0
    if record is None:
        try:
            version = kv.put(ALERTS_TABLE, minute, {"count": count, "baseline": round(mean, 2), "sent": 0}, expected_version=None)
        except ConditionFailed:
            return 0  # another materialisation is alerting on it
    else:
        version = record["version"]
    notify.publish(
        ALERT_TOPIC,
        f"web analytics: {minute} had {count} events (baseline {mean:.0f})",
        {"minute": minute, "events": count, "baseline": round(mean, 2), "stdev": round(spread, 2)},
    )
    kv.put(ALERTS_TABLE, minute, {"count": count, "baseline": round(mean, 2), "sent": 1}, expected_version=version)
    return 1


def write_if_changed(kv, table: str, key: str, item: dict) -> bool:
    """Conditional put of a computed value; concurrent writers of the same value converge."""
    for _ in range(5):
        current = kv.get(table, key)
        if current is not None and {k: current.get(k) for k in item} == item:
            return False
        try:
            kv.put(table, key, item, expected_version=None if current is None else current["version"])
            return True
        except ConditionFailed:
            continue
    raise RuntimeError(f"{table}/{key}: too much contention")


counter_columns = [
    ("granularity", "varchar", "minute or hour."),
    ("event", "varchar", "Event name."),
    ("window_start", "varchar", "UTC start of the minute or hour (ISO)."),
    ("count", "bigint", "Distinct events in the window (duplicates and late records excluded)."),
]


@dg.multi_asset(
    specs=[python_asset_spec(["serving", "web_analytics", "event_counters"], "web_analytics", counter_columns, deps=[EVENTS_KEY])],
    required_resource_keys={"lake", "kv"},
)
def event_counters(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    lake, kv = context.resources.lake, context.resources.kv
    kv.ensure_table(COUNTERS_TABLE)
    con = _events(lake)
    rows = con.execute(
        """
        select granularity, event, window_start, count(*) from (
            select 'minute' as granularity, event, strftime(to_timestamp(floor(event_time / 60) * 60), '%Y-%m-%dT%H:%M') as window_start from events
            union all
            select 'hour', event, strftime(to_timestamp(floor(event_time / 3600) * 3600), '%Y-%m-%dT%H') from events
        ) group by all order by all
        """
    ).fetchall()
    changed = sum(
        write_if_changed(kv, COUNTERS_TABLE, f"{granularity}#{event}#{start}", {"count": count})
        for granularity, event, start, count in rows
    )
    return dg.MaterializeResult(metadata={"counters": len(rows), "written": changed, "unchanged": len(rows) - changed})


kpi_columns = [
    ("minute", "varchar", "UTC minute (ISO)."),
    ("events", "bigint", "Distinct events in the minute."),
    ("unique_visitors", "bigint", "Distinct visitor IP addresses in the minute."),
    ("by_event", "varchar", "Events per event name (JSON)."),
    ("top_pages", "varchar", "The 5 most viewed URLs with counts (JSON)."),
]


@dg.multi_asset(
    specs=[python_asset_spec(["serving", "web_analytics", "live_kpis"], "web_analytics", kpi_columns, deps=[EVENTS_KEY])],
    required_resource_keys={"lake", "kv", "notify"},
)
def live_kpis(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Per-minute KPIs, and one alert per minute whose count deviates strongly from its
    trailing baseline (the conditional write of the alert record makes it exactly once)."""
    lake, kv, notify = context.resources.lake, context.resources.kv, context.resources.notify
    for table in (KPI_TABLE, ALERTS_TABLE):
        kv.ensure_table(table)
    con = _events(lake)
    minutes = con.execute(
        """
        select strftime(to_timestamp(floor(event_time / 60) * 60), '%Y-%m-%dT%H:%M') as minute,
               count(*), count(distinct ip_address)
        from events group by 1 order by 1
        """
    ).fetchall()
    by_event = dict(con.execute(
        """
        select minute, json_group_object(event, n) from (
            select strftime(to_timestamp(floor(event_time / 60) * 60), '%Y-%m-%dT%H:%M') as minute, event, count(*) as n
            from events group by 1, 2) group by 1
        """
    ).fetchall())
    top_pages = dict(con.execute(
        """
        select minute, to_json(list({'url': url, 'views': n} order by n desc, url)[1:5]) from (
            select strftime(to_timestamp(floor(event_time / 60) * 60), '%Y-%m-%dT%H:%M') as minute, url, count(*) as n
            from events where event = 'page view' group by 1, 2) group by 1
        """
    ).fetchall())
    alerts = 0
    counts = [count for _, count, _ in minutes]
    # The newest minute is still filling up: it is neither judged nor part of a baseline.
    for index, (minute, count, visitors) in enumerate(minutes):
        write_if_changed(
            kv, KPI_TABLE, minute,
            {"events": count, "unique_visitors": visitors, "by_event": by_event.get(minute, "{}"),
             "top_pages": top_pages.get(minute, "[]")},
        )
        baseline = counts[max(0, index - BASELINE_MINUTES) : index]
        if index == len(minutes) - 1 or len(baseline) < MIN_BASELINE:
            continue
        mean, spread = statistics.fmean(baseline), statistics.pstdev(baseline)
        # Strong deviation: beyond 4 standard deviations and at least double (or half) the baseline.
        if abs(count - mean) > max(DEVIATION_FACTOR * spread, mean if count > mean else 0.5 * mean):
            alerts += _alert_once(kv, notify, minute, count, mean, spread)
    latest = minutes[-2] if len(minutes) > 1 else (minutes[-1] if minutes else None)
    return dg.MaterializeResult(
        metadata={
            "minutes": len(minutes),
            "alerts_sent": alerts,
            "last_complete_minute": latest[0] if latest else "",
            "events_last_complete_minute": latest[1] if latest else 0,
            "unique_visitors_last_complete_minute": latest[2] if latest else 0,
            "top_pages_last_complete_minute": dg.MetadataValue.json(json.loads(top_pages.get(latest[0], "[]")) if latest else []),
        }
    )


assets = [web_analytics_ranges, event_counters, live_kpis]
