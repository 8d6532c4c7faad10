"""An arrival sensor for every landing zone declared in policy."""

from dataplatform.landing_zones import zones
from sensors.s3_arrivals import arrival_sensor

sensors = [arrival_sensor(zone) for zone in zones().values()]
