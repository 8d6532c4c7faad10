"""Warehouse snapshot policy (platform/policies/snapshots.yaml) and the decisions made from it.

Pure functions of (policy, snapshots, now) decide whether a snapshot is due, what the RPO
status is and what may be pruned; the sensor, the inventory asset and the restore drill only
call them. Time comes from `now()`, a module-level clock hook tests replace.
"""

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache

import dagster as dg

from dataplatform.governance.policies import load
from dataplatform.resources.snapshots import (
    CREATING,
    MANUAL,
    NAMESPACE_TAG,
    QuotaExceeded,
    Snapshot,
    SnapshotError,
    SnapshotNotFound,
    SnapshotStore,
)

RPO_CHECK = "rpo_compliance"
CREATED_BY_TAG = "dataplatform:created-by"
CREATED_BY = "snapshot-rpo-sensor"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


# The clock of the sensor, the inventory asset and the drill. Tests replace it (monkeypatch).
CLOCK: Callable[[], datetime] = _utcnow


def now() -> datetime:
    return CLOCK()


@dataclass(frozen=True)
class RestoreDrillPolicy:
    cron: str
    scratch_target: str
    rto_minutes: int


@dataclass(frozen=True)
class SnapshotPolicy:
    name: str
    domain: str
    cluster: str
    local_file: str
    rpo_minutes: int
    snapshot_lead_minutes: int
    snapshot_timeout_minutes: int
    retention_days: int
    namespace: str
    snapshot_prefix: str
    key_tables: tuple[str, ...]
    restore_drill: RestoreDrillPolicy

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(["warehouse", "snapshots", self.name])

    @property
    def op_name(self) -> str:
        return self.asset_key.to_python_identifier()

    @property
    def rpo(self) -> timedelta:
        return timedelta(minutes=self.rpo_minutes)

    @property
    def lead(self) -> timedelta:
        return timedelta(minutes=self.snapshot_lead_minutes)

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    @property
    def snapshot_timeout(self) -> timedelta:
        return timedelta(minutes=self.snapshot_timeout_minutes)


def policy_from_dict(name: str, spec: dict) -> SnapshotPolicy:
    drill = spec["restore_drill"]
    return SnapshotPolicy(
        name=name,
        domain=spec["domain"],
        cluster=spec["cluster"],
        local_file=spec.get("local_file", "warehouse.duckdb"),
        rpo_minutes=int(spec["rpo_minutes"]),
        snapshot_lead_minutes=int(spec.get("snapshot_lead_minutes", 0)),
        snapshot_timeout_minutes=int(spec.get("snapshot_timeout_minutes", 60)),
        retention_days=int(spec["retention_days"]),
        namespace=spec["namespace"],
        snapshot_prefix=spec["snapshot_prefix"],
        key_tables=tuple(spec.get("key_tables", ())),
        restore_drill=RestoreDrillPolicy(drill["cron"], drill["scratch_target"], int(drill["rto_minutes"])),
    )


def policies_from_config(config: dict) -> dict[str, SnapshotPolicy]:
    """The policies of snapshots.yaml. The restore drill drops its scratch target afterwards, so a
    scratch target naming a warehouse (a cluster, or a local file) or another drill's is refused."""
    policies = {name: policy_from_dict(name, spec) for name, spec in config["warehouses"].items()}
    taken: dict[str, str] = {}
    for policy in policies.values():
        taken.setdefault(policy.cluster, f"the cluster of {policy.name}")
        for local in (policy.local_file, policy.local_file.removesuffix(".duckdb")):
            taken.setdefault(local, f"the local file of {policy.name}")
    for policy in policies.values():
        target = policy.restore_drill.scratch_target
        if target in taken:
            raise ValueError(
                f"snapshots.yaml {policy.name}: restore_drill.scratch_target {target!r} is {taken[target]}; the drill "
                "drops its scratch target afterwards, so it must be a name of its own"
            )
        taken[target] = f"also the scratch target of {policy.name}"
    return policies


