"""One sensor per stream (platform/policies/streams.yaml) that turns new records into runs.

The cursor holds, per shard, the last sequence number whose run succeeded (the checkpoint)
and the ranges handed to runs not yet known to have succeeded. Each tick:
- a pending range whose run succeeded advances its shard's checkpoint; one whose run failed
  is requested again (a new run key: `...#2`), so nothing is lost; one still running blocks
  its shard, so ranges never overlap and nothing is counted twice;
- every other shard is read after its checkpoint (up to max_records_per_range) and the new
  ranges of all shards become ONE run for the stream, run_key = stream + shard + range;
- new shards (after a reshard) are picked up; a child shard waits until its parents are
  closed and read to their end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import dagster as dg

from dataplatform.automation import WRITER_TAG
from dataplatform.streams import StreamPolicy

RUN_KEY_TAG = "dagster/run_key"
DONE, FAILED, RUNNING = "done", "failed", "running"


def load_cursor(raw: str | None) -> tuple[dict[str, str], dict[str, dict]]:
    state = json.loads(raw) if raw else {}
    return state.get("checkpoints", {}), state.get("pending", {})


def dump_cursor(checkpoints: dict[str, str], pending: dict[str, dict]) -> str:
    return json.dumps({"checkpoints": dict(sorted(checkpoints.items())), "pending": pending}, sort_keys=True)


def run_key_for(stream: str, ranges: dict[str, list[str]], attempt: int = 1) -> str:
    spans = ",".join(f"{shard}:{first}-{last}" for shard, (first, last) in sorted(ranges.items()))
    key = f"{stream}:{spans}"
    if len(key) > 200:  # many shards: keep the key readable and bounded
        key = f"{stream}:{len(ranges)} shards:{hashlib.sha256(spans.encode()).hexdigest()[:16]}"
    return key if attempt == 1 else f"{key}#{attempt}"


def _request(policy: StreamPolicy, ranges: dict[str, list[str]], attempt: int) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key_for(policy.name, ranges, attempt),
        asset_selection=policy.asset_keys,
        run_config={"ops": {_op_name(policy): {"config": {"ranges": ranges}}}},
        tags={
            "dataplatform/stream": policy.name,
            "dataplatform/records_ranges": str(len(ranges)),
            WRITER_TAG: f"stream/{policy.name}",  # one run per stream at a time
        },
    )


def _op_name(policy: StreamPolicy) -> str:
    return f"{policy.name}_ranges"


def evaluate(
    policy: StreamPolicy, store, cursor: str | None, run_state: Callable[[str], str | None]
) -> tuple[list[dg.RunRequest], str, dict]:
    """One tick as a pure function of the stream, the cursor and the state of earlier runs
    (`run_state(run_key)` -> done | failed | running | None)."""
    checkpoints, pending = load_cursor(cursor)
    requests: list[dg.RunRequest] = []
    busy: set[str] = set()
    for run_key, entry in sorted(pending.items()):
        state = run_state(run_key)
        if state == DONE:
            for shard, (_, last) in entry["ranges"].items():
                checkpoints[shard] = last
            del pending[run_key]
        elif state == FAILED:
            del pending[run_key]
            retry = _request(policy, entry["ranges"], entry["attempt"] + 1)
            pending[retry.run_key] = {"ranges": entry["ranges"], "attempt": entry["attempt"] + 1}
            requests.append(retry)
            busy |= set(entry["ranges"])
        else:  # requested or running: its shards wait
            busy |= set(entry["ranges"])

    shards = store.list_shards(policy.name)
    by_id = {shard.shard_id: shard for shard in shards}
    finished = {
        shard.shard_id
        for shard in shards
        if shard.ending_sequence is not None and shard.shard_id not in busy and not _has_records_after(store, policy, shard, checkpoints)
    }
    new_ranges: dict[str, list[str]] = {}
    for shard in shards:
        if shard.shard_id in busy or shard.shard_id in finished:
            continue
        if any(parent in by_id and parent not in finished for parent in shard.parent_shard_ids):
            continue  # a child waits until its parents are read to their end
        checkpoint = checkpoints.get(shard.shard_id)
        records = store.read(
            policy.name,
            shard.shard_id,
            position="AFTER_SEQUENCE_NUMBER" if checkpoint else "TRIM_HORIZON",
            sequence_number=checkpoint,
            limit=policy.max_records_per_range,
        )
        if records:
            new_ranges[shard.shard_id] = [records[0].sequence_number, records[-1].sequence_number]
    if new_ranges:
        request = _request(policy, new_ranges, 1)
        pending[request.run_key] = {"ranges": new_ranges, "attempt": 1}
        requests.append(request)
    stats = {
        "shards": len(shards),
        "new_ranges": len(new_ranges),
        "pending_runs": len(pending),
        "records_in_new_ranges_bounded_by": policy.max_records_per_range,
    }
    return requests, dump_cursor(checkpoints, pending), stats


def _has_records_after(store, policy: StreamPolicy, shard, checkpoints: dict[str, str]) -> bool:
    checkpoint = checkpoints.get(shard.shard_id)
    return bool(
        store.read(
            policy.name,
            shard.shard_id,
            position="AFTER_SEQUENCE_NUMBER" if checkpoint else "TRIM_HORIZON",
            sequence_number=checkpoint,
            limit=1,
        )
    )


def _run_state(instance: dg.DagsterInstance, run_key: str) -> str | None:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
    if not runs:
        return None
    status = runs[0].status
    if status == dg.DagsterRunStatus.SUCCESS:
        return DONE
    if status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        return FAILED
    return RUNNING


def checkpoint_sensor(policy: StreamPolicy) -> dg.SensorDefinition:
    @dg.sensor(
        name=f"{policy.name}_checkpoints",
        description=f"Runs {policy.target} for the new sequence ranges of stream {policy.name}, one run per tick.",
        asset_selection=policy.asset_keys,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={"stream"},
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        store = context.resources.stream
        store.create_stream(policy.name, policy.shards)
        requests, cursor, stats = evaluate(
            policy, store, context.cursor, lambda run_key: _run_state(context.instance, run_key)
        )
        context.log.info(f"{policy.name}: {stats}")
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return _sensor
