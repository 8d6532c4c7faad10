"""The TableCatalog contract: every test runs against LocalCatalog (SQLite) and GlueCatalog (moto)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from dataplatform.resources.catalog import Table

COLUMNS = (("ts", "timestamp"), ("sc_bytes", "bigint"))
PARTITION_KEYS = (("dt", "string"), ("hour", "string"))


def hours(count: int, start: datetime = datetime(2026, 1, 1)) -> list[tuple[str, str]]:
    moments = (start + timedelta(hours=i) for i in range(count))
    return [(m.strftime("%Y-%m-%d"), m.strftime("%H")) for m in moments]


@pytest.fixture
def table(catalog, database, table_location) -> Table:
    """A registered, partitioned Parquet table in a fresh database."""
    spec = Table(database, "cloudfront_logs", COLUMNS, PARTITION_KEYS, table_location)
    catalog.ensure_database(database)
    catalog.ensure_table(spec)
    return spec


def test_ensure_database_is_idempotent(catalog, database, table_location):
    catalog.ensure_database(database)
    catalog.ensure_database(database)
    catalog.ensure_table(Table(database, "t", COLUMNS, PARTITION_KEYS, table_location))
    assert catalog.get_table(database, "t") is not None


def test_ensure_table_creates_then_updates(catalog, table):
    found = catalog.get_table(table.database, table.name)
    assert (found.database, found.name) == (table.database, table.name)
    assert found.columns == COLUMNS
    assert found.partition_keys == PARTITION_KEYS
    assert found.location == table.location

    wider = COLUMNS + (("cs_host", "string"),)
    moved = table.location.rstrip("/") + "_v2/"
    catalog.ensure_table(Table(table.database, table.name, wider, PARTITION_KEYS, moved))
    found = catalog.get_table(table.database, table.name)
    assert (found.columns, found.partition_keys, found.location) == (wider, PARTITION_KEYS, moved)


def test_table_parameters_round_trip(catalog, database, table_location):
    spec = Table(database, "t", COLUMNS, PARTITION_KEYS, table_location, {"owner": "platform", "compression": "zstd"})
    catalog.ensure_database(database)
    catalog.ensure_table(spec)
    assert catalog.get_table(database, "t") == spec


def test_get_missing_table_returns_none(catalog, table):
    assert catalog.get_table(table.database, "no_such_table") is None
    assert catalog.get_table(table.database + "_missing", table.name) is None


def test_ensure_table_in_missing_database_raises_lookup_error(catalog, database, table_location):
    with pytest.raises(LookupError):
        catalog.ensure_table(Table(database, "t", COLUMNS, PARTITION_KEYS, table_location))
    catalog.ensure_database(database)
    assert catalog.get_table(database, "t") is None


def test_register_partitions_is_idempotent(catalog, table):
    db, name = table.database, table.name
    assert catalog.list_partitions(db, name) == []
    first, second, third = hours(3)
    assert catalog.register_partitions(db, name, [second, first]) == 2
    assert catalog.register_partitions(db, name, [first, second]) == 0
    assert catalog.register_partitions(db, name, [first, third, second]) == 1
    assert catalog.register_partitions(db, name, []) == 0
    assert catalog.list_partitions(db, name) == [first, second, third]


def test_list_partitions_is_sorted_tuples(catalog, table):
    partitions = hours(30)
    catalog.register_partitions(table.database, table.name, list(reversed(partitions)))
    listed = catalog.list_partitions(table.database, table.name)
    assert listed == sorted(partitions)
    assert all(type(p) is tuple for p in listed)


def test_register_on_missing_table_raises_lookup_error(catalog, table):
    with pytest.raises(LookupError):
        catalog.register_partitions(table.database, "no_such_table", hours(1))
    with pytest.raises(LookupError):
        catalog.list_partitions(table.database, "no_such_table")
    with pytest.raises(LookupError):
        catalog.drop_partitions(table.database, "no_such_table", hours(1))


def test_register_more_than_one_batch(catalog, table):
    partitions = hours(150)
    assert catalog.register_partitions(table.database, table.name, partitions) == 150
    assert catalog.list_partitions(table.database, table.name) == partitions
    assert catalog.register_partitions(table.database, table.name, hours(160)) == 10
    assert len(catalog.list_partitions(table.database, table.name)) == 160


def test_drop_partitions(catalog, table):
    db, name = table.database, table.name
    partitions = hours(40)
    catalog.register_partitions(db, name, partitions)
    doomed = partitions[5:35]  # more than one Glue delete batch (25)
    assert catalog.drop_partitions(db, name, doomed) == len(doomed)
    assert catalog.list_partitions(db, name) == partitions[:5] + partitions[35:]
    assert catalog.drop_partitions(db, name, doomed) == 0
    assert catalog.drop_partitions(db, name, [("2030-01-01", "00")]) == 0
    assert catalog.drop_partitions(db, name, [partitions[0], ("2030-01-01", "00")]) == 1
    assert catalog.list_partitions(db, name) == partitions[1:5] + partitions[35:]
    # A dropped partition can be registered again.
    assert catalog.register_partitions(db, name, doomed[:2]) == 2


def test_concurrent_registration_creates_each_partition_once(catalog, table):
    partitions = hours(60)
    # Overlapping, differently ordered requests for the same partitions.
    requests = [partitions, partitions[::-1], partitions[::2] + partitions[1::2], partitions[20:] + partitions[:20]]
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        counts = list(pool.map(lambda batch: catalog.register_partitions(table.database, table.name, batch), requests))
    assert sum(counts) == len(partitions)
    assert catalog.list_partitions(table.database, table.name) == partitions
