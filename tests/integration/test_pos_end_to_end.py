"""Point of sale: deliveries -> pos_windows sensor -> window loads -> dbt marts, through catch-up,
compared with an independent computation from the files (plain Python and Decimal, not DuckDB
and not the platform's parser). A window missing a store waits and alerts; the late store
completes it and it loads once; a corrected re-delivery replaces its window's figures; a
duplicated delivery changes nothing."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.pos import sample
from dataplatform import settings
from dataplatform.catchup import catch_up
from dataplatform.resources.lake import LocalObjectStore

TODAY = datetime.now(timezone.utc).date()
D1, D2 = TODAY - timedelta(days=3), TODAY - timedelta(days=2)  # both past their deadlines
REGIONS = ("us-east", "us-west")  # waits at the deadline / aggregates partial windows
SPEC = dict(start=D1, days=2, regions=2, stores=5, deliveries_per_day=3, seed=5)


def expected_sales(landing: Path, windows: set[tuple[str, date]]) -> dict[tuple, list]:
    """(region, store, vendor, item, day) -> [sales, tax, discount, lines] over the windows' files,
    each distinct content once, parsed by the store group named in the region's registry."""
    sums: dict[tuple, list] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0), 0])
    for region, day in windows:
        registry = landing / "pos" / region / "stores" / f"{D1}.csv"
        groups = {row["store_id"]: row["store_group"] for row in csv.DictReader(io.StringIO(registry.read_text()))}
        for store, group in groups.items():
            contents = {}
            for path in sorted((landing / "pos" / region / store / str(day)).glob("*")):
                contents.setdefault(path.read_bytes(), path)
            for content in contents:
                for vendor, amount, kind, item in records(content.decode(), group):
                    totals = sums[(region, store, vendor, item, day)]
                    if kind in (4, 5, 6):
                        totals[kind - 4] += amount
                    totals[3] += 1
    return dict(sums)


def records(text: str, group: str):
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    if group == "seed_tdf":
        for line in lines:
            fields = line.split("\t")
            if line.startswith("-") or fields[1] == "N/A":
                continue  # junk, and the sample's malformed amounts
            yield fields[0], Decimal(fields[1]), int(fields[2]), fields[3]
    elif group == "franchise_csv":
        for row in csv.DictReader(io.StringIO("\n".join(lines))):
            yield row["VendorNumber"], Decimal(row["Amount"]), int(row["TxnType"]), row["SKU"]
    else:
        for line in lines:
            record = json.loads(line)
            yield record["vendor"], Decimal(record["amount"]), int(record["type"]), record["item"]


def mart_sales(warehouse: Path) -> dict[tuple, list]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select region, store_id, vendor_id, item_id, business_date, sales_amount, tax_amount, "
                           "discount_amount, net_amount, transactions from marts.pos_daily_sales").fetchall()
    out = {}
    for region, store, vendor, item, day, sales, tax, discount, net, lines in rows:
        assert net == sales - discount
        out[(region, store, vendor, item, day)] = [sales, tax, discount, lines]
    return out


def region_daily(warehouse: Path) -> dict[tuple, tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select region, business_date, net_amount, transactions, stores_reporting, stores_expected, "
                           "is_complete from marts.pos_region_daily").fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def load_runs(instance, window: tuple[str, date]) -> int:
    partition = f"{window[1]}|{window[0]}"
    return len(instance.get_runs(filters=dg.RunsFilter(tags={"dataplatform/pos_window": partition},
                                                       statuses=[dg.DagsterRunStatus.SUCCESS])))


@pytest.fixture
def platform(home):
    from dataplatform.definitions import build_definitions

    defs = build_definitions()
    with dg.instance_for_test() as instance:
        yield instance, lambda: catch_up(defs, instance)


def test_windows_aggregate_once_complete_and_equal_an_independent_computation(home, platform):
    instance, run_catch_up = platform
    lake = LocalObjectStore(settings.lake_root())
    landing, warehouse = settings.lake_root() / "landing", settings.warehouse_path()
    sample.generate(lake, sample.SampleSpec(**SPEC, missing=frozenset({("S0002", D2)})))

    first = run_catch_up()
    assert not first.failed_runs, first.failures
    daily = region_daily(warehouse)
    loaded = {(r, d) for r in REGIONS for d in (D1, D2) if (r, d) in daily}
    assert loaded == {("us-east", D1), ("us-west", D1), ("us-west", D2)}  # us-east D2 waits for S0002
    assert daily[("us-west", D2)][2:] == (4, 5, False)  # aggregated at its deadline, marked incomplete
    assert mart_sales(warehouse) == expected_sales(landing, loaded)
    overflow = [v for v in daily.values() if v[0] > Decimal("999.99")]
    assert overflow  # the seed's numeric(5,2) would have overflowed; these are exact (compared above)
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey(["landing", "pos", "window_completeness"]), "complete_by_deadline")])
    evaluation = next(iter(check.values())).event.dagster_event.event_specific_data
    assert not evaluation.passed and f"{D2}|us-east: S0002" in evaluation.metadata["missing_stores"].value
    alerts = [json.loads(line)["message"] for line in (home / "outbox" / "pos-windows.jsonl").read_text().splitlines()]
    assert [a["missing_stores"] for a in alerts if a["window"] == f"{D2}|us-east"] == [["S0002"]]

    sample.generate(lake, sample.SampleSpec(**SPEC, only=frozenset({("S0002", D2)})))  # the late store
    second = run_catch_up()
    assert not second.failed_runs, second.failures
    every = {(r, d) for r in REGIONS for d in (D1, D2)}
    daily = region_daily(warehouse)
    assert all(daily[w][4] for w in every)  # complete
    assert mart_sales(warehouse) == expected_sales(landing, every)
    assert load_runs(instance, ("us-east", D2)) == 1 and load_runs(instance, ("us-east", D1)) == 1
    assert load_runs(instance, ("us-west", D2)) == 2  # partial at the deadline, then complete

    before = mart_sales(warehouse)
    sample.generate(lake, sample.SampleSpec(**SPEC, only=frozenset({("S0003", D1)}), corrected=frozenset({("S0003", D1)})))
    third = run_catch_up()
    assert not third.failed_runs, third.failures
    assert load_runs(instance, ("us-east", D1)) == 2 and load_runs(instance, ("us-east", D2)) == 1
    after = mart_sales(warehouse)
    assert after == expected_sales(landing, every) and after != before
    assert {k for k in after if after[k] != before.get(k)} <= {k for k in after if k[1] == "S0003" and k[4] == D1}

    key = next((landing / "pos" / "us-east" / "S0001" / str(D1)).glob("d1-*"))
    lake.put("landing", str(key.relative_to(landing)).replace("/d1-", "/d1-resent-"), key.read_bytes())
    fourth = run_catch_up()
    assert fourth.runs == 0 and mart_sales(warehouse) == after
