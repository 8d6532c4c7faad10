"""Point-of-sale assets: the landing files, each window's completeness (reported by the pos_windows
sensor), and the window's load -> raw Parquet (transactions, rejects, deliveries, item master),
run once per window and set of deliveries. dbt aggregates from there (models/pos)."""


import csv
import io
import tempfile
from datetime import date, datetime, time, timezone
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.pos import format as pos_format
from assets.pos.policy import ZONE, policy, window_of, windows
from assets.pos.sensor import CHECK, COMPLETENESS, LANDING, open_window_statuses, overdue_check
from assets.pos.windows import WindowStatus, first_seen, list_region, window_status
from dataplatform.delimited_logs import REJECT_COLUMNS, arrow_schema, glue_columns
from dataplatform.governance.policies import python_asset_spec
from dataplatform.lake_tables import HIVE_PARTITION_KEYS, publish_partition
from dataplatform.ledger import Ledger
from dataplatform.resources.catalog import Table

DOMAIN = "pos"
TRANSACTIONS = (
    ("region", "VARCHAR"), ("store_id", "VARCHAR"), ("business_date", "DATE"), ("source_key", "VARCHAR"),
    ("line_number", "BIGINT"), ("vendor_id", "VARCHAR"), ("item_id", "VARCHAR"), ("trans_type", "INTEGER"),
    ("trans_amount", "DECIMAL(18,2)"), ("trans_date", "DATE"),
)
DELIVERIES = (
    ("region", "VARCHAR"), ("business_date", "DATE"), ("store_id", "VARCHAR"), ("deliveries_expected", "INTEGER"),
    ("source_key", "VARCHAR"), ("etag", "VARCHAR"), ("first_seen", "TIMESTAMP"), ("duplicate_of", "VARCHAR"),
    ("lines_read", "BIGINT"), ("rows_loaded", "BIGINT"), ("rejected_lines", "BIGINT"), ("window_complete", "BOOLEAN"),
)
ITEMS = (
    ("region", "VARCHAR"), ("business_date", "DATE"), ("item_id", "VARCHAR"), ("item_name", "VARCHAR"),
    ("category", "VARCHAR"), ("valid_from", "DATE"),
)
DESCRIPTIONS = {
    "region": "Region of the window (pos_windows.yaml).",
    "store_id": "Store that delivered the file (from the key).",
    "business_date": "The store's business day (from the key): the window's day.",
    "source_key": "Landing object the row came from.",
    "line_number": "Line number in the file (a csv header counts).",
    "vendor_id": "Vendor of the item.",
    "item_id": "Item sold.",
    "trans_type": "4 sale, 5 tax, 6 discount; other codes are counted, not summed.",
    "trans_amount": "Amount, exact (negative sales are refunds).",
    "trans_date": "Transaction date as delivered.",
    "raw_line": "The line as delivered.",
    "reason": "Why the line (or, without a line number, the file) was rejected.",
    "deliveries_expected": "Deliveries the store must send per business day (store registry).",
    "etag": "Content hash of the delivery; the same content twice is one delivery.",
    "first_seen": "When the pos_windows sensor first saw the delivery (UTC).",
    "duplicate_of": "The delivery with the same content that was loaded instead; empty if loaded.",
    "lines_read": "Data lines read from the file.",
    "rows_loaded": "Transactions loaded from the file.",
    "rejected_lines": "Lines rejected, with their reasons in raw_pos.transaction_rejects.",
    "window_complete": "Whether the window was complete when loaded (false: aggregated at its deadline).",
    "item_name": "Item name from the region's item master.",
    "category": "Item category.",
    "valid_from": "First business day the item row applies to.",
}
OUTPUTS = {  # asset key -> (table, columns)
    "raw/pos/transactions": ("transactions", TRANSACTIONS),
    "raw/pos/transaction_rejects": ("transaction_rejects", (("region", "VARCHAR"), ("business_date", "DATE"), *REJECT_COLUMNS)),
    "raw/pos/window_deliveries": ("window_deliveries", DELIVERIES),
    "raw/pos/item_master": ("item_master", ITEMS),
}
DATABASE = ZONE.raw_tables[0][0]


def _describe(columns):
    return [(name, kind.lower(), DESCRIPTIONS.get(name, "")) for name, kind in columns]


