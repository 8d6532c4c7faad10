"""One arrival sensor per landing zone, built from policy (platform/policies/landing_zones.yaml):
the fast path to the raw hours. Whatever it misses (an hour older than its lateness window, a
run that failed) the zone's reconciliation sensor finds (sensors/reconciliation.py).

In `aws` the arrivals come from the zone's S3 event queue (dataplatform/resources/arrivals.py).
Locally, from a listing: the cursor keeps a watermark (the newest hour seen), the keys + ETags seen within the
allowed lateness, and the keys already reported as invalid. Each tick lists, per group
(e.g. per distribution), only keys at or after the hour prefix of watermark - lateness
(S3 `StartAfter`), so its cost follows recent deliveries, not everything ever delivered.
New or changed objects are grouped by the hour in their name; each contiguous run of hours
becomes one run over that partition range, keyed by the objects' keys and ETags so a
replayed tick never launches a duplicate run. Keys that do not match the zone's pattern are
never run: they are logged and recorded on the landing asset (visible in the UI).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import dagster as dg

from dataplatform.automation import WRITER_TAG
from dataplatform.landing_zones import KeyRejected, LandingZone
from dataplatform.partitions import HOUR_KEY_FORMAT, hourly
from dataplatform.run_attempts import run_state

HOUR = timedelta(hours=1)
CURSOR_HOUR_FORMAT = "%Y-%m-%d-%H"
MAX_OBJECTS_PER_TICK = 5000
MAX_MESSAGES_PER_TICK = 500  # their receipts wait in the cursor until the next tick
MAX_REPORTED_KEYS = 1000


def load_cursor(raw: str | None) -> tuple[datetime | None, dict[str, str], dict[str, str]]:
    state = json.loads(raw) if raw else {}
    watermark = state.get("watermark")
    return (
        datetime.strptime(watermark, CURSOR_HOUR_FORMAT).replace(tzinfo=timezone.utc) if watermark else None,
        state.get("seen", {}),
        state.get("rejected", {}),
    )


def dump_cursor(watermark: datetime | None, seen: dict[str, str], rejected: dict[str, str]) -> str:
    return json.dumps(
        {
            "watermark": watermark.strftime(CURSOR_HOUR_FORMAT) if watermark else None,
            "seen": dict(sorted(seen.items())),
            "rejected": dict(sorted(rejected.items())[-MAX_REPORTED_KEYS:]),
        },
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


def objects_digest(objects: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(objects)).encode()).hexdigest()[:16]


def run_request(zone: LandingZone, first: datetime, last: datetime, objects: list[str], run_key: str | None = None) -> dg.RunRequest:
    """One run over the hours first..last of `objects` ("key@etag")."""
    first_key, last_key = (h.strftime(HOUR_KEY_FORMAT) for h in (first, last))
    tags = {
        "dataplatform/landing_zone": zone.name,
        "dataplatform/objects": str(len(objects)),
        WRITER_TAG: f"raw/{zone.name}",  # one run per zone at a time (instance tag concurrency limit)
    }
    partition = {"partition_key": first_key}
    if first != last:
        partition = {}
        tags |= {"dagster/asset_partition_range_start": first_key, "dagster/asset_partition_range_end": last_key}
    return dg.RunRequest(
        run_key=run_key or f"{zone.name}:{first_key}..{last_key}:{objects_digest(objects)}",
        asset_selection=[dg.AssetKey.from_user_string(t) for t in zone.targets],
        tags=tags,
        **partition,
    )


def _requests(zone: LandingZone, new: dict[str, tuple[str, datetime]]) -> list[dg.RunRequest]:
    """One run per contiguous range of the new objects' hours (key -> (etag, hour))."""
    by_hour: dict[datetime, list[str]] = {}
    for key, (etag, hour) in new.items():
        by_hour.setdefault(hour, []).append(f"{key}@{etag}")
    return [
        run_request(zone, first, last, [o for h, objs in by_hour.items() if first <= h <= last for o in objs])
        for first, last in contiguous_ranges(list(by_hour))
    ]


def _hour_bounds(now: datetime) -> tuple[datetime, datetime]:
    """(first partition hour, current hour): a key named for a later hour (clock skew) waits."""
    return hourly.start.astimezone(timezone.utc), now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)


