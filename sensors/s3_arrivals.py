"""Sensors on object arrivals in a landing zone.

The cursor keeps a watermark (the newest hour seen) and the keys + ETags seen within the
allowed lateness. Each tick lists, per distribution prefix, only keys named for hours at or
after watermark - lateness (S3 `StartAfter`), so its cost follows recent deliveries, not
everything ever delivered. New or changed objects are grouped by the hour in their name;
each contiguous run of hours becomes one run over that partition range, keyed by the
objects' keys and ETags so a replayed tick never launches a duplicate run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import dagster as dg

HOUR = timedelta(hours=1)
NAME_HOUR_FORMAT = "%Y-%m-%d-%H"


@dataclass(frozen=True)
class LandingZone:
    name: str
    bucket: str
    prefix: str
    parse_hour: Callable[[str], datetime]  # raises ValueError for keys that do not match the zone's pattern
    targets: Sequence[dg.AssetKey]
    partitions_def: dg.TimeWindowPartitionsDefinition
    lateness: timedelta = timedelta(hours=26)
    max_objects_per_tick: int = 5000


def load_cursor(raw: str | None) -> tuple[datetime | None, dict[str, str]]:
    if not raw:
        return None, {}
    state = json.loads(raw)
    watermark = state.get("watermark")
    return (
        datetime.strptime(watermark, NAME_HOUR_FORMAT).replace(tzinfo=timezone.utc) if watermark else None,
        state.get("seen", {}),
    )


def dump_cursor(watermark: datetime | None, seen: dict[str, str]) -> str:
    return json.dumps(
        {"watermark": watermark.strftime(NAME_HOUR_FORMAT) if watermark else None, "seen": dict(sorted(seen.items()))},
        separators=(",", ":"),
    )


def contiguous_ranges(hours: Sequence[datetime]) -> list[tuple[datetime, datetime]]:
    ranges: list[tuple[datetime, datetime]] = []
    for hour in sorted(set(hours)):
        if ranges and hour - ranges[-1][1] == HOUR:
            ranges[-1] = (ranges[-1][0], hour)
        else:
            ranges.append((hour, hour))
    return ranges


def evaluate(zone: LandingZone, lake, cursor: str | None, now: datetime, log=None) -> tuple[list[dg.RunRequest], str, dict]:
    """One tick, as a pure function of the lake's listing and the cursor (tested directly)."""
    watermark, seen = load_cursor(cursor)
    listed = 0
    new: dict[str, tuple[str, datetime]] = {}
    invalid: list[str] = []
    not_yet_partitioned: list[str] = []
    start_hour = (watermark - zone.lateness) if watermark else None
    # Hourly partitions run up to the current hour (end_offset=1); a file named for a later
    # hour (clock skew) waits, unseen, until its hour exists.
    last_hour = now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    first_hour = zone.partitions_def.start.astimezone(timezone.utc)
    for group_prefix in lake.list_prefixes(zone.bucket, zone.prefix, delimiter="."):
        start_after = group_prefix + start_hour.strftime(NAME_HOUR_FORMAT) if start_hour else ""
        for info in lake.list(zone.bucket, prefix=group_prefix, start_after=start_after):
            listed += 1
            if seen.get(info.key) == info.etag:
                continue
            try:
                hour = zone.parse_hour(info.key)
            except ValueError as error:
                invalid.append(info.key)
                if log:
                    log.warning(f"{zone.name}: skipped {info.key[:200]!r}: {error}")
                continue
            if start_hour and hour < start_hour:
                continue  # later than the allowed lateness: reported by the zone's backlog check
            if hour > last_hour:
                not_yet_partitioned.append(info.key)
                continue
            if hour < first_hour:
                invalid.append(info.key)
                if log:
                    log.warning(f"{zone.name}: skipped {info.key[:200]!r}: hour before the first partition")
                continue
            new[info.key] = (info.etag, hour)
            if len(new) >= zone.max_objects_per_tick:
                break

    by_hour: dict[datetime, list[str]] = {}
    for key, (etag, hour) in new.items():
        by_hour.setdefault(hour, []).append(f"{key}@{etag}")
    requests = []
    for first, last in contiguous_ranges(list(by_hour)):
        objects = sorted(o for h, objs in by_hour.items() if first <= h <= last for o in objs)
        digest = hashlib.sha256("\n".join(objects).encode()).hexdigest()[:16]
        first_key, last_key = (h.strftime("%Y-%m-%d-%H:%M") for h in (first, last))
        tags = {"dataplatform/landing_zone": zone.name, "dataplatform/objects": str(len(objects))}
        if first == last:
            partition = {"partition_key": first_key}
        else:
            partition = {}
            tags |= {"dagster/asset_partition_range_start": first_key, "dagster/asset_partition_range_end": last_key}
        requests.append(
            dg.RunRequest(
                run_key=f"{zone.name}:{first_key}..{last_key}:{digest}",
                asset_selection=list(zone.targets),
                tags=tags,
                **partition,
            )
        )

    hours = [hour for _, hour in new.values()]
    new_watermark = max([h for h in (watermark, *hours) if h is not None], default=None)
    floor = new_watermark - zone.lateness if new_watermark else None
    seen.update({key: etag for key, (etag, _) in new.items()})
    seen = {key: etag for key, etag in seen.items() if floor is None or zone.parse_hour(key) >= floor}
    stats = {"listed": listed, "new": len(new), "invalid": len(invalid), "waiting": len(not_yet_partitioned)}
    return requests, dump_cursor(new_watermark, seen), stats


def arrival_sensor(zone: LandingZone) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{zone.name}_arrivals",
        description=f"Runs {', '.join(k.to_user_string() for k in zone.targets)} for the hours of new objects under "
        f"{zone.bucket}/{zone.prefix}.",
        asset_selection=list(zone.targets),
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={"lake"},
    )
    def _sensor(context: dg.SensorEvaluationContext):
        requests, cursor, stats = evaluate(zone, context.resources.lake, context.cursor, datetime.now(timezone.utc), context.log)
        context.log.info(f"{zone.name}: {stats}")
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return _sensor
