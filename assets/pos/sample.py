"""Synthetic franchise point-of-sale deliveries, for tests, demos and benchmarks.

`generate(lake, SampleSpec(...))` writes, per region (the first `regions` of pos_windows.yaml):
a store registry and an item master dated the first day, then for every store and business day
`deliveries_per_day` files in the store group's format (tdf, csv, jsonl) under
`pos/<region>/<store_id>/<YYYY-MM-DD>/<delivery_id>.<ext>`.

Stores are heavy-tailed (log-normal daily transaction counts), transactions follow the day's
time-of-day curve (a delivery holds the transactions since the previous one), each sale line
(type 4) has its tax line (5) and some a discount (6), ~2 % are refunds (negative sales) and
~1 % other codes (voids: counted, not summed). tdf files carry junk lines starting with '-'
and a few malformed lines. One delivery is sent twice under another delivery id (same content).

`missing` (store/date pairs) are not written; `only` writes nothing but those pairs (the late
deliveries of an earlier run's `missing`); `corrected` rewrites the first delivery of those
pairs with every sale 1.00 higher (a corrected re-delivery: same key, new content).
Deterministic: one spec gives byte-identical files.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from assets.pos.policy import ZONE, master_key, policy
from dataplatform.sampling import DIURNAL

BUCKET = ZONE.bucket
CATEGORIES = {
    "coffee": ["Espresso", "Latte", "Cappuccino", "Cold Brew", "Mocha"],
    "bakery": ["Croissant", "Bagel", "Muffin", "Scone", "Cinnamon Roll"],
    "sandwich": ["Club", "Caprese", "Reuben", "Veggie Wrap", "BLT"],
    "grocery": ["Milk 1L", "Eggs 12", "Orange Juice", "Granola", "Bananas"],
    "merchandise": ["Mug", "Tumbler", "Tote Bag", "Gift Card", "Coffee Beans 1kg"],
}
GROUP_WEIGHTS = {"seed_tdf": 5, "franchise_csv": 3, "franchise_jsonl": 2}
TAX_RATE = Decimal("0.08")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class SampleSpec:
    start: date
    days: int = 3
    regions: int = 2
    stores: int = 10  # per region
    deliveries_per_day: int = 3
    seed: int = 7
    missing: frozenset[tuple[str, date]] = frozenset()  # (store_id, business day) not delivered
    only: frozenset[tuple[str, date]] = frozenset()  # write just these (late deliveries)
    corrected: frozenset[tuple[str, date]] = frozenset()
    duplicate: bool = True
    mean_transactions: int = 60  # per store and day, before the heavy tail
    extra_stores: tuple[str, ...] = field(default=())  # delivering, but not in the registry

    def region_names(self) -> list[str]:
        names = list(policy().regions)
        if not 1 <= self.regions <= len(names):
            raise ValueError(f"--regions must be 1-{len(names)} (the regions of pos_windows.yaml)")
        return names[: self.regions]


def store_ids(spec: SampleSpec) -> list[str]:
    return [f"S{n:04d}" for n in range(1, spec.stores + 1)]


def _items(region: str, rng: random.Random) -> list[tuple[str, str, str, Decimal]]:
    items = []
    for category, names in CATEGORIES.items():
        for name in names:
            price = Decimal(rng.randint(150, 2500)) / 100 if category != "merchandise" else Decimal(rng.randint(900, 4900)) / 100
            items.append((f"I{len(items) + 1:04d}", name, category, price))
    return items


def _render(rows: list[tuple], fmt, rng: random.Random, batch: str) -> bytes:
    """rows: (vendor_id, amount text, type, item_id, day). `batch` names the delivery: two
    deliveries of a store never have the same content unless one repeats the other."""
    if fmt.kind == "tdf":
        lines = [f"{v}\t{a}\t{t}\t{i}\t{d}\t{rng.randint(1000, 9999)}\tPOS{rng.randint(1, 8)}" for v, a, t, i, d in rows]
        lines.insert(0, f"-------- BATCH {batch} --------")  # the seed's junk lines start with '-'
        if len(lines) > 1:
            lines.insert(rng.randrange(1, len(lines) + 1), "--")
        if rows and rng.random() < 0.3:
            lines.insert(rng.randrange(1, len(lines) + 1), f"V1\tN/A\t4\t{rows[0][3]}\t{rows[0][4]}")  # malformed amount
        return ("\n".join(lines) + "\n").encode()
    columns = dict(fmt.fields)
    if fmt.kind == "csv":
        order = ["BusinessDate", "SKU", "VendorNumber", "TxnType", "Amount", "Register"]
        out = [",".join(order)]
        for v, a, t, i, d in rows:
            values = {columns["vendor_id"]: v, columns["trans_amount"]: a, columns["trans_type"]: str(t),
                      columns["item_id"]: i, columns["trans_date"]: str(d), "Register": batch.replace(" ", "/")}
            out.append(",".join(values[c] for c in order))
        return ("\r\n".join(out) + "\r\n").encode()
    return "".join(
        json.dumps({columns["vendor_id"]: v, columns["trans_amount"]: a, columns["trans_type"]: t,
                    columns["item_id"]: i, columns["trans_date"]: str(d), "batch": batch}) + "\n"
        for v, a, t, i, d in rows
    ).encode()


def _day_rows(store_rng: random.Random, scale: float, items, day: date, mean: int) -> list[tuple[float, tuple]]:
    """(time of day in hours, row) for one store's business day."""
    count = max(1, int(store_rng.lognormvariate(0, 0.9) * mean * scale))
    hours = store_rng.choices(range(24), weights=DIURNAL, k=count)
    rows = []
    for hour in hours:
        at = hour + store_rng.random()
        item_id, _, _, price = store_rng.choice(items)
        vendor = f"V{store_rng.randint(1, 40):03d}"
        quantity = store_rng.choice((1, 1, 1, 2, 2, 3, 6))
        kind = store_rng.random()
        if kind < 0.01:
            rows.append((at, (vendor, "0.00", 9, item_id, day)))  # a void: counted, not summed
            continue
        sale = (price * quantity).quantize(CENT) * (-1 if kind < 0.03 else 1)  # ~2 % refunds
        rows.append((at, (vendor, str(sale), 4, item_id, day)))
        rows.append((at, (vendor, str((sale * TAX_RATE).quantize(CENT)), 5, item_id, day)))
        if store_rng.random() < 0.15:
            rows.append((at, (vendor, str((abs(sale) * Decimal("0.10")).quantize(CENT)), 6, item_id, day)))
    rows.sort(key=lambda r: r[0])
    return rows


