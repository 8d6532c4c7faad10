"""Table-catalog port: databases, external Parquet tables with Hive partition columns, and
their partitions. `local` = a SQLite registry next to the lake, `aws` = the Glue Data Catalog.

Registration is idempotent (an existing partition is a no-op) and callers register a
partition only after its files are published, so readers never see half a partition.
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Partition = tuple[str, ...]  # partition values, in the table's partition-key order


@dataclass(frozen=True)
class Table:
    database: str
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, Hive/Glue type)
    partition_keys: tuple[tuple[str, str], ...] = ()
    location: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict)


class TableCatalog(ABC):
    @abstractmethod
    def ensure_database(self, database: str) -> None: ...

    @abstractmethod
    def ensure_table(self, table: Table) -> None:
        """Create the table, or update its columns and location if it exists."""

    @abstractmethod
    def get_table(self, database: str, name: str) -> Table | None: ...

    @abstractmethod
    def register_partitions(self, database: str, name: str, partitions: Sequence[Partition]) -> int:
        """Register partitions (location = table location + Hive path). Returns how many were new."""

    @abstractmethod
    def list_partitions(self, database: str, name: str) -> list[Partition]: ...

    @abstractmethod
    def drop_partitions(self, database: str, name: str, partitions: Sequence[Partition]) -> int: ...


def partition_location(table: Table, values: Partition) -> str:
    path = "/".join(f"{key}={value}" for (key, _), value in zip(table.partition_keys, values, strict=True))
    return table.location.rstrip("/") + "/" + path + "/"


class LocalCatalog(TableCatalog):
    """A SQLite registry; WAL + a busy timeout make concurrent registrations safe."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(
                """
                create table if not exists databases (name text primary key);
                create table if not exists tables (
                    database text not null, name text not null, definition text not null,
                    primary key (database, name));
                create table if not exists partitions (
                    database text not null, name text not null, partition_values text not null,
                    location text not null, registered_at text not null default current_timestamp,
                    primary key (database, name, partition_values));
                """
            )

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        con.execute("pragma journal_mode=wal")
        return con

    def ensure_database(self, database: str) -> None:
        with self._connect() as con:
            con.execute("insert or ignore into databases values (?)", (database,))

    def ensure_table(self, table: Table) -> None:
        definition = json.dumps(
            {
                "columns": table.columns,
                "partition_keys": table.partition_keys,
                "location": table.location,
                "parameters": dict(table.parameters),
            }
        )
        with self._connect() as con:
            if con.execute("select 1 from databases where name = ?", (table.database,)).fetchone() is None:
                raise LookupError(f"database {table.database!r} does not exist")
            con.execute(
                "insert into tables values (?, ?, ?) on conflict do update set definition = excluded.definition",
                (table.database, table.name, definition),
            )

    def get_table(self, database: str, name: str) -> Table | None:
        with self._connect() as con:
            row = con.execute(
                "select definition from tables where database = ? and name = ?", (database, name)
            ).fetchone()
        if row is None:
            return None
        spec = json.loads(row[0])
        return Table(
            database,
            name,
            tuple(map(tuple, spec["columns"])),
            tuple(map(tuple, spec["partition_keys"])),
            spec["location"],
            spec["parameters"],
        )

    def _require(self, database: str, name: str) -> Table:
        table = self.get_table(database, name)
        if table is None:
            raise LookupError(f"table {database}.{name} does not exist")
        return table

    def register_partitions(self, database: str, name: str, partitions: Sequence[Partition]) -> int:
        table = self._require(database, name)
        with self._connect() as con:
            before = con.total_changes
            con.executemany(
                "insert or ignore into partitions (database, name, partition_values, location) values (?, ?, ?, ?)",
                [(database, name, json.dumps(list(p)), partition_location(table, p)) for p in partitions],
            )
            return con.total_changes - before

    def list_partitions(self, database: str, name: str) -> list[Partition]:
        self._require(database, name)
        with self._connect() as con:
            rows = con.execute(
                "select partition_values from partitions where database = ? and name = ? order by 1",
                (database, name),
            ).fetchall()
        return sorted(tuple(json.loads(r[0])) for r in rows)

    def drop_partitions(self, database: str, name: str, partitions: Sequence[Partition]) -> int:
        self._require(database, name)
        with self._connect() as con:
            before = con.total_changes
            con.executemany(
                "delete from partitions where database = ? and name = ? and partition_values = ?",
                [(database, name, json.dumps(list(p))) for p in partitions],
            )
            return con.total_changes - before


