"""Delimited log files of one UTC hour -> one typed Parquet file + rejects, with exact line
accounting. Shared by every log domain; a `LogFormat` says what is specific.

Each file is inflated once with ISA-L (2-3x zlib) and its lines counted from those bytes,
independently of the parser; DuckDB then parses the text by the file's own header, keeping
lines it cannot type in a rejects table (line number, raw line, reason). A file that is not
valid gzip (corrupt or truncated) or has no usable header is quarantined whole, with its
reason, and the other files of the hour still load.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from isal import igzip

REJECT_COLUMNS = (("source_key", "VARCHAR"), ("line_number", "BIGINT"), ("raw_line", "VARCHAR"), ("reason", "VARCHAR"))

ARROW_TYPES = {
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "DATE": pa.date32(),
    "BOOLEAN": pa.bool_(),
}
GLUE_TYPES = {
    "TIMESTAMP": "timestamp", "VARCHAR": "string", "BIGINT": "bigint", "INTEGER": "int",
    "DOUBLE": "double", "DATE": "date", "BOOLEAN": "boolean",
}


def arrow_schema(columns: Sequence[tuple[str, str]]) -> pa.Schema:
    return pa.schema([(name, ARROW_TYPES[duck_type]) for name, duck_type in columns])


def glue_columns(columns: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name, GLUE_TYPES[duck_type]) for name, duck_type in columns)


@dataclass
class Parser:
    """One in-memory DuckDB per concurrent parse (its registry of Python file objects is not
    safe to share between concurrent scans), plus a per-format cache the format may use."""

    cursor: duckdb.DuckDBPyConnection
    cache: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LogFormat:
    name: str
    delimiter: str
    # Field names and the number of header lines, from the decompressed text; ValueError if unusable.
    read_header: Callable[[bytes], tuple[list[str], int]]
    column_name: Callable[[str], str]
    field_types: Mapping[str, str]  # DuckDB type by field name; absent fields are VARCHAR
    # Output columns (name, DuckDB type), in order, followed by one text column per `constants` name.
    columns: tuple[tuple[str, str], ...]
    constants: tuple[str, ...] = ("source_key",)
    # Output columns computed from the parsed columns (SQL over DuckDB's relation).
    derived: Mapping[str, str] = field(default_factory=dict)
    # A last pass over each file's Arrow table (e.g. decoding values once per distinct value).
    transform: Callable[[Parser, pa.Table], pa.Table] | None = None
    no_dictionary: frozenset[str] = frozenset()  # unique-per-row columns: no Parquet dictionary

    @property
    def output_columns(self) -> tuple[tuple[str, str], ...]:
        return (*self.columns, *((name, "VARCHAR") for name in self.constants))


@dataclass
class FileResult:
    key: str
    lines_read: int = 0
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


def count_lines(text: bytes) -> int:
    return text.count(b"\n") + (0 if not text or text.endswith(b"\n") else 1)


class HourIngestor:
    """Parses files of a LogFormat on a pool of threads; one instance per run."""

    def __init__(self, log_format: LogFormat, threads: int = 2):
        self.format = log_format
        self.threads = threads
        self._idle: queue.SimpleQueue[Parser] = queue.SimpleQueue()
        self._counter = 0
        self._lock = threading.Lock()

    def _checkout(self) -> Parser:
        # Parsers outlive an hour's thread pool: a run connects `threads` times, not per hour.
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return Parser(duckdb.connect(config={"threads": 1}))

    def parse_file(self, key: str, constants: Mapping[str, str], path: Path) -> FileResult:
        result = FileResult(key)
        try:
            text = igzip.decompress(path.read_bytes())
        except (EOFError, OSError, igzip.BadGzipFile) as error:
            result.quarantine_reason = f"unreadable gzip: {type(error).__name__}: {error}"
            return result
        try:
            fields, header_lines = self.format.read_header(text)
        except ValueError as error:
            result.quarantine_reason = f"bad header: {error}"
            return result
        result.lines_read = count_lines(text) - header_lines
        if result.lines_read == 0:
            return result
        with self._lock:
            self._counter += 1
            rejects_table = f"rejects_{self._counter}"
        parser = self._checkout()
        try:
            return self._parse_text(parser, result, constants, text, fields, header_lines, rejects_table)
        finally:
            self._idle.put(parser)

    def _parse_text(
        self, parser: Parser, result: FileResult, constants: Mapping[str, str], text: bytes, fields: list[str],
        header_lines: int, rejects_table: str,
    ) -> FileResult:
        fmt, cur = self.format, parser.cursor
        columns = {fmt.column_name(f): fmt.field_types.get(f, "VARCHAR") for f in fields}
        relation = cur.read_csv(
            io.BytesIO(text),
            header=False,
            skiprows=header_lines,
            delimiter=fmt.delimiter,
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
        for name, duck_type in fmt.columns:
            if name in fmt.derived:
                select.append(f"cast({fmt.derived[name]} as {duck_type}) as {name}")
            elif name in columns:
                select.append(f'"{name}"')
            else:
                select.append(f"null::{duck_type} as {name}")
        table = relation.select(", ".join(select)).to_arrow_table()
        if fmt.transform is not None:
            table = fmt.transform(parser, table)
        for name in fmt.constants:
            table = table.append_column(name, pa.repeat(pa.scalar(constants[name], pa.string()), table.num_rows))
        result.table = table
        # A line can fail on several columns: one reject per line, reasons joined.
        result.rejects = [
            (result.key, *row)
            for row in cur.sql(
                f"select line, any_value(csv_line), string_agg(error_type || ': ' || error_message, '; ') "
                f"from {rejects_table} group by line order by line"
            ).fetchall()
        ]
        cur.execute(f"drop table if exists {rejects_table}; drop table if exists {rejects_table}_scan")
        return result

    def ingest_hour(
        self,
        files: Sequence[tuple[str, Mapping[str, str], Path]],
        parquet_path: Path,
        rejects_path: Path,
        on_table: Callable[[pa.Table], None] | None = None,
    ) -> HourResult:
        """files: (landing key, constant columns, local path). Writes both Parquet files;
        `on_table` sees each file's table (e.g. to collect distinct values)."""
        summary = HourResult(files=len(files))
        schema = arrow_schema(self.format.output_columns)
        rejects: list[tuple] = []
        dictionary = [name for name in schema.names if name not in self.format.no_dictionary]
        with (
            pq.ParquetWriter(parquet_path, schema, compression="zstd", use_dictionary=dictionary) as writer,
            ThreadPoolExecutor(self.threads) as pool,
        ):
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
                    if on_table is not None:
                        on_table(result.table)
        pq.write_table(
            pa.Table.from_pylist(
                [dict(zip([c for c, _ in REJECT_COLUMNS], r)) for r in rejects], schema=arrow_schema(REJECT_COLUMNS)
            ),
            rejects_path,
            compression="zstd",
        )
        return summary
