"""Key-value port: versioned items with conditional writes.
`local` = a SQLite file, `aws` = DynamoDB (one table per logical table, hash key `pk`).

Exactly-once values rest on the conditional write: a writer reads an item's version and puts
the value it computed only if nobody wrote in between, so a retry, a redelivery or a second
writer cannot apply an increment twice (the seed's blind `ADD` could).

Item attributes are `str -> int | float | str`. Reserved names:
  * `version` - maintained by the store (1 on create, +1 on every successful write); `get`
    returns it, `put` ignores it in the item it is given;
  * `pk` - the key itself on DynamoDB, not allowed as an attribute.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

Value = int | float | str

VERSION = "version"
_KEY_ATTR = "pk"
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
# DynamoDB numbers keep at most 38 significant digits.
_MAX_NUMBER = 10**38


class ConditionFailed(Exception):
    """A conditional write found a different version than the caller expected."""


def _check_table(table: str) -> None:
    if not _TABLE_NAME.match(table):
        raise ValueError(f"invalid table name {table!r} (letters, digits, '_', '.', '-')")


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise ValueError(f"invalid key {key!r}: a non-empty string")


def _check_number(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"attribute {name!r}: {value!r} is not an int or float")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"attribute {name!r}: {value!r} is not finite")
    if isinstance(value, int) and abs(value) >= _MAX_NUMBER:
        raise ValueError(f"attribute {name!r}: {value} has more than 38 digits")
    if isinstance(value, float) and value and not 1e-130 <= abs(value) < 1e126:
        raise ValueError(f"attribute {name!r}: {value!r} is outside DynamoDB's number range")


def _normalise_item(item: Mapping[str, Value]) -> dict[str, Value]:
    """The attributes `put` stores (without `version`), validated the same way for both adapters."""
    clean: dict[str, Value] = {}
    for name, value in item.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"invalid attribute name {name!r}")
        if name == VERSION:
            continue  # the store owns it; a read-modify-write hands back what `get` returned
        if name == _KEY_ATTR:
            raise ValueError(f"attribute name {_KEY_ATTR!r} is reserved for the key")
        if not isinstance(value, str):
            _check_number(name, value)
        clean[name] = value
    return clean


def _integral(value: Value) -> Value:
    """Both adapters return integral numbers as int (DynamoDB cannot tell 1.0 from 1)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class KeyValueStore(ABC):
    @abstractmethod
    def ensure_table(self, table: str) -> None:
        """Create the table if it does not exist (idempotent). Other calls on a missing table raise LookupError."""

    @abstractmethod
    def get(self, table: str, key: str) -> dict | None:
        """The item's attributes including `version`, or None."""

    @abstractmethod
    def put(self, table: str, key: str, item: Mapping[str, Value], *, expected_version: int | None) -> int:
        """Replace the whole item if its stored version is `expected_version` (None: it must not exist).
        Returns the new version; raises ConditionFailed otherwise, leaving the item unchanged."""

    @abstractmethod
    def scan(self, table: str, prefix: str = "") -> list[tuple[str, dict]]:
        """(key, item) for keys starting with `prefix`, sorted by key."""


