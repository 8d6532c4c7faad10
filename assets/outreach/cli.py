"""The outreach domain's command-line hooks: `dataplatform sample outreach`, `dataplatform reveal`,
and its summary (deliveries published, refused, waiting; KPIs from the marts)."""

from __future__ import annotations

import getpass
from datetime import date, datetime, timedelta, timezone

from dataplatform import settings
from dataplatform.domains import Command, Sample, Warehouse


def _sample_options(group) -> None:
    group.add_argument("--members", type=int, default=2_000, help="outreach: members on the roster")
    group.add_argument("--outreaches", type=int, default=5_000, help="outreach: calls, each with its answers")
    group.add_argument("--day", type=date.fromisoformat, default=None, help="outreach: delivery day, YYYY-MM-DD (default yesterday)")
    group.add_argument("--unruled-field", action="store_true",
                       help="outreach: also deliver a members file with a field no rule covers (refused: fail closed)")


def _sample(lake, args, progress) -> tuple[list, str]:
    from assets.outreach import sample

    if args.members < 1 or args.outreaches < 0:
        raise ValueError("--members must be at least 1 and --outreaches at least 0")
    day = args.day or datetime.now(timezone.utc).date() - timedelta(days=1)
    spec = sample.SampleSpec(members=args.members, outreaches=args.outreaches, seed=args.seed, day=day,
                             unruled_field=args.unruled_field)
    return sample.generate(lake, spec), lake.uri(sample.BUCKET, sample.PREFIX)


SAMPLES = {"outreach": Sample(help="outreach call results and member feeds (members, responses, pharmacy claims)",
                              add_options=_sample_options, write=_sample, hourly=False)}


def _reveal_options(parser) -> None:
    parser.add_argument("--member-token", required=True, help="the member's token (curated.members.member_token)")
    parser.add_argument("--field", default=None, help="an encrypted field of the members feed (default: all of them)")
    parser.add_argument("--reason", required=True, help="why the value is needed (kept in the audit record)")
    parser.add_argument("--user", default=None, help="who asks (default: the login name); must be authorised in outreach_rules.yaml")


def _reveal(args, ports) -> int:
    from assets.outreach import reveal

    user = args.user or getpass.getuser()
    try:
        revealed, audit_key = reveal.reveal(ports, user, args.member_token, args.field, args.reason)
    except reveal.NotAuthorised as error:
        print(f"dataplatform reveal: {error}")
        return 1
    for field, (value, delivery_id) in revealed.items():
        print(f"{field}: {value} (delivery {delivery_id})")
    print(f"audit record: {audit_key}")
    return 0


COMMANDS = {"reveal": Command(help="decrypt a member's encrypted outreach fields (authorised users only; audited)",
                              add_options=_reveal_options, run=_reveal)}

KPIS = {
    "outreach calls": "select sum(calls) from (select distinct campaign, calls from marts.outreach_campaign_results)",
    "outreach completions": "select sum(completions) from (select distinct campaign, completions from marts.outreach_campaign_results)",
    "outreach members engaged": "select count(*) from marts.member_engagement where outreaches > 0",
}


def summarise(console, adapters) -> None:
    """Deliveries by outcome, and those still waiting (with why)."""
    from assets.outreach import state
    from assets.outreach.deliveries import list_deliveries
    from assets.outreach.rules import rules

    outcomes = state.outcomes(adapters["kv"])
    published = sum(1 for o in outcomes.values() if o["status"] == "published")
    refused = {k: o["detail"] for k, o in outcomes.items() if o["status"] == "refused"}
    deliveries, _ = list_deliveries(adapters["lake"], rules(), datetime.now(timezone.utc))
    waiting = [f"{d.feed}/{d.delivery_id}: {'; '.join(d.problems)}" for d in deliveries if not d.complete]
    console.print(f"outreach deliveries: {published} published, {len(refused)} refused, {len(waiting)} waiting (rules {rules().version})"
                  + "".join(f"\n  [red]refused {k}: {v}[/red]" for k, v in sorted(refused.items()))
                  + "".join(f"\n  [yellow]waiting {w}[/yellow]" for w in waiting))


SUMMARIES = [summarise]
WAREHOUSES = [Warehouse(path=settings.warehouse_path, schemas=("staging", "intermediate", "marts"), kpis=KPIS)]


def owned() -> dict[str, list[str]]:
    from assets.outreach import state
    from assets.outreach.rules import rules
    from dataplatform.governance.protection import TOKEN_KEYS_TABLE

    return {"kv_tables": [*state.TABLES, TOKEN_KEYS_TABLE], "topics": [rules().notify_topic]}
