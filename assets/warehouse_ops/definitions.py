"""Warehouse operations: snapshot inventories against each warehouse's RPO (the RPO sensor takes
and prunes snapshots) and the scheduled restore drills."""

import dagster as dg

from assets.warehouse_ops.assets import assets
from dataplatform.snapshots import restore_drill_schedules, snapshot_restore_drill
from sensors.snapshot_rpo import snapshot_rpo_sensor

defs = dg.Definitions(
    assets=assets,
    sensors=[snapshot_rpo_sensor()],
    jobs=[snapshot_restore_drill],
    schedules=restore_drill_schedules(),
)