_PARQUET_SERDE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


class GlueCatalog(TableCatalog):
    """The Glue Data Catalog; partitions are created in batches of 100 (the API's limit)."""

    BATCH = 100

    def __init__(self, client, database_prefix: str = ""):
        self.client = client
        # The deployment's namespace: callers name `raw_vpc_flow`, Glue holds `<prefix>raw_vpc_flow`,
        # so two deployments in one account never share (or re-point) a table.
        self.database_prefix = database_prefix

    def _db(self, database: str) -> str:
        return self.database_prefix + database

    def ensure_database(self, database: str) -> None:
        try:
            self.client.create_database(DatabaseInput={"Name": self._db(database)})
        except self.client.exceptions.AlreadyExistsException:
            pass

    def _table_input(self, table: Table) -> dict:
        return {
            "Name": table.name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "parquet", "EXTERNAL": "TRUE", **table.parameters},
            "PartitionKeys": [{"Name": n, "Type": t} for n, t in table.partition_keys],
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in table.columns],
                "Location": table.location,
                **_PARQUET_SERDE,
            },
        }

    def ensure_table(self, table: Table) -> None:
        try:
            self.client.create_table(DatabaseName=self._db(table.database), TableInput=self._table_input(table))
        except self.client.exceptions.AlreadyExistsException:
            self.client.update_table(DatabaseName=self._db(table.database), TableInput=self._table_input(table))
        except self.client.exceptions.EntityNotFoundException as error:
            raise LookupError(f"database {table.database!r} does not exist") from error

    def get_table(self, database: str, name: str) -> Table | None:
        try:
            found = self.client.get_table(DatabaseName=self._db(database), Name=name)["Table"]
        except self.client.exceptions.EntityNotFoundException:
            return None
        descriptor = found["StorageDescriptor"]
        return Table(
            database,
            name,
            tuple((c["Name"], c["Type"]) for c in descriptor["Columns"]),
            tuple((c["Name"], c["Type"]) for c in found.get("PartitionKeys", [])),
            descriptor.get("Location", ""),
            {k: v for k, v in found.get("Parameters", {}).items() if k not in ("classification", "EXTERNAL")},
        )

    def _require(self, database: str, name: str) -> Table:
        table = self.get_table(database, name)
        if table is None:
            raise LookupError(f"table {database}.{name} does not exist")
        return table

    def register_partitions(self, database: str, name: str, partitions: Sequence[Partition]) -> int:
        table = self._require(database, name)
        created = 0
        for start in range(0, len(partitions), self.BATCH):
            batch = list(partitions[start : start + self.BATCH])
            inputs = [
                {
                    "Values": list(values),
                    "StorageDescriptor": {
                        "Columns": [{"Name": n, "Type": t} for n, t in table.columns],
                        "Location": partition_location(table, values),
                        **_PARQUET_SERDE,
                    },
                }
                for values in batch
            ]
            response = self.client.batch_create_partition(
                DatabaseName=self._db(database), TableName=name, PartitionInputList=inputs
            )
            errors = response.get("Errors", [])
            unexpected = [e for e in errors if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"]
            if unexpected:
                raise RuntimeError(f"Glue refused partitions of {database}.{name}: {unexpected}")
            created += len(batch) - len(errors)
        return created

    def list_partitions(self, database: str, name: str) -> list[Partition]:
        self._require(database, name)
        paginator = self.client.get_paginator("get_partitions")
        found = []
        for page in paginator.paginate(DatabaseName=self._db(database), TableName=name):
            found.extend(tuple(p["Values"]) for p in page["Partitions"])
        return sorted(found)

    def drop_partitions(self, database: str, name: str, partitions: Sequence[Partition]) -> int:
        existing = set(self.list_partitions(database, name))
        doomed = [p for p in partitions if tuple(p) in existing]
        for start in range(0, len(doomed), 25):  # batch_delete_partition takes 25 at a time
            self.client.batch_delete_partition(
                DatabaseName=self._db(database),
                TableName=name,
                PartitionsToDelete=[{"Values": list(p)} for p in doomed[start : start + 25]],
            )
        return len(doomed)
