"""What the warehouse holds now: the published tables, their row counts, headline KPIs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from dataplatform import domains, settings


def print_summary(console: Console) -> None:
    if settings.environment() != "local":
        console.print("summary reads the embedded warehouse; in aws query the marts in Athena.")
        return
    warehouses = domains.warehouses()  # the domains' published tables and headline KPIs
    if not any(warehouse.path().exists() for warehouse in warehouses):
        console.print(f"no warehouse yet at {settings.warehouse_path()}: run `dataplatform catch-up` first")
        return
    for warehouse in warehouses:
        if warehouse.path().exists():
            _print_warehouse(console, warehouse.path(), warehouse.schemas, warehouse.kpis)
    from dataplatform.environments import ports

    adapters = ports()
    _print_landing_zones(console, adapters["lake"])
    for summarise in domains.summaries():
        summarise(console, adapters)


def _print_warehouse(console: Console, path, schemas: tuple[str, ...], kpi_queries: Mapping[str, str]) -> None:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            f"where table_schema in ({', '.join(repr(s) for s in schemas)}) order by 1, 2"
        ).fetchall()
        built = Table(title=f"tables built in {path.name}")
        for column in ("table", "kind", "rows"):
            built.add_column(column, justify="right" if column == "rows" else "left")
        for schema, name, kind in tables:
            rows = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            built.add_row(f"{schema}.{name}", kind.lower(), f"{rows:,}")
        console.print(built)
        present = {f"{schema}.{name}" for schema, name, _ in tables}
        shown = {label: query for label, query in kpi_queries.items() if set(_tables_read(query, schemas)) <= present}
        if shown:
            kpis = Table(title="headline KPIs")
            kpis.add_column("KPI")
            kpis.add_column("value", justify="right")
            for label, query in shown.items():
                value = con.execute(query).fetchone()
                kpis.add_row(label, str(value[0]) if value else "-")
            console.print(kpis)


def _tables_read(query: str, schemas: tuple[str, ...]) -> list[str]:
    return re.findall(rf"\b(?:{'|'.join(schemas)})\.\w+", query)


def _print_landing_zones(console: Console, lake) -> None:
    """Per landing zone: every object accounted for (the reconciliation's verdict), and what
    loading rejected: lines (with a reason each) and whole files quarantined."""
    from datetime import datetime, timezone

    from dataplatform.landing_zones import zones
    from dataplatform.ledger import reconcile

    for zone in zones().values():
        result = reconcile(zone, lake, datetime.now(timezone.utc))
        # The zone's rejects tables (named *rejects): a row with a line or record number is a
        # rejected line or record, one without is a whole file quarantined.
        tables = [(database, table) for database, table in zone.raw_tables if table.endswith("rejects")]
        rejected = quarantined = 0
        for _database, table in tables:
            files = Path(lake.uri(zone.raw_bucket, f"{zone.domain}/{table}/"))
            if not any(files.rglob("*.parquet")):
                continue
            with duckdb.connect() as con:
                source = f"read_parquet('{files}/**/*.parquet', hive_partitioning = false, union_by_name = true)"
                columns = {row[0] for row in con.execute(f"select column_name from (describe select * from {source})").fetchall()}
                located = " or ".join(f"{c} is not null" for c in ("line_number", "record_number") if c in columns) or "false"
                lines, files_quarantined = con.execute(
                    f"select count(*) filter (where {located}), count(*) filter (where not ({located})) from {source}"
                ).fetchall()[0]
            rejected, quarantined = rejected + lines, quarantined + files_quarantined
        unprocessed = sum(map(len, result.unprocessed.values()))
        where = ", ".join(f"{database}.{table}" for database, table in tables)
        console.print(
            f"{zone.name} landing zone: {result.listed:,} objects, {result.processed:,} processed, "
            f"{_flag(unprocessed)} unprocessed, {_flag(len(result.expired))} outside retention, "
            f"{_flag(len(result.invalid))} with invalid keys; loading rejected {rejected:,} lines and "
            f"quarantined {_flag(quarantined)} files (reasons in {where})"
        )


def _flag(count: int) -> str:
    return f"[yellow]{count:,}[/yellow]" if count else "0"