@cache
def snapshot_policies() -> dict[str, SnapshotPolicy]:
    return policies_from_config(load("snapshots"))


def check_interval_seconds() -> int:
    return int(load("snapshots").get("check_interval_seconds", 120))


# --- decisions ---------------------------------------------------------------------------------


def newest_available(snapshots: Sequence[Snapshot]) -> Snapshot | None:
    """The newest snapshot a restore could use, of any type (automated or manual)."""
    available = [s for s in snapshots if s.available]
    return max(available, key=lambda s: (s.created, s.snapshot_id), default=None)


@dataclass(frozen=True)
class RpoStatus:
    newest: Snapshot | None
    age: timedelta | None
    compliant: bool
    deadline: datetime | None  # when the RPO is violated without a newer snapshot

    def metadata(self, policy: SnapshotPolicy) -> dict:
        return {
            "newest_snapshot": self.newest.snapshot_id if self.newest else "none",
            "newest_snapshot_type": self.newest.kind if self.newest else "none",
            "newest_snapshot_age_minutes": round(self.age.total_seconds() / 60, 2) if self.age is not None else -1.0,
            "rpo_minutes": policy.rpo_minutes,
            "rpo_deadline": self.deadline.isoformat() if self.deadline else "now",
        }


def rpo_status(policy: SnapshotPolicy, snapshots: Sequence[Snapshot], now: datetime) -> RpoStatus:
    newest = newest_available(snapshots)
    if newest is None:
        return RpoStatus(None, None, False, None)
    age = now - newest.created
    return RpoStatus(newest, age, age <= policy.rpo, newest.created + policy.rpo)


def snapshot_in_progress(policy: SnapshotPolicy, snapshots: Sequence[Snapshot], now: datetime) -> Snapshot | None:
    """A snapshot still creating (and not yet past the policy's timeout): a new one would only queue behind it."""
    creating = [s for s in snapshots if s.status == CREATING and now - s.created < policy.snapshot_timeout]
    return max(creating, key=lambda s: s.created, default=None)


def snapshot_due(policy: SnapshotPolicy, snapshots: Sequence[Snapshot], now: datetime, tick: timedelta) -> bool:
    """True when the RPO would be violated before the next tick could act: the next tick comes
    at now + tick at the earliest, and a snapshot needs `lead` to become available, so a snapshot
    is due once now + tick + lead reaches the newest available snapshot's created + RPO."""
    status = rpo_status(policy, snapshots, now)
    return status.deadline is None or now + tick + policy.lead >= status.deadline


def window_key(policy: SnapshotPolicy, snapshots: Sequence[Snapshot]) -> str:
    """The RPO window is opened by the newest available snapshot: at most one snapshot run is
    requested per window (attempts after a failed run get `#n`)."""
    newest = newest_available(snapshots)
    opened = f"{newest.created.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}" if newest else "none"
    return f"snapshot-rpo:{policy.name}:{opened}"


def snapshot_id_for(policy: SnapshotPolicy, now: datetime) -> str:
    return f"{policy.snapshot_prefix}-{now.astimezone(timezone.utc):%Y%m%d-%H%M%S}"


def prune_candidates(policy: SnapshotPolicy, snapshots: Sequence[Snapshot], now: datetime) -> list[Snapshot]:
    """Manual, available snapshots of this policy's namespace older than retention - except the
    newest available snapshot of any type and the namespace's newest manual snapshot. Automated
    snapshots and other namespaces' are never candidates."""
    ours = [s for s in snapshots if s.kind == MANUAL and s.namespace == policy.namespace and s.available]
    protected = {s.snapshot_id for s in (newest_available(snapshots), newest_available(ours)) if s is not None}
    cutoff = now - policy.retention
    return sorted(
        (s for s in ours if s.created < cutoff and s.snapshot_id not in protected),
        key=lambda s: (s.created, s.snapshot_id),
    )


