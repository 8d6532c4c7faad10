"""The `dataplatform` command: sample data, catch up like the daemons would, summarise, open the UI."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from datetime import datetime, timedelta, timezone

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from dataplatform import settings

# Bound to the real stdout: catch-up sends the runs' own output (dbt's log) to a file.
console = Console(file=sys.stdout)

DOMAINS = ("cloudfront", "vpcflowlogs")
SAMPLE_DOMAINS = (*DOMAINS, "mimic")  # mimic: a clinical delivery (full snapshot), not hourly logs


def _hour(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H").replace(tzinfo=timezone.utc)


def _default_start() -> datetime:
    """The start of yesterday (UTC): a full day of complete hours."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


def _sample_spec(domain: str, args: argparse.Namespace):
    start = args.start or _default_start()
    if domain == "cloudfront":
        from assets.cloudfront import sample

        return sample, sample.SampleSpec(
            start=start, hours=args.hours, lines=args.lines, files_per_hour=args.files,
            distributions=args.distributions, seed=args.seed, late_files=args.late_files,
        )
    from assets.vpc_flow import sample

    return sample, sample.SampleSpec(
        start=start, hours=args.hours, records=args.lines, accounts=args.accounts,
        interval_minutes=args.interval, seed=args.seed, late_files=args.late_files,
    )


def cmd_sample(args: argparse.Namespace) -> int:
    from dataplatform.environments import ports as resources

    lake = resources()["lake"]
    for domain in args.domains:
        if domain == "mimic":
            _sample_mimic(lake, args)
            continue
        sample, spec = _sample_spec(domain, args)
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} lines"),
                      TimeRemainingColumn(), console=console, disable=args.quiet) as progress:
            task = progress.add_task(f"sample {domain}", total=args.lines)
            written = sample.generate(lake, spec, progress=lambda done, total: progress.update(task, completed=done))
        size = sum(info.size for info in written)
        console.print(
            f"{domain}: wrote {len(written)} files ({size / 1e6:.1f} MB gz, {args.lines:,} lines) for {spec.hours} "
            f"hours from {spec.start:%Y-%m-%d %H:00} UTC into {lake.uri('landing', spec.prefix)}"
        )
    return 0


def _sample_mimic(lake, args: argparse.Namespace) -> None:
    from assets.clinical import sample

    spec = sample.SampleSpec(patients=args.patients, seed=args.seed, delivery_id=args.delivery, fmt=args.format,
                             notes=args.notes)
    tables = sample.generate_tables(spec)
    keys = sample.write_delivery(lake, tables, spec.delivery, spec.fmt)
    prefix = keys[-1].rsplit("/", 1)[0] + "/"
    size = sum(info.size for info in lake.list(sample.LANDING_BUCKET, prefix))
    console.print(
        f"mimic: wrote {len(tables)} tables ({sum(t.num_rows for t in tables.values()):,} rows, {size / 1e6:.1f} MB "
        f"{spec.fmt}) for {spec.patients:,} patients into {lake.uri(sample.LANDING_BUCKET, prefix)}"
    )


def _load_definitions():
    settings.ensure_dagster_home()
    from dataplatform.definitions import defs

    return defs


