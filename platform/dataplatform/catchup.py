"""`dataplatform catch-up`: what Dagster's sensor daemon and automation daemon would do, in
process, until nothing is pending - with Dagster's own evaluation, not a copy of its rules.

Each pass:
1. evaluates every sensor once with its stored cursor (`evaluate_tick`) and executes the runs it
   requests, skipping run keys that already succeeded, as the daemon does. A sensor's cursor is
   stored only after all of its runs succeeded, so a failed range is requested again next time;
2. evaluates the code location's automation conditions (`dg.evaluate_automation_conditions`,
   its cursor persisted between calls, as the automation sensor keeps its own) and executes what
   they request: every unpartitioned asset in one run (a day of files costs one dbt invocation),
   partitioned ones per partition.
Passes repeat until neither requests anything. Cursors live in the Dagster instance's key-value
storage (`dataplatform/catch-up/...`), so they travel with the instance (SQLite or Postgres).

Faults heal on the next catch-up: the conditions are level-triggered (automation.py), so what a
failed run left stale is requested again; a run of an earlier catch-up that never finished (its
process killed) is first marked failed. Within one catch-up a failed request is not retried,
so a persistent fault costs one run per catch-up, not a loop.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dagster as dg

from dataplatform.automation import AUTOMATION_RUN_TAGS, AUTOMATION_SENSOR
from dataplatform.run_attempts import UNFINISHED
from dataplatform.scratch import alive

RUN_KEY_TAG, SENSOR_TAG = "dagster/run_key", "dagster/sensor_name"
PID_TAG = "dataplatform/catch-up-pid"  # the process executing the run in-process
CURSOR_PREFIX = "dataplatform/catch-up/"


DBT_ERRORS = "Errors parsed from dbt logs:"  # dagster-dbt's failure message, then dbt's own errors


def failure_reason(instance: dg.DagsterInstance, run_id: str) -> str:
    """Each failed step's cause in one line, as the run's page shows it: for a dbt build, dbt's
    own error (`dbt (redshift): Database Error ... Connection refused`), not the wrapper's."""
    reasons = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = record.dagster_event.event_specific_data.error
        # User code's exception is wrapped ("Error occurred while executing op ..."): its cause is the news.
        while error.cause is not None and (not error.message.strip() or error.cls_name == "DagsterExecutionStepExecutionError"):
            error = error.cause
        message = error.message.strip()
        if DBT_ERRORS in message:
            target = re.search(r"--target (\S+)", message)
            detail = " ".join(message.split(DBT_ERRORS, 1)[1].replace("Encountered an error:", "").split())
            first = f"dbt ({target.group(1) if target else 'default target'}): {detail}"
        else:
            first = next((line for line in message.splitlines() if line.strip()), error.cls_name or "")
        reasons.append(f"{record.step_key}: {first.strip()}")
    return "; ".join(reasons) or "the run failed outside its steps (see the run in the UI)"


