"""The CloudFront real-time log record format (Kinesis Data Streams; see shared spec formats.md).

A record is one request: the configured fields' values joined by tabs, in the fixed order of
REALTIME_FIELDS (a configuration chooses a subset and the order is kept), '-' for empty, one
record per Kinesis record with a trailing newline. Values are delivered as CloudFront writes
them: the user agent stays URL-encoded (some clients' arrive double-encoded).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# Every field a real-time log configuration can choose, in delivery order.
REALTIME_FIELDS = (
    "timestamp", "c-ip", "time-to-first-byte", "sc-status", "sc-bytes", "cs-method", "cs-protocol", "cs-host",
    "cs-uri-stem", "cs-bytes", "x-edge-location", "x-edge-request-id", "x-host-header", "time-taken",
    "cs-protocol-version", "c-ip-version", "cs-user-agent", "cs-referer", "cs-cookie", "cs-uri-query",
    "x-edge-response-result-type", "x-forwarded-for", "ssl-protocol", "ssl-cipher", "x-edge-result-type",
    "fle-encrypted-fields", "fle-status", "sc-content-type", "sc-content-len", "sc-range-start", "sc-range-end",
    "c-port", "x-edge-detailed-result-type", "c-country", "cs-accept-encoding", "cs-accept",
    "cache-behavior-path-pattern", "cs-headers", "cs-header-names", "cs-headers-count", "origin-fbl", "origin-lbl",
    "asn",
)
_CONFIGURED = {"timestamp", "c-ip", "sc-status", "sc-bytes", "cs-host", "x-edge-location", "x-edge-request-id",
               "cs-user-agent", "x-edge-result-type"}
# The fields this platform's real-time log configuration sends, in delivery order.
CONFIGURED_FIELDS = tuple(field for field in REALTIME_FIELDS if field in _CONFIGURED)

_TIMESTAMP = re.compile(r"\d{1,12}(\.\d{1,3})?")
_INTEGER = re.compile(r"\d{1,19}")
INTEGER_FIELDS = frozenset({"sc-status", "sc-bytes", "cs-bytes", "sc-content-len", "sc-range-start", "sc-range-end",
                            "c-port", "cs-headers-count", "asn", "c-ip-version"})


def _check_fields(fields: Sequence[str]) -> None:
    unknown = [field for field in fields if field not in REALTIME_FIELDS]
    if unknown:
        raise ValueError(f"not real-time log fields: {unknown}")


def parse_record(data: bytes, fields: Sequence[str] = CONFIGURED_FIELDS) -> dict[str, str | int | float | None]:
    """One Kinesis record -> {field: value}: '-' -> None, `timestamp` -> float epoch seconds,
    integer fields (sc-status, sc-bytes, ...) -> int, everything else the delivered text.

    Raises ValueError for undecodable bytes, a field count other than len(fields) or a malformed
    number. One trailing newline (as CloudFront delivers) is accepted, not required.
    """
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    values = text.split("\t")
    if len(values) != len(fields):
        raise ValueError(f"real-time log record has {len(values)} fields, expected {len(fields)}: {text[:200]!r}")
    record: dict[str, str | int | float | None] = {}
    for field, value in zip(fields, values):
        if value == "-":
            record[field] = None
        elif field == "timestamp":
            if not _TIMESTAMP.fullmatch(value):
                raise ValueError(f"bad timestamp {value[:40]!r}")
            record[field] = float(value)
        elif field in INTEGER_FIELDS:
            if not _INTEGER.fullmatch(value):
                raise ValueError(f"bad {field} {value[:40]!r}")
            record[field] = int(value)
        else:
            record[field] = value
    return record


def format_timestamp(epoch_ms: int) -> str:
    """Milliseconds since the epoch -> CloudFront's `1700000000.123`."""
    return f"{epoch_ms // 1000}.{epoch_ms % 1000:03d}"


def render_record(values: Mapping[str, object], fields: Sequence[str] = CONFIGURED_FIELDS) -> bytes:
    """{field: value} -> one Kinesis record (tab-separated, trailing newline). Values are taken
    as already encoded; None, '' or a missing field become '-'; a float timestamp is written
    with milliseconds. Tabs or newlines inside a value are a ValueError (they would shift fields)."""
    _check_fields(fields)
    out = []
    for field in fields:
        value = values.get(field)
        if value is None or value == "":
            out.append("-")
            continue
        if field == "timestamp" and isinstance(value, float):
            text = format_timestamp(round(value * 1000))
        else:
            text = str(value)
        if "\t" in text or "\n" in text:
            raise ValueError(f"{field} contains a tab or newline: {text[:80]!r}")
        out.append(text)
    return ("\t".join(out) + "\n").encode("utf-8")
