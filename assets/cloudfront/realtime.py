"""CloudFront real-time logs on the stream: what a record means, and its raw range asset.
The windows are dbt models (models/cloudfront/*realtime*)."""

from functools import lru_cache
from urllib.parse import unquote

from assets.cloudfront.ingest import UA_DECODE_DEPTH
from assets.cloudfront.realtime_format import parse_record
from dataplatform.stream_ranges import StreamFormat, stream_range_asset
from dataplatform.streams import streams

VALUE_COLUMNS = (
    ("c_ip", "VARCHAR"),
    ("sc_status", "INTEGER"),
    ("sc_bytes", "BIGINT"),
    ("cs_host", "VARCHAR"),
    ("x_edge_location", "VARCHAR"),
    ("cs_user_agent", "VARCHAR"),
    ("x_edge_result_type", "VARCHAR"),
)


@lru_cache(maxsize=100_000)  # a stream repeats a few hundred agents over and over
def decode_until_stable(value: str | None, depth: int = UA_DECODE_DEPTH) -> str | None:
    """The batch ingest's rule in Python: URL-decode up to `depth` times; a value that does
    not decode to UTF-8 is kept as it is."""
    for _ in range(depth):
        if value is None or "%" not in value:
            break
        try:
            decoded = unquote(value, errors="strict")
        except UnicodeDecodeError:
            break
        if decoded == value:
            break
        value = decoded
    return value


def parse_realtime(data: bytes) -> tuple[float, str, dict]:
    record = parse_record(data)
    if not record.get("x-edge-request-id") or record.get("timestamp") is None:
        raise ValueError("record without request id or timestamp")
    values = {column: record.get(column.replace("_", "-")) for column, _ in VALUE_COLUMNS}
    values["cs_user_agent"] = decode_until_stable(values["cs_user_agent"])
    return float(record["timestamp"]), record["x-edge-request-id"], values


REALTIME_RECORDS = StreamFormat(columns=VALUE_COLUMNS, parse=parse_realtime)

realtime_ranges = stream_range_asset(
    streams()["cloudfront_realtime"],
    REALTIME_RECORDS,
    descriptions={
        "event_time": "Request time (UTC epoch seconds, milliseconds).",
        "dedupe_key": "x-edge-request-id: producer retries repeat it.",
        "is_late": "Older than the shard's event-time watermark minus the allowed lateness.",
        "c_ip": "Viewer IP address.",
        "cs_user_agent": "User agent, URL-decoded until stable.",
    },
)
