"""The orders domain's command-line hooks: `dataplatform orders migrate|status`,
`dataplatform produce orders` (the order application) and its summary line."""

from __future__ import annotations

from dataplatform.domains import Command, Stream


def _orders_options(parser) -> None:
    parser.add_argument("action", choices=["migrate", "status"],
                        help="migrate: install or upgrade the schema, outbox and triggers (idempotent); status: the outbox's backlog")


def _orders(args, ports) -> int:
    from assets.orders.schema import migrate
    from dataplatform.outbox import backlog, installed

    db = ports["oltp"]
    if args.action == "migrate":
        applied = migrate(db)
        print(f"orders database ({db.dialect}): " + (f"applied migration(s) {', '.join(map(str, applied))}" if applied else "up to date"))
        return 0
    if not installed(db):
        print("orders database: no outbox yet (run `dataplatform orders migrate`)")
        return 1
    b = backlog(db)
    print(f"orders outbox: {b.unpublished} unpublished ({b.failing} refused by the stream), oldest waiting "
          f"{b.oldest_age_seconds or 0:.0f} s, {b.published_retained} published rows retained"
          + (f"; last error: {b.last_error}" if b.last_error else ""))
    return 0


def _produce(args, ports) -> int:
    from assets.orders.app import OrderApplication
    from assets.orders.schema import migrate

    if args.rate <= 0:
        raise ValueError("--rate must be above 0 transactions a second")
    db = ports["oltp"]
    migrate(db)
    produced = OrderApplication(db, seed=args.seed).run(args.rate, args.seconds)
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(produced.by_kind.items()))
    print(f"orders: {produced.committed:,} transactions committed ({produced.changes:,} row changes), "
          f"{produced.rolled_back:,} rolled back ({kinds})")
    return 0


def summarise(console, ports) -> None:
    """The outbox's backlog: what is waiting to leave the orders database, and why."""
    from dataplatform.outbox import backlog, installed

    db = ports["oltp"]
    if not installed(db):
        return
    b = backlog(db)
    style = "red" if b.failing else "green" if not b.unpublished else "yellow"
    console.print(f"orders outbox: [{style}]{b.unpublished} change(s) waiting[/{style}] ({b.failing} refused by the stream), "
                  f"{b.published_retained} published and retained"
                  + (f"; oldest waiting {b.oldest_age_seconds:.0f} s" if b.oldest_age_seconds else "")
                  + (f"\n  [red]{b.last_error}[/red]" if b.last_error else ""))


def owned() -> dict[str, list[str]]:
    from assets.orders.metrics import ALERT_TOPIC, ALERTS_TABLE, CURSOR_TABLE

    return {"kv_tables": [CURSOR_TABLE, ALERTS_TABLE], "topics": [ALERT_TOPIC]}


COMMANDS = {"orders": Command(help="the orders database: migrate its schema, outbox and triggers; show the outbox's backlog",
                              add_options=_orders_options, run=_orders)}
STREAMS = {"orders": Stream(stream="orders_changes", run=_produce,
                            demo=dict(rate=40, seconds=10))}
SUMMARIES = [summarise]
