"""Load one delivered MIMIC table file into typed Parquet.

Every field is read as text and cast to the table's declared type; a row with a value that
does not cast is not loaded but written to the rejects with its line number and the reason,
so rows in the file = rows loaded + rows rejected.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from assets.clinical.format import TABLES

REJECT_COLUMNS = (
    ("source_table", "string", "MIMIC table the row came from."),
    ("source_key", "string", "Landing key of the delivered file."),
    ("line_number", "bigint", "Line the record starts on in the delivered CSV (header = line 1), or row number + 1 for Parquet."),
    ("raw_record", "string", "The row's fields as delivered, as JSON."),
    ("reason", "string", "Which fields did not cast to their type."),
)


@dataclass(frozen=True)
class LoadResult:
    rows_read: int
    rows_loaded: int
    rows_rejected: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _csv_lines(path: Path, records: set[int]) -> dict[int, int]:
    """The line each of these data records starts on (header = line 1): quoted fields may hold
    newlines, so records and lines differ. Only read when there are rejects."""
    with path.open("rb") as handle:
        compressed = handle.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    starts, previous_end = {}, 1  # the header ends on line 1 when it holds no newline
    with opener(path, "rt", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        previous_end = reader.line_num
        for record, _ in enumerate(reader, start=1):
            if record in records:
                starts[record] = previous_end + 1
            previous_end = reader.line_num
            if len(starts) == len(records):
                break
    return starts


def load_table(table: str, path: Path, fmt: str, source_key: str, out: Path, rejects_out: Path) -> LoadResult:
    """Write `out` (typed, lower-case columns) and `rejects_out` (REJECT_COLUMNS) for one file."""
    columns = TABLES[table]
    con = duckdb.connect()
    try:
        if fmt == "csv":
            varchar = ", ".join(f"'{name}': 'VARCHAR'" for name in columns)
            source = (
                f"read_csv('{path}', header = true, columns = {{{varchar}}}, auto_detect = false, "
                "quote = '\"', escape = '\"', nullstr = '', strict_mode = true)"
            )
        else:
            source = f"read_parquet('{path}')"
        con.execute(
            f"create temp table delivered as select row_number() over () as _record, "
            f"{', '.join(f'cast({_quote(c)} as varchar) as {_quote(c)}' for c in columns)} from {source}"
        )
        failed = " or ".join(
            f"({_quote(c)} is not null and try_cast({_quote(c)} as {t}) is null)"
            for c, t in columns.items() if t != "VARCHAR"
        ) or "false"
        reasons = ", ".join(
            f"case when {_quote(c)} is not null and try_cast({_quote(c)} as {t}) is null "
            f"then '{c} is not {t.lower()}' end"
            for c, t in columns.items() if t != "VARCHAR"
        ) or "null"
        con.execute(
            f"copy (select {', '.join(f'cast({_quote(c)} as {t}) as {c.lower()}' for c, t in columns.items())} "
            f"from delivered where not ({failed}) order by _record) to '{out}' (format parquet, compression zstd)"
        )
        rejected_records = [row[0] for row in con.execute(f"select _record from delivered where {failed}").fetchall()]
        lines = _csv_lines(path, set(rejected_records)) if fmt == "csv" else {r: r + 1 for r in rejected_records}
        con.execute("create temp table reject_lines (_record bigint, line_number bigint)")
        if lines:
            con.executemany("insert into reject_lines values (?, ?)", list(lines.items()))
        con.execute(
            f"copy (select '{table}' as source_table, {_literal(source_key)} as source_key, reject_lines.line_number, "
            f"to_json(struct_pack({', '.join(f'{_quote(c)} := {_quote(c)}' for c in columns)}))::varchar as raw_record, "
            f"concat_ws('; ', {reasons}) as reason "
            f"from delivered join reject_lines using (_record) where {failed} order by _record) "
            f"to '{rejects_out}' (format parquet)"
        )
        read = con.execute("select count(*) from delivered").fetchone()[0]
        loaded = con.execute(f"select count(*) from read_parquet('{out}')").fetchone()[0]
        rejected = con.execute(f"select count(*) from read_parquet('{rejects_out}')").fetchone()[0]
    finally:
        con.close()
    return LoadResult(read, loaded, rejected)
