"""A window's state: which required stores delivered what, whether it is complete or overdue, and
the digest of exactly what a load would read (its run key), from a listing of the lake.

The sensor and the window's load compute it the same way, so a load reads the deliveries its run
was requested for, or newer ones (then the next tick requests the window again under a new key).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from assets.pos.policy import ZONE, Region, Store, effective_master, parse_key, read_registry
from dataplatform.landing_zones import KeyRejected

ARRIVALS_TABLE = "pos_delivery_arrivals"  # key-value port: first time each delivery (key, ETag) was seen


@dataclass(frozen=True)
class Delivery:
    key: str
    etag: str
    store_id: str
    extension: str


@dataclass
class StoreState:
    store_id: str
    expected: int
    loaded: list[Delivery] = field(default_factory=list)  # distinct contents, first key of each
    duplicates: dict[str, str] = field(default_factory=dict)  # key -> key of the same content

    @property
    def missing(self) -> int:
        return max(self.expected - len(self.loaded), 0)


@dataclass
class WindowStatus:
    region: Region
    business_date: date
    registry_key: str | None
    items_key: str | None
    stores: dict[str, StoreState]
    unknown_stores: dict[str, list[str]]  # delivering stores the registry does not list -> keys
    misfiled: dict[str, str]  # key -> why (extension other than the store group's format)
    invalid: dict[str, str]  # key -> why (not matching the zone's pattern)
    digest: str
    registry_problem: str | None = None
    registry: dict[str, Store] = field(default_factory=dict)  # the store registry in effect
    master_etags: dict[str, str] = field(default_factory=dict)  # registry and item master key -> ETag

    @property
    def complete(self) -> bool:
        return self.registry_key is not None and self.registry_problem is None and not any(s.missing for s in self.stores.values())

    def missing_stores(self) -> list[str]:
        return sorted(s.store_id for s in self.stores.values() if s.missing)

    def overdue(self, now: datetime) -> bool:
        return not self.complete and now >= self.region.deadline(self.business_date)

    def ready(self, now: datetime) -> bool:
        """Loaded (and aggregated) now: complete, or past the deadline where the region says so."""
        return self.complete or (self.overdue(now) and self.region.aggregate_partial and self.registry_problem is None
                                 and self.registry_key is not None)

    def deliveries(self) -> list[Delivery]:
        return [d for s in sorted(self.stores.values(), key=lambda s: s.store_id) for d in s.loaded]

    def objects_read(self) -> dict[str, str]:
        """key -> ETag of everything a load of the window reads or accounts for: its deliveries,
        their duplicates (the same content, so the same ETag) and the masters in effect."""
        etags = {d.key: d.etag for d in self.deliveries()}
        duplicates = {k: etags[original] for s in self.stores.values() for k, original in s.duplicates.items()}
        return {**etags, **duplicates, **self.master_etags}


@dataclass
class RegionListing:
    """One region's objects: deliveries by business day, its dated masters, and invalid keys."""

    deliveries: dict[date, list] = field(default_factory=lambda: defaultdict(list))  # day -> ObjectInfo
    masters: dict[str, list] = field(default_factory=lambda: defaultdict(list))  # items|stores -> ObjectInfo
    invalid: dict[str, str] = field(default_factory=dict)
    registries: dict[str, tuple] = field(default_factory=dict)  # registry key -> parsed, read once per listing


def list_region(lake, region: str, days: list[date] | None) -> RegionListing:
    """The region's masters, and its deliveries of `days` (None: every day). One listing per store
    and day, so a tick's cost follows the open days, not the zone's history."""
    out = RegionListing()
    base = f"{ZONE.prefix}{region}/"
    masters = {f"{base}{master}/": master for master in ("items", "stores")}
    prefixes, loose = lake.list_level(ZONE.bucket, base, "/")  # stores' folders, masters', and strays
    listings = [loose, *(lake.list(ZONE.bucket, prefix=p) for p in masters)]
    for prefix in (p for p in prefixes if p not in masters):
        if days is None:
            listings.append(lake.list(ZONE.bucket, prefix=prefix))
        else:
            listings += [lake.list(ZONE.bucket, prefix=f"{prefix}{day.isoformat()}/") for day in days]
    for info in (info for listing in listings for info in listing):
        try:
            landed = parse_key(info.key)
        except KeyRejected as error:
            out.invalid[info.key] = str(error)
            continue
        if landed.master:
            out.masters[landed.master].append(info)
        else:
            out.deliveries[landed.business_date].append(info)
    return out