def prune_key(policy: SnapshotPolicy, candidates: Sequence[Snapshot]) -> str:
    """One prune-only run per candidate set (attempts after a failed run get `#n`)."""
    digest = hashlib.sha256("\n".join(sorted(s.snapshot_id for s in candidates)).encode()).hexdigest()[:16]
    return f"snapshot-prune:{policy.name}:{digest}"


# --- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotTaken:
    snapshot: Snapshot
    pruned: list[str]


class SnapshotNotTaken(SnapshotError):
    """No snapshot was taken; `pruned` lists what was pruned first to free the quota (else nothing)."""

    def __init__(self, message: str, pruned: list[str]):
        super().__init__(message)
        self.pruned = pruned


def prune(policy: SnapshotPolicy, store: SnapshotStore, now: datetime, log=None) -> list[str]:
    """Delete the prune candidates of a fresh listing (a listing error raises before anything is
    deleted); one already gone (a concurrent prune) is skipped. Returns the deleted identifiers."""
    pruned = []
    for old in prune_candidates(policy, store.list_snapshots(policy.cluster), now):
        try:
            store.delete_snapshot(policy.cluster, old.snapshot_id)
        except SnapshotNotFound:
            continue
        pruned.append(old.snapshot_id)
        if log:
            log(f"{policy.name}: pruned {old.snapshot_id} (created {old.created.isoformat()}, older than {policy.retention_days} days)")
    return pruned


def take_snapshot(policy: SnapshotPolicy, store: SnapshotStore, now: datetime, log=None) -> SnapshotTaken:
    """Take a manual snapshot tagged with the namespace, wait until it is available, then prune.
    When the manual snapshot quota is reached, prune first and retry the snapshot once. Any other
    error before the snapshot is available raises before anything is deleted."""
    def create() -> Snapshot:
        return store.create_snapshot(
            policy.cluster,
            snapshot_id_for(policy, now),
            tags={NAMESPACE_TAG: policy.namespace, CREATED_BY_TAG: CREATED_BY},
            key_tables=policy.key_tables,
        )

    freed: list[str] = []
    try:
        snapshot = create()
    except QuotaExceeded as error:
        freed = prune(policy, store, now, log)
        if not freed:
            raise SnapshotNotTaken(f"{error}; nothing of {policy.namespace} is past retention to prune", []) from error
        try:
            snapshot = create()
        except SnapshotError as retry_error:
            raise SnapshotNotTaken(f"{retry_error} (retried after pruning to free the quota)", freed) from retry_error
    try:
        snapshot = store.wait_until_available(
            policy.cluster, snapshot.snapshot_id, timeout_seconds=policy.snapshot_timeout.total_seconds()
        )
    except SnapshotError as error:
        if freed:
            raise SnapshotNotTaken(str(error), freed) from error
        raise
    return SnapshotTaken(snapshot, freed + prune(policy, store, now, log))


def has_recorded_counts(snapshot: Snapshot) -> bool:
    """At least one key table was counted (not missing) when the snapshot was taken."""
    return any(n is not None for n in snapshot.row_counts.values())


@dataclass(frozen=True)
class DrillResult:
    snapshot: Snapshot
    newest: Snapshot | None  # the newest available snapshot of any type
    expected: dict
    restored: dict
    rto_seconds: float

    @property
    def newest_overall(self) -> bool:
        return self.newest is not None and self.newest.snapshot_id == self.snapshot.snapshot_id

    @property
    def mismatches(self) -> dict:
        return {t: {"recorded": self.expected.get(t), "restored": self.restored.get(t)}
                for t in sorted(set(self.expected) | set(self.restored)) if self.expected.get(t) != self.restored.get(t)}

    @property
    def verified(self) -> bool:
        # Tables missing both when recorded and restored match, but prove nothing on their own.
        return any(n is not None for n in self.expected.values()) and not self.mismatches


