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


def print_summary(console: Console) -> None:
    if settings.environment() != "local":
        console.print("summary reads the embedded warehouse; in aws query the marts in Athena.")
        return
    path = settings.warehouse_path()
    if not path.exists():
        console.print(f"no warehouse yet at {path}: run `dataplatform catch-up` first")
        return
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name, table_type from information_schema.tables "
            "where table_schema in ('staging', 'intermediate', 'marts') order by 1, 2"
        ).fetchall()
        built = Table(title="tables built")
        for column in ("table", "kind", "rows"):
            built.add_column(column, justify="right" if column == "rows" else "left")
        for schema, name, kind in tables:
            rows = con.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
            built.add_row(f"{schema}.{name}", kind.lower(), f"{rows:,}")
        console.print(built)
        marts = {name for schema, name, _ in tables if schema == "marts"}
        shown = {label: query for label, query in KPIS.items() if all(m in marts for m in _marts_read(query))}
        if shown:
            kpis = Table(title="headline KPIs")
            kpis.add_column("KPI")
            kpis.add_column("value", justify="right")
            for label, query in shown.items():
                value = con.execute(query).fetchone()
                kpis.add_row(label, str(value[0]) if value else "-")
            console.print(kpis)
    _print_serving(console)


def _print_serving(console: Console) -> None:
    """The key-value serving layer and the alerts outbox of the web-analytics stream."""
    from dataplatform.environments import resources

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


def _marts_read(query: str) -> list[str]:
    return re.findall(r"marts\.(\w+)", query)
