"""Every landing object is accounted for: the ledger of what each zone processed, and the
reconciliation of the whole zone against it.

A raw run records, per hour, the objects (key, ETag) it loaded and its run id, after the hour's
partitions are published and registered: an object is processed only once its rows are
readable. The ledger lives beside the raw data (`<raw bucket>/_ledger/<zone>/<hour>.json`,
S3 in `aws`), one small object per hour, rewritten whole by the run that re-processes the hour.

The reconciliation lists the zone and compares it with the ledger: an object that is not in
its hour's ledger with its current ETag is unprocessed (new, re-sent, or its run failed or was
killed); within retention it is to be processed (its hour re-opened); outside retention it is
reported, never loaded; a key that does not match the zone's pattern is reported too.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from dataplatform.landing_zones import KeyRejected, LandingZone
from dataplatform.partitions import HOUR_KEY_FORMAT, hourly

LEDGER_PREFIX = "_ledger"
MAX_LISTED_KEYS = 100  # in metadata shown in the UI


class Ledger:
    def __init__(self, lake, zone: LandingZone):
        self.lake, self.zone = lake, zone

    def _key(self, hour: datetime) -> str:
        return f"{LEDGER_PREFIX}/{self.zone.name}/{hour:%Y-%m-%d-%H}.json"

    def record(self, hour: datetime, objects: dict[str, str], run_id: str) -> None:
        body = {"hour": hour.strftime(HOUR_KEY_FORMAT), "run_id": run_id, "objects": dict(sorted(objects.items()))}
        self.lake.put(self.zone.raw_bucket, self._key(hour), json.dumps(body, separators=(",", ":")).encode())

    def merge(self, hour: datetime, objects: dict[str, str], run_id: str) -> None:
        """Add `objects` to the hour's record, keeping the others' (zones whose runs each process
        a part of an hour, e.g. one region's business day; runs of a zone are serialised)."""
        self.record(hour, {**self.processed(hour), **objects}, run_id)

    def forget(self, first: datetime, last: datetime) -> list[datetime]:
        """Drop the hours first..last from the ledger (a backfill): the reconciliation then
        processes their objects again, idempotently (each hour is rewritten whole)."""
        hours = []
        for info in self.lake.list(self.zone.raw_bucket, f"{LEDGER_PREFIX}/{self.zone.name}/"):
            hour = datetime.strptime(info.key.rsplit("/", 1)[-1], "%Y-%m-%d-%H.json").replace(tzinfo=timezone.utc)
            if first <= hour <= last:
                self.lake.delete(self.zone.raw_bucket, info.key)
                hours.append(hour)
        return hours

    def processed(self, hour: datetime) -> dict[str, str]:
        """key -> ETag of the objects loaded for `hour` (empty if the hour never was)."""
        try:
            return json.loads(self.lake.get(self.zone.raw_bucket, self._key(hour)))["objects"]
        except FileNotFoundError:
            return {}


@dataclass
class Reconciliation:
    listed: int = 0
    processed: int = 0
    unprocessed: dict[datetime, list[str]] = field(default_factory=dict)  # hour -> "key@etag", to process
    expired: list[str] = field(default_factory=list)  # unprocessed and outside retention: reported
    invalid: dict[str, str] = field(default_factory=dict)  # key -> why it is not a delivery of the zone
    future: int = 0  # named for an hour that has not begun (clock skew): waits

    @property
    def accounted_for(self) -> bool:
        return not (self.unprocessed or self.expired or self.invalid)

    def metadata(self) -> dict:
        unprocessed = [o.split("@", 1)[0] for objects in self.unprocessed.values() for o in objects]
        return {
            "objects_listed": self.listed,
            "objects_processed": self.processed,
            "objects_unprocessed": len(unprocessed),
            "unprocessed_hours": ", ".join(h.strftime(HOUR_KEY_FORMAT) for h in sorted(self.unprocessed)) or "none",
            "objects_outside_retention": len(self.expired),
            "objects_invalid": len(self.invalid),
            "objects_waiting_for_their_hour": self.future,
            "unprocessed_keys": sorted(unprocessed)[:MAX_LISTED_KEYS],
            "outside_retention_keys": sorted(self.expired)[:MAX_LISTED_KEYS],
            "invalid_keys": [f"{key[:300]}: {why}" for key, why in sorted(self.invalid.items())[:MAX_LISTED_KEYS]],
        }

    def description(self, zone: LandingZone) -> str:
        if self.accounted_for:
            return f"{zone.name}: all {self.processed} objects processed"
        parts = [
            f"{sum(map(len, self.unprocessed.values()))} unprocessed in {len(self.unprocessed)} hours (requested)" if self.unprocessed else "",
            f"{len(self.expired)} older than the {zone.retention.days}-day retention (not loaded)" if self.expired else "",
            f"{len(self.invalid)} not matching the zone's key pattern" if self.invalid else "",
        ]
        return f"{zone.name}: {self.processed} of {self.listed} objects processed; " + "; ".join(p for p in parts if p)


def reconcile(zone: LandingZone, lake, now: datetime) -> Reconciliation:
    """The whole zone against its ledger (one listing of the zone, one ledger read per hour)."""
    result = Reconciliation()
    current_hour = now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    first_hour = hourly.start.astimezone(timezone.utc)
    by_hour: dict[datetime, list] = defaultdict(list)
    for info in lake.list(zone.bucket, prefix=zone.prefix):
        result.listed += 1
        try:
            hour = zone.hour_of(info.key)
            if hour < first_hour:
                raise KeyRejected(f"hour {hour:%Y-%m-%d %H}:00 is before the first partition")
        except KeyRejected as error:
            result.invalid[info.key] = str(error)
            continue
        if hour > current_hour:
            result.future += 1
            continue
        by_hour[hour].append(info)
    ledger = Ledger(lake, zone)
    for hour, infos in sorted(by_hour.items()):
        done = ledger.processed(hour)
        pending = [f"{info.key}@{info.etag}" for info in infos if done.get(info.key) != info.etag]
        result.processed += len(infos) - len(pending)
        if not pending:
            continue
        if hour < current_hour - zone.retention:
            result.expired += [p.split("@", 1)[0] for p in pending]
        else:
            result.unprocessed[hour] = pending
    return result
