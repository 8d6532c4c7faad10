"""Instrumentation, the seed's first use of its triggers: per-minute order metrics (orders, and
revenue per product category) through the metrics port, and one alert per minute whose revenue
breaches the policy's threshold, through the notify port.

Minutes come from the outbox's `created` changes (their change time), emitted once settled (a
PostgreSQL transaction commits a little after its change's timestamp); the last emitted minute is
a cursor in the key-value store, written after the put. A crash in between puts the same minute
again: CloudWatch keeps both samples, which Maximum and Average statistics (what the alarms read)
do not double."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from dataplatform.governance.policies import load
from dataplatform.outbox import utc_text
from dataplatform.resources.kv import ConditionFailed
from dataplatform.resources.metrics import MetricDatum
from dataplatform.resources.oltp import Database

CURSOR_TABLE, ALERTS_TABLE, CURSOR_KEY = "orders_metrics", "orders_alerts", "emitted_until"
ALERT_TOPIC = "orders-alerts"
MAX_MINUTES = 24 * 60  # a first run (or a long outage) emits at most the last day


def policy() -> dict:
    return load("orders")["metrics"]


def _created(db: Database, start: datetime, end: datetime) -> list[tuple]:
    if db.dialect == "sqlite":
        rows = db.query("SELECT created_at, json_extract(payload, '$.new.product_category'), json_extract(payload, '$.new.unit_price'), "
                        "json_extract(payload, '$.new.order_qty') FROM outbox WHERE event_type = 'created' AND created_at >= ? "
                        "AND created_at < ?", (utc_text(start), utc_text(end)))
        return [(datetime.fromisoformat(r[0].replace("Z", "+00:00")), *r[1:]) for r in rows]
    return db.query("SELECT created_at, payload->'new'->>'product_category', payload->'new'->>'unit_price', "
                    "(payload->'new'->>'order_qty')::int FROM outbox WHERE event_type = 'created' AND created_at >= ? "
                    "AND created_at < ?", (start, end))


def minutes(db: Database, start: datetime, end: datetime) -> dict[datetime, dict[str, tuple[int, Decimal]]]:
    """minute -> category -> (orders, revenue), revenue exact (price x quantity)."""
    out: dict = defaultdict(lambda: defaultdict(lambda: (0, Decimal(0))))
    for created_at, category, price, qty in _created(db, start, end):
        minute = created_at.astimezone(timezone.utc).replace(second=0, microsecond=0)
        orders, revenue = out[minute][category]
        out[minute][category] = (orders + 1, revenue + Decimal(str(price)) * int(qty))
    return out


def emit(db: Database, kv, metrics, notify, now: datetime | None = None) -> dict:
    """Emit every settled minute after the cursor; alert on breaches. What was done, for metadata."""
    settings = policy()
    now = now or datetime.now(timezone.utc)
    kv.ensure_table(CURSOR_TABLE)
    kv.ensure_table(ALERTS_TABLE)
    end = (now - timedelta(seconds=settings["settle_seconds"])).replace(second=0, microsecond=0)
    cursor = kv.get(CURSOR_TABLE, CURSOR_KEY)
    start = datetime.fromisoformat(cursor["minute"]) if cursor else end - timedelta(minutes=MAX_MINUTES)
    start = max(start, end - timedelta(minutes=MAX_MINUTES))
    if start >= end:
        return {"minutes": 0, "alerts": 0}
    found = minutes(db, start, end)
    data = []
    for minute, categories in sorted(found.items()):
        total = sum(orders for orders, _ in categories.values())
        data.append(MetricDatum(settings["namespace"], "Orders", float(total), "Count", minute, ()))
        for category, (orders, revenue) in sorted(categories.items()):
            dims = (("ProductCategory", category),)
            data.append(MetricDatum(settings["namespace"], "Orders", float(orders), "Count", minute, dims))
            data.append(MetricDatum(settings["namespace"], "Revenue", float(revenue), "None", minute, dims))
    if data:
        metrics.put(data)
    alerts = sum(_alert(kv, notify, minute, sum(r for _, r in c.values()), settings) for minute, c in found.items())
    kv.put(CURSOR_TABLE, CURSOR_KEY, {"minute": end.isoformat()}, expected_version=cursor["version"] if cursor else None)
    return {"minutes": len(found), "data_points": len(data), "alerts": alerts, "emitted_until": end.isoformat()}


def _alert(kv, notify, minute: datetime, revenue: Decimal, settings: dict) -> int:
    threshold = Decimal(str(settings["alerts"]["revenue_per_minute_above"]))
    if revenue <= threshold:
        return 0
    key = minute.isoformat()
    try:  # the conditional write makes the alert once, whoever gets there first
        kv.put(ALERTS_TABLE, key, {"revenue": str(revenue), "threshold": str(threshold)}, expected_version=None)
    except ConditionFailed:
        return 0
    notify.publish(ALERT_TOPIC, f"orders: revenue {revenue} in minute {minute:%Y-%m-%d %H:%M} UTC",
                   {"minute": key, "revenue": str(revenue), "threshold": str(threshold)})
    return 1
