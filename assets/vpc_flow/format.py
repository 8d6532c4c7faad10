"""The VPC Flow Logs S3 format (see shared spec formats.md, "VPC Flow Logs").

Files are gzip, space-separated, with one header line naming the fields: the default format
is the 14 version-2 fields; a custom format may list any fields of versions 2-5 in any order,
so readers go by the header. `-` stands for "not applicable" (NODATA/SKIPDATA rows, v3+
fields that do not apply), so every field is read as text and typed with `-` as NULL.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import NamedTuple

from dataplatform.landing_zones import zone

# The default format, in order.
FIELDS_V2 = tuple(
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status".split()
)
# Fields each later version adds (custom formats only).
V3_FIELDS = tuple("vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr".split())
V4_FIELDS = tuple("region az-id sublocation-type sublocation-id".split())
V5_FIELDS = tuple("pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path".split())
ALL_FIELDS = FIELDS_V2 + V3_FIELDS + V4_FIELDS + V5_FIELDS

# The version that introduced each field. A record's `version` is the highest one its format uses.
FIELD_VERSION = {
    **{f: 2 for f in FIELDS_V2}, **{f: 3 for f in V3_FIELDS}, **{f: 4 for f in V4_FIELDS}, **{f: 5 for f in V5_FIELDS}
}

# Fields every file must carry for the platform's marts (all of v2 except `version`).
REQUIRED_FIELDS = tuple(f for f in FIELDS_V2 if f != "version")

# DuckDB type of every field ('-' reads as NULL). account-id stays text: 12 digits with leading zeros.
_NUMERIC = {
    "version": "INTEGER", "srcport": "INTEGER", "dstport": "INTEGER", "protocol": "INTEGER",
    "packets": "BIGINT", "bytes": "BIGINT", "start": "BIGINT", "end": "BIGINT",
    "tcp-flags": "INTEGER", "traffic-path": "INTEGER",
}
FIELD_TYPES = {f: _NUMERIC.get(f, "VARCHAR") for f in ALL_FIELDS}

ACTIONS = ("ACCEPT", "REJECT")
LOG_STATUSES = ("OK", "NODATA", "SKIPDATA")
MAX_KEY_LENGTH = 1024  # S3's limit (bytes; longer text keys are refused before matching)


def column_name(field: str) -> str:
    """`log-status` -> `log_status`, `pkt-srcaddr` -> `pkt_srcaddr`."""
    return field.replace("-", "_")


# The object-name pattern is declared once, in platform/policies/landing_zones.yaml (zone
# `vpcflowlogs`): ASCII classes, S3-safe prefix segments that cannot be `.`/`..`, and
# backreferences that make the file name agree with its path (account, region, date).
OBJECT_NAME = zone("vpcflowlogs").key_pattern


class ObjectNameError(ValueError):
    pass


class ObjectName(NamedTuple):
    account: str
    region: str
    flow_log_id: str
    hour: datetime  # UTC: the delivery stamp truncated to the hour (the file's partition)
    stamp: datetime  # UTC delivery time from the name (5-minute steps)


def parse_object_name(key: str) -> ObjectName:
    """The parts of a flow-log object key; raises ObjectNameError for anything else."""
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH:
        raise ObjectNameError(f"not a VPC flow log object name: {str(key)[:200]!r}")
    match = OBJECT_NAME.fullmatch(key)
    if match is None:
        raise ObjectNameError(f"not a VPC flow log object name: {key[:200]!r}")
    s = match["stamp"]
    try:
        stamp = datetime(int(s[0:4]), int(s[4:6]), int(s[6:8]), int(s[9:11]), int(s[11:13]), tzinfo=timezone.utc)
    except ValueError as error:
        raise ObjectNameError(f"invalid timestamp in {key[:200]!r}: {error}") from error
    return ObjectName(match["account"], match["region"], match["flow_log_id"], stamp.replace(minute=0), stamp)


def object_name(prefix: str, account: str, region: str, flow_log_id: str, stamp: datetime, hash: str) -> str:
    """The key AWS would deliver under; `stamp` must be tz-aware (named in UTC, to the minute).

    Raises ObjectNameError when the parts do not make a valid name (the result is parsed back).
    """
    if stamp.tzinfo is None:
        raise ValueError(f"stamp must be tz-aware: {stamp}")
    utc = stamp.astimezone(timezone.utc)
    key = (f"{prefix}AWSLogs/{account}/vpcflowlogs/{region}/{utc:%Y/%m/%d}/"
           f"{account}_vpcflowlogs_{region}_{flow_log_id}_{utc:%Y%m%dT%H%MZ}_{hash}.log.gz")
    parse_object_name(key)
    return key
