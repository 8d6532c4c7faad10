"""Keys are validated against the zone's declared pattern before anything derived from them
is used; hostile keys are refused and reported, never run."""

from __future__ import annotations

import gzip
import os
from datetime import datetime, timezone

import pytest

from dataplatform.landing_zones import KeyRejected, zone, zones
from dataplatform.resources.lake import LocalObjectStore
from sensors import s3_arrivals

NOW = datetime(2026, 11, 26, 12, tzinfo=timezone.utc)

HOSTILE_SUFFIXES = [
    "E1AAA.2026-11-24-05.a'b.gz",  # quote
    "E1AAA.2026-11-24-05.x.gz'; DROP TABLE marts.cloudfront_top_viewers; --",
    "E1AAA.2026-11-24-05.a.gz/../../etc/passwd",
    "../E1AAA.2026-11-24-05.a.gz",
    "dt=2026-11-24/hour=05/E1AAA.2026-11-24-05.a.gz",  # '=' smuggling partition values
    "E1AAA.2026-11-24-05' OR '1'='1.a.gz",
    "E1AAA.2026-11-24-99.a.gz",  # impossible hour
    "E1AAA.9999999999-11-24-05.a.gz",
    "E1AAA.2026-11-24-05." + "x" * 5000 + ".gz",  # huge
    "E1AAA.2026-11-24-05.a.gz\n",  # trailing newline (regex $ trap)
    "E1AAA.2026-11-24-05.\u00e9t\u00e9.gz",
    "E1AAA.2026-11-24-05." + os.fsdecode(b"\xff\xfe") + ".gz",  # not UTF-8
]


@pytest.mark.parametrize("suffix", HOSTILE_SUFFIXES)
def test_hostile_keys_are_refused(suffix):
    with pytest.raises(KeyRejected):
        zone("cloudfront").parse("cloudfront/" + suffix)


def test_keys_outside_the_prefix_are_refused():
    with pytest.raises(KeyRejected, match="prefix"):
        zone("cloudfront").parse("elsewhere/E1AAA.2026-11-24-05.a.gz")


def test_valid_key_yields_its_groups_and_hour():
    hour, groups = zone("cloudfront").parse("cloudfront/logs/E1AAA.2026-11-24-05.a1b2.gz")
    assert hour == datetime(2026, 11, 24, 5, tzinfo=timezone.utc)
    assert groups["distribution"] == "E1AAA" and groups["subprefix"] == "logs/"


def test_every_zone_policy_is_complete():
    for name, policy in zones().items():
        assert policy.targets and policy.raw_tables and policy.retention.days > 0 and policy.lateness.total_seconds() > 0
        assert policy.landing_asset.startswith(f"landing/{policy.domain}/"), name


def test_every_hour_within_retention_is_a_partition():
    """An object any zone still keeps can be loaded: the shared hourly partitions start no later
    than the longest retention reaches back (checked against today's clock: once true, it stays
    true)."""
    from dataplatform.partitions import hourly

    oldest_kept = datetime.now(timezone.utc) - max(z.retention for z in zones().values())
    assert hourly.start.astimezone(timezone.utc) <= oldest_kept


def test_sensor_never_requests_runs_for_hostile_keys(tmp_path):
    lake = LocalObjectStore(tmp_path / "lake")
    root = tmp_path / "lake" / "landing" / "cloudfront"
    root.mkdir(parents=True)
    for suffix in HOSTILE_SUFFIXES:
        if "/" in suffix or "\n" in suffix or len(suffix) > 200:
            continue  # not a file name the local store can hold; covered by parse above
        (root / suffix).write_bytes(b"x")
    with open(os.path.join(os.fsencode(root), b"E1AAA.2026-11-24-05.\xff.gz"), "wb") as raw_name:  # not UTF-8
        raw_name.write(b"x")
    lake.put("landing", "cloudfront/E1AAA.2026-11-24-05.good.gz", gzip.compress(b"ok"))

    requests, cursor, stats = s3_arrivals.evaluate(zone("cloudfront"), lake, None, NOW)
    assert [r.partition_key for r in requests] == ["2026-11-24-05:00"]
    assert requests[0].tags["dataplatform/objects"] == "1"
    assert stats["rejected"] == len(os.listdir(root)) - 1 >= 8
    assert "good" not in "".join(stats["rejected_keys"])


@pytest.mark.parametrize(
    "zone_name, good_key, stray_keys",
    [
        (
            "cloudfront",
            "cloudfront/E1AAA.2026-11-24-05.good.gz",
            ["cloudfront/notes", "cloudfront/E1AAA", "cloudfront/E1AAA.2026-11-24-05.x.gz.part"],
        ),
        (
            "vpcflowlogs",
            "vpcflowlogs/AWSLogs/012345678901/vpcflowlogs/us-east-1/2026/11/24/"
            "012345678901_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261124T0505Z_deadbeef.log.gz",
            [
                "vpcflowlogs/stray.gz",
                "vpcflowlogs/AWSLogs/012345678901/stray.log.gz",
                "vpcflowlogs/AWSLogs/012345678901/vpcflowlogs/us-east-1/2026/11/24/"
                "999999999999_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261124T0505Z_deadbeef.log.gz",
                "vpcflowlogs/AWSLogs/012345678901/vpcflowlogs/us-east-1/2026/11/24/"
                "012345678901_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261125T0505Z_deadbeef.log.gz",
            ],
        ),
    ],
)
def test_keys_at_any_depth_are_reported_not_dropped(tmp_path, zone_name, good_key, stray_keys):
    lake = LocalObjectStore(tmp_path / "lake")
    lake.put("landing", good_key, gzip.compress(b"ok"))
    for key in stray_keys:
        lake.put("landing", key, b"x")
    requests, cursor, stats = s3_arrivals.evaluate(zone(zone_name), lake, None, NOW)
    assert len(requests) == 1 and requests[0].tags["dataplatform/objects"] == "1"
    assert stats["rejected_keys"] == sorted(stray_keys)
    # Reported once: the next tick does not repeat them.
    assert s3_arrivals.evaluate(zone(zone_name), lake, cursor, NOW)[2]["rejected_keys"] == []
