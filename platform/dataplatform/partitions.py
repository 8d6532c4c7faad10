"""Partitions shared by the log domains: the UTC hour in the delivered file's name."""

import dagster as dg

# end_offset=1: providers deliver files for the current hour while it is still running.
hourly = dg.HourlyPartitionsDefinition(start_date="2024-01-01-00:00", end_offset=1)

HOUR_KEY_FORMAT = "%Y-%m-%d-%H:%M"  # Dagster's hourly partition key format
