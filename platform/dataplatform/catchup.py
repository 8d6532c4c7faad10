"""`dataplatform catch-up`: what the sensor daemon and the automation daemon would do, in
process, until nothing is pending.

Each pass evaluates every sensor once with its stored cursor and executes the runs it
requests (skipping run keys that already ran, as the daemon does). A sensor's cursor is
stored only after all of its runs succeeded, so a failed range is requested again next
time. After the sensors, everything downstream of what was materialised is brought up to
date in one run: a day of files costs one dbt invocation, not one per hour.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

RUN_KEY_TAG, SENSOR_TAG = "dagster/run_key", "dagster/sensor_name"


@dataclass
class CatchUpSummary:
    passes: int = 0
    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    skipped_run_keys: int = 0
    materialized: set[dg.AssetKey] = field(default_factory=set)
    partitions: int = 0
    dbt_invocations: int = 0


class CursorStore:
    """Sensor cursors of catch-up, in a JSON file next to the Dagster instance."""

    def __init__(self, path: Path):
        self.path = path

    def get(self, name: str) -> str | None:
        return json.loads(self.path.read_text()).get(name) if self.path.exists() else None

    def put(self, name: str, cursor: str | None) -> None:
        state = json.loads(self.path.read_text()) if self.path.exists() else {}
        state[name] = cursor
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.path)


def _already_succeeded(instance: dg.DagsterInstance, sensor_name: str, run_key: str) -> bool:
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            tags={SENSOR_TAG: sensor_name, RUN_KEY_TAG: run_key}, statuses=[dg.DagsterRunStatus.SUCCESS]
        ),
        limit=1,
    )
    return bool(runs)


def _missing_input(key: dg.AssetKey, asset_graph, instance: dg.DagsterInstance, refreshing: set) -> bool:
    """As the eager automation condition: a direct parent never materialised (and not about to
    be, in the same refresh) holds an asset back, unless it is tagged partial_inputs_ok."""
    node = asset_graph.get(key)
    if node.tags.get("dataplatform/partial_inputs_ok") == "true":
        return False
    return any(
        asset_graph.get(parent).is_materializable
        and parent not in refreshing
        and instance.get_latest_materialization_event(parent) is None
        for parent in node.parent_keys
    )


def _missing_eager_ancestors(keys: set, asset_graph, instance: dg.DagsterInstance) -> set:
    """Never-materialised ancestors that automation would build by itself (eager, unpartitioned,
    not sensor-driven): dbt seeds (reference data) and the models over them, as the eager
    condition's "newly missing" rule materialises them on the daemon's first ticks."""
    found, frontier = set(), set(keys)
    while frontier:
        for parent in asset_graph.get(frontier.pop()).parent_keys:
            node = asset_graph.get(parent)
            if (
                parent not in found | keys
                and node.is_materializable
                and node.partitions_def is None
                and node.automation_condition is not None
                and instance.get_latest_materialization_event(parent) is None
            ):
                found.add(parent)
                frontier.add(parent)
    return found


def catch_up(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    cursors: CursorStore,
    *,
    on_event: Callable[[str], None] = lambda message: None,
    max_passes: int = 50,
    log_level: str = "WARNING",
) -> CatchUpSummary:
    summary = CatchUpSummary()
    failed_keys: set[str] = set()  # retried by the next catch-up, not in a loop by this one
    job = defs.resolve_implicit_global_asset_job_def()
    asset_graph = defs.resolve_asset_graph()
    resources = defs.resources or {}

    def execute(asset_keys, partition_key=None, tags=None, run_config=None) -> bool:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=list(asset_keys),
            partition_key=partition_key,
            tags=tags or {},
            run_config={**(run_config or {}), "loggers": {"console": {"config": {"log_level": log_level}}}},
            raise_on_error=False,
            # (Progress goes through on_event; the run's own logs stay in the instance and the UI.)
        )
        summary.runs += 1
        if not result.success:
            summary.failed_runs.append(result.run_id)
            return False
        materialized = {e.asset_key for e in result.get_asset_materialization_events()}
        summary.materialized |= materialized
        summary.dbt_invocations += any(k.path[0] in ("staging", "intermediate", "marts") for k in materialized)
        return True

    for _ in range(max_passes):
        summary.passes += 1
        updated: set[dg.AssetKey] = set()
        requested = 0
        for sensor in defs.sensors or []:
            context = dg.build_sensor_context(
                instance=instance, cursor=cursors.get(sensor.name), sensor_name=sensor.name, resources=resources,
                definitions=defs,
            )
            data = sensor.evaluate_tick(context)
            for event in data.asset_events or []:  # e.g. the RPO check and snapshot age, as the daemon records them
                instance.report_runless_asset_event(event)
            all_ok = True
            for request in data.run_requests or []:
                if request.run_key in failed_keys:
                    all_ok = False
                    continue
                if _already_succeeded(instance, sensor.name, request.run_key):
                    summary.skipped_run_keys += 1
                    continue
                requested += 1
                start = request.tags.get("dagster/asset_partition_range_start", request.partition_key)
                end = request.tags.get("dagster/asset_partition_range_end", request.partition_key)
                if start:
                    on_event(f"{sensor.name}: run {start} .. {end} ({request.tags.get('dataplatform/objects', '?')} objects)")
                else:
                    on_event(f"{sensor.name}: run {request.run_key[:120]}")
                ok = execute(
                    request.asset_selection,
                    partition_key=request.partition_key,
                    tags={**request.tags, SENSOR_TAG: sensor.name, RUN_KEY_TAG: request.run_key},
                    run_config=request.run_config,
                )
                all_ok &= ok
                if not ok:
                    failed_keys.add(request.run_key)
                if ok:
                    updated |= set(request.asset_selection)
                    partitions_def = asset_graph.get(request.asset_selection[0]).partitions_def
                    if partitions_def is not None:
                        summary.partitions += len(
                            partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
                        )
            if all_ok:
                cursors.put(sensor.name, data.cursor)
        if updated:
            downstream = (
                dg.AssetSelection.assets(*updated).downstream(include_self=False).resolve(asset_graph)
            )
            downstream = {k for k in downstream if asset_graph.get(k).partitions_def is None}
            downstream |= _missing_eager_ancestors(downstream, asset_graph, instance)
            # Drop what lacks an input, repeatedly: its own dependants then lack one too.
            while blocked := {k for k in downstream if _missing_input(k, asset_graph, instance, downstream)}:
                downstream -= blocked
            if downstream:
                on_event(f"refreshing {len(downstream)} downstream assets")
                execute(downstream)
        if requested == 0:
            break
    return summary
