"""Point-of-sale delivery files -> typed transactions and rejected lines, every line accounted for.

Three kinds, chosen per store group in policy: `tdf` (the seed's tab-delimited files without a
header: fields by position, then filler; lines starting with the junk prefix are rejected, the
first line is data - the seed's header test dropped it), `csv` (a header row naming the columns)
and `jsonl`. Amounts are kept as exact decimals with at most two places (the seed summed into
numeric(5,2), which overflows at 999.99).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from assets.pos.policy import Format

AMOUNT = re.compile(r"[+-]?\d{1,16}(?:\.\d{1,2})?")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_ID = 64


@dataclass
class Parsed:
    """One file's result: rows (vendor_id, trans_amount, trans_type, item_id, trans_date, line
    number), rejects (line number or None for the whole file, raw line, reason)."""

    rows: list[tuple] = field(default_factory=list)
    rejects: list[tuple[int | None, str, str]] = field(default_factory=list)
    lines_read: int = 0  # data lines (a csv header is not one)
    header_lines: int = 0


def _typed(values: dict[str, object]) -> tuple:
    """(vendor_id, amount, type, item_id, trans_date); ValueError with the reason."""
    vendor, item = (str(values[k]).strip() for k in ("vendor_id", "item_id"))
    if not vendor or not item or len(vendor) > MAX_ID or len(item) > MAX_ID:
        raise ValueError("vendor_id and item_id must be 1-64 characters")
    amount_text = values["trans_amount"]
    amount_text = format(amount_text, "f") if isinstance(amount_text, Decimal) else str(amount_text).strip()
    if not AMOUNT.fullmatch(amount_text):
        raise ValueError(f"trans_amount {amount_text[:40]!r} is not a decimal with at most 2 places")
    type_text = str(values["trans_type"]).strip()
    if not type_text.isdigit() or len(type_text) > 4:
        raise ValueError(f"trans_type {type_text[:20]!r} is not a transaction type code")
    day_text = str(values["trans_date"]).strip()
    try:
        if not DAY.fullmatch(day_text):
            raise ValueError
        day = date.fromisoformat(day_text)
    except ValueError:
        raise ValueError(f"trans_date {day_text[:20]!r} is not YYYY-MM-DD") from None
    return vendor, Decimal(amount_text), int(type_text), item, day


def _lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline ends the last line, it does not start another
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def parse(data: bytes, fmt: Format) -> Parsed:
    out = Parsed()
    lines = _lines(data)
    header: dict[str, int] = {}
    first = 1
    if fmt.kind == "csv":
        out.header_lines, first = 1, 2
        names = next(csv.reader([lines[0].decode("utf-8", "replace")])) if lines else []
        missing = [column for _, column in fmt.fields if column not in names]
        if missing:
            out.lines_read = max(len(lines) - 1, 0)
            reason = f"header lacks columns {missing}" if lines else "empty file (no header)"
            out.rejects = [(n, lines[n - 1].decode("utf-8", "replace"), reason) for n in range(2, len(lines) + 1)]
            if not lines or not out.rejects:
                out.rejects.append((None, "", reason))
            return out
        header = {field_name: names.index(column) for field_name, column in fmt.fields}
        lines = lines[1:]
    for number, raw in enumerate(lines, start=first):
        out.lines_read += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            out.rejects.append((number, raw.decode("utf-8", "replace"), "not UTF-8"))
            continue
        try:
            if not text.strip():
                raise ValueError("empty line")
            if fmt.kind == "tdf":
                if fmt.junk_prefix and text.startswith(fmt.junk_prefix):
                    raise ValueError("junk line")
                parts = text.split("\t")
                if len(parts) < len(fmt.fields):
                    raise ValueError(f"{len(parts)} fields, at least {len(fmt.fields)} expected")
                values = {name: parts[position] for name, position in fmt.fields}
            elif fmt.kind == "csv":
                parts = next(csv.reader([text]))
                if len(parts) <= max(header.values()):
                    raise ValueError(f"{len(parts)} fields, fewer than the header's columns")
                values = {name: parts[position] for name, position in header.items()}
            else:
                record = json.loads(text, parse_float=Decimal)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                absent = [column for _, column in fmt.fields if record.get(column) is None]
                if absent:
                    raise ValueError(f"missing attributes {absent}")
                values = {name: record[column] for name, column in fmt.fields}
            out.rows.append((*_typed(values), number))
        except ValueError as error:  # JSONDecodeError included
            out.rejects.append((number, text, str(error) or "unparseable"))
    return out
