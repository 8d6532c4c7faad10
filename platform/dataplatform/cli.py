"""The `dataplatform` command: sample data, catch up like the daemons would, summarise, open the UI."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from datetime import datetime, timedelta, timezone

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from dataplatform import domains, locks, scratch, settings
from dataplatform.landing_zones import zones

# Bound to the real stdout: catch-up sends the runs' own output (dbt's log) to a file.
console = Console(file=sys.stdout)
DEFAULT_LATE_FILES = 2  # when --hours leaves an earlier hour to be late for
CATCH_UP_WAIT_SECONDS = 600  # how long a second catch-up waits for the first one
BUSY = 75  # EX_TEMPFAIL: try again later


class UsageError(Exception):
    """A bad or conflicting argument: one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message}")


def _at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}: {value}")
        return value

    return parse


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within [0, 1]: {value}")
    return value


def _hour(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H").replace(tzinfo=timezone.utc)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DDTHH (a UTC hour): {text!r}") from None


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time: {text!r}") from None
    return value.astimezone(timezone.utc)


def _port(text: str) -> int:
    value = _at_least(1)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {value}")
    return value


def _default_start() -> datetime:
    """The start of yesterday (UTC): a full day of complete hours."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1)


class _Recorded:
    """An argument group that remembers its actions: which options belong to which hook."""

    def __init__(self, group):
        self.group, self.actions = group, []

    def add_argument(self, *args, **kwargs):
        action = self.group.add_argument(*args, **kwargs)
        self.actions.append(action)
        return action


def _reject_foreign_options(args: argparse.Namespace, owned: dict[str, list], chosen: set[str]) -> None:
    for name, actions in owned.items():
        for action in actions:
            if name not in chosen and getattr(args, action.dest) != action.default:
                raise UsageError(f"{action.option_strings[0]} applies to {name} only")


def cmd_sample(args: argparse.Namespace, check_options: bool = True) -> int:
    samples = domains.samples()
    if check_options:
        _reject_foreign_options(args, args.sample_options, set(args.domains))
    args.start = args.start or _default_start()
    if args.late_files is None:
        args.late_files = DEFAULT_LATE_FILES if args.hours >= 2 else 0
    elif args.late_files and args.hours < 2:
        raise UsageError("--late-files needs --hours 2 or more: late files are named for an hour before the last")
    from dataplatform.environments import ports

    lake = ports()["lake"]
    for name in args.domains:
        sample = samples[name]
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} lines"),
                      TimeRemainingColumn(), console=console, disable=args.quiet or not sample.hourly) as progress:
            task = progress.add_task(f"sample {name}", total=args.lines)
            try:
                written, where = sample.write(lake, args, lambda done, total: progress.update(task, completed=done))
            except ValueError as error:  # the generators check their arguments before writing
                raise UsageError(f"sample {name}: {error}") from None
        size = sum(info.size for info in written)
        hours = f"{args.hours} hour{'s' if args.hours != 1 else ''}"
        span = f"{args.lines:,} lines for {hours} from {args.start:%Y-%m-%d %H:00} UTC" if sample.hourly else ""
        console.print(f"{name}: wrote {len(written)} files ({size / 1e6:.1f} MB{', ' + span if span else ''}) into {where}")
    return 0


def _load_definitions():
    from dataplatform import environments

    environments.check(dbt=True)  # before the (cached) definitions: a mistake is one line, exit 2
    settings.ensure_dagster_home()
    from dataplatform.definitions import defs

    return defs


def _instance():
    """The Dagster instance of this home, its storage created by one process at a time (two
    processes starting on a new home would both create SQLite's tables)."""
    import dagster as dg

    settings.ensure_dagster_home()
    with locks.exclusive(settings.home() / "instance.lock", "instance initialisation", 120):
        return dg.DagsterInstance.get()


def cmd_catch_up(args: argparse.Namespace, prepare=lambda: None) -> int:
    log_path = settings.home() / "catch-up.log"
    wait = getattr(args, "wait", CATCH_UP_WAIT_SECONDS)

    def on_wait(holder: str) -> None:
        console.print(f"another catch-up is running (pid {holder}): waiting up to {wait}s for it to finish")

    with locks.exclusive(settings.home() / "catch-up.lock", "catch-up", wait, on_wait=on_wait):
        prepare()
        started = time.perf_counter()
        summary = _catch_up(_load_definitions(), log_path)  # (loaded once the lock is ours)
    elapsed = time.perf_counter() - started
    console.print(
        f"catch-up: {summary.runs} runs ({len(summary.failed_runs)} failed) over {summary.partitions} partitions, "
        f"{summary.automation_runs} automation runs, {summary.dbt_invocations} dbt invocations"
        f"{f' ({summary.failed_dbt_invocations} failed)' if summary.failed_dbt_invocations else ''}, {len(summary.materialized)} assets materialised, "
        f"{summary.skipped_run_keys} duplicate requests skipped, in {elapsed:.1f}s (run output: {log_path})"
    )
    for check, why in summary.attention.items():
        console.print(f"[yellow]check {check} fails: {why}[/yellow]", soft_wrap=True)
    for run_id, status in summary.abandoned_runs.items():
        console.print(f"[yellow]run {run_id} of an earlier catch-up never finished ({status}): marked failed, its work requested again[/yellow]")
    if summary.failed_runs:
        for run_id in summary.failed_runs:
            console.print(f"[red]failed run {run_id}: {summary.failures[run_id]}[/red]", soft_wrap=True)
        console.print("[red]their logs and errors are in the UI (dataplatform dev); the next catch-up retries them[/red]")
        return 1
    return 0


def _catch_up(defs, log_path):
    from dataplatform.catchup import catch_up

    with (
        scratch.process_scratch(),
        _instance() as instance,
        console.status("catching up...") as status,
        log_path.open("a") as run_log,
        contextlib.redirect_stdout(run_log),
        contextlib.redirect_stderr(run_log),  # the sensors' tick logs too (also in the UI's tick history)
    ):

        def on_event(message: str) -> None:
            status.update(message)
            console.log(message)

        return catch_up(defs, instance, on_event=on_event)


def cmd_summary(args: argparse.Namespace) -> int:
    from dataplatform.summary import print_summary

    print_summary(console)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The quick start: sample deliveries and streams, catch up, summarise."""
    args.domains = list(domains.samples())
    code = cmd_sample(args, check_options=False)
    for name, stream in domains.sample_streams().items():
        defaults = vars(parser().parse_args(["produce", name]))  # produce's defaults, then the demo's
        stream_args = argparse.Namespace(**{**defaults, **stream.demo, "quiet": args.quiet, "seed": args.seed})
        code = code or cmd_produce(stream_args, check_options=False)
    for step in (cmd_catch_up, cmd_summary):
        code = code or step(args)
    if not code:
        console.print(
            "\nOpen the UI:  [bold]dataplatform dev[/bold]  (then http://127.0.0.1:3000, "
            "asset lineage under Assets > Global asset lineage)"
        )
    return code


def cmd_produce(args: argparse.Namespace, check_options: bool = True) -> int:
    """Publish sample records to a stream, as fast as the stream takes them (event times
    span --seconds ending now), with optional producer retries (duplicates) and late records."""
    from dataplatform.environments import ports
    from dataplatform.streams import streams

    if check_options:
        _reject_foreign_options(args, args.stream_options, {args.stream})
    hook = domains.sample_streams()[args.stream]
    if hook.run is not None:
        try:
            return hook.run(args, ports())
        except ValueError as error:
            raise UsageError(f"produce {args.stream}: {error}") from None
    policy = streams()[hook.stream]
    start = (args.start or datetime.now(timezone.utc) - timedelta(seconds=args.seconds)).replace(microsecond=0)
    produced = iter(hook.records(args, start))
    try:
        first = next(produced, None)  # the generators check their arguments on the first record
    except ValueError as error:
        raise UsageError(f"produce {args.stream}: {error}") from None
    store = ports()["stream"]
    store.create_stream(policy.name, policy.shards)
    sent, batch = 0, [] if first is None else [first]
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


def cmd_backfill(args: argparse.Namespace) -> int:
    """Process a zone's hours again: forget them in the ledger, then catch up (reconciliation
    requests their objects, automation refreshes what reads them)."""
    from dataplatform.environments import ports
    from dataplatform.landing_zones import zone
    from dataplatform.ledger import Ledger

    if args.last < args.first:
        raise UsageError(f"--to {args.last:%Y-%m-%dT%H} is before --from {args.first:%Y-%m-%dT%H}")
    if not any(sensor.name == f"{args.zone}_reconciliation" for sensor in _load_definitions().sensors or ()):
        # Its domain's own sensor decides what to load (e.g. complete windows): forgetting hours
        # in the ledger would not reload anything.
        raise UsageError(f"backfill {args.zone}: the zone has no reconciliation sensor to reload forgotten hours; "
                         "materialise its partitions again instead (Dagster UI backfill, or dagster asset materialize --partition)")

    def forget() -> None:
        hours = Ledger(ports()["lake"], zone(args.zone)).forget(args.first, args.last)
        console.print(f"{args.zone}: {len(hours)} processed hours from {args.first:%Y-%m-%d %H}:00 to "
                      f"{args.last:%Y-%m-%d %H}:00 will be processed again")

    return cmd_catch_up(args, prepare=forget)


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


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check the configured deployment end to end; exit 1 when something is missing or failing."""
    from rich.table import Table

    from dataplatform.doctor import FAILED, MISSING, diagnose

    findings = diagnose()
    table = Table(title=f"dataplatform doctor ({settings.environment()})")
    for column in ("what", "status", "detail"):
        table.add_column(column)
    colours = {FAILED: "red", MISSING: "red"}
    for finding in findings:
        colour = colours.get(finding.status, "green")
        table.add_row(finding.what, f"[{colour}]{finding.status}[/{colour}]", finding.detail)
    console.print(table)
    broken = [f for f in findings if f.status in (FAILED, MISSING)]
    if broken:
        console.print(f"[red]{len(broken)} of {len(findings)} checks failed[/red]")
    return 1 if broken else 0