def evaluate_queue(zone: LandingZone, queue, cursor: str | None, now: datetime, log=None) -> tuple[list[dg.RunRequest], str, dict]:
    """One tick from the zone's event queue (aws). The cursor holds the receipts of the previous
    tick's messages: its requests are recorded by now, so they are acknowledged first."""
    state = json.loads(cursor) if cursor else {}
    queue.acknowledge(state.get("acknowledge", []))
    received = queue.receive(MAX_MESSAGES_PER_TICK)
    first_hour, last_hour = _hour_bounds(now)
    new: dict[str, tuple[str, datetime]] = {}
    rejected, waiting = [], 0
    for arrival in received.arrivals:
        try:
            hour = zone.hour_of(arrival.key)
            if hour < first_hour:
                raise KeyRejected(f"hour {hour:%Y-%m-%d %H}:00 is before the first partition")
        except KeyRejected as error:
            rejected.append(arrival.key)
            if log:
                log.warning(f"{zone.name}: not processed {arrival.key[:200]!r}: {error}")
            continue
        if hour > last_hour:
            waiting += 1  # acknowledged: the reconciliation requests it once its hour exists
            continue
        new[arrival.key] = (arrival.etag, hour)
    stats = {"messages": len(received.receipts), "new": len(new), "rejected": len(rejected), "waiting": waiting}
    return _requests(zone, new), json.dumps({"acknowledge": received.receipts}), stats | {"rejected_keys": sorted(rejected)}


def evaluate(zone: LandingZone, lake, cursor: str | None, now: datetime, log=None) -> tuple[list[dg.RunRequest], str, dict]:
    """One tick, as a pure function of the lake's listing, the cursor and the clock."""
    watermark, seen, rejected = load_cursor(cursor)
    floor = (watermark - zone.lateness) if watermark else None
    first_hour, last_hour = _hour_bounds(now)

    listed, waiting, older = 0, 0, 0
    new: dict[str, tuple[str, datetime]] = {}
    newly_rejected: dict[str, str] = {}
    groups, stray = zone.list_groups(lake)
    listings = [stray] + [
        lake.list(zone.bucket, prefix=group, start_after=zone.hour_prefix(group, floor) if floor else "")
        for group in groups
    ]
    for info in (info for listing in listings for info in listing):
        listed += 1
        if seen.get(info.key) == info.etag or rejected.get(info.key) == info.etag:
            continue
        try:
            hour = zone.hour_of(info.key)
            if hour < first_hour:
                raise KeyRejected(f"hour {hour:%Y-%m-%d %H}:00 is before the first partition")
        except KeyRejected as error:
            newly_rejected[info.key] = info.etag
            if log:
                log.warning(f"{zone.name}: not processed {info.key[:200]!r}: {error}")
            continue
        if floor and hour < floor:
            older += 1  # later than the allowed lateness: left to the zone's reconciliation
            continue
        if hour > last_hour:
            waiting += 1
            continue
        new[info.key] = (info.etag, hour)
        if len(new) >= MAX_OBJECTS_PER_TICK:
            break

    requests = _requests(zone, new)

    new_watermark = max([h for h in (watermark, *(hour for _, hour in new.values())) if h is not None], default=None)
    new_floor = new_watermark - zone.lateness if new_watermark else None
    seen.update({key: etag for key, (etag, _) in new.items()})
    seen = {key: etag for key, etag in seen.items() if new_floor is None or zone.hour_of(key) >= new_floor}
    stats = {"listed": listed, "new": len(new), "rejected": len(newly_rejected), "waiting": waiting,
             "older_than_lateness": older}
    return requests, dump_cursor(new_watermark, seen, {**rejected, **newly_rejected}), stats | {
        "rejected_keys": sorted(newly_rejected)
    }


def arrival_sensor(zone: LandingZone) -> dg.SensorDefinition:
    landing_asset = dg.AssetKey.from_user_string(zone.landing_asset)

    @dg.sensor(
        name=f"{zone.name}_arrivals",
        description=f"Runs {', '.join(zone.targets)} for the hours of new objects under {zone.bucket}/{zone.prefix}.",
        asset_selection=[dg.AssetKey.from_user_string(t) for t in zone.targets],
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={"lake", "arrivals"},
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        queue, now = context.resources.arrivals.queue_for(zone.name), datetime.now(timezone.utc)
        if queue is None:
            requests, cursor, stats = evaluate(zone, context.resources.lake, context.cursor, now, context.log)
        else:
            requests, cursor, stats = evaluate_queue(zone, queue, context.cursor, now, context.log)
        # Launched already under this key by the zone's reconciliation (same objects, same key).
        requests = [r for r in requests if run_state(context.instance, r.run_key) is None]
        rejected_keys = stats.pop("rejected_keys")
        context.log.info(f"{zone.name}: {stats}")
        events = []
        if rejected_keys:
            # Shown on the landing asset in the UI: keys that were refused, never executed.
            events.append(
                dg.AssetObservation(
                    asset_key=landing_asset,
                    metadata={
                        "rejected_keys": dg.MetadataValue.json([k[:300] for k in rejected_keys[:100]]),
                        "rejected_count": len(rejected_keys),
                    },
                )
            )
        return dg.SensorResult(run_requests=requests, cursor=cursor, asset_events=events)

    return _sensor
