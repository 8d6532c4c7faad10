"""Orders: the order database's changes leave exactly once, through a transactional outbox
(triggers in the changing transaction) and a relay to the orders_changes stream."""

import dagster as dg

from assets.orders.assets import orders_table, outbox_relay
from assets.orders.sensor import outbox_relay_sensor

defs = dg.Definitions(assets=[orders_table, outbox_relay], sensors=[outbox_relay_sensor])