def restore_drill(
    policy: SnapshotPolicy, store: SnapshotStore, *, timer: Callable[[], float] = time.monotonic
) -> DrillResult:
    """Restore the newest available snapshot that has at least one recorded row count (automated
    Redshift snapshots have none to verify against, nor has one taken when every key table was
    missing) into the scratch target, count the key tables there and compare; RTO = time from the
    restore request to a verified, usable copy. The scratch target is dropped afterwards only if
    this drill created it: a target that already existed (a concurrent drill, or a misconfigured
    name) is never touched."""
    snapshots = store.list_snapshots(policy.cluster)
    verifiable = [s for s in snapshots if s.available and has_recorded_counts(s)]
    if not verifiable:
        raise SnapshotError(f"{policy.name}: no available snapshot with recorded row counts to restore")
    snapshot = max(verifiable, key=lambda s: (s.created, s.snapshot_id))
    target = policy.restore_drill.scratch_target
    tables = sorted(snapshot.row_counts)
    started = timer()
    created = False
    try:
        restored = store.restore(
            policy.cluster, snapshot.snapshot_id, target, key_tables=tables,
            timeout_seconds=policy.restore_drill.rto_minutes * 60 * 2,
        )
        created = True
        rto = timer() - started
    finally:
        if created:
            store.drop_restore(target)
    return DrillResult(snapshot, newest_available(snapshots), dict(snapshot.row_counts), restored, rto)


# --- restore drill job -------------------------------------------------------------------------


class RestoreDrillConfig(dg.Config):
    warehouse: str  # a name under `warehouses` in snapshots.yaml


@dg.op(required_resource_keys={"snapshots"})
def run_restore_drill(context: dg.OpExecutionContext, config: RestoreDrillConfig) -> None:
    """Restore the newest snapshot into scratch, verify its key-table row counts and record the RTO."""
    policy = snapshot_policies()[config.warehouse]
    result = restore_drill(policy, context.resources.snapshots)
    rto_met = result.rto_seconds <= policy.restore_drill.rto_minutes * 60
    if not result.newest_overall:
        context.log.warning(
            f"{policy.name}: drilled {result.snapshot.snapshot_id}, not the newest available snapshot "
            f"{result.newest.snapshot_id} ({result.newest.kind}), which has no recorded row counts to verify against"
        )
    context.log_event(
        dg.AssetObservation(
            asset_key=policy.asset_key,
            metadata={
                "restore_drill_snapshot": result.snapshot.snapshot_id,
                "restore_drill_newest_snapshot": result.newest_overall,
                "restore_drill_newest_available": result.newest.snapshot_id,
                "restore_drill_rto_seconds": round(result.rto_seconds, 3),
                "restore_drill_rto_target_seconds": policy.restore_drill.rto_minutes * 60,
                "restore_drill_rto_met": rto_met,
                "restore_drill_verified": result.verified,
                "restore_drill_row_counts": dg.MetadataValue.json(result.restored),
                "restore_drill_mismatches": dg.MetadataValue.json(result.mismatches),
            },
        )
    )
    if not result.verified:
        raise dg.Failure(
            f"{policy.name}: restore of {result.snapshot.snapshot_id} does not match its recorded row counts: "
            f"{result.mismatches}"
        )
    if not rto_met:
        raise dg.Failure(
            f"{policy.name}: restore took {result.rto_seconds:.0f}s, RTO target {policy.restore_drill.rto_minutes} min"
        )
    context.log.info(f"{policy.name}: restored {result.snapshot.snapshot_id} and verified it in {result.rto_seconds:.2f}s")


@dg.job(description="Restore drill: restore a warehouse's newest snapshot into scratch, verify row counts, record the RTO.")
def snapshot_restore_drill():
    run_restore_drill()


def restore_drill_schedules() -> list[dg.ScheduleDefinition]:
    return [
        dg.ScheduleDefinition(
            name=f"snapshot_restore_drill_{policy.name}",
            job=snapshot_restore_drill,
            cron_schedule=policy.restore_drill.cron,
            run_config={"ops": {"run_restore_drill": {"config": {"warehouse": policy.name}}}},
            default_status=dg.DefaultScheduleStatus.RUNNING,
        )
        for policy in snapshot_policies().values()
    ]
