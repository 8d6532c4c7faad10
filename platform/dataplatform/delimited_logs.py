"""Delimited log files of one UTC hour -> one typed Parquet file + rejects, with exact line
accounting. Shared by every log domain; a `LogFormat` says what is specific.

Each file is inflated once with ISA-L (2-3x zlib) and its lines counted from those bytes,
independently of the parser. DuckDB then parses all files of a header layout in one scan, by
that header, keeping lines it cannot type in a rejects table (file, line number, raw line,
reason). A file that is not valid gzip (corrupt or truncated) or has no usable header is
quarantined whole, with its reason, and the other files of the hour still load.
"""

from __future__ import annotations

import codecs
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
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
    "DECIMAL(18,2)": pa.decimal128(18, 2),  # money, summed exactly
}
GLUE_TYPES = {
    "TIMESTAMP": "timestamp", "VARCHAR": "string", "BIGINT": "bigint", "INTEGER": "int",
    "DOUBLE": "double", "DATE": "date", "BOOLEAN": "boolean", "DECIMAL(18,2)": "decimal(18,2)",
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
class Inflated:
    """One landing file after inflating it to a temporary text file (or why it could not be)."""

    key: str
    constants: Mapping[str, str]
    text_path: Path | None = None
    fields: tuple[str, ...] = ()
    header_lines: int = 0
    lines_read: int = 0
    quarantine_reason: str | None = None


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
    """Parses the files of an hour: inflated in parallel, then one DuckDB scan per header
    layout, so small files (VPC flow logs arrive every 5 minutes per interface group) do not
    each pay a query's fixed cost. One instance per run."""

    def __init__(self, log_format: LogFormat, threads: int = 2):
        self.format = log_format
        self.threads = threads
        self.parser = Parser(duckdb.connect(config={"threads": threads}))
        self._scans = 0

    def _inflate(self, key: str, constants: Mapping[str, str], path: Path, out: Path) -> Inflated:
        result = Inflated(key, constants)
        try:
            text = igzip.decompress(path.read_bytes())
        except (EOFError, OSError, igzip.BadGzipFile) as error:
            result.quarantine_reason = f"unreadable gzip: {type(error).__name__}: {error}"
            return result
        if text.startswith(codecs.BOM_UTF8):
            text = text[len(codecs.BOM_UTF8) :]  # written by some editors and Windows tools: not data
        try:
            fields, result.header_lines = self.format.read_header(text)
        except ValueError as error:
            result.quarantine_reason = f"bad header: {error}"
            return result
        result.fields = tuple(fields)
        result.lines_read = count_lines(text) - result.header_lines
        if result.lines_read:
            out.write_bytes(text)
            result.text_path = out
        return result

    def _scan(self, group: list[Inflated]) -> tuple[pa.Table, list[tuple]]:
        """One read of every file of a header layout; rows keep file order."""
        fmt, cur = self.format, self.parser.cursor
        self._scans += 1
        rejects_table = f"rejects_{self._scans}"
        first = group[0]
        columns = {fmt.column_name(f): fmt.field_types.get(f, "VARCHAR") for f in first.fields}
        paths = [str(item.text_path) for item in group]
        relation = cur.read_csv(
            paths,
            header=False,
            skiprows=first.header_lines,
            delimiter=fmt.delimiter,
            quotechar="",
            escapechar="",
            na_values="-",
            columns=columns,
            null_padding=True,  # fewer trailing fields than the header is valid
            auto_detect=False,
            filename=True,
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
        table = relation.select(", ".join([*select, "filename"])).to_arrow_table()
        if fmt.transform is not None:
            table = fmt.transform(self.parser, table)
        # Per-file constants (e.g. source_key) by the file each row came from.
        file_index = pc.index_in(table.column("filename"), value_set=pa.array(paths, pa.string()))
        table = table.drop_columns(["filename"])
        for name in fmt.constants:
            values = pa.array([item.constants[name] for item in group], pa.string())
            table = table.append_column(name, pc.take(values, file_index))
        keys = {str(item.text_path): item.key for item in group}
        # A line can fail on several columns: one reject per line, reasons joined.
        rejects = [
            (keys[file_path], line, raw_line, reason)
            for file_path, line, raw_line, reason in cur.sql(
                f"select s.file_path, r.line, any_value(r.csv_line), "
                f"string_agg(r.error_type || ': ' || r.error_message, '; ') "
                f"from {rejects_table} r join {rejects_table}_scan s using (scan_id, file_id) "
                f"group by s.file_path, r.line"
            ).fetchall()
        ]
        cur.execute(f"drop table if exists {rejects_table}; drop table if exists {rejects_table}_scan")
        order = {item.key: index for index, item in enumerate(group)}
        rejects.sort(key=lambda reject: (order[reject[0]], reject[1]))
        return table, rejects

    def ingest_hour(
        self,
        files: Sequence[tuple[str, Mapping[str, str], Path]],
        parquet_path: Path,
        rejects_path: Path,
        on_table: Callable[[pa.Table], None] | None = None,
    ) -> HourResult:
        """files: (landing key, constant columns, local path). Writes both Parquet files;
        `on_table` sees each parsed table (e.g. to collect distinct values)."""
        summary = HourResult(files=len(files))
        schema = arrow_schema(self.format.output_columns)
        rejects: list[tuple] = []
        dictionary = [name for name in schema.names if name not in self.format.no_dictionary]
        with tempfile.TemporaryDirectory(prefix="ingest-") as tmp, ThreadPoolExecutor(self.threads) as pool:
            inflated = list(
                pool.map(
                    lambda item: self._inflate(*item[1], Path(tmp) / f"{item[0]:06d}.log"), enumerate(files)
                )
            )
            groups: dict[tuple, list[Inflated]] = {}
            for item in inflated:
                if item.quarantine_reason:
                    summary.quarantined.append((item.key, item.quarantine_reason))
                    rejects.append((item.key, None, None, item.quarantine_reason))
                    continue
                summary.lines_read += item.lines_read
                if item.text_path is not None:
                    groups.setdefault((item.fields, item.header_lines), []).append(item)
            with pq.ParquetWriter(parquet_path, schema, compression="zstd", use_dictionary=dictionary) as writer:
                # pyarrow's writer is serial but releases the GIL: write one layout's rows while
                # DuckDB scans the next (at most one table waits, so memory stays bounded).
                writing = None
                for group in groups.values():
                    table, group_rejects = self._scan(group)
                    rejects.extend(group_rejects)
                    summary.rejected_lines += len(group_rejects)
                    if table.num_rows:
                        if writing is not None:
                            writing.result()
                        writing = pool.submit(writer.write_table, table.cast(schema))
                        summary.rows_written += table.num_rows
                        if on_table is not None:
                            on_table(table)
                if writing is not None:
                    writing.result()
        pq.write_table(
            pa.Table.from_pylist(
                [dict(zip([c for c, _ in REJECT_COLUMNS], r)) for r in rejects], schema=arrow_schema(REJECT_COLUMNS)
            ),
            rejects_path,
            compression="zstd",
        )
        return summary
