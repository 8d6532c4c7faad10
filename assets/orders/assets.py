"""The outbox relay as an asset: each materialisation publishes the orders database's unpublished
outbox rows to the orders_changes stream, deletes published rows past retention, emits the settled
minutes' order metrics, and reports the backlog (rows waiting, the oldest one's age, rows the
stream refused with their reason) on the asset and its `relay_fresh` check."""

import statistics
from datetime import timedelta

import dagster as dg

from assets.orders import metrics
from dataplatform.governance.policies import governed_spec, load, python_asset_spec
from dataplatform.locks import Busy
from dataplatform.outbox import backlog, clean_up, relay
from dataplatform.streams import streams

DOMAIN = "orders"
TABLE_KEY = dg.AssetKey(["oltp", "orders"])
STREAM_KEY = dg.AssetKey(["stream", "orders_changes"])
RELAY_LOCK = "outbox-relay"
CHECK = "relay_fresh"


def policy() -> dict:
    return load("orders")["outbox"]


orders_table = governed_spec(
    dg.AssetSpec(TABLE_KEY, description=" ".join(load("datasets")["datasets"]["oltp/orders"]["description"].split())),
    DOMAIN,
    [("order_id", "uuid", "The order (UUID)."), ("order_date", "timestamp", "When it was placed (UTC)."),
     ("ship_method", "text", ""), ("bill_address", "text", "Billing street address (commas, quotes, line breaks kept)."),
     ("bill_city", "text", ""), ("bill_postal_code", "text", "Text: leading zeros kept."), ("product_category", "text", ""),
     ("unit_price", "decimal(12,2)", ""), ("order_qty", "integer", ""), ("status", "text", "placed, paid, shipped, delivered or cancelled."),
     ("updated_at", "timestamp", "Last change (UTC).")],
)

change_columns = [
    ("id", "bigint", "Outbox id: the dedupe key."), ("aggregate_type", "text", "order"), ("aggregate_id", "text", "The order id (partition key)."),
    ("event_type", "text", "created, updated or deleted."), ("payload", "json", "The new and the old row."),
    ("txid", "bigint", "The database transaction (PostgreSQL; none on SQLite)."), ("created_at", "text", "When the row changed (UTC ISO-8601)."),
]


@dg.multi_asset(
    specs=[python_asset_spec(STREAM_KEY.path, DOMAIN, change_columns, deps=[TABLE_KEY])],
    check_specs=[dg.AssetCheckSpec(CHECK, asset=STREAM_KEY, description=(
        "Every committed change reaches the stream in time: no outbox row waits longer than outbox.max_lag_seconds "
        "of orders.yaml, and none is refused by the stream (the reason is shown)."))],
    required_resource_keys={"oltp", "stream", "kv", "metrics", "notify"},
)
def outbox_relay(context: dg.AssetExecutionContext):
    settings = policy()
    db, stream = context.resources.oltp, context.resources.stream
    stream.create_stream(settings["stream"], streams()[settings["stream"]].shards)
    try:
        with db.exclusive(RELAY_LOCK):
            result = relay(db, stream, settings["stream"], batch_size=settings["batch_size"])
            cleaned = clean_up(db, timedelta(hours=settings["retention_hours"]))
            emitted = metrics.emit(db, context.resources.kv, context.resources.metrics, context.resources.notify)
    except Busy as busy:
        context.log.info(f"{busy}: this run leaves the backlog to it")
        result, cleaned, emitted = None, 0, {}
    waiting = backlog(db)
    lags = sorted(result.lags) if result else []
    meta = {
        "published": result.published if result else 0,
        "puts": result.puts if result else 0,
        "held_behind_a_refused_change": result.held if result else 0,
        "refused": dg.MetadataValue.json({str(k): v for k, v in result.failures.items()}) if result and result.failures else "none",
        "stream_error": (result.error if result else None) or "none",
        "backlog": waiting.unpublished,
        "relay_lag_seconds": round(waiting.oldest_age_seconds, 1) if waiting.oldest_age_seconds is not None else 0.0,
        "lag_p50_seconds": round(statistics.median(lags), 3) if lags else 0.0,
        "lag_p95_seconds": round(lags[int(0.95 * (len(lags) - 1))], 3) if lags else 0.0,
        "published_rows_deleted": cleaned,
        "metrics": dg.MetadataValue.json(emitted),
    }
    fresh = waiting.failing == 0 and (waiting.oldest_age_seconds or 0) <= settings["max_lag_seconds"]
    yield dg.MaterializeResult(asset_key=STREAM_KEY, metadata=meta)
    yield dg.AssetCheckResult(
        asset_key=STREAM_KEY, check_name=CHECK, passed=fresh,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"backlog": waiting.unpublished, "refused_rows": waiting.failing,
                  "oldest_waiting_seconds": meta["relay_lag_seconds"], "max_lag_seconds": settings["max_lag_seconds"],
                  "reason": waiting.last_error or "none"},
    )
