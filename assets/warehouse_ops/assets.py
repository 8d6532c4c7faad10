"""Warehouse operations: one snapshot-inventory asset per warehouse in snapshots.yaml, with
an RPO-compliance check. A plain materialisation records the inventory; the RPO sensor's runs
first take a manual snapshot and prune (config take_snapshot), or only prune (config prune: old
snapshots are pruned even while automated snapshots keep the RPO), then record it."""

import dagster as dg

from dataplatform import snapshots as policy_lib
from dataplatform.governance.policies import python_asset_spec
from dataplatform.resources.snapshots import ClusterNotFound, Snapshot, SnapshotError
from dataplatform.snapshots import RPO_CHECK, SnapshotPolicy, snapshot_policies

INVENTORY_COLUMNS = [
    ("snapshot_id", "string", "Snapshot identifier"),
    ("created", "timestamp", "When the snapshot was taken (UTC)"),
    ("type", "string", "manual or automated"),
    ("status", "string", "creating, available or failed"),
    ("namespace", "string", "Namespace tag of the policy that owns it (none for automated snapshots)"),
    ("size_bytes", "bigint", "Snapshot size"),
    ("row_counts", "json", "Row counts of the key tables when it was taken (null = table missing)"),
]


class SnapshotRunConfig(dg.Config):
    take_snapshot: bool = False  # the RPO sensor's runs take a snapshot (and prune) first
    prune: bool = False  # the RPO sensor's prune-only runs: prune what retention allows, take nothing


def _inventory_markdown(snapshots: list[Snapshot]) -> str:
    lines = ["| snapshot | created | type | status | namespace | size (bytes) |", "|---|---|---|---|---|---|"]
    for s in reversed(snapshots[-50:]):
        lines.append(f"| {s.snapshot_id} | {s.created:%Y-%m-%d %H:%M:%S} | {s.kind} | {s.status} | {s.namespace or ''} | {s.size_bytes or ''} |")
    return "\n".join(lines)


def rpo_check_result(policy: SnapshotPolicy, snapshots: list[Snapshot], now) -> dg.AssetCheckResult:
    status = policy_lib.rpo_status(policy, snapshots, now)
    if status.newest is None:
        description = f"no available snapshot of {policy.cluster}: RPO of {policy.rpo_minutes} min violated"
    else:
        minutes = status.age.total_seconds() / 60
        verdict = "within" if status.compliant else "older than"
        description = f"newest snapshot {status.newest.snapshot_id} is {minutes:.1f} min old, {verdict} the RPO of {policy.rpo_minutes} min"
    return dg.AssetCheckResult(
        asset_key=policy.asset_key, check_name=RPO_CHECK, passed=status.compliant,
        metadata=status.metadata(policy), description=description,
    )


def inventory_asset(policy: SnapshotPolicy) -> dg.AssetsDefinition:
    spec = python_asset_spec(policy.asset_key.path, policy.domain, INVENTORY_COLUMNS)

    @dg.multi_asset(
        name=policy.op_name,
        specs=[spec],
        check_specs=[
            dg.AssetCheckSpec(
                RPO_CHECK,
                asset=policy.asset_key,
                description=f"The newest available snapshot is at most {policy.rpo_minutes} minutes old.",
            )
        ],
        required_resource_keys={"snapshots"},
    )
    def _inventory(context: dg.AssetExecutionContext, config: SnapshotRunConfig):
        store = context.resources.snapshots
        metadata: dict = {"cluster": policy.cluster, "namespace": policy.namespace}
        if config.take_snapshot:
            try:
                taken = policy_lib.take_snapshot(policy, store, policy_lib.now(), log=context.log.info)
            except SnapshotError as error:
                pruned = getattr(error, "pruned", [])
                done = f"pruned {', '.join(pruned)} to free the quota" if pruned else "nothing pruned"
                raise dg.Failure(description=f"{policy.name}: no snapshot taken, {done}: {error}") from error
            context.log.info(f"{policy.name}: took {taken.snapshot.snapshot_id}, pruned {len(taken.pruned)}")
            metadata.update(
                snapshot_taken=taken.snapshot.snapshot_id,
                snapshot_row_counts=dg.MetadataValue.json(dict(taken.snapshot.row_counts)),
                pruned=dg.MetadataValue.json(taken.pruned),
            )
        elif config.prune:
            try:
                pruned = policy_lib.prune(policy, store, policy_lib.now(), log=context.log.info)
            except SnapshotError as error:
                raise dg.Failure(description=f"{policy.name}: pruning stopped: {error}") from error
            metadata.update(pruned=dg.MetadataValue.json(pruned))
        try:
            snapshots = store.list_snapshots(policy.cluster)
        except ClusterNotFound as error:
            context.log.warning(str(error))
            yield dg.MaterializeResult(
                asset_key=policy.asset_key, metadata={**metadata, "warehouse_exists": False, "error": str(error), "dagster/row_count": 0}
            )
            yield dg.AssetCheckResult(
                asset_key=policy.asset_key, check_name=RPO_CHECK, passed=False, description=str(error),
                metadata={"newest_snapshot": "none", "rpo_minutes": policy.rpo_minutes},
            )
            return
        now = policy_lib.now()
        check = rpo_check_result(policy, snapshots, now)
        yield dg.MaterializeResult(
            asset_key=policy.asset_key,
            metadata={
                **metadata,
                "warehouse_exists": True,
                "dagster/row_count": len(snapshots),
                "manual_snapshots": sum(s.kind == "manual" for s in snapshots),
                "automated_snapshots": sum(s.kind == "automated" for s in snapshots),
                "namespace_snapshots": sum(s.namespace == policy.namespace for s in snapshots),
                **check.metadata,
                "inventory": dg.MetadataValue.md(_inventory_markdown(snapshots)),
            },
        )
        yield check

    return _inventory


assets = [inventory_asset(policy) for policy in snapshot_policies().values()]
