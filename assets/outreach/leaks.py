"""The leak scan: are any of a delivery's raw identifiers, or their unsalted SHA-256 / MD5 digests,
in a table or file that should hold none?

Needles are the values of every identifying field that the rules do not keep, in the forms a
careless pipeline would leak them: as delivered (trimmed), upper and lower case, digits only
(phones, ids) and +1-prefixed digits (E.164), and the hex SHA-256 and MD5 of each. Cells are
compared whole, in every string column. Parquet files are also scanned as bytes, by tokens, where
bytes can show anything: the footer (schema, key-value metadata, statistics), never compressed;
the pages are compressed, and their cells are what the cell scan reads.
"""

from __future__ import annotations

import re
from pathlib import Path

from assets.outreach.rules import Feed
from assets.outreach.transform import identifier, literal

MIN_LENGTH = 4  # shorter values (e.g. "NA", initials) are not identifying on their own
_TOKEN = re.compile(rb"[A-Za-z0-9@.+_-]{8,}")


def needles_sql(feeds: list[tuple[Feed, str]]) -> str:
    """SELECT needle over the relations holding each feed's values as delivered (each distinct
    value once, then its forms and digests)."""
    values = [f"SELECT DISTINCT trim(CAST({identifier(rule.field)} AS VARCHAR)) AS v FROM {relation}"
              for feed, relation in feeds for rule in feed.fields if rule.identifying and rule.action != "keep"]
    if not values:
        return "SELECT CAST(NULL AS VARCHAR) AS needle WHERE false"
    digits = "regexp_replace(v, '[^0-9]', '', 'g')"
    forms = " UNION ALL ".join(f"SELECT {form} AS needle FROM delivered_values"
                               for form in ("v", "upper(v)", "lower(v)", digits, f"'+1' || {digits}", f"'+' || {digits}"))
    return (f"WITH delivered_values AS ({' UNION '.join(values)}), "
            f"plain AS (SELECT DISTINCT needle FROM ({forms}) WHERE length(needle) >= {MIN_LENGTH}) "
            "SELECT needle FROM plain UNION ALL SELECT sha256(needle) FROM plain UNION ALL SELECT md5(needle) FROM plain")


def scan_relation(con, needles: str, relation: str) -> dict[str, int]:
    """Per string column of `relation`: its distinct values equal to a needle (columns without hits
    omitted). Distinct values, not cells: most columns hold few (campaign, codes, versions). One
    scan: a grouping set per column (its other columns are NULL in that set's rows)."""
    names = [name for name, kind in
             con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {relation})").fetchall() if kind == "VARCHAR"]
    if not names:
        return {}
    columns = [identifier(name) for name in names]
    which = " ".join(f"WHEN grouping({c}) = 0 THEN {literal(name)}" for c, name in zip(columns, names))
    rows = con.execute(f"""SELECT name, count(*) FROM (
        SELECT CASE {which} END AS name, coalesce({', '.join(columns)}) AS value FROM {relation}
        GROUP BY GROUPING SETS ({', '.join(f'({c})' for c in columns)}))
        WHERE value IN (SELECT needle FROM {needles}) GROUP BY name""").fetchall()
    return dict(rows)


def footer(path: Path) -> bytes:
    """A Parquet file's footer: schema, key-value metadata, row-group statistics (never compressed)."""
    with open(path, "rb") as handle:
        handle.seek(-8, 2)
        tail = handle.read(8)
        if tail[4:] != b"PAR1":
            raise ValueError(f"{path} is not a Parquet file")
        length = int.from_bytes(tail[:4], "little")
        handle.seek(-8 - length, 2)
        return handle.read(length)


def scan_files(con, needles: str, paths: list[Path]) -> dict[str, int]:
    """Per file: tokens (runs of 8+ id-like characters) of its footer equal to a needle. The pages
    are compressed, so their bytes show nothing; their cells are what scan_relation reads."""
    hits = {}
    for path in paths:
        tokens = sorted({token.decode("ascii", "replace") for token in _TOKEN.findall(footer(Path(path)))})
        if tokens:
            found = con.execute(f"SELECT count(DISTINCT needle) FROM {needles} WHERE needle IN (SELECT unnest(?))",
                                [tokens]).fetchall()[0][0]
            if found:
                hits[str(path)] = found
    return hits