LANDED_FIELDS = (  # what a key says; the files' own columns depend on the store group (pos_windows.yaml)
    ("region", "varchar", "Region (pos_windows.yaml)."),
    ("store_id", "varchar", "Delivering store; empty for a region's dated master."),
    ("business_date", "date", "The store's business day, or the master's date."),
    ("delivery_id", "varchar", "Delivery within the day; the same id again replaces it (a correction)."),
    ("extension", "varchar", "tdf, csv or jsonl: must be the store group's format."),
)
COMPLETENESS_FIELDS = (  # the per-store table of each window's materialisation
    ("store_id", "varchar", "Required store (store registry in effect that day)."),
    ("expected", "integer", "Deliveries it must send that day."),
    ("received", "integer", "Distinct deliveries received (same content twice counts once)."),
    ("duplicates", "integer", "Deliveries that repeated another's content."),
    ("first_arrival", "timestamp", "First delivery first seen."),
    ("last_arrival", "timestamp", "Last delivery first seen."),
    ("missing_since", "timestamp", "Since when a delivery is missing (its last arrival, or the start of the day)."),
)
landing_deliveries = python_asset_spec(
    LANDING.path, DOMAIN, LANDED_FIELDS, metadata={"landing_prefix": f"{ZONE.bucket}/{ZONE.prefix}", "key_pattern": ZONE.key_pattern.pattern}
)
window_completeness = python_asset_spec(
    COMPLETENESS.path, DOMAIN, COMPLETENESS_FIELDS, deps=[LANDING], partitions_def=windows
)


@dg.asset_check(
    asset=COMPLETENESS, name=CHECK, required_resource_keys={"lake"},
    description="Fails while an open window is past its deadline with a required store's deliveries missing "
    "(windows and stores named in the result). Reported by the pos_windows sensor when a window changes; "
    "executable on demand.",
)
def completeness_check(context) -> dg.AssetCheckResult:
    now = datetime.now(timezone.utc)
    evaluation = overdue_check(open_window_statuses(context.resources.lake, now), now)
    return dg.AssetCheckResult(passed=evaluation.passed, description=evaluation.description, metadata=evaluation.metadata)


def _items(data: bytes, region: str, day: date) -> list[tuple]:
    """Per item, its newest row with valid_from on or before the day."""
    newest: dict[str, tuple] = {}
    for row in csv.DictReader(io.StringIO(data.decode("utf-8"))):
        valid_from = date.fromisoformat(row["valid_from"])
        if valid_from <= day and (row["item_id"] not in newest or newest[row["item_id"]][-1] <= valid_from):
            newest[row["item_id"]] = (region, day, row["item_id"], row["item_name"], row["category"], valid_from)
    return sorted(newest.values())


def load_window(lake, status: WindowStatus, seen: dict[str, datetime]) -> tuple[dict[str, list[tuple]], dict[str, tuple[int, int, int]]]:
    """The window's rows per output table, and per delivery (lines read, rows, rejects)."""
    region, day = status.region.name, status.business_date
    rows: dict[str, list[tuple]] = {key: [] for key in OUTPUTS}
    accounting = {}
    for store in sorted(status.stores.values(), key=lambda s: s.store_id):
        fmt = status.registry[store.store_id].format
        for delivery in store.loaded:
            parsed = pos_format.parse(lake.get(ZONE.bucket, delivery.key), fmt)
            rows["raw/pos/transactions"] += [
                (region, store.store_id, day, delivery.key, line, vendor, item, kind, amount, trans_date)
                for vendor, amount, kind, item, trans_date, line in parsed.rows
            ]
            rows["raw/pos/transaction_rejects"] += [(region, day, delivery.key, line, raw, why) for line, raw, why in parsed.rejects]
            lines_rejected = sum(1 for line, _, _ in parsed.rejects if line is not None)
            accounting[delivery.key] = (parsed.lines_read, len(parsed.rows), lines_rejected)
            rows["raw/pos/window_deliveries"].append(
                (region, day, store.store_id, store.expected, delivery.key, delivery.etag, seen.get(delivery.key),
                 None, parsed.lines_read, len(parsed.rows), lines_rejected, status.complete))
        for duplicate, original in sorted(store.duplicates.items()):
            rows["raw/pos/window_deliveries"].append(
                (region, day, store.store_id, store.expected, duplicate, None, seen.get(duplicate), original, 0, 0, 0, status.complete))
        if not store.loaded:  # a required store that sent nothing still has its row
            rows["raw/pos/window_deliveries"].append(
                (region, day, store.store_id, store.expected, None, None, None, None, 0, 0, 0, status.complete))
    if status.items_key:
        try:
            rows["raw/pos/item_master"] = _items(lake.get(ZONE.bucket, status.items_key), region, day)
        except (KeyError, ValueError) as error:  # a master that cannot be read fails the load, named
            raise dg.Failure(f"item master {status.items_key} is unreadable: {error!r} "
                             "(columns item_id, item_name, category, valid_from YYYY-MM-DD)") from None
    return rows, accounting


