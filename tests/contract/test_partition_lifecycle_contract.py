"""Publishing and retiring hourly partitions through lake + catalog, on both adapter pairs."""

from __future__ import annotations

import dataclasses
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from contract.conftest import aws_client
from dataplatform.lake_tables import HIVE_PARTITION_KEYS, hive_values, publish_partition
from dataplatform.landing_zones import zone
from dataplatform.resources.catalog import GlueCatalog, LocalCatalog, Table
from dataplatform.resources.lake import LocalObjectStore, S3ObjectStore
from dataplatform.retention import apply_retention

NOW = datetime(2026, 11, 26, 12, 30, tzinfo=timezone.utc)
HOURS = [NOW.replace(minute=0) - timedelta(days=d, hours=h) for d in (0, 5, 9, 12) for h in (0, 1)]


@pytest.fixture(params=["local", "aws"])
def lake_and_catalog(request, tmp_path):
    if request.param == "local":
        return LocalObjectStore(tmp_path / "lake"), LocalCatalog(tmp_path / "catalog.sqlite")
    endpoint = request.getfixturevalue("moto_endpoint")
    s3, prefix = aws_client("s3", endpoint), f"t{uuid.uuid4().hex[:12]}-"
    s3.create_bucket(Bucket=prefix + "raw")
    return S3ObjectStore(s3, bucket_prefix=prefix), GlueCatalog(aws_client("glue", endpoint))


@pytest.fixture
def table(lake_and_catalog):
    lake, catalog = lake_and_catalog
    database = f"db_{uuid.uuid4().hex[:12]}"
    catalog.ensure_database(database)
    table = Table(database, "events", (("n", "bigint"),), HIVE_PARTITION_KEYS, lake.uri("raw", "domain/events/"))
    catalog.ensure_table(table)
    return table


def parquet(tmp_path, n: int):
    path = tmp_path / f"{uuid.uuid4().hex}.parquet"
    pq.write_table(pa.table({"n": list(range(n))}), path)
    return path


def test_publish_is_idempotent_and_safe_under_concurrency(lake_and_catalog, table, tmp_path):
    lake, catalog = lake_and_catalog
    hour = HOURS[0]
    files = [parquet(tmp_path, 3) for _ in range(6)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda f: publish_partition(lake, catalog, table, "raw", hour, f), files))
    assert catalog.list_partitions(table.database, table.name) == [hive_values(hour)]
    keys = [info.key for info in lake.list("raw", prefix="domain/events/")]
    assert keys == [f"domain/events/dt={hour:%Y-%m-%d}/hour={hour:%H}/part-00000.parquet"]


def test_retention_drops_exactly_the_expired_partitions_and_is_idempotent(lake_and_catalog, table, tmp_path):
    lake, catalog = lake_and_catalog
    for hour in HOURS:
        publish_partition(lake, catalog, table, "raw", hour, parquet(tmp_path, 2))
    policy = dataclasses.replace(zone("cloudfront"), raw_bucket="raw", raw_tables=((table.database, table.name),),
                                 retention=timedelta(days=7))
    expired_hours = [h for h in HOURS if h < NOW - timedelta(days=7)]
    kept_hours = [h for h in HOURS if h not in expired_hours]

    planned = apply_retention(policy, lake, catalog, NOW, dry_run=True)
    assert sorted(p.partition for p in planned) == sorted(hive_values(h) for h in expired_hours)
    assert len(catalog.list_partitions(table.database, table.name)) == len(HOURS)  # dry run deletes nothing
    assert len(list(lake.list("raw", prefix="domain/events/"))) == len(HOURS)

    dropped = apply_retention(policy, lake, catalog, NOW, dry_run=False)
    assert [(p.partition, p.keys) for p in dropped] == [(p.partition, p.keys) for p in planned]
    assert all(len(p.keys) == 1 for p in dropped)
    assert catalog.list_partitions(table.database, table.name) == sorted(hive_values(h) for h in kept_hours)
    remaining = sorted(info.key for info in lake.list("raw", prefix="domain/events/"))
    assert remaining == sorted(f"domain/events/dt={h:%Y-%m-%d}/hour={h:%H}/part-00000.parquet" for h in kept_hours)

    assert apply_retention(policy, lake, catalog, NOW, dry_run=False) == []


def test_partition_is_registered_only_after_its_data_is_published(lake_and_catalog, table, tmp_path):
    lake, catalog = lake_and_catalog
    hour = HOURS[0]
    seen_at_registration = []
    register = catalog.register_partitions

    def observing_register(database, name, partitions):
        seen_at_registration.append(sorted(info.key for info in lake.list("raw", prefix="domain/events/")))
        return register(database, name, partitions)

    catalog.register_partitions = observing_register
    publish_partition(lake, catalog, table, "raw", hour, parquet(tmp_path, 5))
    assert seen_at_registration == [[f"domain/events/dt={hour:%Y-%m-%d}/hour={hour:%H}/part-00000.parquet"]]
