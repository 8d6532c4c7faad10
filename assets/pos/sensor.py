"""`pos_windows`: the completeness sensor. Each tick, per region and open business day (the newest
day seen minus the zone's lateness, up to today; everything on the first tick; every
`reconciliation_minutes` also the older days whose deliveries the zone's ledger does not have):

- lists the window's deliveries and the region's dated masters, and records when each delivery
  was first seen (key-value port);
- reports a window's state when it changed: a materialisation of landing/pos/window_completeness
  for that window (a table of stores: expected, received, missing since), and the check
  `complete_by_deadline` over the open windows, which fails while any is past its deadline
  incomplete and names the windows and their missing stores;
- requests the window's load when it is ready (complete, or past its deadline where the region's
  policy aggregates partial windows). The run key is the window and the digest of exactly the
  deliveries and masters it reads: a replayed or concurrent tick cannot launch it twice, a
  duplicated delivery (same content) changes nothing, a late or corrected one changes the digest
  and re-runs that window only. A failed load is retried under `#n`;
- publishes one notification (notify port) when a window becomes overdue, remembered in the
  key-value port so that catch-up and the daemon's sensor (each with its own cursor) send it once.

Keys that match no delivery pattern, stores missing from the registry and files in another format
than their store group's are reported on the landing asset, never loaded.
"""

from __future__ import annotations

import contextlib
import json
from datetime import date, datetime, time, timedelta, timezone

import dagster as dg

from assets.pos.policy import ZONE, Region, policy, window_key
from assets.pos.windows import RegionListing, WindowStatus, first_seen, list_region, window_status
from dataplatform.automation import WRITER_TAG
from dataplatform.ledger import reconcile
from dataplatform.resources.kv import ConditionFailed
from dataplatform.run_attempts import FAILED

LANDING = dg.AssetKey.from_user_string(ZONE.landing_asset)
COMPLETENESS = dg.AssetKey(["landing", "pos", "window_completeness"])
CHECK = "complete_by_deadline"
NOTIFIED_TABLE = "pos_overdue_notifications"  # key-value port: windows whose overdue alert was sent
WINDOW_TAG = "dataplatform/pos_window"
MAX_REPORTED = 200


def open_days(watermark: date | None, today: date) -> list[date] | None:
    if watermark is None:
        return None
    first = min(watermark, today) - timedelta(days=ZONE.lateness.days)
    return [first + timedelta(days=n) for n in range((today - first).days + 1)]


def completeness_table(status: WindowStatus, seen: dict[str, datetime]) -> dg.TableMetadataValue:
    since = datetime.combine(status.business_date, time(), timezone.utc)  # the business day's start
    rows = []
    for store in sorted(status.stores.values(), key=lambda s: s.store_id):
        times = sorted(seen[d.key] for d in store.loaded if d.key in seen)
        rows.append(dg.TableRecord({
            "store_id": store.store_id, "expected": store.expected, "received": len(store.loaded),
            "duplicates": len(store.duplicates),
            "first_arrival": times[0].isoformat() if times else "", "last_arrival": times[-1].isoformat() if times else "",
            "missing_since": (max(times[-1], since) if times else since).isoformat() if store.missing else "",
        }))
    schema = dg.TableSchema(columns=[
        dg.TableColumn("store_id", "string"), dg.TableColumn("expected", "int"), dg.TableColumn("received", "int"),
        dg.TableColumn("duplicates", "int"), dg.TableColumn("first_arrival", "string"),
        dg.TableColumn("last_arrival", "string"), dg.TableColumn("missing_since", "string"),
    ])
    return dg.MetadataValue.table(rows, schema)


def window_summary(status: WindowStatus, now: datetime) -> str:
    missing = status.missing_stores()
    if status.registry_problem:
        return status.registry_problem
    state = "complete" if status.complete else f"{len(missing)} of {len(status.stores)} stores missing: {', '.join(missing[:20])}"
    deadline = status.region.deadline(status.business_date)
    return f"{status.region.name} {status.business_date}: {state}" + ("" if status.complete else f" (deadline {deadline:%Y-%m-%d %H:%M} UTC{', passed' if now >= deadline else ''})")


