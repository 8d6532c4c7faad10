"""One definition of automation: the conditions every derived asset carries and the sensor that
evaluates them in Dagster's daemon. `dataplatform catch-up` evaluates the same conditions with
`dg.evaluate_automation_conditions`; nothing here is re-implemented for it.

Dagster's own `default_automation_condition_sensor` starts STOPPED, so under `dagster dev`
nothing eager would ever run: the code location defines its own, RUNNING by default.
"""

from __future__ import annotations

import dagster as dg

AUTOMATION_SENSOR = "automation"
AUTOMATION_INTERVAL_SECONDS = 15
# Runs launched by automation write the warehouses: one at a time (instance tag concurrency limit).
WRITER_TAG = "dataplatform/writer"
AUTOMATION_RUN_TAGS = {WRITER_TAG: "automation"}

PARTIAL_INPUTS_OK = "dataplatform/partial_inputs_ok"


def derived_condition(partial_inputs_ok: bool = False) -> dg.AutomationCondition:
    """Anything computed from other assets refreshes when they change, once all its inputs
    exist (or, tagged partial_inputs_ok, on some of them)."""
    condition = dg.AutomationCondition.eager()
    if partial_inputs_ok:
        condition = condition.without(~dg.AutomationCondition.any_deps_missing())
    return condition


def apply_policy(spec: dg.AssetSpec, sensor_driven: set[dg.AssetKey]) -> dg.AssetSpec:
    """Global policy: derived assets are eager; raw (partitioned or sensor-driven) assets are
    materialised by the arrival, checkpoint and delivery sensors instead."""
    if spec.partitions_def is not None or spec.key in sensor_driven:
        return spec
    partial = spec.tags.get(PARTIAL_INPUTS_OK) == "true"
    return spec.replace_attributes(automation_condition=spec.automation_condition or derived_condition(partial))


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
