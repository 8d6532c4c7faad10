"""Partitions shared by the log domains: the UTC hour in the delivered file's name."""

import dagster as dg

from dataplatform.governance.policies import load

# end_offset=1: providers deliver files for the current hour while it is still running.
hourly = dg.HourlyPartitionsDefinition(start_date=load("landing_zones")["first_hour"], end_offset=1)

HOUR_KEY_FORMAT = "%Y-%m-%d-%H:%M"  # Dagster's hourly partition key format
