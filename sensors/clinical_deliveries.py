"""Turns a complete MIMIC delivery into one load run; a partial delivery (files still arriving,
no manifest yet, or a manifest naming files that are missing or of the wrong size) waits, and
says so on every tick: the landing asset's `deliveries_complete` check fails with each waiting
delivery's reason (which file, expected vs found size, no manifest) until it is complete or
superseded by a newer complete delivery."""

import json

import dagster as dg

from assets.clinical.assets import DELIVERY_TAG, LANDING_KEY, clinical_raw
from assets.clinical.delivery import Manifest, newest_complete_delivery, pending_problems
from dataplatform.automation import WRITER_TAG

RUN_KEY_PREFIX = "mimic"
COMPLETE_CHECK = "deliveries_complete"


def run_key(delivery_id: str, fingerprint: str) -> str:
    return f"{RUN_KEY_PREFIX}:{delivery_id}:{fingerprint}"


@dg.sensor(
    name="clinical_delivery_sensor",
    asset_selection=list(clinical_raw.keys),
    minimum_interval_seconds=60,
    required_resource_keys={"lake"},
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def clinical_delivery_sensor(context: dg.SensorEvaluationContext):
    """Cursor: the run key of the newest delivery requested. Only the newest complete delivery
    is loaded (deliveries are full snapshots); a re-delivered manifest or file gets a new run key."""
    lake = context.resources.lake
    newest = newest_complete_delivery(lake)
    events = [status_event(lake, newest[0] if newest else None)]
    if newest is None:
        return dg.SensorResult(skip_reason=events[0].description or "no delivery manifests in the clinical landing zone", asset_events=events)
    manifest, fingerprint = newest
    key = run_key(manifest.delivery_id, fingerprint)
    if key == context.cursor:
        return dg.SensorResult(skip_reason=f"delivery {manifest.delivery_id} already requested", asset_events=events)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=key,
                asset_selection=list(clinical_raw.keys),
                run_config={"ops": {clinical_raw.op.name: {"config": {"delivery_id": manifest.delivery_id}}}},
                tags={DELIVERY_TAG: manifest.delivery_id, WRITER_TAG: "raw/clinical"},
            )
        ],
        asset_events=[
            *events,
            dg.AssetObservation(
                asset_key=LANDING_KEY,
                metadata={"delivery_id": manifest.delivery_id, "manifest": json.dumps({f.table: f.rows for f in manifest.files})},
            ),
        ],
        cursor=key,
    )


def status_event(lake, newest: Manifest | None) -> dg.AssetCheckEvaluation:
    problems = pending_problems(lake, newest)
    loaded = f"newest complete delivery: {newest.delivery_id}" if newest else "no complete delivery"
    return dg.AssetCheckEvaluation(
        asset_key=LANDING_KEY, check_name=COMPLETE_CHECK, passed=not problems,
        description="; ".join([*problems, loaded]),
        metadata={"waiting_deliveries": len(problems), "newest_complete_delivery": newest.delivery_id if newest else "none"},
    )


@dg.asset_check(
    asset=LANDING_KEY, name=COMPLETE_CHECK, required_resource_keys={"lake"},
    description="No delivery after the newest complete one is waiting: each has its manifest and every file "
    "it lists, at the listed size. Reported by the delivery sensor on every tick.",
)
def deliveries_complete(context) -> dg.AssetCheckResult:
    found = newest_complete_delivery(context.resources.lake)
    event = status_event(context.resources.lake, found[0] if found else None)
    return dg.AssetCheckResult(passed=event.passed, description=event.description, metadata=event.metadata)
