"""The VPC Flow Logs file format as a LogFormat for the shared hour ingest."""

from __future__ import annotations

from dataplatform.delimited_logs import LogFormat
from assets.vpc_flow.format import ALL_FIELDS, FIELD_TYPES, REQUIRED_FIELDS, column_name


def read_header(text: bytes) -> tuple[list[str], int]:
    """The first line names the fields (default or custom format, any order)."""
    end = text.find(b"\n")
    fields = text[: end if end >= 0 else len(text)].decode("utf-8", "replace").split()
    unknown = [f for f in fields if f not in FIELD_TYPES]
    if unknown:
        raise ValueError(f"header has unknown fields {unknown[:5]}")
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        raise ValueError(f"header lacks required fields {missing}")
    return fields, 1


FLOW_LOGS = LogFormat(
    name="vpc_flow_logs",
    delimiter=" ",
    read_header=read_header,
    column_name=column_name,
    field_types=FIELD_TYPES,
    columns=(
        *((column_name(f), FIELD_TYPES[f]) for f in ALL_FIELDS),
        ("start_time", "TIMESTAMP"),
        ("end_time", "TIMESTAMP"),
    ),
    constants=("flow_log_id", "source_key"),
    # Unix seconds -> UTC timestamps without a time-zone round trip.
    derived={"start_time": 'make_timestamp("start" * 1000000)', "end_time": 'make_timestamp("end" * 1000000)'},
)
