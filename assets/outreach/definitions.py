"""The governed outreach lake: deliveries -> raw_restricted (as delivered) -> curated (rules of
outreach_rules.yaml applied) -> marts (dbt, from curated only)."""

import dagster as dg

from assets.outreach.assets import landing_deliveries, loads
from assets.outreach.deliveries import ZONE
from assets.outreach.leak_check import outputs_hold_no_identifiers
from assets.outreach.sensor import deliveries_published, outreach_deliveries_sensor
from sensors.reconciliation import accounted_for_check

defs = dg.Definitions(
    assets=[landing_deliveries, *loads()],
    asset_checks=[deliveries_published, accounted_for_check(ZONE), outputs_hold_no_identifiers],
    sensors=[outreach_deliveries_sensor()],
)
