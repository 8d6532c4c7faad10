"""Web-analytics events on the stream: what a record means, and its raw range asset."""

import hashlib
import json
from datetime import datetime

from dataplatform.stream_ranges import StreamFormat, stream_range_asset
from dataplatform.streams import streams

EVENT_COLUMNS = (
    ("event", "VARCHAR"),
    ("ip_address", "VARCHAR"),
    ("url", "VARCHAR"),
    ("user_agent", "VARCHAR"),
    ("page_type", "VARCHAR"),
)


def parse_event(data: bytes) -> tuple[float, str, dict]:
    """Event time from utc_timestamp (100 ns precision); a producer retry re-sends the same
    bytes, so the bytes' hash identifies an event. Emails are not kept (not needed)."""
    try:
        event = json.loads(data)
        stamp = event["utc_timestamp"]
        # Seven fractional digits: Python parses six.
        seconds, _, fraction = stamp.rstrip("Z").partition(".")
        event_time = datetime.fromisoformat(seconds + "+00:00").timestamp() + float(f"0.{fraction or 0}")
        values = {name: event.get(name) for name, _ in EVENT_COLUMNS}
        if not values["event"]:
            raise ValueError("no event name")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"not a web-analytics event: {error}") from None
    return event_time, hashlib.sha256(data).hexdigest(), values


EVENTS = StreamFormat(columns=EVENT_COLUMNS, parse=parse_event)

web_analytics_ranges = stream_range_asset(
    streams()["web_analytics_events"],
    EVENTS,
    descriptions={
        "event_time": "Event time (UTC epoch seconds) from utc_timestamp.",
        "dedupe_key": "SHA-256 of the record: producer retries re-send identical bytes.",
        "is_late": "Older than the shard's event-time watermark minus the allowed lateness.",
        "ip_address": "Visitor IP address.",
    },
)
