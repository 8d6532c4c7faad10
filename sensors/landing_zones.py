"""The landing zones the arrival sensors watch."""

from assets.cloudfront import assets as cloudfront
from assets.cloudfront.format import parse_object_name
from assets.cloudfront.partitions import hourly
from sensors.s3_arrivals import LandingZone, arrival_sensor

CLOUDFRONT = LandingZone(
    name="cloudfront",
    bucket=cloudfront.LANDING_BUCKET,
    prefix=cloudfront.LANDING_PREFIX,
    parse_hour=lambda key: parse_object_name(key)[1],
    targets=[cloudfront.ACCESS_LOGS, cloudfront.REJECTS, cloudfront.HOURLY_USER_AGENTS],
    partitions_def=hourly,
)

ZONES = [CLOUDFRONT]
sensors = [arrival_sensor(zone) for zone in ZONES]
