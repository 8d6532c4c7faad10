"""The raw asset of a log landing zone: every file of each hour in the run's partition range
-> one typed Parquet file per hour (+ rejects, + optional per-hour side outputs), published and
registered through the one partition path, with a reconciliation check.

A domain supplies its LogFormat and how a key yields per-file constant columns; the rest —
listing the hour's files, quarantine, publishing, registration, accounting — is shared.
"""

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from dataplatform import faults
from dataplatform.delimited_logs import REJECT_COLUMNS, HourIngestor, LogFormat, glue_columns
from dataplatform.governance.policies import python_asset_spec
from dataplatform.lake_tables import HIVE_PARTITION_KEYS, publish_partition
from dataplatform.ledger import Ledger
from dataplatform.landing_zones import LandingZone
from dataplatform.partitions import HOUR_KEY_FORMAT, hourly
from dataplatform.resources.catalog import Table

QUARANTINE_BUCKET = "quarantine"


@dataclass(frozen=True)
class SideOutput:
    """A small per-hour table derived from the hour's parsed rows (e.g. its distinct values)."""

    key: str  # asset key, e.g. raw/cloudfront/access_log_user_agents
    columns: tuple[tuple[str, str, str], ...]  # (name, DuckDB type, description)
    # Called with each file's table; returns the hour's table when called with None.
    collector: Callable[[], Callable[[pa.Table | None], pa.Table | None]]


def hour_of(partition_key: str) -> datetime:
    return datetime.strptime(partition_key, HOUR_KEY_FORMAT).replace(tzinfo=timezone.utc)


def _describe(columns, descriptions: Mapping[str, str]):
    return [(name, kind.lower(), descriptions.get(name, "")) for name, kind in columns]


