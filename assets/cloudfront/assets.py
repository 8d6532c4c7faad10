"""CloudFront assets: landing files -> raw hourly Parquet (+ rejects, + distinct user agents)
-> the user-agent dimension. dbt takes it from there (models/cloudfront)."""


import tempfile
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from assets.cloudfront import user_agents
from assets.cloudfront.format import parse_object_name
from assets.cloudfront.ingest import RAW_COLUMNS, REJECT_COLUMNS, HourIngestor, glue_columns
from dataplatform.governance.policies import python_asset_spec
from dataplatform.landing_zones import zone
from dataplatform.lake_tables import HIVE_PARTITION_KEYS, hive_path, publish_partition
from dataplatform.partitions import HOUR_KEY_FORMAT, hourly
from dataplatform.resources.catalog import Table

DOMAIN = "cloudfront"
ZONE = zone("cloudfront")
LANDING_BUCKET, LANDING_PREFIX = ZONE.bucket, ZONE.prefix
RAW_BUCKET, QUARANTINE_BUCKET = "raw", "quarantine"
CATALOG_DATABASE = "raw_cloudfront"

LANDING = dg.AssetKey(["landing", "cloudfront", "access_logs"])
ACCESS_LOGS = dg.AssetKey(["raw", "cloudfront", "access_logs"])
REJECTS = dg.AssetKey(["raw", "cloudfront", "access_log_rejects"])
HOURLY_USER_AGENTS = dg.AssetKey(["raw", "cloudfront", "access_log_user_agents"])
USER_AGENTS = dg.AssetKey(["raw", "cloudfront", "user_agents"])

UA_HOURLY_COLUMNS = (("user_agent", "VARCHAR"),)

_DESCRIPTIONS = {
    "ts": "Request time (UTC), from the log's date and time fields.",
    "c_ip": "Viewer (client) IP address, IPv4 or IPv6.",
    "sc_bytes": "Bytes CloudFront served to the viewer, headers included.",
    "cs_user_agent": "User agent, URL-decoded until stable.",
    "distribution_id": "CloudFront distribution, from the object name.",
    "source_key": "Landing object the record came from.",
    "line_number": "Line number in the decompressed file (headers count); empty for unreadable files.",
    "reason": "Why the line or file was rejected.",
}


def _columns(columns, extra=()):
    return [(name, kind.lower(), _DESCRIPTIONS.get(name, "")) for name, kind in (*columns, *extra)]


def _table(name: str, columns, location: str, partitioned: bool = True) -> Table:
    return Table(
        CATALOG_DATABASE,
        name,
        glue_columns(columns),
        HIVE_PARTITION_KEYS if partitioned else (),
        location,
    )


def hour_of(partition_key: str) -> datetime:
    return datetime.strptime(partition_key, HOUR_KEY_FORMAT).replace(tzinfo=timezone.utc)


def landing_files_for_hour(lake, hour: datetime) -> list[tuple[str, str]]:
    """(key, distribution id) of every landing file named for `hour`."""
    return [(key, parse_object_name(key)[0]) for key in ZONE.keys_for_hour(lake, hour)]


landing_access_logs = python_asset_spec(
    LANDING.path, DOMAIN, _columns(RAW_COLUMNS[:-2]), partitions_def=hourly
).merge_attributes(metadata={"landing_prefix": f"{LANDING_BUCKET}/{LANDING_PREFIX}"})


