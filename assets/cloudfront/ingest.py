"""The CloudFront standard access-log format as a LogFormat for the shared hour ingest
(platform/dataplatform/delimited_logs.py)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from assets.cloudfront.format import FIELDS, column_name
from dataplatform.delimited_logs import LogFormat, Parser

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

# CloudFront percent-encodes user agents; some clients' arrive encoded twice or more.
UA_DECODE_DEPTH = 3
UA_CACHE_SIZE = 100_000  # decoded agents remembered per parser (then it starts afresh)


def read_header(text: bytes) -> tuple[list[str], int]:
    """Field names from the `#Fields:` header and the number of `#` header lines."""
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


def _decoded(expression: str, depth: int = UA_DECODE_DEPTH) -> str:
    for _ in range(depth):
        expression = f"coalesce(try(url_decode({expression})), {expression})"
    return expression


def decode_user_agents(parser: Parser, table: pa.Table) -> pa.Table:
    """cs_user_agent URL-decoded until stable, evaluated once per distinct agent.

    A file repeats a few hundred agents over thousands of lines, and the same agents come
    back file after file: each parser remembers what it decoded (a pure function of the
    value) and asks DuckDB only about agents it has not seen yet.
    """
    cache = parser.cache
    index = table.schema.get_field_index("cs_user_agent")
    ua_field = table.schema.field(index)
    encoded = pc.dictionary_encode(table.column(index).combine_chunks())
    values = encoded.dictionary.to_pylist()
    if len(cache) > UA_CACHE_SIZE:
        cache.clear()
    missing = [value for value in values if value not in cache]
    if missing:
        # A projection on one thread keeps the row order: position i decodes missing[i].
        decoded = (
            parser.cursor.from_arrow(pa.table({"cs_user_agent": pa.array(missing, pa.string())}))
            .select(f"{_decoded('cs_user_agent')} as cs_user_agent")
            .to_arrow_table()
            .column(0)
            .to_pylist()
        )
        cache.update(zip(missing, decoded))
    column = pc.take(pa.array([cache[value] for value in values], ua_field.type), encoded.indices)
    return table.set_column(index, ua_field, column)


ACCESS_LOGS = LogFormat(
    name="cloudfront_access_logs",
    delimiter="\t",
    read_header=read_header,
    column_name=column_name,
    field_types=FIELD_TYPES,
    # `date` + `time` become `ts`; every other field keeps its name.
    columns=(
        ("ts", "TIMESTAMP"),
        *((column_name(f), FIELD_TYPES.get(f, "VARCHAR")) for f in FIELDS if f not in ("date", "time")),
    ),
    constants=("distribution_id", "source_key"),
    derived={"ts": "date + time"},
    transform=decode_user_agents,
    # Unique on every line: a dictionary only adds a page to every row group.
    no_dictionary=frozenset({"x_edge_request_id"}),
)
