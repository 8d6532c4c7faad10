"""The one path by which hourly raw partitions appear in (and disappear from) the lake and
the catalog, for every landing zone.

Publishing uploads the partition's file first (an atomic PUT or rename) and registers the
partition after, so readers never see half a partition; registering twice is a no-op.
Dropping unregisters first, then deletes the files, so readers never see a registered
partition without data.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dataplatform import faults
from dataplatform.resources.catalog import Partition, Table, TableCatalog
from dataplatform.resources.lake import ObjectStore

HIVE_PARTITION_KEYS = (("dt", "string"), ("hour", "string"))
PART_FILE = "part-00000.parquet"


def hive_values(hour: datetime) -> Partition:
    return (f"{hour:%Y-%m-%d}", f"{hour:%H}")


def hive_path(hour: datetime) -> str:
    dt, hh = hive_values(hour)
    return f"dt={dt}/hour={hh}"


def table_prefix(lake: ObjectStore, bucket: str, table: Table) -> str:
    """The key prefix of a table's data inside `bucket`, derived from its catalog location."""
    root = lake.uri(bucket, "")
    if not table.location.startswith(root):
        raise ValueError(f"{table.database}.{table.name} is located outside {bucket}: {table.location}")
    return table.location[len(root) :].strip("/")


def publish_partition(
    lake: ObjectStore, catalog: TableCatalog, table: Table, bucket: str, hour: datetime, local_file: Path,
    file_name: str = PART_FILE,
) -> None:
    """`file_name`: several writers share a partition when each owns a file of it (e.g. one per region)."""
    lake.upload(local_file, bucket, f"{table_prefix(lake, bucket, table)}/{hive_path(hour)}/{file_name}")
    faults.point("raw.between_publish_and_registration")
    catalog.register_partitions(table.database, table.name, [hive_values(hour)])


def drop_partition(lake: ObjectStore, catalog: TableCatalog, table: Table, bucket: str, values: Partition) -> list[str]:
    """Unregister, then delete every object of the partition. Returns the deleted keys."""
    dt, hh = values
    prefix = f"{table_prefix(lake, bucket, table)}/dt={dt}/hour={hh}/"
    catalog.drop_partitions(table.database, table.name, [values])
    keys = [info.key for info in lake.list(bucket, prefix=prefix)]
    for key in keys:
        lake.delete(bucket, key)
    return keys
