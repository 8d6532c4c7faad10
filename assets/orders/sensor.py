"""The outbox relay sensor: while the orders database's outbox holds unpublished rows, request a
relay run. The run key names the backlog (its highest id, size and attempts so far): a tick that
sees the same backlog does not launch twice while a run is on it, and a run that left it as it
was (killed, failed, or it found another relay holding the lock) is retried as `#n` one poll
interval after it ended."""

from datetime import datetime, timedelta, timezone

import dagster as dg

from assets.orders.assets import STREAM_KEY, policy
from dataplatform.automation import WRITER_TAG
from dataplatform.outbox import installed, waiting
from dataplatform.run_attempts import next_run_key

SENSOR = "orders_outbox_relay"


def evaluate(db, now: datetime, run_state) -> dg.RunRequest | dg.SkipReason:
    if not installed(db):
        return dg.SkipReason("the orders database has no outbox yet: run `dataplatform orders migrate`")
    count, top, attempts = waiting(db)
    if not count:
        return dg.SkipReason("every committed change is on the stream")
    run_key, why = next_run_key(f"outbox:{top}:{count}:{attempts}", now, timedelta(seconds=policy()["poll_seconds"]), run_state)
    if run_key is None:
        return dg.SkipReason(f"{count} change(s) waiting: {why}")
    return dg.RunRequest(run_key=run_key, asset_selection=[STREAM_KEY], tags={WRITER_TAG: "stream/orders_changes"})


@dg.sensor(name=SENSOR, minimum_interval_seconds=policy()["poll_seconds"], asset_selection=[STREAM_KEY],
           default_status=dg.DefaultSensorStatus.RUNNING, required_resource_keys={"oltp"},
           description="Requests an outbox relay run while committed order changes wait in the outbox.")
def outbox_relay_sensor(context: dg.SensorEvaluationContext):
    from dataplatform.run_attempts import run_state

    return evaluate(context.resources.oltp, datetime.now(timezone.utc), lambda key: run_state(context.instance, key))