def events_for(status: WindowStatus, seen: dict[str, datetime], now: datetime) -> dg.AssetMaterialization:
    partition = window_key(status.region.name, status.business_date)
    description = window_summary(status, now)
    metadata = {
        "complete": status.complete,
        "overdue": status.overdue(now),
        "deadline": status.region.deadline(status.business_date).isoformat(),
        "stores_expected": len(status.stores),
        "stores_complete": sum(1 for s in status.stores.values() if not s.missing),
        "missing_stores": ", ".join(status.missing_stores()[:MAX_REPORTED]) or "none",
        "unknown_stores": ", ".join(sorted(status.unknown_stores)[:MAX_REPORTED]) or "none",
        "misfiled_files": len(status.misfiled),
        "store_registry": status.registry_key or "none",
        "item_master": status.items_key or "none",
        "stores": completeness_table(status, seen),
    }
    return dg.AssetMaterialization(asset_key=COMPLETENESS, partition=partition, description=description, metadata=metadata)


def overdue_check(statuses: list[WindowStatus], now: datetime) -> dg.AssetCheckEvaluation:
    """One verdict over the open windows (a runless evaluation per partition can be stored only once)."""
    overdue = [s for s in statuses if s.overdue(now)]
    lines = [window_summary(s, now) for s in overdue]
    return dg.AssetCheckEvaluation(
        asset_key=COMPLETENESS, check_name=CHECK, passed=not overdue,
        description="; ".join(lines)[:2000] if overdue else f"{len(statuses)} open windows, none past its deadline incomplete",
        metadata={"overdue_windows": ", ".join(window_key(s.region.name, s.business_date) for s in overdue) or "none",
                  "missing_stores": "; ".join(f"{window_key(s.region.name, s.business_date)}: {', '.join(s.missing_stores())}"
                                              for s in overdue)[:4000] or "none"},
    )


def notify_overdue(kv, notifier, status: WindowStatus, now: datetime) -> None:
    """One notification per overdue window, whichever evaluates it (the daemon's sensor, catch-up:
    each has its own cursor): the key-value port remembers it was sent. Sent, then remembered, so
    a crash in between repeats it rather than losing it."""
    kv.ensure_table(NOTIFIED_TABLE)
    partition = window_key(status.region.name, status.business_date)
    if kv.get(NOTIFIED_TABLE, partition) is not None:
        return
    notifier.publish(policy().notify_topic, f"POS window {partition} is overdue",
                     {"window": partition, "missing_stores": status.missing_stores(),
                      "deadline": status.region.deadline(status.business_date).isoformat(),
                      "action": "aggregating partial" if status.region.aggregate_partial else "waiting"})
    with contextlib.suppress(ConditionFailed):  # another evaluation sent it at the same moment
        kv.put(NOTIFIED_TABLE, partition, {"notified_at": now.isoformat()}, expected_version=None)


def load_run_key(base: str, run_state) -> str | None:
    """The key to request the window's load under, or None: loaded (or loading) already. A failed
    load is retried as `#n`; a successful one is never repeated for the same deliveries."""
    attempt = 1
    while True:
        run_key = base if attempt == 1 else f"{base}#{attempt}"
        state = run_state(run_key)
        if state is None:
            return run_key
        if state[0] != FAILED:
            return None
        attempt += 1


def run_request(status: WindowStatus, run_key: str) -> dg.RunRequest:
    partition = window_key(status.region.name, status.business_date)
    return dg.RunRequest(
        run_key=run_key, partition_key=partition,
        asset_selection=[dg.AssetKey.from_user_string(t) for t in ZONE.targets],
        tags={WRITER_TAG: f"raw/{ZONE.name}", WINDOW_TAG: partition, "dataplatform/pos_complete": str(status.complete).lower(),
              "dataplatform/objects": str(len(status.deliveries()))},
    )


def window_statuses(lake, region: Region, days: list[date] | None, now: datetime) -> tuple[RegionListing, list[WindowStatus]]:
    """The region's windows among `days` (None: every delivered day) that have deliveries or are
    past their deadline, from the region's first store registry on."""
    today = now.astimezone(timezone.utc).date()
    listing, statuses = list_region(lake, region.name, days), []
    for day in sorted(d for d in (days or listing.deliveries) if d <= today):
        if day not in listing.deliveries and (days is None or now < region.deadline(day)):
            continue  # nothing delivered yet and nothing overdue
        status = window_status(lake, region, day, listing)
        if not status.stores and not status.unknown_stores and status.registry_problem and day not in listing.deliveries:
            continue  # before the region's first registry: not a window of this region yet
        statuses.append(status)
    return listing, statuses


def open_window_statuses(lake, now: datetime) -> list[WindowStatus]:
    """Every region's open windows (the lateness back from today): the check's and the summary's view."""
    today = now.astimezone(timezone.utc).date()
    days = open_days(today, today)
    return [status for region in policy().regions.values() for status in window_statuses(lake, region, days, now)[1]]


