"""Partition lifecycle: drop raw partitions older than their landing zone's retention, from
the catalog and from storage. Idempotent (a second run finds nothing to drop) and with a
dry-run mode that only lists what would go."""


from dataclasses import dataclass
from datetime import datetime, timezone

import dagster as dg

from dataplatform.lake_tables import drop_partition, hive_path, table_prefix
from dataplatform.landing_zones import LandingZone, zones


@dataclass(frozen=True)
class Expired:
    table: str  # database.table
    partition: tuple[str, ...]
    keys: tuple[str, ...]  # objects deleted (or that would be, in a dry run)


def partition_hour(values: tuple[str, ...]) -> datetime:
    dt, hh = values
    return datetime.strptime(f"{dt} {hh}", "%Y-%m-%d %H").replace(tzinfo=timezone.utc)


def apply_retention(zone: LandingZone, lake, catalog, now: datetime, dry_run: bool) -> list[Expired]:
    cutoff = now.astimezone(timezone.utc) - zone.retention
    expired = []
    for database, name in zone.raw_tables:
        table = catalog.get_table(database, name)
        if table is None:
            continue  # nothing was ever ingested
        for values in catalog.list_partitions(database, name):
            if partition_hour(values) >= cutoff:
                continue
            if dry_run:
                prefix = f"{table_prefix(lake, zone.raw_bucket, table)}/{hive_path(partition_hour(values))}/"
                keys = [info.key for info in lake.list(zone.raw_bucket, prefix=prefix)]
            else:
                keys = drop_partition(lake, catalog, table, zone.raw_bucket, values)
            expired.append(Expired(f"{database}.{name}", tuple(values), tuple(keys)))
    return expired


class RetentionConfig(dg.Config):
    dry_run: bool = False


@dg.op(required_resource_keys={"lake", "catalog"})
def drop_expired_partitions(context: dg.OpExecutionContext, config: RetentionConfig) -> None:
    """For every landing zone, drop raw partitions older than its retention_days."""
    now = datetime.now(timezone.utc)
    verb = "would drop" if config.dry_run else "dropped"
    total = 0
    for zone in zones().values():
        for item in apply_retention(zone, context.resources.lake, context.resources.catalog, now, config.dry_run):
            total += 1
            context.log.info(
                f"{zone.name}: {verb} {item.table} partition {'/'.join(item.partition)} "
                f"({len(item.keys)} objects: {', '.join(item.keys)})"
            )
    context.log.info(f"{verb} {total} partitions")


@dg.job(description="Drop raw partitions older than each landing zone's retention (catalog and storage).")
def partition_retention():
    drop_expired_partitions()


retention_schedule = dg.ScheduleDefinition(
    job=partition_retention, cron_schedule="15 3 * * *", default_status=dg.DefaultScheduleStatus.RUNNING
)