@dg.multi_asset(
    name="pos_window_load",
    specs=[
        python_asset_spec(dg.AssetKey.from_user_string(key).path, DOMAIN, _describe(columns),
                          deps=[COMPLETENESS], partitions_def=windows)
        for key, (_, columns) in OUTPUTS.items()
    ],
    check_specs=[dg.AssetCheckSpec(
        "lines_reconcile", asset=dg.AssetKey.from_user_string("raw/pos/transactions"),
        description="Per delivery file: data lines read = transactions loaded + lines rejected.",
    )],
    partitions_def=windows,
    required_resource_keys={"lake", "catalog", "kv"},
)
def pos_window_load(context: dg.AssetExecutionContext):
    """A window's deliveries, as listed now (the sensor requested it for this set or an older one)."""
    lake, catalog = context.resources.lake, context.resources.catalog
    region_name, day = window_of(context.partition_key)
    region = policy().regions[region_name]
    status = window_status(lake, region, day, list_region(lake, region_name, [day]))
    if status.registry_key is None or status.registry_problem:
        raise dg.Failure(f"{context.partition_key}: {status.registry_problem}")
    seen = first_seen(context.resources.kv, status, datetime.now(timezone.utc))
    rows, accounting = load_window(lake, status, seen)
    hour = datetime.combine(day, time(), timezone.utc)
    catalog.ensure_database(DATABASE)
    with tempfile.TemporaryDirectory() as tmp:
        for key, (name, columns) in OUTPUTS.items():
            table = Table(DATABASE, name, glue_columns(columns), HIVE_PARTITION_KEYS, lake.uri(ZONE.raw_bucket, f"{DOMAIN}/{name}/"))
            catalog.ensure_table(table)
            path = Path(tmp) / f"{name}.parquet"
            schema = arrow_schema(columns)
            pq.write_table(pa.Table.from_pylist([dict(zip(schema.names, r)) for r in rows[key]], schema=schema), path)
            publish_partition(lake, catalog, table, ZONE.raw_bucket, hour, path, file_name=f"part-{region_name}.parquet")
    Ledger(lake, ZONE).merge(hour, status.objects_read(), context.run.run_id)  # processed once readable
    mismatched = [key for key, (read, loaded, rejected) in accounting.items() if read != loaded + rejected]
    totals = {
        "deliveries": len(accounting), "duplicates": sum(len(s.duplicates) for s in status.stores.values()),
        "lines_read": sum(a[0] for a in accounting.values()), "rows_loaded": sum(a[1] for a in accounting.values()),
        "rejected_lines": sum(a[2] for a in accounting.values()),
    }
    context.log.info(f"{context.partition_key}: {totals} (complete: {status.complete})")
    yield dg.MaterializeResult(asset_key=_key("raw/pos/transactions"), metadata={**totals, "window_complete": status.complete,
                                                                          "missing_stores": ", ".join(status.missing_stores()) or "none"})
    yield dg.MaterializeResult(asset_key=_key("raw/pos/transaction_rejects"), metadata={"rejected_lines": totals["rejected_lines"]})
    yield dg.MaterializeResult(asset_key=_key("raw/pos/window_deliveries"), metadata={"rows": len(rows["raw/pos/window_deliveries"])})
    yield dg.MaterializeResult(asset_key=_key("raw/pos/item_master"), metadata={"items": len(rows["raw/pos/item_master"]),
                                                                         "item_master": status.items_key or "none"})
    yield dg.AssetCheckResult(check_name="lines_reconcile", asset_key=_key("raw/pos/transactions"), passed=not mismatched,
                              metadata={**totals, "mismatched_files": ", ".join(mismatched) or "none"})


def _key(key: str) -> dg.AssetKey:
    return dg.AssetKey.from_user_string(key)
