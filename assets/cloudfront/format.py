"""The CloudFront standard access-log format (see shared spec formats.md)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

# The current layout; files written before late 2019 carry the first 26 only.
FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
).split()
LEGACY_FIELDS = FIELDS[:26]

RESULT_TYPES = ("Hit", "RefreshHit", "Miss", "LimitExceeded", "CapacityExceeded", "Error", "Redirect")
CACHE_HIT_RESULT_TYPES = ("Hit", "RefreshHit")


def column_name(field: str) -> str:
    """`cs(User-Agent)` -> `cs_user_agent`, `x-edge-location` -> `x_edge_location`."""
    return re.sub(r"[^a-z0-9]+", "_", field.lower()).strip("_")


# <optional prefix>/<DistributionId>.YYYY-MM-DD-HH.<unique-id>.gz
OBJECT_NAME = re.compile(
    r"^(?P<prefix>(?:[^/]+/)*)(?P<distribution>[A-Z0-9]{1,32})\."
    r"(?P<hour>\d{4}-\d{2}-\d{2}-\d{2})\.(?P<unique>[A-Za-z0-9_-]{1,64})\.gz$"
)


class ObjectNameError(ValueError):
    pass


def parse_object_name(key: str) -> tuple[str, datetime]:
    """Distribution id and UTC hour of a log object key; raises ObjectNameError otherwise."""
    match = OBJECT_NAME.match(key)
    if match is None:
        raise ObjectNameError(f"not a CloudFront log object name: {key[:200]!r}")
    try:
        hour = datetime.strptime(match["hour"], "%Y-%m-%d-%H").replace(tzinfo=timezone.utc)
    except ValueError as error:
        raise ObjectNameError(f"invalid hour in {key[:200]!r}: {error}") from error
    return match["distribution"], hour


def object_name(distribution: str, hour: datetime, unique: str, prefix: str = "") -> str:
    return f"{prefix}{distribution}.{hour:%Y-%m-%d-%H}.{unique}.gz"