def _domain_command(command: domains.Command, args: argparse.Namespace) -> int:
    from dataplatform.environments import ports

    try:
        return command.run(args, ports())
    except ValueError as error:
        raise UsageError(f"{args.command}: {error}") from None


def cmd_dev(args: argparse.Namespace) -> int:
    """`dagster dev` for this code location: webserver, code server and daemon (sensors,
    automation, schedules, run queue) in one process tree, on 127.0.0.1."""
    settings.ensure_dagster_home()
    os.environ["DATAPLATFORM_HOME"] = str(settings.home())
    command = [settings.executable("dagster"), "dev", "-m", "dataplatform.definitions", "-h", "127.0.0.1",
               "-p", str(args.port)]
    os.execvp(command[0], command)


def parser() -> argparse.ArgumentParser:
    top = Parser(prog="dataplatform", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    samples, sample_streams = domains.samples(), domains.sample_streams()

    def sample_options(p: argparse.ArgumentParser) -> None:
        hourly = p.add_argument_group("hourly log samples")
        hourly.add_argument("--start", type=_hour, default=None, help="first UTC hour, YYYY-MM-DDTHH (default: start of yesterday)")
        hourly.add_argument("--hours", type=_at_least(1), default=24)
        hourly.add_argument("--lines", type=_at_least(0), default=50_000, help="total log lines (records) per domain")
        hourly.add_argument("--late-files", type=_at_least(0), default=None,
                            help=f"files delivered late for past hours (default {DEFAULT_LATE_FILES}, 0 for one hour)")
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--quiet", action="store_true")
        owned = {}
        for name, sample in samples.items():
            owned[name] = _Recorded(p.add_argument_group(f"{name}: {sample.help}"))
            sample.add_options(owned[name])
        p.set_defaults(sample_options={name: group.actions for name, group in owned.items()})

    p = sub.add_parser("sample", help="write sample deliveries into landing zones")
    p.add_argument("domains", nargs="+", choices=list(samples), metavar="DATASET", help=" | ".join(samples))
    sample_options(p)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("catch-up", help="evaluate every sensor and automation condition, run what they request, until nothing is pending")
    p.add_argument("--wait", type=_at_least(0), default=CATCH_UP_WAIT_SECONDS, metavar="SECONDS",
                   help=f"how long to wait for a catch-up already running, then exit {BUSY} (default {CATCH_UP_WAIT_SECONDS})")
    p.set_defaults(func=cmd_catch_up)

    p = sub.add_parser("summary", help="tables built, row counts and headline KPIs of the warehouse")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("demo", help="sample data, catch up and summarise (the quick start)")
    sample_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("produce", help="publish sample records to a stream")
    p.add_argument("stream", choices=list(sample_streams))
    p.add_argument("--rate", type=_at_least(0), default=100, help="records per second of event time")
    p.add_argument("--seconds", type=_at_least(1), default=300, help="event-time span, ending now unless --start")
    p.add_argument("--start", type=_instant, default=None, help="first event time (ISO 8601)")
    p.add_argument("--duplicates", type=_share, default=0.0, help="share of records re-sent (producer retries)")
    p.add_argument("--late", type=_share, default=0.0, help="share of records sent late (out of order)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quiet", action="store_true")
    owned = {}
    for name, stream in sample_streams.items():
        owned[name] = _Recorded(p.add_argument_group(name))
        stream.add_options(owned[name])
    p.set_defaults(func=cmd_produce, stream_options={name: group.actions for name, group in owned.items()})

    p = sub.add_parser("backfill", help="process a landing zone's hours again (idempotent), then catch up")
    p.add_argument("zone", choices=list(zones()), metavar="ZONE", help=" | ".join(zones()))
    p.add_argument("--from", dest="first", type=_hour, required=True, help="first UTC hour, YYYY-MM-DDTHH")
    p.add_argument("--to", dest="last", type=_hour, required=True, help="last UTC hour, YYYY-MM-DDTHH")
    p.add_argument("--wait", type=_at_least(0), default=CATCH_UP_WAIT_SECONDS, metavar="SECONDS",
                   help=f"how long to wait for a catch-up already running, then exit {BUSY}")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("retention", help="drop raw partitions older than their zone's retention")
    p.add_argument("--dry-run", action="store_true", help="only list what would be dropped")
    p.set_defaults(func=cmd_retention)

    p = sub.add_parser("doctor", help="check the deployment end to end (buckets, catalog, streams, tables, warehouse)")
    p.set_defaults(func=cmd_doctor)

    for name, command in domains.commands().items():
        p = sub.add_parser(name, help=command.help)
        command.add_options(p)
        p.set_defaults(func=lambda args, command=command: _domain_command(command, args))

    p = sub.add_parser("dev", help="start the Dagster UI, code server and daemon on 127.0.0.1")
    p.add_argument("--port", type=_port, default=3000)
    p.set_defaults(func=cmd_dev)
    return top


def _storage_fault(error: BaseException) -> str | None:
    """A full or read-only disk, as one line naming the path and the fault (or None: not one)."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    cause = error.orig if isinstance(error, OperationalError) else error
    if isinstance(cause, OSError):
        return f"{cause.strerror or cause}: {cause.filename or settings.home()}"
    if isinstance(cause, sqlite3.Error):  # the Dagster instance's own storage
        return f"the Dagster instance under {os.environ.get('DAGSTER_HOME') or settings.dagster_home()} cannot write: {cause}"
    return None


def main(argv: list[str] | None = None) -> int:
    # Dagster's notes on its own beta APIs are for developers of this code, not its users.
    warnings.filterwarnings("ignore", message=r".* is currently in (beta|preview)")
    try:
        args = parser().parse_args(argv)
        return args.func(args)
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except settings.ConfigurationError as error:
        print(f"dataplatform: {error}", file=sys.stderr)
        return 2
    except locks.Busy as error:
        print(f"dataplatform: {error}; try again when it has finished", file=sys.stderr)
        return BUSY
    except Exception as error:
        fault = _storage_fault(error)
        if fault is None:
            raise
        print(f"dataplatform: {fault}; fix it and run the command again (it resumes where this one stopped)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
