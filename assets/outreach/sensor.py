"""The outreach_deliveries sensor: a complete delivery (its manifest, or its feed's daily cut-off)
that the ledger does not hold with every object's current ETag gets one load run; a partial one
waits and says why; a refused one (fail closed) stays refused until its content changes.

Every tick lists the deliveries within the zone's retention and reports, when the picture changes,
the landing asset's `deliveries_published` check: failing while a delivery is refused or an
object cannot belong to any delivery, with the waiting deliveries and their reasons beside."""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import dagster as dg

from assets.outreach import state
from assets.outreach.assets import LANDING, output_keys
from assets.outreach.deliveries import ZONE, Delivery, list_deliveries
from assets.outreach.rules import rules
from dataplatform.automation import WRITER_TAG
from dataplatform.ledger import Ledger
from dataplatform.run_attempts import next_run_key

CHECK = "deliveries_published"
MAX_LISTED = 50


def _processed(lake, found: Delivery, ledgers: dict) -> bool:
    day = datetime.combine(found.day, datetime.min.time(), timezone.utc)
    if day not in ledgers:
        ledgers[day] = Ledger(lake, ZONE).processed(day)
    return all(ledgers[day].get(key) == etag for key, etag in found.objects.items())


def partitions_name(feed: str) -> str:
    return f"outreach_{feed}"


def evaluate(lake, kv, cursor: str | None, now: datetime, run_state: Callable, existing: Callable[[str], set[str]]):
    """One tick: (run requests, dynamic partitions to add, asset events, new cursor, stats)."""
    ruleset = rules()
    deliveries, strays = list_deliveries(lake, ruleset, now, since=(now - ZONE.retention).date())
    outcomes = state.outcomes(kv)
    ledgers: dict = {}
    requests, new_partitions = [], {}
    waiting, refused, in_progress = [], [], []
    for found in deliveries:
        name = f"{found.feed}/{found.delivery_id}"
        if _processed(lake, found, ledgers):
            continue
        if not found.complete:
            waiting.append(f"{name}: {'; '.join(found.problems)}")
            continue
        outcome = outcomes.get(name)
        if outcome and outcome["status"] == "refused" and outcome["fingerprint"] == found.fingerprint:
            refused.append(f"{name}: {outcome['detail']}")
            continue
        run_key, why = next_run_key(f"outreach:{name}:{found.fingerprint}", now, timedelta(0), run_state)
        if run_key is None:
            in_progress.append(f"{name}: {why}")
            continue
        if found.delivery_id not in existing(found.feed):
            new_partitions.setdefault(found.feed, []).append(found.delivery_id)
        requests.append(dg.RunRequest(run_key=run_key, partition_key=found.delivery_id, asset_selection=output_keys(ruleset.feed(found.feed)),
                                      tags={WRITER_TAG: f"raw/{ZONE.name}", "dataplatform/outreach_delivery": name}))
    problems = refused + strays
    description = "; ".join([*(f"refused {r}" for r in refused), *(f"not a delivery: {s}" for s in strays),
                             *(f"waiting {w}" for w in waiting)][:MAX_LISTED]) or "every delivery is published or loading"
    digest = hashlib.sha256(description.encode()).hexdigest()[:16]
    events = []
    if cursor is None or json.loads(cursor).get("reported") != digest:
        events.append(dg.AssetCheckEvaluation(
            asset_key=LANDING, check_name=CHECK, passed=not problems, description=description[:4000],
            metadata={"refused": len(refused), "waiting": len(waiting), "not_a_delivery": len(strays),
                      "deliveries_listed": len(deliveries)},
        ))
    stats = {"deliveries": len(deliveries), "requested": len(requests), "waiting": len(waiting), "refused": len(refused),
             "in_progress": len(in_progress), "strays": len(strays)}
    return requests, new_partitions, events, json.dumps({"reported": digest}), stats


def outreach_deliveries_sensor() -> dg.SensorDefinition:
    @dg.sensor(
        name="outreach_deliveries",
        description="Loads each complete outreach delivery once (manifest or daily cut-off); reports partial and refused ones.",
        asset_selection=[key for feed in rules().feeds.values() for key in output_keys(feed)],
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={"lake", "kv"},
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        from dataplatform.run_attempts import run_state

        requests, new_partitions, events, cursor, stats = evaluate(
            context.resources.lake, context.resources.kv, context.cursor, datetime.now(timezone.utc),
            lambda key: run_state(context.instance, key),
            lambda feed: set(context.instance.get_dynamic_partitions(partitions_name(feed))),
        )
        context.log.info(f"outreach deliveries: {stats}")
        return dg.SensorResult(
            run_requests=requests, cursor=cursor, asset_events=events,
            dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(partitions_name(feed), ids) for feed, ids in new_partitions.items()],
        )

    return _sensor


@dg.asset_check(
    asset=LANDING, name=CHECK, required_resource_keys={"lake", "kv"},
    description="No outreach delivery is refused (a field without a rule, a damaged file) and every object belongs to a "
    "delivery; deliveries still waiting (no manifest yet, a listed file missing, before the cut-off) are listed. "
    "Reported by the outreach_deliveries sensor when this changes.",
)
def deliveries_published(context) -> dg.AssetCheckResult:
    _, _, events, _, _ = evaluate(context.resources.lake, context.resources.kv, None, datetime.now(timezone.utc),
                                  lambda key: None, lambda feed: set())
    event = events[0]
    return dg.AssetCheckResult(passed=event.passed, description=event.description, metadata=event.metadata)
