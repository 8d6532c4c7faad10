"""The raw asset of a stream: the sequence ranges a checkpoint sensor hands to a run ->
one Parquet file per shard range in the lake, idempotently (a replayed range rewrites the
same file with the same rows).

Every record keeps its shard, sequence number and arrival time, a dedupe key (a producer
retry re-sends identical records under new sequence numbers) and its lateness: a record
whose event time is older than its shard's event-time watermark (the largest event time
before it, in sequence order) minus the allowed lateness is late. Windows leave late
records out and count them; the watermark carries over from the shard's previous range.
"""

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from dataplatform import faults
from dataplatform.delimited_logs import arrow_schema, glue_columns
from dataplatform.governance.policies import python_asset_spec
from dataplatform.resources.catalog import Table
from dataplatform.streams import StreamPolicy

WATERMARK_KEY = b"dataplatform.watermark_after"
RECORD_COLUMNS = (
    ("shard_id", "VARCHAR"),
    ("sequence_number", "VARCHAR"),
    ("arrival_time", "DOUBLE"),
    ("event_time", "DOUBLE"),
    ("dedupe_key", "VARCHAR"),
    ("is_late", "BOOLEAN"),
)
REJECT_COLUMNS = (("shard_id", "VARCHAR"), ("sequence_number", "VARCHAR"), ("raw_record", "VARCHAR"), ("reason", "VARCHAR"))


@dataclass(frozen=True)
class StreamFormat:
    """What a stream's records mean: parse(bytes) -> (event time, dedupe key, values)."""

    columns: tuple[tuple[str, str], ...]  # value columns (name, DuckDB type)
    parse: Callable[[bytes], tuple[float, str, Mapping[str, object]]]  # ValueError for bad records


class RangesConfig(dg.Config):
    ranges: dict[str, list[str]]  # shard id -> [first sequence number, last sequence number]


def range_key(prefix: str, shard_id: str, first: str, last: str) -> str:
    # Fixed-width sequence numbers sort as they compare: keys list in sequence order.
    return f"{prefix}/shard={shard_id}/range={first}-{last}.parquet"


def _previous_watermark(lake, bucket: str, prefix: str, shard_id: str, first: str) -> float | None:
    earlier = [
        key
        for key in lake.list_keys(bucket, prefix=f"{prefix}/shard={shard_id}/")
        if int(key.rsplit("-", 1)[1].removesuffix(".parquet")) < int(first)
    ]
    if not earlier:
        return None
    with lake.localized(bucket, [max(earlier, key=lambda k: int(k.rsplit("-", 1)[1].removesuffix(".parquet")))]) as (path,):
        value = pq.read_metadata(path).metadata.get(WATERMARK_KEY)
    return float(value) if value else None


def read_range(store, stream: str, shard_id: str, first: str, last: str, batch: int = 10_000) -> list:
    """Exactly the records first..last of a shard, in sequence order."""
    records, position, sequence = [], "AT_SEQUENCE_NUMBER", first
    while True:
        chunk = store.read(stream, shard_id, position=position, sequence_number=sequence, limit=batch)
        for record in chunk:
            if int(record.sequence_number) > int(last):
                return records
            records.append(record)
        if not chunk or chunk[-1].sequence_number == last:
            return records
        position, sequence = "AFTER_SEQUENCE_NUMBER", chunk[-1].sequence_number


def stream_range_asset(policy: StreamPolicy, fmt: StreamFormat, *, bucket: str = "raw", descriptions: Mapping[str, str]) -> dg.AssetsDefinition:
    key, rejects_key = policy.asset_keys
    prefix = "/".join(key.path[1:])
    rejects_prefix = "/".join(rejects_key.path[1:])
    columns = (*RECORD_COLUMNS, *fmt.columns)
    described = lambda cols: [(n, t.lower(), descriptions.get(n, "")) for n, t in cols]  # noqa: E731

    @dg.multi_asset(
        name=f"{policy.name}_ranges",
        specs=[
            python_asset_spec(key.path, policy.domain, described(columns)),
            python_asset_spec(rejects_key.path, policy.domain, described(REJECT_COLUMNS)),
        ],
        required_resource_keys={"lake", "stream", "catalog"},
    )
    def _ranges(context: dg.AssetExecutionContext, config: RangesConfig):
        lake, store, catalog = context.resources.lake, context.resources.stream, context.resources.catalog
        # Registered like the log tables, partitioned by shard, so Athena reads what DuckDB reads.
        database = f"raw_{policy.domain}"
        tables = {
            key: Table(database, key.path[-1], glue_columns(cols), (("shard", "string"),), lake.uri(bucket, f"{prefix_of}/"))
            for key, cols, prefix_of in ((key, columns, prefix), (rejects_key, REJECT_COLUMNS, rejects_prefix))
        }
        catalog.ensure_database(database)
        for registered in tables.values():
            catalog.ensure_table(registered)
        totals = {"records": 0, "rows": 0, "late": 0, "rejected": 0, "ranges": len(config.ranges)}
        for shard_id, (first, last) in sorted(config.ranges.items()):
            watermark = _previous_watermark(lake, bucket, prefix, shard_id, first)
            names = [name for name, _ in columns]
            values: dict[str, list] = {name: [] for name in names}  # built by column: no per-row dicts
            rejects = []
            for record in read_range(store, policy.name, shard_id, first, last):
                try:
                    event_time, dedupe_key, parsed = fmt.parse(record.data)
                except ValueError as error:
                    rejects.append((shard_id, record.sequence_number, record.data.decode("utf-8", "replace"), str(error)))
                    continue
                late = watermark is not None and event_time < watermark - policy.allowed_lateness_seconds
                watermark = event_time if watermark is None else max(watermark, event_time)
                row = (shard_id, record.sequence_number, record.arrival_timestamp, event_time, dedupe_key, late,
                       *(parsed.get(name) for name, _ in fmt.columns))
                for name, value in zip(names, row):
                    values[name].append(value)
            table = pa.table(values, schema=arrow_schema(columns))
            if watermark is not None:
                table = table.replace_schema_metadata({WATERMARK_KEY: str(watermark).encode()})
            with tempfile.TemporaryDirectory() as tmp:
                path, rejects_path = Path(tmp) / "range.parquet", Path(tmp) / "rejects.parquet"
                pq.write_table(table, path, compression="zstd")
                pq.write_table(
                    pa.Table.from_pylist([dict(zip([n for n, _ in REJECT_COLUMNS], r)) for r in rejects], schema=arrow_schema(REJECT_COLUMNS)),
                    rejects_path,
                )
                lake.upload(path, bucket, range_key(prefix, shard_id, first, last))
                faults.point("stream.between_range_and_rejects")
                lake.upload(rejects_path, bucket, range_key(rejects_prefix, shard_id, first, last))
            for registered in tables.values():
                catalog.register_partitions(registered.database, registered.name, [(shard_id,)])
            totals["records"] += table.num_rows + len(rejects)
            totals["rows"] += table.num_rows
            totals["late"] += sum(values["is_late"])
            totals["rejected"] += len(rejects)
            context.log.info(f"{policy.name} {shard_id} {first}..{last}: {table.num_rows} rows, {len(rejects)} rejected")
        yield dg.MaterializeResult(asset_key=key, metadata=totals)
        yield dg.MaterializeResult(asset_key=rejects_key, metadata={"rejected": totals["rejected"]})

    return _ranges
