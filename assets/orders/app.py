"""The order application of `dataplatform produce orders`: inserts with the seed's payload
distribution, status updates, cancellations, deletes, and transactions that roll back, paced at
--rate operations a second for --seconds. Addresses come from faker, some with commas, quotes and
line breaks; postal codes keep their leading zeros.

Every committed operation is appended to a log (what the application believes it committed), so a
test can compare the stream with the database and with the application."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from faker import Faker

from dataplatform.outbox import utc_text
from dataplatform.resources.oltp import Database

# The seed's order document: ship methods, categories and their price ranges.
SHIP_METHODS = ("Ground", "2-Day", "Overnight", "Store pickup")
CATEGORIES = {"Books": (5, 60), "Electronics": (20, 1500), "Home": (10, 400), "Toys": (5, 120), "Grocery": (1, 40),
              "Apparel": (8, 200)}
MIX = (("insert", 0.55), ("update", 0.2), ("cancel", 0.08), ("delete", 0.05), ("rollback", 0.07), ("multi", 0.05))
NEXT_STATUS = {"placed": "paid", "paid": "shipped", "shipped": "delivered"}


class RolledBack(Exception):
    """Raised inside a transaction on purpose: its changes must leave no event."""


@dataclass
class Produced:
    committed: int = 0  # transactions
    changes: int = 0  # rows changed by committed transactions (= events the outbox must hold)
    rolled_back: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class OrderApplication:
    def __init__(self, db: Database, seed: int | None = None, log: Path | None = None):
        self.db, self.random, self.log = db, random.Random(seed), log
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.open: list[str] = []  # orders that exist and are not finished, for updates and deletes

    def _value(self, value):
        """The parameter for a timestamp or price in this database's column type."""
        if isinstance(value, datetime):
            return utc_text(value) if self.db.dialect == "sqlite" else value
        if isinstance(value, Decimal):
            return str(value) if self.db.dialect == "sqlite" else value
        return value

    def new_order(self) -> dict:
        category = self.random.choice(list(CATEGORIES))
        low, high = CATEGORIES[category]
        address = self.fake.street_address()
        roll = self.random.random()
        if roll < 0.1:
            address = f'{address}, {self.fake.secondary_address()}'  # a comma
        elif roll < 0.15:
            address = f'{address} "rear entrance"'  # quotes
        elif roll < 0.2:
            address = f"{address}\n{self.fake.secondary_address()}"  # a line break
        now = datetime.now(timezone.utc)
        return {
            "order_id": str(uuid.UUID(int=self.random.getrandbits(128), version=4)),
            "order_date": now, "ship_method": self.random.choice(SHIP_METHODS), "bill_address": address,
            "bill_city": self.fake.city(),
            # Leading zeros kept: about one in ten US ZIP codes starts with 0 (New England, NJ, PR).
            "bill_postal_code": self.random.choice([f"0{self.random.randint(1000, 9999)}", self.fake.postcode()]),
            "product_category": category,
            "unit_price": Decimal(self.random.randint(low * 100, high * 100)) / 100,
            "order_qty": self.random.choices((1, 2, 3, 4, 5, 10), weights=(60, 20, 8, 6, 4, 2))[0],
            "status": "placed", "updated_at": now,
        }

    def _insert(self, con, order: dict) -> None:
        columns = list(order)
        con.execute(f"INSERT INTO orders ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                    [self._value(order[c]) for c in columns])

    def _set_status(self, con, order_id: str, status: str) -> int:
        return con.execute("UPDATE orders SET status = ?, updated_at = ? WHERE order_id = ?",
                           (status, self._value(datetime.now(timezone.utc)), order_id)).rowcount

    def operation(self) -> tuple[str, int]:
        """One transaction of a randomly chosen kind: (kind, rows changed if it committed, else 0)."""
        kind = self.random.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        if kind in ("update", "cancel", "delete") and not self.open:
            kind = "insert"
        try:
            with self.db.transaction() as con:
                if kind == "insert":
                    order = self.new_order()
                    self._insert(con, order)
                    self.open.append(order["order_id"])
                    changed = 1
                elif kind == "multi":  # one customer's basket: several orders in one transaction
                    orders = [self.new_order() for _ in range(self.random.randint(2, 4))]
                    for order in orders:
                        self._insert(con, order)
                    self.open += [o["order_id"] for o in orders]
                    changed = len(orders)
                elif kind == "rollback":
                    order = self.new_order()
                    self._insert(con, order)
                    self._set_status(con, order["order_id"], "paid")
                    raise RolledBack
                else:
                    order_id = self.random.choice(self.open)
                    if kind == "delete":
                        changed = con.execute("DELETE FROM orders WHERE order_id = ?", (order_id,)).rowcount
                        self.open.remove(order_id)
                    else:
                        status = con.execute("SELECT status FROM orders WHERE order_id = ?", (order_id,)).fetchall()[0][0]
                        following = "cancelled" if kind == "cancel" else NEXT_STATUS.get(status, "delivered")
                        changed = self._set_status(con, order_id, following)
                        if following in ("cancelled", "delivered"):
                            self.open.remove(order_id)
        except RolledBack:
            return kind, 0
        if self.log:
            with open(self.log, "a") as handle:
                handle.write(json.dumps({"kind": kind, "changes": changed, "at": utc_text(datetime.now(timezone.utc))}) + "\n")
        return kind, changed

    def run(self, rate: float, seconds: float) -> Produced:
        """About `rate` transactions a second for `seconds` (as fast as the database allows if it cannot keep up)."""
        produced = Produced()
        for kind, changed in self._paced(rate, seconds):
            produced.by_kind[kind] = produced.by_kind.get(kind, 0) + 1
            if changed or kind != "rollback":
                produced.committed += 1
                produced.changes += changed
            else:
                produced.rolled_back += 1
        return produced

    def _paced(self, rate: float, seconds: float) -> Iterator[tuple[str, int]]:
        total = int(rate * seconds)
        started = time.monotonic()
        for n in range(total):
            due = started + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing an application's load, not synchronising a test
            yield self.operation()