def evaluate_automation(defs: dg.Definitions, instance: dg.DagsterInstance, cursor):
    """`dg.evaluate_automation_conditions`, also from a thread whose event loop is running (a
    notebook, Playwright's sync API): Dagster's evaluator calls `asyncio.run`, so it then gets
    a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return dg.evaluate_automation_conditions(defs, instance, cursor=cursor)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(dg.evaluate_automation_conditions, defs, instance, cursor=cursor).result()


@dataclass
class CatchUpSummary:
    passes: int = 0
    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    skipped_run_keys: int = 0
    materialized: set[dg.AssetKey] = field(default_factory=set)
    partitions: int = 0
    automation_runs: int = 0
    dbt_invocations: int = 0
    failed_dbt_invocations: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # run id -> the failed steps' first error lines
    abandoned_runs: dict[str, str] = field(default_factory=dict)  # run id -> status it was left in
    # Checks the sensors reported failing on their last evaluation (stuck deliveries, objects
    # not accounted for): "asset key check name" -> why.
    attention: dict[str, str] = field(default_factory=dict)


def mark_abandoned_runs(instance: dg.DagsterInstance) -> dict[str, str]:
    """Runs a catch-up executed in-process whose process is gone (SIGKILL, power loss) stay
    STARTED forever, and `in_progress` would hold back everything they target: mark them failed,
    so the level-triggered conditions request their work again."""
    abandoned = {}
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):
        pid = run.tags.get(PID_TAG)
        if pid is None or not pid.isdigit() or alive(int(pid)):
            continue
        instance.report_run_failed(run, message=f"catch-up process {pid} ended during the run (killed?)")
        abandoned[run.run_id] = run.status.value
    return abandoned


class InstanceCursors:
    """catch-up's sensor cursors and automation cursor, in the instance's key-value storage."""

    def __init__(self, instance: dg.DagsterInstance):
        self.storage = instance.run_storage

    def get(self, name: str) -> str | None:
        return self.storage.get_cursor_values({CURSOR_PREFIX + name}).get(CURSOR_PREFIX + name) or None

    def put(self, name: str, cursor: str | None) -> None:
        self.storage.set_cursor_values({CURSOR_PREFIX + name: cursor or ""})


def _already_succeeded(instance: dg.DagsterInstance, sensor_name: str, run_key: str) -> bool:
    filters = dg.RunsFilter(
        tags={SENSOR_TAG: sensor_name, RUN_KEY_TAG: run_key}, statuses=[dg.DagsterRunStatus.SUCCESS]
    )
    return bool(instance.get_runs(filters=filters, limit=1))


def automation_requests(result, asset_graph) -> list[tuple[str | None, list[dg.AssetKey]]]:
    """What one automation evaluation requested, as runs: (partition key, asset keys)."""
    by_partition: dict[str | None, list[dg.AssetKey]] = defaultdict(list)
    for key in sorted(asset_graph.materializable_asset_keys):
        for partition in result.get_requested_partitions(key):
            by_partition[partition].append(key)
    return sorted(by_partition.items(), key=lambda item: item[0] or "")


def catch_up(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    on_event: Callable[[str], None] = lambda message: None,
    max_passes: int = 50,
    log_level: str = "CRITICAL",  # a failure is one line in the summary (its cause), whole in the UI
) -> CatchUpSummary:
    summary = CatchUpSummary(abandoned_runs=mark_abandoned_runs(instance))
    cursors = InstanceCursors(instance)
    # Retried by the next catch-up, not in a loop by this one: a sensor that retries under a new
    # run key (`#n`) asks for the same assets and hours again.
    failed_requests: set[tuple] = set()
    failed_assets: set[tuple[str | None, dg.AssetKey]] = set()  # likewise, for automation
    job = defs.resolve_implicit_global_asset_job_def()
    asset_graph = defs.resolve_asset_graph()
    resources = defs.resources or {}
    sensors = [s for s in defs.sensors or [] if not isinstance(s, dg.AutomationConditionSensorDefinition)]

    def execute(asset_keys, partition_key=None, tags=None, run_config=None) -> bool:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=list(asset_keys),
            partition_key=partition_key,
            tags={**(tags or {}), PID_TAG: str(os.getpid())},
            run_config={**(run_config or {}), "loggers": {"console": {"config": {"log_level": log_level}}}},
            raise_on_error=False,
            # (Progress goes through on_event; the run's own logs stay in the instance and the UI.)
        )
        summary.runs += 1
        selects_dbt = any("dbt" in asset_graph.get(key).kinds for key in asset_keys)
        summary.dbt_invocations += selects_dbt
        if not result.success:
            summary.failed_runs.append(result.run_id)
            summary.failed_dbt_invocations += selects_dbt
            summary.failures[result.run_id] = failure_reason(instance, result.run_id)
            return False
        summary.materialized |= {e.asset_key for e in result.get_asset_materialization_events()}
        return True

    def run_sensor(sensor: dg.SensorDefinition) -> int:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursors.get(sensor.name), sensor_name=sensor.name, definitions=defs,
            # As the daemon: run requests for dynamic partitions the same tick adds are resolved
            # against the instance's partitions plus the tick's requests.
            instance_ref=instance.get_ref() if instance.is_persistent else None,
            # As the daemon: only the sensor's own resources (building dbt's costs ~0.5 s a tick).
            resources={key: resources[key] for key in sensor.required_resource_keys if key in resources},
        )
        data = sensor.evaluate_tick(context)
        for change in data.dynamic_partitions_requests or []:  # applied before the runs, as the daemon does
            if isinstance(change, dg.AddDynamicPartitionsRequest):
                instance.add_dynamic_partitions(change.partitions_def_name, list(change.partition_keys))
            else:
                for key in change.partition_keys:
                    instance.delete_dynamic_partition(change.partitions_def_name, key)
        for event in data.asset_events or []:  # e.g. the RPO check and snapshot age, as the daemon records them
            instance.report_runless_asset_event(event)
            if isinstance(event, dg.AssetCheckEvaluation):
                name = f"{event.asset_key.to_user_string()} {event.check_name}"
                if event.passed:
                    summary.attention.pop(name, None)
                else:
                    summary.attention[name] = event.description or "failed"
        all_ok, launched = True, 0
        for request in data.run_requests or []:
            start = request.tags.get("dagster/asset_partition_range_start", request.partition_key)
            end = request.tags.get("dagster/asset_partition_range_end", request.partition_key)
            what = (tuple(sorted(k.to_user_string() for k in request.asset_selection or ())), start, end)
            if request.run_key in failed_requests or what in failed_requests:
                all_ok = False
                continue
            if _already_succeeded(instance, sensor.name, request.run_key):
                summary.skipped_run_keys += 1
                continue
            launched += 1
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
                failed_requests.update((request.run_key, what))
                continue
            partitions_def = asset_graph.get(request.asset_selection[0]).partitions_def
            if partitions_def is not None and start:
                with dg.partition_loading_context(dynamic_partitions_store=instance):
                    summary.partitions += len(partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(start, end)))
        if all_ok:
            cursors.put(sensor.name, data.cursor)
        return launched

    def run_automation() -> int:
        stored = cursors.get(AUTOMATION_SENSOR)
        result = evaluate_automation(defs, instance, dg.deserialize_value(stored) if stored else None)
        # As the daemon: the evaluation is recorded before its runs execute. What a failed run
        # left stale is requested again, by the next catch-up (or daemon tick), not by this one.
        cursors.put(AUTOMATION_SENSOR, dg.serialize_value(result.cursor))
        requests = [
            (partition, [key for key in keys if (partition, key) not in failed_assets])
            for partition, keys in automation_requests(result, asset_graph)
        ]
        requests = [(partition, keys) for partition, keys in requests if keys]
        for partition, keys in requests:
            on_event(f"automation: {len(keys)} assets" + (f" of partition {partition}" if partition else ""))
            summary.automation_runs += 1
            if not execute(keys, partition_key=partition, tags={**AUTOMATION_RUN_TAGS, SENSOR_TAG: AUTOMATION_SENSOR}):
                failed_assets.update((partition, key) for key in keys)
        return len(requests)

    for _ in range(max_passes):
        summary.passes += 1
        requested = sum(run_sensor(sensor) for sensor in sensors)
        requested += run_automation()
        if requested == 0:
            break
    return summary
