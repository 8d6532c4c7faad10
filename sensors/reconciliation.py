"""One reconciliation sensor per landing zone: the whole zone against its ledger
(dataplatform/ledger.py), so nothing that lands is missed, whatever hour its name carries.

The arrival sensor is the fast path (it lists only hours after watermark - lateness); this one
lists everything, every `reconciliation_minutes` in the daemon and on every pass of catch-up:
- unprocessed objects within retention (a backfill, re-sent history, a delayed delivery, an
  hour whose run failed or was killed) are requested, one run per contiguous range of hours,
  which re-opens those hours and, through automation, everything downstream;
- objects outside retention and keys not matching the zone's pattern are reported, not loaded;
- every evaluation reports `objects_accounted_for` on the landing asset (failing while anything
  is unprocessed or reported) and an observation with the counts and keys, visible in the UI.
While a run of the zone is in progress nothing is requested (it may be loading those objects).
A failed reconciliation run is retried under a new run key (`#n`) at the next evaluation.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg

from dataplatform.landing_zones import LandingZone
from dataplatform.ledger import Reconciliation, reconcile
from dataplatform.run_attempts import UNFINISHED, RunState, next_run_key, run_state
from sensors.s3_arrivals import contiguous_ranges, run_request

ACCOUNTED_FOR = "objects_accounted_for"
ZONE_TAG = "dataplatform/landing_zone"


def requests_for(zone: LandingZone, result: Reconciliation, now: datetime, run_state: RunState) -> tuple[list[dg.RunRequest], list[str]]:
    requests, messages = [], []
    for first, last in contiguous_ranges(list(result.unprocessed)):
        objects = [o for hour, objs in result.unprocessed.items() if first <= hour <= last for o in objs]
        # The arrival sensor's key for the same objects: a run it launched for them is waited
        # for (or retried as `#n` once it failed), not duplicated.
        base = run_request(zone, first, last, objects).run_key
        run_key, waiting = next_run_key(base, now, timedelta(0), run_state)
        if run_key is None:
            messages.append(f"{zone.name}: {waiting}")
            continue
        messages.append(f"{zone.name}: {len(objects)} unprocessed objects in {first:%Y-%m-%d %H}:00 .. {last:%Y-%m-%d %H}:00; requesting {run_key}")
        requests.append(run_request(zone, first, last, objects, run_key=run_key))
    return requests, messages


def events_for(zone: LandingZone, result: Reconciliation) -> list:
    landing = dg.AssetKey.from_user_string(zone.landing_asset)
    metadata = result.metadata()
    return [
        dg.AssetCheckEvaluation(
            asset_key=landing, check_name=ACCOUNTED_FOR, passed=result.accounted_for,
            description=result.description(zone), metadata={k: v for k, v in metadata.items() if not k.endswith("_keys")},
        ),
        dg.AssetObservation(asset_key=landing, metadata={k: dg.MetadataValue.json(v) if isinstance(v, list) else v for k, v in metadata.items()}),
    ]


def accounted_for_check(zone: LandingZone) -> dg.AssetChecksDefinition:
    """The same verdict on demand ("Execute" on the landing asset's Checks tab)."""

    @dg.asset_check(
        asset=dg.AssetKey.from_user_string(zone.landing_asset), name=ACCOUNTED_FOR,
        description=f"Every object under {zone.bucket}/{zone.prefix} is processed (in the ledger with its ETag), "
        "or reported: outside retention or not matching the zone's key pattern. Reported on every reconciliation.",
        required_resource_keys={"lake"},
    )
    def _check(context) -> dg.AssetCheckResult:
        result = reconcile(zone, context.resources.lake, datetime.now(timezone.utc))
        metadata = {k: v for k, v in result.metadata().items() if not k.endswith("_keys")}
        return dg.AssetCheckResult(passed=result.accounted_for, description=result.description(zone), metadata=metadata)

    return _check


def reconciliation_sensor(zone: LandingZone) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{zone.name}_reconciliation",
        description=f"Compares every object under {zone.bucket}/{zone.prefix} with the zone's ledger; "
        "requests the hours of unprocessed objects and reports the rest.",
        asset_selection=[dg.AssetKey.from_user_string(t) for t in zone.targets],
        minimum_interval_seconds=int(zone.reconciliation.total_seconds()),
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={"lake"},
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        now = datetime.now(timezone.utc)
        result = reconcile(zone, context.resources.lake, now)
        context.log.info(result.description(zone))
        events = events_for(zone, result)
        running = context.instance.get_runs(filters=dg.RunsFilter(tags={ZONE_TAG: zone.name}, statuses=UNFINISHED), limit=1)
        if result.unprocessed and running:
            context.log.info(f"{zone.name}: run {running[0].run_id} is in progress; requesting nothing this tick")
            return dg.SensorResult(asset_events=events)
        requests, messages = requests_for(zone, result, now, lambda key: run_state(context.instance, key))
        for message in messages:
            context.log.info(message)
        return dg.SensorResult(run_requests=requests, asset_events=events)

    return _sensor


def landing_zone_definitions(domain: str) -> dg.Definitions:
    """Every landing zone of `domain`: its arrival sensor, its reconciliation sensor and check."""
    from dataplatform.landing_zones import zones
    from sensors.s3_arrivals import arrival_sensor

    own = [zone for zone in zones().values() if zone.domain == domain]
    return dg.Definitions(
        sensors=[sensor for zone in own for sensor in (arrival_sensor(zone), reconciliation_sensor(zone))],
        asset_checks=[accounted_for_check(zone) for zone in own],
    )