def _registry(lake, region: Region, listing: RegionListing, business_date: date) -> tuple[str | None, dict[str, Store], str | None, str]:
    key = effective_master([i.key for i in listing.masters["stores"]], business_date)
    if key is None:
        return None, {}, f"no store registry dated on or before {business_date}", ""
    if key not in listing.registries:  # the open days of a region mostly share one registry
        etag = next(i.etag for i in listing.masters["stores"] if i.key == key)
        try:
            listing.registries[key] = (key, read_registry(lake.get(ZONE.bucket, key), region), None, etag)
        except (ValueError, UnicodeDecodeError) as error:
            listing.registries[key] = (key, {}, f"{key}: {error}", etag)
    return listing.registries[key]


def window_status(lake, region: Region, business_date: date, listing: RegionListing) -> WindowStatus:
    registry_key, stores, problem, registry_etag = _registry(lake, region, listing, business_date)
    items_key = effective_master([i.key for i in listing.masters["items"]], business_date)
    items_etag = next((i.etag for i in listing.masters["items"] if i.key == items_key), "")
    states = {s.store_id: StoreState(s.store_id, s.deliveries_per_day) for s in stores.values()}
    unknown: dict[str, list[str]] = defaultdict(list)
    misfiled: dict[str, str] = {}
    seen: dict[tuple[str, str], str] = {}
    for info in sorted(listing.deliveries.get(business_date, []), key=lambda i: i.key):
        landed = parse_key(info.key)
        store = stores.get(landed.store_id)
        if store is None:
            unknown[landed.store_id].append(info.key)
            continue
        if landed.extension != store.format.extension:
            misfiled[info.key] = f"store group {store.format.name} delivers .{store.format.extension} files"
            continue
        first = seen.setdefault((landed.store_id, info.etag), info.key)
        if first != info.key:
            states[landed.store_id].duplicates[info.key] = first
        else:
            states[landed.store_id].loaded.append(Delivery(info.key, info.etag, landed.store_id, landed.extension))
    content = {
        "registry": f"{registry_key}@{registry_etag}", "items": f"{items_key}@{items_etag}",
        "deliveries": [f"{d.key}@{d.etag}" for s in sorted(states) for d in states[s].loaded],
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    masters = {k: e for k, e in ((registry_key, registry_etag), (items_key, items_etag)) if k}
    return WindowStatus(region, business_date, registry_key, items_key, states, dict(unknown), misfiled,
                        listing.invalid, digest, problem, stores, masters)


def first_seen(kv, status: WindowStatus, now: datetime) -> dict[str, datetime]:
    """When each of the window's deliveries (key at its current ETag) was first seen; records the
    new ones now (conditional write: two evaluations at once keep the earlier time)."""
    from dataplatform.resources.kv import ConditionFailed

    kv.ensure_table(ARRIVALS_TABLE)
    key = f"{status.region.name}|{status.business_date.isoformat()}"
    current = {d.key: d.etag for d in status.deliveries()}
    current |= {k: "" for s in status.stores.values() for k in s.duplicates}
    for _ in range(5):
        item = kv.get(ARRIVALS_TABLE, key)
        seen = json.loads(item["seen"]) if item else {}
        new = {k: [etag, now.isoformat()] for k, etag in current.items() if k not in seen or (etag and seen[k][0] != etag)}
        if not new:
            break
        try:
            kv.put(ARRIVALS_TABLE, key, {"seen": json.dumps({**seen, **new}, sort_keys=True)},
                   expected_version=item["version"] if item else None)
            seen = {**seen, **new}
            break
        except ConditionFailed:
            continue
    return {k: datetime.fromisoformat(v[1]) for k, v in seen.items() if k in current}
