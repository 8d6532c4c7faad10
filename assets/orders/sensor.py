"""The outbox relay sensor: while the orders database's outbox holds unpublished rows, request a
relay run. The run key names the backlog (its highest id, size and attempts so far): a tick that
sees the same backlog does not launch twice, and a run that left rows unpublished (the stream
refused them, or was down) is retried once their attempt count moved."""

import dagster as dg

from assets.orders.assets import STREAM_KEY, policy
from dataplatform.automation import WRITER_TAG
from dataplatform.outbox import installed, waiting

SENSOR = "orders_outbox_relay"


def evaluate(db) -> dg.RunRequest | dg.SkipReason:
    if not installed(db):
        return dg.SkipReason("the orders database has no outbox yet: run `dataplatform orders migrate`")
    count, top, attempts = waiting(db)
    if not count:
        return dg.SkipReason("every committed change is on the stream")
    return dg.RunRequest(run_key=f"outbox:{top}:{count}:{attempts}", asset_selection=[STREAM_KEY],
                         tags={WRITER_TAG: "stream/orders_changes"})


@dg.sensor(name=SENSOR, minimum_interval_seconds=policy()["poll_seconds"], asset_selection=[STREAM_KEY],
           default_status=dg.DefaultSensorStatus.RUNNING, required_resource_keys={"oltp"},
           description="Requests an outbox relay run while committed order changes wait in the outbox.")
def outbox_relay_sensor(context: dg.SensorEvaluationContext):
    return evaluate(context.resources.oltp)
