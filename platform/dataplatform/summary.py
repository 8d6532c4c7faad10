"""What the warehouse holds now: the published tables, their row counts, headline KPIs."""

from __future__ import annotations

import re

import duckdb
from rich.console import Console
from rich.table import Table

from dataplatform import settings

# Headline KPIs per published mart they read; shown when that mart exists.
KPIS = {
    "cloudfront requests": "select sum(requests) from marts.cloudfront_bandwidth_by_edge",
    "bytes served (GB)": "select round(sum(bytes_sent) / 1e9, 3) from marts.cloudfront_bandwidth_by_edge",
    "bot share of requests": "select round(100.0 * (select sum(requests) from marts.cloudfront_bot_traffic) "
    "/ sum(requests), 1) || ' %' from marts.cloudfront_bandwidth_by_edge",
    "busiest bot": "select bot_name || ' (' || sum(requests) || ' requests)' from marts.cloudfront_bot_traffic "
    "group by bot_name order by sum(requests) desc limit 1",
    "peak edge bandwidth": "select edge_location || ' ' || round(max(avg_bandwidth_bps) / 1e6, 2) || ' Mbit/s' "
    "from marts.cloudfront_bandwidth_by_edge group by edge_location order by max(avg_bandwidth_bps) desc limit 1",
    "cache hit ratio": "select round(100.0 * sum(cache_hit_ratio * requests) / sum(requests), 1) || ' %' "
    "from marts.cloudfront_bandwidth_by_edge",
    "vpc traffic (GB)": "select round(sum(bytes_transferred) / 1e9, 3) from marts.vpc_top_talkers_by_port",
    "vpc top talker": "select src_addr || ' -> ' || dst_addr || ' (' || round(bytes_transferred / 1e9, 2) || ' GB)' "
    "from marts.vpc_top_talkers order by bytes_transferred desc limit 1",
    "vpc rejected flow records": "select sum(rejected_flow_records) from marts.vpc_rejected_traffic",
    "vpc most rejected port": "select dst_port || ' (' || sum(rejected_flow_records) || ' records)' "
    "from marts.vpc_rejected_traffic group by dst_port order by sum(rejected_flow_records) desc limit 1",
    "real-time peak bandwidth (1-minute window)": "select distribution || ' @ ' || edge_location || ' ' || "
    "round(bandwidth_bps / 1e6, 2) || ' Mbit/s' from marts.cloudfront_realtime_bandwidth "
    "where window_type = 'tumbling_1m' order by bandwidth_bps desc limit 1",
    "real-time bot share (5-minute windows)": "select round(100.0 * sum(bot_requests) / sum(requests), 1) || ' %' "
    "from marts.cloudfront_realtime_bandwidth where window_type = 'sliding_5m'",
    "real-time late records (not in windows)": "select sum(late_records) from marts.cloudfront_realtime_late_records",
    "vpc flow-log capture ratio": "select round(100.0 * sum(records - skipdata_records) / sum(records), 2) || ' %' "
    "from marts.vpc_flow_log_coverage",
}

# The clinical warehouse (its own DuckDB file locally, Redshift in aws): the OMOP CDM and results.
CLINICAL_KPIS = {
    "omop persons": "select count(*) from omop_cdm.person",
    "omop visits (in-hospital deaths)": "select count(*) || ' (' || (select count(*) from omop_cdm.death "
    "where death_type_concept_id = 32817) || ')' from omop_cdm.visit_occurrence",
    "omop records mapped to a standard concept": "select round(100.0 * count(*) filter (where condition_concept_id <> 0) "
    "/ count(*), 1) || ' % of conditions' from omop_cdm.condition_occurrence",
    "omop data-quality checks passed": "select count(*) filter (where passed) || ' of ' || count(*) "
    "from omop_results.omop_dq_results",
}


def print_summary(console: Console) -> None:
    if settings.environment() != "local":
        console.print("summary reads the embedded warehouse; in aws query the marts in Athena.")
        return
    warehouses = [
        (settings.warehouse_path(), ("staging", "intermediate", "marts"), KPIS),
        (settings.clinical_warehouse_path(), ("omop_cdm", "omop_results"), CLINICAL_KPIS),
    ]
    if not any(path.exists() for path, _, _ in warehouses):
        console.print(f"no warehouse yet at {settings.warehouse_path()}: run `dataplatform catch-up` first")
        return
    for path, schemas, kpis in warehouses:
        if path.exists():
            _print_warehouse(console, path, schemas, kpis)
    _print_serving(console)


def _print_warehouse(console: Console, path, schemas: tuple[str, ...], kpi_queries: dict[str, str]) -> None:
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


def _print_serving(console: Console) -> None:
    """The key-value serving layer and the alerts outbox of the web-analytics stream."""
    from dataplatform.environments import ports as resources

    ports = resources()
    try:
        counters = ports["kv"].scan("web_analytics_counters")
    except LookupError:
        return  # no stream consumed yet
    if counters:
        minutes = [(key, item["count"]) for key, item in counters if key.startswith("minute#page view#")]
        busiest = max(minutes, key=lambda kv: kv[1]) if minutes else ("-", 0)
        alerts = ports["notify"].messages("web-analytics-alerts")
        console.print(
            f"web analytics: {len(counters)} exactly-once counters in the key-value store; busiest minute of page views "
            f"{busiest[0].rsplit('#', 1)[-1]} ({busiest[1]}); {len(alerts)} anomaly alert(s) in the outbox"
            + (f": {alerts[-1]['subject']}" if alerts else "")
        )


def _tables_read(query: str, schemas: tuple[str, ...]) -> list[str]:
    return re.findall(rf"\b(?:{'|'.join(schemas)})\.\w+", query)
