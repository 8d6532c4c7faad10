"""Landing gz files of one UTC hour -> one typed Parquet file + rejects, with exact line accounting.

Each file is inflated once with ISA-L (2-3x zlib) and its lines counted from those bytes,
independently of the parser; DuckDB then parses the text by the file's own `#Fields`
header, keeping lines it cannot type in a rejects table (line number, raw line, reason).
A file that is not valid gzip (corrupt or truncated) is quarantined whole, with its reason,
and the other files of the hour still load.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from isal import igzip

from assets.cloudfront.format import FIELDS, column_name

# DuckDB type of each field as read from the file; all others are text.
FIELD_TYPES = {
    "date": "DATE",
    "time": "TIME",
    "sc-bytes": "BIGINT",
    "sc-status": "INTEGER",
    "cs-bytes": "BIGINT",
    "time-taken": "DOUBLE",
    "c-port": "INTEGER",
    "time-to-first-byte": "DOUBLE",
    "sc-content-len": "BIGINT",
    "sc-range-start": "BIGINT",
    "sc-range-end": "BIGINT",
}
REQUIRED_FIELDS = ("date", "time", "x-edge-location", "sc-bytes", "c-ip")

# Output columns of the raw table, in order, with their DuckDB types. `date`+`time` become `ts`.
RAW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ts", "TIMESTAMP"),
    *((column_name(f), FIELD_TYPES.get(f, "VARCHAR")) for f in FIELDS if f not in ("date", "time")),
    ("distribution_id", "VARCHAR"),
    ("source_key", "VARCHAR"),
)
REJECT_COLUMNS = (("source_key", "VARCHAR"), ("line_number", "BIGINT"), ("raw_line", "VARCHAR"), ("reason", "VARCHAR"))

# CloudFront percent-encodes user agents; some clients' arrive encoded twice or more.
UA_DECODE_DEPTH = 3


def _decoded(expression: str, depth: int = UA_DECODE_DEPTH) -> str:
    for _ in range(depth):
        expression = f"coalesce(try(url_decode({expression})), {expression})"
    return expression


@dataclass
class FileResult:
    key: str
    lines_read: int = 0
    rows: int = 0
    rejects: list[tuple] = field(default_factory=list)
    quarantine_reason: str | None = None
    table: pa.Table | None = None


@dataclass
class HourResult:
    files: int = 0
    lines_read: int = 0
    rows_written: int = 0
    rejected_lines: int = 0
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    user_agents: set[str] = field(default_factory=set)


def _header(text: bytes) -> tuple[list[str], int]:
    """Field names from the `#Fields:` header and the number of header lines."""
    fields: list[str] | None = None
    offset = 0
    header_lines = 0
    while text.startswith(b"#", offset):
        end = text.find(b"\n", offset)
        line = text[offset : end if end >= 0 else len(text)].decode("utf-8", "replace").strip()
        if line.startswith("#Fields:"):
            fields = line[len("#Fields:") :].split()
        header_lines += 1
        offset = len(text) if end < 0 else end + 1
    if not fields:
        raise ValueError("no #Fields header")
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        raise ValueError(f"#Fields header lacks required fields {missing}")
    return fields, header_lines


def _count_lines(text: bytes) -> int:
    return text.count(b"\n") + (0 if not text or text.endswith(b"\n") else 1)


class HourIngestor:
    """Parses files on a pool of threads; one instance per run."""

    def __init__(self, threads: int = 2):
        self.threads = threads
        self._local = threading.local()
        self._counter = 0
        self._lock = threading.Lock()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        # One in-memory database per worker thread: DuckDB's registry of Python file
        # objects is not safe to share between concurrent scans. Parallelism is across files.
        if not hasattr(self._local, "cursor"):
            self._local.cursor = duckdb.connect(config={"threads": 1})
        return self._local.cursor

    def parse_file(self, key: str, distribution_id: str, path: Path) -> FileResult:
        result = FileResult(key)
        try:
            text = igzip.decompress(path.read_bytes())
        except (EOFError, OSError, igzip.BadGzipFile) as error:
            result.quarantine_reason = f"unreadable gzip: {type(error).__name__}: {error}"
            return result
        try:
            fields, header_lines = _header(text)
        except ValueError as error:
            result.quarantine_reason = f"bad header: {error}"
            return result
        result.lines_read = _count_lines(text) - header_lines
        if result.lines_read == 0:
            return result
        with self._lock:
            self._counter += 1
            rejects_table = f"rejects_{self._counter}"
        cur = self._cursor()
        columns = {column_name(f): FIELD_TYPES.get(f, "VARCHAR") for f in fields}
        relation = cur.read_csv(
            io.BytesIO(text),
            header=False,
            skiprows=header_lines,
            delimiter="\t",
            quotechar="",
            escapechar="",
            na_values="-",
            columns=columns,
            null_padding=True,  # fewer trailing fields than the header is valid
            auto_detect=False,
            store_rejects=True,
            rejects_table=rejects_table,
            rejects_scan=f"{rejects_table}_scan",
        )
        select = []
        for name, duck_type in RAW_COLUMNS[:-2]:  # distribution_id, source_key come from the key
            if name == "ts":
                select.append("(date + time)::TIMESTAMP as ts")
            elif name == "cs_user_agent" and name in columns:
                select.append(f"{_decoded('cs_user_agent')} as cs_user_agent")
            elif name in columns:
                select.append(name)
            else:
                select.append(f"null::{duck_type} as {name}")
        table = relation.select(", ".join(select)).to_arrow_table()
        result.table = table.append_column(
            "distribution_id", pa.array([distribution_id] * table.num_rows, pa.string())
        ).append_column("source_key", pa.array([key] * table.num_rows, pa.string()))
        result.rows = result.table.num_rows
        # A line can fail on several columns: one reject per line, reasons joined.
        result.rejects = [
            (key, *row)
            for row in cur.sql(
                f"select line, any_value(csv_line), string_agg(error_type || ': ' || error_message, '; ') "
                f"from {rejects_table} group by line order by line"
            ).fetchall()
        ]
        cur.execute(f"drop table if exists {rejects_table}; drop table if exists {rejects_table}_scan")
        return result

    def ingest_hour(
        self, files: Sequence[tuple[str, str, Path]], parquet_path: Path, rejects_path: Path
    ) -> HourResult:
        """files: (landing key, distribution id, local path). Writes both Parquet files."""
        summary = HourResult(files=len(files))
        schema = _arrow_schema(RAW_COLUMNS)
        rejects: list[tuple] = []
        with pq.ParquetWriter(parquet_path, schema, compression="zstd") as writer, ThreadPoolExecutor(self.threads) as pool:
            # Results are consumed in submission order, so the output is deterministic.
            for result in pool.map(lambda f: self.parse_file(*f), files):
                if result.quarantine_reason:
                    summary.quarantined.append((result.key, result.quarantine_reason))
                    rejects.append((result.key, None, None, result.quarantine_reason))
                    continue
                summary.lines_read += result.lines_read
                summary.rejected_lines += len(result.rejects)
                rejects.extend(result.rejects)
                if result.table is not None and result.table.num_rows:
                    writer.write_table(result.table.cast(schema))
                    summary.rows_written += result.table.num_rows
                    summary.user_agents.update(
                        v for v in pc.unique(result.table.column("cs_user_agent")).to_pylist() if v is not None
                    )
        pq.write_table(
            pa.Table.from_pylist(
                [dict(zip([c for c, _ in REJECT_COLUMNS], r)) for r in rejects],
                schema=_arrow_schema(REJECT_COLUMNS),
            ),
            rejects_path,
            compression="zstd",
        )
        return summary


_ARROW_TYPES = {
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "DATE": pa.date32(),
}


def _arrow_schema(columns: Sequence[tuple[str, str]]) -> pa.Schema:
    return pa.schema([(name, _ARROW_TYPES[duck_type]) for name, duck_type in columns])


GLUE_TYPES = {"TIMESTAMP": "timestamp", "VARCHAR": "string", "BIGINT": "bigint", "INTEGER": "int", "DOUBLE": "double", "DATE": "date"}


def glue_columns(columns: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name, GLUE_TYPES[duck_type]) for name, duck_type in columns)