def generate(lake, spec: SampleSpec) -> list:
    """Write the sample; returns the ObjectInfos written."""
    formats = policy().formats
    written = []
    days = [spec.start + timedelta(days=n) for n in range(spec.days)]
    for region in spec.region_names():
        rng = random.Random(f"{spec.seed}:{region}")
        items = _items(region, rng)
        stores = store_ids(spec)
        groups = {s: rng.choices(list(GROUP_WEIGHTS), weights=list(GROUP_WEIGHTS.values()))[0] for s in stores}
        scale = {s: rng.lognormvariate(0, 0.7) for s in (*stores, *spec.extra_stores)}
        if not spec.only:
            registry = "store_id,store_group,deliveries_per_day\n" + "".join(
                f"{s},{groups[s]},{spec.deliveries_per_day}\n" for s in stores)
            written.append(lake.put(BUCKET, master_key(region, "stores", spec.start), registry.encode()))
            master = "item_id,item_name,category,valid_from\n" + "".join(
                f"{i},{n},{c},{spec.start}\n" for i, n, c, _ in items)
            written.append(lake.put(BUCKET, master_key(region, "items", spec.start), master.encode()))
        duplicate_done = not spec.duplicate or bool(spec.only)
        for store in (*stores, *spec.extra_stores):
            fmt = formats[groups.get(store, "seed_tdf")]
            for day in days:
                store_rng = random.Random(f"{spec.seed}:{region}:{store}:{day}")
                rows = _day_rows(store_rng, scale[store], items, day, spec.mean_transactions)
                if (store, day) in spec.missing or (spec.only and (store, day) not in spec.only):
                    continue
                cuts = sorted(store_rng.uniform(6, 22) for _ in range(spec.deliveries_per_day - 1))
                bounds = [0.0, *cuts, 24.0]
                for number in range(spec.deliveries_per_day):
                    part = [row for at, row in rows if bounds[number] <= at < bounds[number + 1]]
                    if not part:  # a quiet spell still closes its batch: a void, counted, not summed
                        part = [(f"V{store_rng.randint(1, 40):03d}", "0.00", 9, items[0][0], day)]
                    if number == 0 and (store, day) in spec.corrected:
                        part = [(v, str(Decimal(a) + 1) if t == 4 else a, t, i, d) for v, a, t, i, d in part]
                    body = _render(part, fmt, store_rng, f"{store} {day} {number + 1}")
                    key = f"{ZONE.prefix}{region}/{store}/{day}/d{number + 1}-{day:%Y%m%d}.{fmt.extension}"
                    written.append(lake.put(BUCKET, key, body))
                    if not duplicate_done and part:
                        written.append(lake.put(BUCKET, key.replace(f"/d{number + 1}-", f"/d{number + 1}-resent-"), body))
                        duplicate_done = True
    return written