@dg.multi_asset(
    specs=[
        python_asset_spec(ACCESS_LOGS.path, DOMAIN, _columns(RAW_COLUMNS), deps=[LANDING], partitions_def=hourly),
        python_asset_spec(REJECTS.path, DOMAIN, _columns(REJECT_COLUMNS), deps=[LANDING], partitions_def=hourly),
        python_asset_spec(
            HOURLY_USER_AGENTS.path,
            DOMAIN,
            [("user_agent", "varchar", "A distinct decoded user agent seen in the hour.")],
            deps=[LANDING],
            partitions_def=hourly,
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "lines_reconcile",
            asset=ACCESS_LOGS,
            description="Lines read from the landing files = rows written + rejected lines, per hour.",
        )
    ],
    partitions_def=hourly,
    # A day of files is one run, not 24 (the sensor asks for contiguous hour ranges).
    backfill_policy=dg.BackfillPolicy.single_run(),
    required_resource_keys={"lake", "catalog"},
    op_tags={"dagster/concurrency_key": "cloudfront_raw"},
)
def cloudfront_raw(context: dg.AssetExecutionContext):
    lake, catalog = context.resources.lake, context.resources.catalog
    catalog.ensure_database(CATALOG_DATABASE)
    tables = {
        ACCESS_LOGS: _table("access_logs", RAW_COLUMNS, lake.uri(RAW_BUCKET, "cloudfront/access_logs/")),
        REJECTS: _table("access_log_rejects", REJECT_COLUMNS, lake.uri(RAW_BUCKET, "cloudfront/access_log_rejects/")),
        HOURLY_USER_AGENTS: _table(
            "access_log_user_agents", UA_HOURLY_COLUMNS, lake.uri(RAW_BUCKET, "cloudfront/access_log_user_agents/")
        ),
    }
    for table in tables.values():
        catalog.ensure_table(table)

    ingestor = HourIngestor()
    totals = {"files": 0, "lines_read": 0, "rows_written": 0, "rejected_lines": 0, "quarantined_files": 0}
    mismatches = []
    for partition_key in context.partition_keys:
        hour = hour_of(partition_key)
        files = landing_files_for_hour(lake, hour)
        with lake.localized(LANDING_BUCKET, [key for key, _ in files]) as paths, tempfile.TemporaryDirectory() as tmp:
            out = {key: Path(tmp) / f"{key.path[-1]}.parquet" for key in tables}
            result = ingestor.ingest_hour(
                [(key, dist, path) for (key, dist), path in zip(files, paths)], out[ACCESS_LOGS], out[REJECTS]
            )
            pq.write_table(
                pa.table({"user_agent": pa.array(sorted(result.user_agents), pa.string())}), out[HOURLY_USER_AGENTS]
            )
            for quarantined_key, _reason in result.quarantined:
                lake.put(QUARANTINE_BUCKET, quarantined_key, lake.get(LANDING_BUCKET, quarantined_key))
            for asset_key, table in tables.items():
                publish_partition(lake, catalog, table, RAW_BUCKET, hour, out[asset_key])
            # Reconcile against what was written, not what the parser said it wrote.
            rows_written = pq.ParquetFile(out[ACCESS_LOGS]).metadata.num_rows
            rejected_lines = pq.read_table(out[REJECTS], columns=["line_number"]).column(0).drop_null().length()
        totals["files"] += result.files
        totals["lines_read"] += result.lines_read
        totals["rows_written"] += rows_written
        totals["rejected_lines"] += rejected_lines
        totals["quarantined_files"] += len(result.quarantined)
        if result.lines_read != rows_written + rejected_lines:
            mismatches.append(partition_key)
        for quarantined_key, reason in result.quarantined:
            context.log.warning(f"quarantined {quarantined_key}: {reason}")
        context.log.info(
            f"{partition_key}: {result.files} files, {result.lines_read} lines -> "
            f"{rows_written} rows + {rejected_lines} rejects"
        )

    partitions = len(context.partition_keys)
    yield dg.MaterializeResult(asset_key=ACCESS_LOGS, metadata={**totals, "partitions": partitions})
    yield dg.MaterializeResult(asset_key=REJECTS, metadata={"rejected_lines": totals["rejected_lines"], "quarantined_files": totals["quarantined_files"]})
    yield dg.MaterializeResult(asset_key=HOURLY_USER_AGENTS, metadata={"partitions": partitions})
    yield dg.AssetCheckResult(
        check_name="lines_reconcile",
        asset_key=ACCESS_LOGS,
        passed=not mismatches,
        metadata={**totals, "mismatched_partitions": ", ".join(mismatches) or "none"},
    )


USER_AGENTS_KEY = "cloudfront/user_agents/user_agents.parquet"


@dg.multi_asset(
    specs=[
        python_asset_spec(
            USER_AGENTS.path, DOMAIN, [(n, t.lower(), d) for n, t, d in user_agents.COLUMNS], deps=[HOURLY_USER_AGENTS]
        )
    ],
    required_resource_keys={"lake", "catalog"},
)
def user_agent_dimension(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Classify each distinct user agent once; earlier classifications are kept as they are."""
    lake, catalog = context.resources.lake, context.resources.catalog
    hourly_keys = [info.key for info in lake.list(RAW_BUCKET, "cloudfront/access_log_user_agents/")]
    with lake.localized(RAW_BUCKET, hourly_keys) as paths:
        seen = set()
        for path in paths:
            seen.update(pq.read_table(path).column("user_agent").to_pylist())
    known: list[dict] = []
    if any(True for _ in lake.list(RAW_BUCKET, USER_AGENTS_KEY)):
        with lake.localized(RAW_BUCKET, [USER_AGENTS_KEY]) as (path,):
            known = pq.read_table(path).to_pylist()
    known_agents = {row["user_agent"] for row in known}
    new_rows = [user_agents.classify(agent) for agent in sorted(seen - known_agents)]
    rows = sorted(known + new_rows, key=lambda row: row["user_agent"])
    schema = pa.schema(
        [(name, pa.bool_() if kind == "BOOLEAN" else pa.string()) for name, kind, _ in user_agents.COLUMNS]
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user_agents.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")
        lake.upload(path, RAW_BUCKET, USER_AGENTS_KEY)
    catalog.ensure_database(CATALOG_DATABASE)
    catalog.ensure_table(
        Table(
            CATALOG_DATABASE,
            "user_agents",
            tuple((n, "boolean" if t == "BOOLEAN" else "string") for n, t, _ in user_agents.COLUMNS),
            (),
            lake.uri(RAW_BUCKET, "cloudfront/user_agents/"),
        )
    )
    bots = sum(1 for row in rows if row["is_bot"])
    return dg.MaterializeResult(
        metadata={
            "distinct_user_agents": len(rows),
            "newly_classified": len(new_rows),
            "bot_user_agents": bots,
            "classified_with": user_agents.CLASSIFIER_VERSION,
        }
    )
