"""The CloudFront standard access-log format (see shared spec formats.md)."""

from __future__ import annotations

import re
from datetime import datetime

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


class ObjectNameError(ValueError):
    pass


def parse_object_name(key: str) -> tuple[str, datetime]:
    """Distribution id and UTC hour of a landing key, validated by the zone's declared pattern
    (platform/policies/landing_zones.yaml); raises ObjectNameError otherwise."""
    from dataplatform.landing_zones import KeyRejected, zone

    try:
        hour, groups = zone("cloudfront").parse(key)
    except KeyRejected as error:
        raise ObjectNameError(f"{error}: {key[:200]!r}") from None
    return groups["distribution"], hour


def object_name(distribution: str, hour: datetime, unique: str, prefix: str = "") -> str:
    return f"{prefix}{distribution}.{hour:%Y-%m-%d-%H}.{unique}.gz"
