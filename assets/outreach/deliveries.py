"""Outreach deliveries in the landing zone: `outreach/<feed>/<delivery_id>/<file>`.

A feed with a manifest is complete once `manifest.json` (written last) lists every file of the
folder, each present with the listed size; the load then checks each file's sha256 and row count.
A feed with a daily cut-off has no manifest: the folder of day D (delivery id `D`) is complete at
the cut-off on D + 1, UTC. A delivery that is not complete waits and says why; nothing in it is
loaded. The fingerprint (every object's key and ETag) changes when anything is re-sent, so a
corrected delivery is loaded again, whole."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from assets.outreach.rules import Feed, RuleSet
from dataplatform.landing_zones import KeyRejected, zone

ZONE = zone("outreach")
MANIFEST = "manifest.json"
DATA_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz")


@dataclass(frozen=True)
class DeliveredFile:
    key: str
    size: int
    sha256: str | None = None  # from the manifest
    rows: int | None = None


@dataclass(frozen=True)
class Delivery:
    feed: str
    delivery_id: str
    day: date
    delivered_at: datetime
    files: tuple[DeliveredFile, ...]
    objects: dict[str, str] = field(default_factory=dict)  # key -> ETag, manifest included
    problems: tuple[str, ...] = ()  # why it waits; empty once complete

    @property
    def complete(self) -> bool:
        return not self.problems

    @property
    def partition_key(self) -> str:
        return self.delivery_id

    @property
    def fingerprint(self) -> str:
        state = "\n".join(f"{key}@{etag}" for key, etag in sorted(self.objects.items()))
        return hashlib.sha256(state.encode()).hexdigest()[:24]


def _manifest_files(data: bytes, prefix: str, feed: str, delivery_id: str) -> tuple[list[DeliveredFile], datetime]:
    document = json.loads(data)
    if document.get("feed") != feed or document.get("delivery_id") != delivery_id:
        raise ValueError(f"it is for {document.get('feed')}/{document.get('delivery_id')}, not {feed}/{delivery_id}")
    files = [DeliveredFile(prefix + f["name"], int(f["bytes"]), str(f["sha256"]), int(f["rows"])) for f in document["files"]]
    created = datetime.fromisoformat(document["created_at"].replace("Z", "+00:00"))
    return files, created.astimezone(timezone.utc)


def delivery(lake, feed: Feed, delivery_id: str, objects: list, now: datetime) -> Delivery:
    """The state of one delivery folder from its listing (and its manifest, if any)."""
    prefix = f"{ZONE.prefix}{feed.name}/{delivery_id}/"
    day = date.fromisoformat(delivery_id[:10])
    present = {info.key: info for info in objects}
    etags = {key: info.etag for key, info in present.items()}
    problems: list[str] = []
    unsupported = [k for k in present if not k.endswith(DATA_SUFFIXES) and k != prefix + MANIFEST]
    problems += [f"{k.rsplit('/', 1)[-1]} is not a .csv, .csv.gz, .jsonl or .jsonl.gz file" for k in unsupported]
    if feed.daily_cutoff is None:
        if prefix + MANIFEST not in present:
            problems.append(f"no {MANIFEST} yet ({len(present)} files)")
            return Delivery(feed.name, delivery_id, day, now, (), etags, tuple(problems))
        try:
            files, delivered_at = _manifest_files(lake.get(ZONE.bucket, prefix + MANIFEST), prefix, feed.name, delivery_id)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            problems.append(f"{MANIFEST} is not a valid manifest ({error})")
            return Delivery(feed.name, delivery_id, day, now, (), etags, tuple(problems))
        listed = {f.key for f in files}
        for f in files:
            if f.key not in present:
                problems.append(f"{f.key.rsplit('/', 1)[-1]} is listed in the manifest and missing")
            elif present[f.key].size != f.size:
                problems.append(f"{f.key.rsplit('/', 1)[-1]} has {present[f.key].size} bytes, the manifest says {f.size}")
        problems += [f"{k.rsplit('/', 1)[-1]} is not in the manifest" for k in sorted(present)
                     if k not in listed and k != prefix + MANIFEST and k not in unsupported]
    else:
        files = [DeliveredFile(k, info.size) for k, info in sorted(present.items()) if k not in unsupported]
        if len(delivery_id) != 10:
            problems.append(f"a {feed.name} delivery is a day folder (YYYY-MM-DD): the feed has a daily cut-off")
        delivered_at = datetime.combine(day + timedelta(days=1), feed.daily_cutoff, timezone.utc)
        if now < delivered_at:
            problems.append(f"waits for the cut-off at {delivered_at:%Y-%m-%d %H:%M} UTC")
    return Delivery(feed.name, delivery_id, day, delivered_at, tuple(files), etags, tuple(problems))


def list_deliveries(lake, rules: RuleSet, now: datetime, since: date | None = None) -> tuple[list[Delivery], list[str]]:
    """Every delivery of every feed (those of days from `since`), and what cannot be a delivery
    (unknown feeds, keys outside the pattern), each with its reason."""
    deliveries, strays = [], []
    feeds, loose = lake.list_level(ZONE.bucket, ZONE.prefix, "/")
    strays += [f"{info.key}: not in a feed folder" for info in loose]
    for feed_prefix in feeds:
        name = feed_prefix[len(ZONE.prefix):].rstrip("/")
        if name not in rules.feeds:
            strays.append(f"{feed_prefix}: unknown feed {name!r} (feeds: {', '.join(sorted(rules.feeds))})")
            continue
        folders, loose = lake.list_level(ZONE.bucket, feed_prefix, "/")
        strays += [f"{info.key}: not in a delivery folder" for info in loose]
        for folder in folders:
            delivery_id = folder[len(feed_prefix):].rstrip("/")
            try:
                day = date.fromisoformat(delivery_id[:10])
            except ValueError:
                strays.append(f"{folder}: a delivery id starts with its day, YYYY-MM-DD")
                continue
            if since is not None and day < since:
                continue
            objects = []
            for info in lake.list(ZONE.bucket, folder):
                try:
                    ZONE.parse(info.key)
                    objects.append(info)
                except KeyRejected as error:
                    strays.append(f"{info.key}: {error}")
            if objects:
                deliveries.append(delivery(lake, rules.feed(name), delivery_id, objects, now))
    return deliveries, strays