def raw_log_asset(
    *,
    zone: LandingZone,
    log_format: LogFormat,
    constants_for_key: Callable[[str], Mapping[str, str]],
    column_descriptions: Mapping[str, str],
    side_outputs: Sequence[SideOutput] = (),
) -> tuple[dg.AssetSpec, dg.AssetsDefinition]:
    """The zone's landing AssetSpec and its raw multi-asset (data, rejects, side outputs)."""
    data_key, rejects_key = (dg.AssetKey.from_user_string(k) for k in zone.targets[:2])
    landing_key = dg.AssetKey.from_user_string(zone.landing_asset)
    (database, data_table), (_, rejects_table) = zone.raw_tables[:2]
    descriptions = {
        "source_key": "Landing object the record came from.",
        "line_number": "Line number in the decompressed file (headers count); empty for unreadable files.",
        "raw_line": "The line as delivered.",
        "reason": "Why the line or file was rejected.",
        **column_descriptions,
    }
    landing = python_asset_spec(
        landing_key.path, zone.domain, _describe(log_format.columns, descriptions), partitions_def=hourly
    ).merge_attributes(metadata={"landing_prefix": f"{zone.bucket}/{zone.prefix}", "key_pattern": zone.key_pattern.pattern})
    outputs = {
        data_key: (data_table, log_format.output_columns),
        rejects_key: (rejects_table, REJECT_COLUMNS),
        **{
            dg.AssetKey.from_user_string(side.key): (side.key.rsplit("/", 1)[-1], tuple((n, t) for n, t, _ in side.columns))
            for side in side_outputs
        },
    }
    side_descriptions = {n: d for side in side_outputs for n, _, d in side.columns}
    specs = [
        python_asset_spec(
            key.path, zone.domain, _describe(columns, {**descriptions, **side_descriptions}),
            deps=[landing_key], partitions_def=hourly,
        )
        for key, (_, columns) in outputs.items()
    ]

    @dg.multi_asset(
        name=f"{zone.name}_raw",
        specs=specs,
        check_specs=[
            dg.AssetCheckSpec(
                "lines_reconcile",
                asset=data_key,
                description="Lines read from the landing files = rows written + rejected lines, per hour.",
            )
        ],
        partitions_def=hourly,
        # A day of files is one run, not 24 (the sensor asks for contiguous hour ranges).
        backfill_policy=dg.BackfillPolicy.single_run(),
        required_resource_keys={"lake", "catalog"},
    )
    def _raw(context: dg.AssetExecutionContext):
        lake, catalog = context.resources.lake, context.resources.catalog
        catalog.ensure_database(database)
        tables = {
            key: Table(database, name, glue_columns(columns), HIVE_PARTITION_KEYS, lake.uri(zone.raw_bucket, f"{zone.domain}/{name}/"))
            for key, (name, columns) in outputs.items()
        }
        for table in tables.values():
            catalog.ensure_table(table)

        ingestor = HourIngestor(log_format)
        totals = {"files": 0, "lines_read": 0, "rows_written": 0, "rejected_lines": 0, "quarantined_files": 0}
        mismatches = []
        objects_by_hour = zone.objects_by_hour(lake, [hour_of(p) for p in context.partition_keys])
        ledger = Ledger(lake, zone)
        for partition_key in context.partition_keys:
            hour = hour_of(partition_key)
            keys = [info.key for info in objects_by_hour[hour]]
            collectors = {dg.AssetKey.from_user_string(side.key): side.collector() for side in side_outputs}

            def on_table(table: pa.Table) -> None:
                for collect in collectors.values():
                    collect(table)

            with lake.localized(zone.bucket, keys) as paths, tempfile.TemporaryDirectory() as tmp:
                out = {key: Path(tmp) / f"{key.path[-1]}.parquet" for key in tables}
                result = ingestor.ingest_hour(
                    [(key, constants_for_key(key), path) for key, path in zip(keys, paths)],
                    out[data_key], out[rejects_key], on_table,
                )
                faults.point("raw.during_ingest")  # parsed, nothing published
                for side_key, collect in collectors.items():
                    pq.write_table(collect(None), out[side_key])
                for quarantined_key, reason in result.quarantined:
                    lake.put(QUARANTINE_BUCKET, quarantined_key, lake.get(zone.bucket, quarantined_key))
                    context.log.warning(f"quarantined {quarantined_key}: {reason}")
                for key, table in tables.items():
                    publish_partition(lake, catalog, table, zone.raw_bucket, hour, out[key])
                # Processed once readable: a run killed before this line leaves the hour's
                # objects unprocessed, and the reconciliation requests the hour again.
                ledger.record(hour, {info.key: info.etag for info in objects_by_hour[hour]}, context.run_id)
                # Reconcile against what was written, not what the parser said it wrote.
                rows_written = pq.ParquetFile(out[data_key]).metadata.num_rows
                rejected_lines = pq.read_table(out[rejects_key], columns=["line_number"]).column(0).drop_null().length()
            totals["files"] += result.files
            totals["lines_read"] += result.lines_read
            totals["rows_written"] += rows_written
            totals["rejected_lines"] += rejected_lines
            totals["quarantined_files"] += len(result.quarantined)
            if result.lines_read != rows_written + rejected_lines:
                mismatches.append(partition_key)
            context.log.info(
                f"{partition_key}: {result.files} files, {result.lines_read} lines -> "
                f"{rows_written} rows + {rejected_lines} rejects, {len(result.quarantined)} files quarantined"
            )

        partitions = len(context.partition_keys)
        yield dg.MaterializeResult(asset_key=data_key, metadata={**totals, "partitions": partitions})
        yield dg.MaterializeResult(
            asset_key=rejects_key,
            metadata={"rejected_lines": totals["rejected_lines"], "quarantined_files": totals["quarantined_files"]},
        )
        for side in side_outputs:
            yield dg.MaterializeResult(asset_key=dg.AssetKey.from_user_string(side.key), metadata={"partitions": partitions})
        yield dg.AssetCheckResult(
            check_name="lines_reconcile",
            asset_key=data_key,
            passed=not mismatches,
            metadata={**totals, "mismatched_partitions": ", ".join(mismatches) or "none"},
        )

    return landing, _raw
