"""Landing zones, read from platform/policies/landing_zones.yaml.

A zone validates object keys against its declared pattern before anything derived from a
key is used: the partition hour is rebuilt from validated groups with strptime, so quotes,
`..`, `=`, SQL fragments or absurdly long keys are refused here, never executed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache

from dataplatform.governance.policies import load

MAX_KEY_LENGTH = 1024  # S3's own limit, in bytes of UTF-8


class KeyRejected(ValueError):
    """An object key that does not match its zone's declared pattern."""


@dataclass(frozen=True)
class LandingZone:
    name: str
    domain: str
    bucket: str
    prefix: str
    key_pattern: re.Pattern
    hour_groups: tuple[str, ...]
    hour_format: str
    group_delimiters: tuple[str, ...]
    hour_prefix_format: str
    landing_asset: str  # asset key of the delivered files, e.g. landing/cloudfront/access_logs
    targets: tuple[str, ...]  # asset keys a delivery materialises (one run per hour range)
    raw_bucket: str
    raw_tables: tuple[tuple[str, str], ...]  # (database, table), for retention
    lateness: timedelta
    retention: timedelta
    reconciliation: timedelta  # how often the daemon compares the whole zone with its ledger
    arrival_events: bool  # announced on an S3 event queue in aws (else its sensor lists)

    def parse(self, key: str) -> tuple[datetime, dict[str, str]]:
        """The UTC hour and the named groups of a key; KeyRejected for anything else."""
        if len(key.encode("utf-8", "surrogateescape")) > MAX_KEY_LENGTH:
            raise KeyRejected(f"key longer than {MAX_KEY_LENGTH} bytes")
        if not key.startswith(self.prefix):
            raise KeyRejected(f"key outside the zone prefix {self.prefix!r}")
        match = self.key_pattern.fullmatch(key[len(self.prefix) :])
        if match is None:
            raise KeyRejected(f"key does not match the {self.name} pattern")
        groups = match.groupdict()
        try:
            hour = datetime.strptime("|".join(groups[g] for g in self.hour_groups), self.hour_format)
        except ValueError as error:
            raise KeyRejected(f"invalid time in key: {error}") from None
        return hour.replace(minute=0, second=0, microsecond=0, tzinfo=timezone.utc), groups

    def hour_of(self, key: str) -> datetime:
        return self.parse(key)[0]

    def list_groups(self, lake) -> tuple[list[str], list]:
        """Prefixes to list separately (e.g. one per distribution or account/region), and the
        objects met on the way that do not sit at a group's depth (reported, not dropped)."""
        groups, stray = [self.prefix], []
        for delimiter in self.group_delimiters:
            next_groups = []
            for group in groups:
                rolled, loose = lake.list_level(self.bucket, group, delimiter)
                next_groups += rolled
                stray += loose
            groups = next_groups
        return groups, stray

    def hour_prefix(self, group: str, hour: datetime) -> str:
        """A prefix shared by the group's keys of `hour`, which also sorts before every key of
        later hours: the listing lower bound for hours >= `hour`."""
        return group + self.hour_prefix_format.format(hour=hour)

    def objects_by_hour(self, lake, hours: Sequence[datetime]) -> dict[datetime, list]:
        """Every valid object (key, ETag, size) of the zone named for each of `hours`. Each
        distinct hour prefix (an hour for CloudFront, a day for VPC flow logs) is listed once per
        group, so the cost follows the run's files, not the bucket's history or the number of hours."""
        found: dict[datetime, list] = {hour: [] for hour in hours}
        for group in self.list_groups(lake)[0]:
            for prefix in sorted({self.hour_prefix(group, hour) for hour in hours}):
                for info in lake.list(self.bucket, prefix=prefix):
                    try:
                        hour = self.hour_of(info.key)
                    except KeyRejected:
                        continue  # reported by the arrival sensor and the reconciliation
                    if hour in found:
                        found[hour].append(info)
        return found


@cache
def zones() -> dict[str, LandingZone]:
    policy = load("landing_zones")["zones"]
    return {
        name: LandingZone(
            name=name,
            domain=spec["domain"],
            bucket=spec["bucket"],
            prefix=spec["prefix"],
            key_pattern=re.compile(spec["key_pattern"]),
            hour_groups=tuple(spec["partition_hour"]["groups"]),
            hour_format=spec["partition_hour"]["format"],
            group_delimiters=tuple(spec["listing"]["group_delimiters"]),
            hour_prefix_format=spec["listing"]["hour_prefix"],
            landing_asset=spec["landing_asset"],
            targets=tuple(spec["targets"]),
            raw_bucket=spec["raw_bucket"],
            raw_tables=tuple(tuple(t.split(".")) for t in spec["raw_tables"]),
            lateness=timedelta(hours=spec["lateness_hours"]),
            retention=timedelta(days=spec["retention_days"]),
            reconciliation=timedelta(minutes=spec["reconciliation_minutes"]),
            arrival_events=spec.get("arrival_events", True),
        )
        for name, spec in policy.items()
    }


def zone(name: str) -> LandingZone:
    return zones()[name]
