"""The point-of-sale windows' policy (platform/policies/pos_windows.yaml), the windows' partitions,
and the regions' dated masters in the landing zone (store registry, item master)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import cache

import dagster as dg

from dataplatform.governance.policies import load
from dataplatform.landing_zones import KeyRejected, zone

ZONE = zone("pos")
CANONICAL_FIELDS = ("vendor_id", "trans_amount", "trans_type", "item_id", "trans_date")
REGISTRY_COLUMNS = ("store_id", "store_group")  # then optionally deliveries_per_day


@dataclass(frozen=True)
class Format:
    name: str
    kind: str  # tdf | csv | jsonl
    extension: str
    fields: tuple[tuple[str, str | int], ...]  # canonical field -> column name (csv/jsonl) or position (tdf)
    junk_prefix: str | None = None


@dataclass(frozen=True)
class Region:
    name: str
    deliveries_per_day: int
    grace: timedelta
    aggregate_partial: bool  # at the deadline: aggregate what arrived (complete = false), or keep waiting

    def deadline(self, business_date: date) -> datetime:
        return datetime.combine(business_date + timedelta(days=1), time(), timezone.utc) + self.grace


@dataclass(frozen=True)
class Store:
    store_id: str
    format: Format
    deliveries_per_day: int


@dataclass(frozen=True)
class Policy:
    formats: dict[str, Format]
    regions: dict[str, Region]
    transaction_types: dict[int, str]
    notify_topic: str


@cache
def policy() -> Policy:
    spec = load("pos_windows")
    formats = {}
    for name, f in spec["formats"].items():
        fields = f["fields"]
        pairs = tuple((f, i) for i, f in enumerate(fields)) if isinstance(fields, list) else tuple(fields.items())
        if sorted(k for k, _ in pairs) != sorted(CANONICAL_FIELDS):
            raise ValueError(f"pos_windows.yaml: format {name} must map exactly {CANONICAL_FIELDS}")
        formats[name] = Format(name, f["kind"], f["extension"], pairs, f.get("junk_prefix"))
    regions = {}
    for name, r in spec["regions"].items():
        if r["at_deadline"] not in ("wait", "aggregate_partial"):
            raise ValueError(f"pos_windows.yaml: region {name}: at_deadline is wait or aggregate_partial")
        regions[name] = Region(name, int(r["deliveries_per_day"]), timedelta(hours=r["grace_hours"]),
                               r["at_deadline"] == "aggregate_partial")
    types = {int(code): kind for code, kind in spec["transaction_types"].items()}
    return Policy(formats, regions, types, spec["notify_topic"])


def first_day() -> str:
    return load("landing_zones")["first_hour"][:10]


# A window = (business day, region); Dagster orders dimensions by name: "2026-11-20|us-east".
windows = dg.MultiPartitionsDefinition({
    "business_date": dg.DailyPartitionsDefinition(start_date=first_day(), end_offset=1),
    "region": dg.StaticPartitionsDefinition(sorted(policy().regions)),
})


def window_key(region: str, business_date: date) -> str:
    return dg.MultiPartitionKey({"business_date": business_date.isoformat(), "region": region})


def window_of(partition_key: str) -> tuple[str, date]:
    day, region = partition_key.split("|")
    return region, date.fromisoformat(day)


@dataclass(frozen=True)
class LandedKey:
    """A validated key of the zone: a delivery, or a region's dated master."""

    key: str
    region: str
    business_date: date
    store_id: str | None  # None for masters
    master: str | None  # items | stores
    delivery_id: str | None
    extension: str | None


def parse_key(key: str) -> LandedKey:
    """KeyRejected for anything the zone's pattern does not match or a region the policy lacks."""
    day, groups = ZONE.parse(key)
    if groups["region"] not in policy().regions:
        raise KeyRejected(f"region {groups['region']!r} is not in pos_windows.yaml")
    return LandedKey(key, groups["region"], day.date(), groups["store_id"], groups["master"],
                     groups["delivery_id"], groups["ext"])


def master_key(region: str, master: str, day: date) -> str:
    return f"{ZONE.prefix}{region}/{master}/{day.isoformat()}.csv"


def effective_master(keys: list[str], business_date: date) -> str | None:
    """The newest dated master on or before the business day (keys of one region and kind)."""
    dated = sorted((parse_key(k).business_date, k) for k in keys)
    eligible = [k for day, k in dated if day <= business_date]
    return eligible[-1] if eligible else None


def read_registry(data: bytes, region: Region) -> dict[str, Store]:
    """A store registry file: store_id, store_group[, deliveries_per_day]. ValueError if unusable."""
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    if not rows or any(c not in rows[0] for c in REGISTRY_COLUMNS):
        raise ValueError(f"store registry needs columns {REGISTRY_COLUMNS}")
    stores = {}
    for number, row in enumerate(rows, start=2):
        group = policy().formats.get(row["store_group"])
        if group is None or not row["store_id"]:
            raise ValueError(f"store registry line {number}: unknown store group {row['store_group']!r} or empty store_id")
        per_day = row.get("deliveries_per_day") or region.deliveries_per_day
        stores[row["store_id"]] = Store(row["store_id"], group, int(per_day))
    return stores
