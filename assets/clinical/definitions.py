"""The clinical domain: MIMIC-III-shaped deliveries (landing -> typed raw tables, started by the
delivery sensor on a complete manifest) and the OMOP CDM warehouse built from them."""

import dagster as dg

from assets.clinical.assets import clinical_raw, landing_deliveries
from assets.clinical.warehouse import build_warehouse_assets
from sensors.clinical_deliveries import clinical_delivery_sensor, deliveries_complete

defs = dg.Definitions(
    assets=[landing_deliveries, clinical_raw, build_warehouse_assets()],
    sensors=[clinical_delivery_sensor],
    asset_checks=[deliveries_complete],
)
