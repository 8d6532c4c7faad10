"""One definition of automation: the conditions every derived asset carries and the sensor that
evaluates them in Dagster's daemon. `dataplatform catch-up` evaluates the same conditions with
`dg.evaluate_automation_conditions`; nothing here is re-implemented for it.

Dagster's own `default_automation_condition_sensor` starts STOPPED, so under `dagster dev`
nothing eager would ever run: the code location defines its own, RUNNING by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import dagster as dg

AUTOMATION_SENSOR = "automation"
AUTOMATION_INTERVAL_SECONDS = 15
# Runs launched by automation write the warehouses: one at a time (instance tag concurrency limit).
WRITER_TAG = "dataplatform/writer"
AUTOMATION_RUN_TAGS = {WRITER_TAG: "automation"}

PARTIAL_INPUTS_OK = "dataplatform/partial_inputs_ok"


def inputs_missing(partitioned_deps: Iterable[dg.AssetKey] = ()) -> dg.AutomationCondition:
    """An input was never materialised (and will not be on this tick).

    Dagster's `any_deps_missing()` maps a partitioned input through all its partitions: an
    unpartitioned model over hourly raw data would count as missing an input for as long as any
    hour since the partitions' start lacks a file, i.e. forever. Partitioned inputs are missing
    here only when none of their partitions was ever materialised."""
    partitioned = sorted(set(partitioned_deps), key=lambda key: key.to_user_string())
    condition = dg.AutomationCondition.any_deps_missing()
    if partitioned:
        condition = condition.ignore(dg.AssetSelection.assets(*partitioned))
    for key in partitioned:
        materialised = dg.AutomationCondition.any_deps_match(~dg.AutomationCondition.missing()).allow(
            dg.AssetSelection.assets(key)
        )
        condition = condition | ~materialised
    return condition.with_label("an input never materialised")


def derived_condition(
    partial_inputs_ok: bool = False, partitioned_deps: Iterable[dg.AssetKey] = ()
) -> dg.AutomationCondition:
    """Anything computed from other assets is brought up to date with its inputs: built while it
    is missing, rebuilt while an input was updated after it was, once all its inputs exist
    (tagged partial_inputs_ok: once any does).

    Level-triggered, unlike Dagster's `eager()`, which fires once per change and is then reset
    by the request: a run that fails or is killed leaves the asset missing or older than its
    inputs, so the next evaluation (the next daemon tick, the next catch-up) requests it again,
    without waiting for new data. Only an update of the asset itself resets it. Also unlike
    `eager()`, the first evaluation counts (assets missing when automation starts are built),
    and partitioned inputs count as present once any partition is (`inputs_missing`).
    """
    # `any_deps_match(newly_updated)`, not `any_deps_updated()`: the latter's OR drops the
    # materialisations' timestamps, so an input updated between two ticks in which the asset
    # was also updated would be lost; with them, `since` compares the two updates' times.
    updated_after = dg.AutomationCondition.any_deps_match(dg.AutomationCondition.newly_updated()).since(
        dg.AutomationCondition.newly_updated()
    )
    stale = (
        dg.AutomationCondition.missing()
        | updated_after.with_label("an input updated after it")
        | dg.AutomationCondition.any_deps_match(dg.AutomationCondition.will_be_requested()).with_label(
            "an input is requested now"  # in the same run, after it
        )
    ).with_label("missing, or older than an input")
    condition = (
        dg.AutomationCondition.in_latest_time_window()
        & stale
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    )
    if not partial_inputs_ok:
        condition = condition & ~inputs_missing(partitioned_deps)
    return condition.with_label("up to date with its inputs" + (" (partial inputs)" if partial_inputs_ok else ""))


def apply_policy(assets: Sequence, sensor_driven: set[dg.AssetKey]) -> list:
    """Global policy over every asset of the code location: derived assets (unpartitioned, not
    driven by a sensor) carry `derived_condition`; raw (partitioned or sensor-driven) assets are
    materialised by the arrival, checkpoint and delivery sensors instead."""
    specs = [spec for item in assets for spec in _specs(item)]
    partitioned = {spec.key for spec in specs if spec.partitions_def is not None}

    def policy(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.partitions_def is not None or spec.key in sensor_driven or spec.automation_condition is not None:
            return spec
        deps = {dep.asset_key for dep in spec.deps} & partitioned
        condition = derived_condition(spec.tags.get(PARTIAL_INPUTS_OK) == "true", deps)
        return spec.replace_attributes(automation_condition=condition)

    # Plain AssetSpecs are external (delivered files): nothing materialises them.
    return [item if isinstance(item, dg.AssetSpec) else dg.map_asset_specs(policy, [item])[0] for item in assets]


def sensor_driven(defs: dg.Definitions) -> set[dg.AssetKey]:
    """Assets a sensor of `defs` materialises (arrivals, checkpoints, deliveries, snapshots):
    their sensor decides when, not automation."""
    assets = [item for item in defs.assets or () if isinstance(item, dg.AssetsDefinition)]  # what runs can target
    return {
        key
        for sensor in defs.sensors or ()
        if sensor.asset_selection is not None
        for key in sensor.asset_selection.resolve(assets)
    }


def _specs(item) -> list[dg.AssetSpec]:
    return [item] if isinstance(item, dg.AssetSpec) else list(item.specs)


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        AUTOMATION_SENSOR,
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=AUTOMATION_INTERVAL_SECONDS,
        run_tags=AUTOMATION_RUN_TAGS,
        emit_backfills=False,  # plain runs, as catch-up executes them
        description="Materialises every derived asset (dbt models, dimensions) when its inputs change.",
    )
