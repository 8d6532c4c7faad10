"""The point-of-sale domain's command-line hooks: `dataplatform sample pos` and its summary KPIs."""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta, timezone

from dataplatform import settings
from dataplatform.domains import Sample, Warehouse


def _store_day(text: str) -> tuple[str, date]:
    store, _, day = text.partition("/")
    try:
        return store, date.fromisoformat(day)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not STORE/YYYY-MM-DD") from None


def _options(group) -> None:
    group.add_argument("--regions", type=int, default=2, help="pos: regions (the first of pos_windows.yaml)")
    group.add_argument("--stores", type=int, default=10, help="pos: stores per region")
    group.add_argument("--days", type=int, default=3, help="pos: business days, ending yesterday unless --first-day")
    group.add_argument("--first-day", type=date.fromisoformat, default=None, help="pos: first business day, YYYY-MM-DD")
    group.add_argument("--deliveries-per-day", type=int, default=3, help="pos: deliveries per store and day")
    group.add_argument("--missing", type=_store_day, nargs="*", default=[], metavar="STORE/DATE",
                       help="pos: store days not delivered (in every region)")
    group.add_argument("--late", type=_store_day, nargs="*", default=[], metavar="STORE/DATE",
                       help="pos: write only these store days (the late deliveries of an earlier --missing)")
    group.add_argument("--corrected", type=_store_day, nargs="*", default=[], metavar="STORE/DATE",
                       help="pos: re-deliver the first delivery of these store days, corrected")


def _write(lake, args, progress) -> tuple[list, str]:
    from assets.pos import sample

    if args.stores < 1 or args.days < 1 or args.deliveries_per_day < 1:
        raise ValueError("--stores, --days and --deliveries-per-day must be at least 1")
    first = args.first_day or (datetime.now(timezone.utc).date() - timedelta(days=args.days))
    only = frozenset(args.late) | frozenset(args.corrected)
    spec = sample.SampleSpec(start=first, days=args.days, regions=args.regions, stores=args.stores,
                             deliveries_per_day=args.deliveries_per_day, seed=args.seed, missing=frozenset(args.missing),
                             only=only, corrected=frozenset(args.corrected))
    spec.region_names()  # ValueError before anything is written
    return sample.generate(lake, spec), lake.uri(sample.BUCKET, "pos/")


SAMPLES = {"pos": Sample(help="franchise point-of-sale deliveries (per region, store and business day)",
                         add_options=_options, write=_write, hourly=False)}

KPIS = {
    "pos net sales": "select sum(net_amount) from marts.pos_region_daily",
    "pos windows complete": "select count(*) filter (where is_complete) || ' of ' || count(*) from marts.pos_region_daily",
    "pos top store": "select store_id || ' (' || sum(net_amount) || ')' from marts.pos_daily_sales "
    "group by store_id order by sum(net_amount) desc limit 1",
}


def summarise(console, adapters) -> None:
    """The open windows: complete, waiting (and why), past their deadline."""
    from assets.pos.sensor import open_window_statuses, window_summary

    now = datetime.now(timezone.utc)
    statuses = open_window_statuses(adapters["lake"], now)
    waiting = [s for s in statuses if not s.complete]
    console.print(f"pos windows (last {len({s.business_date for s in statuses})} business days): {len(statuses) - len(waiting)} "
                  f"of {len(statuses)} complete" + "".join(f"\n  [yellow]{window_summary(s, now)}[/yellow]" for s in waiting))


SUMMARIES = [summarise]
WAREHOUSES = [Warehouse(path=settings.warehouse_path, schemas=("staging", "intermediate", "marts"), kpis=KPIS)]


def owned() -> dict[str, list[str]]:
    from assets.pos.policy import policy
    from assets.pos.sensor import NOTIFIED_TABLE
    from assets.pos.windows import ARRIVALS_TABLE

    return {"kv_tables": [ARRIVALS_TABLE, NOTIFIED_TABLE], "topics": [policy().notify_topic]}
