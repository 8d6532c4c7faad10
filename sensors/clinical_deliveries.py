"""Turns a complete MIMIC delivery into one load run; a partial delivery (files still arriving,
no manifest yet, or a manifest naming files that are missing or of the wrong size) waits."""

import json

import dagster as dg

from assets.clinical.assets import DELIVERY_TAG, LANDING_KEY, clinical_raw
from assets.clinical.delivery import newest_complete_delivery
from dataplatform.automation import WRITER_TAG

RUN_KEY_PREFIX = "mimic"


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
    skipped: list[str] = []
    newest = newest_complete_delivery(context.resources.lake, skipped.append)
    if newest is None:
        return dg.SkipReason("; ".join(skipped) or "no delivery manifests in the clinical landing zone")
    manifest, fingerprint = newest
    key = run_key(manifest.delivery_id, fingerprint)
    if key == context.cursor:
        return dg.SkipReason(f"delivery {manifest.delivery_id} already requested")
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
            dg.AssetObservation(
                asset_key=LANDING_KEY,
                metadata={"delivery_id": manifest.delivery_id, "manifest": json.dumps(
                    {f.table: f.rows for f in manifest.files}), "incomplete": "; ".join(skipped) or "none"},
            )
        ],
        cursor=key,
    )