def evaluate(lake, kv, notifier, cursor: str | None, now: datetime, run_state):
    """One tick: (run requests, new cursor, asset events, stats)."""
    state = json.loads(cursor) if cursor else {}
    watermark = date.fromisoformat(state["watermark"]) if state.get("watermark") else None
    reported, notified = state.get("reported", {}), set(state.get("notified", []))
    today = now.astimezone(timezone.utc).date()
    days = open_days(watermark, today)
    reconciled_at = state.get("reconciled_at")
    if days is not None and (reconciled_at is None or now - datetime.fromisoformat(reconciled_at) >= ZONE.reconciliation):
        # Every reconciliation interval, the whole zone against the ledger: days older than the
        # open ones with unprocessed deliveries (a window still waiting, a store later than the
        # lateness) are evaluated too, so nothing delivered is left behind unreported.
        reconciled_at = now.isoformat()
        days = sorted(set(days) | {hour.date() for hour in reconcile(ZONE, lake, now).unprocessed})
    requests, events, invalid, unknown, misfiled = [], [], {}, {}, {}
    stats = {"windows": 0, "complete": 0, "ready": 0, "overdue": 0, "requested": 0}
    newest = watermark
    still_open = set()
    statuses, changed = [], False
    for region in policy().regions.values():
        listing, region_statuses = window_statuses(lake, region, days, now)
        invalid |= listing.invalid
        for status in region_statuses:
            day = status.business_date
            newest = max(filter(None, (newest, day)))
            partition = window_key(region.name, day)
            still_open.add(partition)
            seen = first_seen(kv, status, now)
            unknown |= {k: f"store {s} is not in {status.registry_key}" for s, keys in status.unknown_stores.items() for k in keys}
            misfiled |= status.misfiled
            stats["windows"] += 1
            statuses.append(status)
            stats["complete"] += status.complete
            fingerprint = f"{status.digest}:{status.complete}:{status.overdue(now)}"
            if reported.get(partition) != fingerprint:
                events.append(events_for(status, seen, now))
                reported[partition] = fingerprint
                changed = True
            if status.overdue(now):
                stats["overdue"] += 1
                if partition not in notified:
                    notify_overdue(kv, notifier, status, now)
                    notified.add(partition)
            if status.ready(now):
                stats["ready"] += 1
                run_key = load_run_key(f"pos:{partition}:{status.digest}", run_state)
                if run_key is not None:
                    requests.append(run_request(status, run_key))
    stats["requested"] = len(requests)
    if changed or cursor is None:
        events.append(overdue_check(statuses, now))
    problems = {**invalid, **unknown, **misfiled}
    new_problems = {k: v for k, v in problems.items() if k not in state.get("problems", {})}
    if new_problems:
        events.append(dg.AssetObservation(asset_key=LANDING, metadata={
            "not_loaded": dg.MetadataValue.json([f"{k[:300]}: {v}" for k, v in sorted(new_problems.items())[:MAX_REPORTED]]),
            "not_loaded_count": len(problems), "invalid_keys": len(invalid), "unknown_store_files": len(unknown),
            "misfiled_files": len(misfiled),
        }))
    stats |= {"invalid": len(invalid), "unknown_store_files": len(unknown), "misfiled": len(misfiled)}
    cursor = json.dumps({
        "watermark": newest.isoformat() if newest else None,
        "reported": {k: v for k, v in reported.items() if k in still_open},
        "notified": sorted(notified & still_open),
        "problems": dict(sorted(problems.items())[-1000:]),
        "reconciled_at": reconciled_at,
    }, separators=(",", ":"))
    return requests, cursor, events, stats


def pos_windows_sensor() -> dg.SensorDefinition:
    """Ticks every 60 s (catch-up: every pass); reconciles the whole zone every reconciliation_minutes."""
    @dg.sensor(
        name="pos_windows",
        description="Loads (and so aggregates) each POS window once it is complete; reports its completeness "
        "and alerts once when it is overdue.",
        asset_selection=[dg.AssetKey.from_user_string(t) for t in ZONE.targets],
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={"lake", "kv", "notify"},
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        from dataplatform.run_attempts import run_state

        requests, cursor, events, stats = evaluate(
            context.resources.lake, context.resources.kv, context.resources.notify, context.cursor,
            datetime.now(timezone.utc), lambda key: run_state(context.instance, key),
        )
        context.log.info(f"pos windows: {stats}")
        return dg.SensorResult(run_requests=requests, cursor=cursor, asset_events=events)

    return _sensor