def cmd_catch_up(args: argparse.Namespace) -> int:
    import dagster as dg

    from dataplatform.catchup import CatchUpSummary, catch_up

    defs = _load_definitions()
    started = time.perf_counter()
    log_path = settings.home() / "catch-up.log"
    with (
        dg.DagsterInstance.get() as instance,
        console.status("catching up...") as status,
        log_path.open("a") as run_log,
        contextlib.redirect_stdout(run_log),
    ):

        def on_event(message: str) -> None:
            status.update(message)
            console.log(message)

        summary: CatchUpSummary = catch_up(defs, instance, on_event=on_event)
    elapsed = time.perf_counter() - started
    console.print(
        f"catch-up: {summary.runs} runs ({len(summary.failed_runs)} failed) over {summary.partitions} partitions, "
        f"{summary.automation_runs} automation runs, {summary.dbt_invocations} dbt invocations, {len(summary.materialized)} assets materialised, "
        f"{summary.skipped_run_keys} duplicate requests skipped, in {elapsed:.1f}s (run output: {log_path})"
    )
    if summary.failed_runs:
        console.print(f"[red]failed runs: {', '.join(summary.failed_runs)} - open them in the UI (dataplatform dev)[/red]")
        return 1
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from dataplatform.summary import print_summary

    print_summary(console)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The quick start: sample deliveries and streams, catch up, summarise."""
    args.domains = list(SAMPLE_DOMAINS)
    code = cmd_sample(args)
    streams_args = [
        argparse.Namespace(stream="cloudfront-realtime", rate=50, seconds=300, duplicates=0.02, late=0.02, anomaly_minute=None),
        argparse.Namespace(stream="web-analytics", rate=30, seconds=900, duplicates=0.02, late=0.01, anomaly_minute=12),
    ]
    for stream_args in streams_args:
        code = code or cmd_produce(argparse.Namespace(**{**vars(args), **vars(stream_args), "start": None}))
    for step in (cmd_catch_up, cmd_summary):
        code = code or step(args)
    if not code:
        console.print(
            "\nOpen the UI:  [bold]dataplatform dev[/bold]  (then http://127.0.0.1:3000, "
            "asset lineage under Assets > Global asset lineage)"
        )
    return code


STREAMS = {"cloudfront-realtime": "cloudfront_realtime", "web-analytics": "web_analytics_events"}


def cmd_produce(args: argparse.Namespace) -> int:
    """Publish sample records to a stream, as fast as the stream takes them (event times
    span --seconds ending now), with optional producer retries (duplicates) and late records."""
    from dataplatform.environments import ports as resources
    from dataplatform.streams import streams

    policy = streams()[STREAMS[args.stream]]
    start = (args.start or datetime.now(timezone.utc) - timedelta(seconds=args.seconds)).replace(microsecond=0)
    if args.stream == "cloudfront-realtime":
        from assets.cloudfront.realtime_sample import RealtimeSpec, records

        produced = records(RealtimeSpec(start=start, seconds=args.seconds, rate=args.rate, seed=args.seed,
                                        duplicate_share=args.duplicates, late_share=args.late))
    else:
        from assets.web_analytics.sample import EventsSpec, events

        produced = events(EventsSpec(start=start, seconds=args.seconds, rate=args.rate, seed=args.seed,
                                     duplicate_share=args.duplicates, late_share=args.late, anomaly_minute=args.anomaly_minute))
    store = resources()["stream"]
    store.create_stream(policy.name, policy.shards)
    sent, batch = 0, []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} records"),
                  console=console, disable=args.quiet) as progress:
        task = progress.add_task(f"produce {policy.name}", total=args.rate * args.seconds)
        for record in produced:
            batch.append(record)
            if len(batch) == 500:
                store.put_records(policy.name, batch)
                sent += len(batch)
                batch = []
                progress.update(task, completed=sent)
        if batch:
            store.put_records(policy.name, batch)
            sent += len(batch)
        progress.update(task, completed=sent)
    console.print(f"{policy.name}: published {sent:,} records with event times from {start:%Y-%m-%d %H:%M:%S} UTC")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """What the scheduled partition_retention job does, from the terminal."""
    from dataplatform.environments import ports as resources
    from dataplatform.landing_zones import zones
    from dataplatform.retention import apply_retention

    ports = resources()
    now = datetime.now(timezone.utc)
    verb = "would drop" if args.dry_run else "dropped"
    total = 0
    for zone in zones().values():
        for item in apply_retention(zone, ports["lake"], ports["catalog"], now, dry_run=args.dry_run):
            total += 1
            console.print(f"{zone.name}: {verb} {item.table} {'/'.join(item.partition)} ({len(item.keys)} objects)")
    console.print(f"{verb} {total} partitions older than their zone's retention")
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    settings.ensure_dagster_home()
    os.environ["DATAPLATFORM_HOME"] = str(settings.home())
    command = ["dagster", "dev", "-m", "dataplatform.definitions", "-h", "127.0.0.1", "-p", str(args.port)]
    os.execvp(command[0], command)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="dataplatform", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    def sample_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--start", type=_hour, default=None, help="first UTC hour, YYYY-MM-DDTHH (default: start of yesterday)")
        p.add_argument("--hours", type=int, default=24)
        p.add_argument("--lines", type=int, default=50_000, help="total log lines (records) per domain")
        p.add_argument("--files", type=int, default=3, help="cloudfront: files per distribution and hour")
        p.add_argument("--distributions", type=int, default=3, help="cloudfront: distributions")
        p.add_argument("--accounts", type=int, default=2, help="vpcflowlogs: AWS accounts")
        p.add_argument("--interval", type=int, choices=(1, 10), default=10, help="vpcflowlogs: aggregation minutes")
        p.add_argument("--late-files", type=int, default=2, help="files delivered late for past hours")
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--quiet", action="store_true")

    def mimic_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--patients", type=int, default=1000, help="mimic: patients")
        p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="mimic: gzip CSV or Parquet files")
        p.add_argument("--notes", action="store_true", help="mimic: include NOTEEVENTS")
        p.add_argument("--delivery", default=None, help="mimic: delivery id (default mimic-<seed>-<patients>)")

    p = sub.add_parser("sample", help="write sample deliveries into landing zones")
    p.add_argument("domains", nargs="+", choices=SAMPLE_DOMAINS, metavar="DOMAIN", help=" | ".join(SAMPLE_DOMAINS))
    sample_options(p)
    mimic_options(p)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("catch-up", help="evaluate every sensor and run what it requests, until nothing is pending")
    p.set_defaults(func=cmd_catch_up)

    p = sub.add_parser("summary", help="tables built, row counts and headline KPIs of the warehouse")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("demo", help="sample data, catch up and summarise (the quick start)")
    sample_options(p)
    mimic_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("produce", help="publish sample records to a stream")
    p.add_argument("stream", choices=sorted(STREAMS))
    p.add_argument("--rate", type=int, default=100, help="records per second of event time")
    p.add_argument("--seconds", type=int, default=300, help="event-time span, ending now unless --start")
    p.add_argument("--start", type=lambda text: datetime.fromisoformat(text).astimezone(timezone.utc), default=None)
    p.add_argument("--duplicates", type=float, default=0.0, help="share of records re-sent (producer retries)")
    p.add_argument("--late", type=float, default=0.0, help="share of records sent late (out of order)")
    p.add_argument("--anomaly-minute", type=int, default=None, help="web-analytics: minute offset with a traffic spike")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("retention", help="drop raw partitions older than their zone's retention")
    p.add_argument("--dry-run", action="store_true", help="only list what would be dropped")
    p.set_defaults(func=cmd_retention)

    p = sub.add_parser("dev", help="start the Dagster UI on 127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_dev)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