class SqliteKeyValueStore(KeyValueStore):
    """Items as JSON per (table, key) with a version column. Writes run in BEGIN IMMEDIATE
    transactions, so a check-and-write is atomic across threads and processes (WAL + busy timeout)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(self._connect()) as con:
            con.executescript(
                """
                create table if not exists kv_tables (name text primary key);
                create table if not exists kv_items (
                    tbl text not null, key text not null, version integer not null, item text not null,
                    primary key (tbl, key));
                """
            )

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        con.execute("pragma journal_mode=wal")
        return con

    @staticmethod
    def _require(con: sqlite3.Connection, table: str) -> None:
        if con.execute("select 1 from kv_tables where name = ?", (table,)).fetchone() is None:
            raise LookupError(f"table {table!r} does not exist")

    @staticmethod
    def _decode(version: int, text: str) -> dict:
        item = {name: _integral(value) for name, value in json.loads(text).items()}
        item[VERSION] = version
        return item

    def _write(self, table: str, key: str, change) -> object:
        """Run `change(current_version, current_item) -> (result, new_item | None)` in one write transaction."""
        con = self._connect()
        try:
            con.execute("begin immediate")
            try:
                self._require(con, table)
                row = con.execute("select version, item from kv_items where tbl = ? and key = ?", (table, key)).fetchone()
                version, current = (row[0], json.loads(row[1])) if row else (None, None)
                result, new_item = change(version, current)
                if new_item is not None:
                    con.execute(
                        "insert into kv_items values (?, ?, ?, ?) on conflict do update"
                        " set version = excluded.version, item = excluded.item",
                        (table, key, (version or 0) + 1, json.dumps(new_item)),
                    )
                con.execute("commit")
                return result
            except BaseException:
                con.execute("rollback")
                raise
        finally:
            con.close()

    def ensure_table(self, table: str) -> None:
        _check_table(table)
        with contextlib.closing(self._connect()) as con:
            con.execute("insert or ignore into kv_tables values (?)", (table,))

    def get(self, table: str, key: str) -> dict | None:
        _check_key(key)
        con = self._connect()
        try:
            self._require(con, table)
            row = con.execute("select version, item from kv_items where tbl = ? and key = ?", (table, key)).fetchone()
        finally:
            con.close()
        return None if row is None else self._decode(*row)

    def put(self, table: str, key: str, item: Mapping[str, Value], *, expected_version: int | None) -> int:
        _check_key(key)
        clean = _normalise_item(item)

        def change(version, _current):
            if version != expected_version:
                raise ConditionFailed(f"{table}/{key}: version is {version}, expected {expected_version}")
            return (version or 0) + 1, clean

        return self._write(table, key, change)

    def scan(self, table: str, prefix: str = "") -> list[tuple[str, dict]]:
        con = self._connect()
        try:
            self._require(con, table)
            rows = con.execute(
                "select key, version, item from kv_items where tbl = ? and substr(key, 1, ?) = ?",
                (table, len(prefix), prefix),
            ).fetchall()
        finally:
            con.close()
        return sorted(((key, self._decode(version, text)) for key, version, text in rows), key=lambda kv: kv[0])


class DynamoDbKeyValueStore(KeyValueStore):
    """One DynamoDB table per logical table, `<table_prefix><table>`, hash key `pk` (S).
    Conditional writes are single requests (PutItem / UpdateItem with a ConditionExpression),
    which DynamoDB applies atomically per item. Reads are strongly consistent."""

    def __init__(self, client, table_prefix: str = ""):
        self.client = client
        self.table_prefix = table_prefix

    def _table(self, table: str) -> str:
        _check_table(table)
        name = self.table_prefix + table
        if not 3 <= len(name) <= 255:
            raise ValueError(f"DynamoDB table name {name!r} must be 3-255 characters")
        return name

    def _call(self, operation: str, table: str, **kwargs):
        try:
            return getattr(self.client, operation)(**kwargs)
        except self.client.exceptions.ResourceNotFoundException as error:
            raise LookupError(f"table {table!r} does not exist") from error

    @staticmethod
    def _encode(name: str, value: Value) -> dict:
        if isinstance(value, str):
            return {"S": value}
        return {"N": repr(value) if isinstance(value, float) else str(value)}

    @staticmethod
    def _decode(raw: Mapping[str, dict]) -> dict:
        item = {}
        for name, typed in raw.items():
            if name == _KEY_ATTR:
                continue
            if "N" in typed:
                number = Decimal(typed["N"])
                item[name] = int(number) if number == number.to_integral_value() else float(number)
            elif "S" in typed:
                item[name] = typed["S"]
            else:
                raise TypeError(f"unsupported DynamoDB attribute {name!r}: {typed!r}")
        return item

    def ensure_table(self, table: str) -> None:
        name = self._table(table)
        try:
            self.client.create_table(
                TableName=name,
                AttributeDefinitions=[{"AttributeName": _KEY_ATTR, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": _KEY_ATTR, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except self.client.exceptions.ResourceInUseException:
            pass  # exists, or another caller is creating it: wait below either way
        self.client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})

    def get(self, table: str, key: str) -> dict | None:
        _check_key(key)
        response = self._call(
            "get_item", table, TableName=self._table(table), Key={_KEY_ATTR: {"S": key}}, ConsistentRead=True
        )
        return self._decode(response["Item"]) if "Item" in response else None

    def put(self, table: str, key: str, item: Mapping[str, Value], *, expected_version: int | None) -> int:
        _check_key(key)
        clean = _normalise_item(item)
        new_version = (expected_version or 0) + 1
        attributes = {name: self._encode(name, value) for name, value in clean.items()}
        attributes[_KEY_ATTR] = {"S": key}
        attributes[VERSION] = {"N": str(new_version)}
        condition: dict = {"ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": _KEY_ATTR}}
        if expected_version is not None:
            condition = {
                "ConditionExpression": "#v = :v",
                "ExpressionAttributeNames": {"#v": VERSION},
                "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
            }
        try:
            self._call("put_item", table, TableName=self._table(table), Item=attributes, **condition)
        except self.client.exceptions.ConditionalCheckFailedException as error:
            raise ConditionFailed(f"{table}/{key}: version is not {expected_version}") from error
        return new_version

    def scan(self, table: str, prefix: str = "") -> list[tuple[str, dict]]:
        kwargs: dict = {"TableName": self._table(table), "ConsistentRead": True}
        if prefix:
            kwargs.update(
                FilterExpression="begins_with(#pk, :prefix)",
                ExpressionAttributeNames={"#pk": _KEY_ATTR},
                ExpressionAttributeValues={":prefix": {"S": prefix}},
            )
        found = []
        try:
            for page in self.client.get_paginator("scan").paginate(**kwargs):
                found.extend((raw[_KEY_ATTR]["S"], self._decode(raw)) for raw in page.get("Items", []))
        except self.client.exceptions.ResourceNotFoundException as error:
            raise LookupError(f"table {table!r} does not exist") from error
        return sorted(found, key=lambda kv: kv[0])
