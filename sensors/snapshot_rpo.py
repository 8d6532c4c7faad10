"""The snapshot RPO guardian: one sensor for every warehouse in platform/policies/snapshots.yaml.

Each tick, per warehouse:
- lists its snapshots (automated and manual) and reports the RPO-compliance check and the
  newest snapshot's age on the inventory asset (so the age is recorded over time);
- when the RPO would be violated before the next tick could act (now + tick interval +
  snapshot lead time >= newest available snapshot + RPO), requests a run of the inventory asset
  that takes a manual snapshot tagged with the policy's namespace and then prunes (when the
  manual snapshot quota is reached, the run prunes first and retries the snapshot once);
- otherwise, when this namespace has manual snapshots past retention (e.g. automated snapshots
  alone keep the RPO), requests a prune-only run: run_key = warehouse + a digest of the
  candidate set, retried like a snapshot run;
- at most one snapshot run per RPO window: run_key = warehouse + the creation time of the newest
  available snapshot (the window it opened). A failed (or ineffective) run is retried under
  `#n` once a tick interval has passed since it ended; a running one, or a snapshot still
  creating, is waited for.
Faults (cluster missing, throttling after retries, ...) are logged with their reason; the
check fails for a missing warehouse; nothing is requested or deleted, and the next tick
evaluates again.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

import dagster as dg

from dataplatform import snapshots as policy_lib
from dataplatform.automation import WRITER_TAG
from dataplatform.resources.snapshots import ClusterNotFound, SnapshotError
from dataplatform.run_attempts import RunState, next_run_key, run_state
from dataplatform.snapshots import RPO_CHECK, SnapshotPolicy

SENSOR_NAME = "snapshot_rpo"


def _request(policy: SnapshotPolicy, run_key: str, deadline: datetime | None) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        asset_selection=[policy.asset_key],
        run_config={"ops": {policy.op_name: {"config": {"take_snapshot": True}}}},
        tags={
            "dataplatform/snapshot_warehouse": policy.name,
            "dataplatform/rpo_deadline": deadline.isoformat() if deadline else "violated",
            WRITER_TAG: f"snapshots/{policy.cluster}",  # one snapshot run per cluster at a time
        },
    )


def _prune_request(policy: SnapshotPolicy, run_key: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        asset_selection=[policy.asset_key],
        run_config={"ops": {policy.op_name: {"config": {"prune": True}}}},
        tags={
            "dataplatform/snapshot_warehouse": policy.name,
            "dataplatform/snapshot_action": "prune",
            WRITER_TAG: f"snapshots/{policy.cluster}",
        },
    )


def _events(policy: SnapshotPolicy, status: policy_lib.RpoStatus, description: str) -> list:
    metadata = status.metadata(policy)
    return [
        dg.AssetCheckEvaluation(
            asset_key=policy.asset_key, check_name=RPO_CHECK, passed=status.compliant, metadata=metadata,
            description=description,
        ),
        dg.AssetObservation(asset_key=policy.asset_key, metadata=metadata),
    ]


def evaluate_policy(
    policy: SnapshotPolicy, store, now: datetime, tick: timedelta, run_state: RunState
) -> tuple[list[dg.RunRequest], list, list[str]]:
    """One tick for one warehouse: (run requests, asset events, log messages). Pure apart from
    reading the store and the state of earlier runs (`run_state(run_key)` -> (state, ended) | None)."""
    try:
        snapshots = store.list_snapshots(policy.cluster)
    except ClusterNotFound as error:
        message = f"{policy.name}: {error}"
        failing = dg.AssetCheckEvaluation(
            asset_key=policy.asset_key, check_name=RPO_CHECK, passed=False, description=message,
            metadata={"newest_snapshot": "none", "rpo_minutes": policy.rpo_minutes, "cluster_missing": True},
        )
        return [], [failing], [message]
    except SnapshotError as error:
        return [], [], [f"{policy.name}: snapshots not evaluated this tick: {error}"]

    status = policy_lib.rpo_status(policy, snapshots, now)
    if status.newest is None:
        summary = f"{policy.name}: no available snapshot of {policy.cluster}"
    else:
        summary = (f"{policy.name}: newest snapshot {status.newest.snapshot_id} ({status.newest.kind}) is "
                   f"{status.age.total_seconds() / 60:.1f} min old (RPO {policy.rpo_minutes} min)")
    events = _events(policy, status, summary)
    messages = [summary]
    if not policy_lib.snapshot_due(policy, snapshots, now, tick):
        # The snapshot runs prune too; without one, retention still applies.
        candidates = policy_lib.prune_candidates(policy, snapshots, now)
        if not candidates:
            return [], events, messages
        run_key, waiting = next_run_key(policy_lib.prune_key(policy, candidates), now, tick, run_state)
        if run_key is None:
            messages.append(f"{policy.name}: prune {waiting}")
            return [], events, messages
        messages.append(f"{policy.name}: {len(candidates)} snapshot(s) past retention; requesting {run_key}")
        return [_prune_request(policy, run_key)], events, messages
    creating = policy_lib.snapshot_in_progress(policy, snapshots, now)
    if creating is not None:
        messages.append(f"{policy.name}: snapshot {creating.snapshot_id} is still creating; not starting another")
        return [], events, messages

    run_key, waiting = next_run_key(policy_lib.window_key(policy, snapshots), now, tick, run_state)
    if run_key is None:
        messages.append(f"{policy.name}: snapshot {waiting}")
        return [], events, messages
    messages.append(f"{policy.name}: snapshot due before the next tick; requesting {run_key}")
    return [_request(policy, run_key, status.deadline)], events, messages


def evaluate(
    policies: Sequence[SnapshotPolicy], store, now: datetime, tick: timedelta, run_state: RunState
) -> tuple[list[dg.RunRequest], list, list[str]]:
    requests, events, messages = [], [], []
    for policy in policies:
        r, e, m = evaluate_policy(policy, store, now, tick, run_state)
        requests += r
        events += e
        messages += m
    return requests, events, messages


def snapshot_rpo_sensor(
    policies: Sequence[SnapshotPolicy] | None = None, interval_seconds: int | None = None
) -> dg.SensorDefinition:
    policies = list(policy_lib.snapshot_policies().values() if policies is None else policies)
    interval_seconds = interval_seconds or policy_lib.check_interval_seconds()
    for policy in policies:
        if timedelta(seconds=interval_seconds) + policy.lead >= policy.rpo:
            raise ValueError(
                f"snapshots.yaml {policy.name}: check interval {interval_seconds}s + lead {policy.snapshot_lead_minutes} min "
                f"must be shorter than the RPO of {policy.rpo_minutes} min"
            )
    tick = timedelta(seconds=interval_seconds)

    @dg.sensor(
        name=SENSOR_NAME,
        description="Takes a manual warehouse snapshot when the RPO would be violated before the next tick, "
        "prunes this namespace's old manual snapshots (also when no snapshot is due), and reports RPO compliance.",
        asset_selection=[policy.asset_key for policy in policies],
        minimum_interval_seconds=interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={"snapshots"},
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        requests, events, messages = evaluate(
            policies, context.resources.snapshots, policy_lib.now(), tick,
            lambda run_key: run_state(context.instance, run_key),
        )
        for message in messages:
            context.log.info(message)
        return dg.SensorResult(run_requests=requests, asset_events=events)

    return _sensor
