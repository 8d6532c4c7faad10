"""The franchise point-of-sale domain: its landing zone, window completeness, window loads."""

import dagster as dg

from assets.pos.assets import completeness_check, landing_deliveries, pos_window_load, window_completeness
from assets.pos.policy import ZONE
from assets.pos.sensor import pos_windows_sensor
from sensors.reconciliation import accounted_for_check

defs = dg.Definitions(
    assets=[landing_deliveries, window_completeness, pos_window_load],
    asset_checks=[completeness_check, accounted_for_check(ZONE)],
    sensors=[pos_windows_sensor()],
)
