"""`dataplatform summary` works on any state: nothing yet, a warehouse without streams."""

import io

import duckdb
from rich.console import Console

from dataplatform import settings
from dataplatform.summary import print_summary


def summary_text() -> str:
    out = io.StringIO()
    print_summary(Console(file=out, width=200))
    return out.getvalue()


def test_summary_before_anything_ran(home):
    assert "no warehouse yet" in summary_text()


def test_summary_without_streams(home):
    settings.home().mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse_path())) as con:
        con.execute("create schema marts; create table marts.vpc_rejected_traffic (flow_date date, src_addr varchar, "
                    "dst_port integer, rejected_flow_records bigint, rejected_packets bigint)")
        con.execute("insert into marts.vpc_rejected_traffic values ('2026-11-24', '10.0.0.1', 22, 3, 9)")
    text = summary_text()
    assert "marts.vpc_rejected_traffic" in text and "vpc rejected flow records" in text
    assert "web analytics" not in text
