"""The VPC Flow Logs format: field lists per version, DuckDB types, and strict object names."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assets.vpc_flow.format import (
    ALL_FIELDS,
    FIELD_TYPES,
    FIELD_VERSION,
    FIELDS_V2,
    MAX_KEY_LENGTH,
    OBJECT_NAME,
    REQUIRED_FIELDS,
    V3_FIELDS,
    V4_FIELDS,
    V5_FIELDS,
    ObjectName,
    ObjectNameError,
    column_name,
    object_name,
    parse_object_name,
)

ACCOUNT = "012345678901"
PATH = f"AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/2024/05/01/"
NAME = f"{ACCOUNT}_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20240501T1435Z_a1b2c3d4.log.gz"
KEY = "vpcflowlogs/" + PATH + NAME


def test_field_lists_follow_the_versions():
    assert FIELDS_V2 == ("version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
                         "protocol", "packets", "bytes", "start", "end", "action", "log-status")
    assert V3_FIELDS == ("vpc-id", "subnet-id", "instance-id", "tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr")
    assert V4_FIELDS == ("region", "az-id", "sublocation-type", "sublocation-id")
    assert V5_FIELDS == ("pkt-src-aws-service", "pkt-dst-aws-service", "flow-direction", "traffic-path")
    assert ALL_FIELDS == FIELDS_V2 + V3_FIELDS + V4_FIELDS + V5_FIELDS and len(set(ALL_FIELDS)) == 29
    assert [FIELD_VERSION[f] for f in ("log-status", "pkt-dstaddr", "sublocation-id", "traffic-path")] == [2, 3, 4, 5]
    assert set(REQUIRED_FIELDS) == set(FIELDS_V2) - {"version"}


def test_column_names_and_types():
    assert column_name("log-status") == "log_status"
    assert column_name("pkt-srcaddr") == "pkt_srcaddr"
    assert column_name("pkt-src-aws-service") == "pkt_src_aws_service"
    assert column_name("version") == "version"
    assert len({column_name(f) for f in ALL_FIELDS}) == len(ALL_FIELDS)
    assert set(FIELD_TYPES) == set(ALL_FIELDS)
    numeric = {f: t for f, t in FIELD_TYPES.items() if t != "VARCHAR"}
    assert numeric == {"version": "INTEGER", "packets": "BIGINT", "bytes": "BIGINT", "start": "BIGINT",
                       "end": "BIGINT", "srcport": "INTEGER", "dstport": "INTEGER", "protocol": "INTEGER",
                       "tcp-flags": "INTEGER", "traffic-path": "INTEGER"}
    assert FIELD_TYPES["account-id"] == "VARCHAR"  # 12 digits with leading zeros


def test_parse_yields_account_region_flow_log_and_utc_hour():
    parsed = parse_object_name(KEY)
    assert parsed == ObjectName(ACCOUNT, "us-east-1", "fl-0123456789abcdef0",
                                datetime(2024, 5, 1, 14, tzinfo=timezone.utc),
                                datetime(2024, 5, 1, 14, 35, tzinfo=timezone.utc))
    assert parsed.hour.tzinfo is timezone.utc and parsed.stamp.minute == 35
    match = OBJECT_NAME.fullmatch(KEY)
    assert match["prefix"] == "vpcflowlogs/" and match["hash"] == "a1b2c3d4"
    assert (match["year"], match["month"], match["day"], match["stamp"]) == ("2024", "05", "01", "20240501T1435Z")


@pytest.mark.parametrize("prefix", ["", "vpcflowlogs/", "logs/network/vpc-flow_v2.0/", "a/" * 20, "A-1/_x/"])
def test_prefixes_of_safe_segments_are_accepted(prefix):
    assert parse_object_name(prefix + PATH + NAME).account == ACCOUNT


@pytest.mark.parametrize(("region", "flow_log_id"), [
    ("us-gov-west-1", "fl-1234abcd"), ("ap-southeast-2", "fl-0123456789abcdef0"), ("eu-central-1", "fl-abcdef0123"),
])
def test_regions_and_flow_log_ids_of_any_valid_shape(region, flow_log_id):
    key = (f"AWSLogs/{ACCOUNT}/vpcflowlogs/{region}/2024/12/31/"
           f"{ACCOUNT}_vpcflowlogs_{region}_{flow_log_id}_20241231T2355Z_0000ffff.log.gz")
    parsed = parse_object_name(key)
    assert (parsed.region, parsed.flow_log_id) == (region, flow_log_id)
    assert parsed.hour == datetime(2024, 12, 31, 23, tzinfo=timezone.utc)


def test_object_name_round_trips_and_names_in_utc():
    stamp = datetime(2024, 5, 1, 14, 35, tzinfo=timezone.utc)
    key = object_name("vpcflowlogs/", ACCOUNT, "us-east-1", "fl-0123456789abcdef0", stamp, "a1b2c3d4")
    assert key == KEY
    # 00:10 at +02:00 is 22:10 UTC the day before: the date path follows the UTC stamp.
    local = datetime(2024, 5, 2, 0, 10, tzinfo=timezone(timedelta(hours=2)))
    key = object_name("", ACCOUNT, "us-east-1", "fl-0123456789abcdef0", local, "a1b2c3d4")
    assert "/2024/05/01/" in key and "_20240501T2210Z_" in key
    assert parse_object_name(key).hour == datetime(2024, 5, 1, 22, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        object_name("", ACCOUNT, "us-east-1", "fl-0123456789abcdef0", datetime(2024, 5, 1), "a1b2c3d4")
    for bad in ({"prefix": "no-slash"}, {"prefix": "a=b/"}, {"account": "12345"}, {"hash": "XYZ"},
                {"flow_log_id": "fl-x"}, {"region": "Mars"}):
        parts = {"prefix": "", "account": ACCOUNT, "region": "us-east-1", "flow_log_id": "fl-0123456789abcdef0",
                 "stamp": stamp, "hash": "a1b2c3d4", **bad}
        with pytest.raises(ObjectNameError):
            object_name(**parts)


HOSTILE = [
    # quotes, SQL, path tricks and partition syntax, in the prefix or the name
    "vpc'flowlogs/" + PATH + NAME,
    'vpc"flowlogs/' + PATH + NAME,
    "x'; DROP TABLE raw.vpc_flow_logs; --/" + PATH + NAME,
    KEY + "'; DROP TABLE x;--",
    "' OR 1=1 --" + NAME,
    "../" + PATH + NAME,
    "vpcflowlogs/../" + PATH + NAME,
    "vpcflowlogs/./" + PATH + NAME,
    "vpcflowlogs/.hidden/" + PATH + NAME,
    "/" + PATH + NAME,
    "vpcflowlogs//" + PATH + NAME,
    "date=2024-05-01/" + PATH + NAME,
    "vpcflowlogs/" + PATH.replace("us-east-1", "us-east-1=x") + NAME,
    "vpc flowlogs/" + PATH + NAME,
    "vpc\\flowlogs/" + PATH + NAME,
    "vpcflowlogs\x00/" + PATH + NAME,
    KEY + "\n",
    "\n" + KEY,
    KEY.replace("a1b2c3d4", "a1b2c3d4/../../x"),
    # not ASCII: accented letters, other scripts' digits, full-width digits, surrogates
    "vpcflowlögs/" + PATH + NAME,
    KEY.replace("012345678901", "٠١٢٣٤٥٦٧٨٩٠١"),
    KEY.replace("012345678901", "０１２３４５６７８９０１"),
    KEY.replace("20240501T1435Z", "２0240501T1435Z"),
    "vpcflowlogs\udcff/" + PATH + NAME,
    # huge values
    "a" * 2000 + "/" + PATH + NAME,
    "vpcflowlogs/" + "x/" * 600 + PATH + NAME,
    KEY.replace("fl-0123456789abcdef0", "fl-" + "0" * 100),
    KEY.replace("a1b2c3d4", "a" * 5000),
    # parts that disagree or cannot be
    KEY.replace(f"{ACCOUNT}_vpcflowlogs", "999999999999_vpcflowlogs"),
    KEY.replace("_vpcflowlogs_us-east-1_", "_vpcflowlogs_us-west-2_"),
    KEY.replace("2024/05/01", "2024/05/02"),
    KEY.replace("2024/05/01", "2024/5/1"),
    KEY.replace("2024/05/01", "2024/02/30").replace("20240501T", "20240230T"),
    KEY.replace("2024/05/01", "2024/13/01").replace("20240501T", "20241301T"),
    KEY.replace("1435Z", "2400Z"),
    KEY.replace("1435Z", "1460Z"),
    KEY.replace("T1435Z", "T14:35Z"),
    # wrong shapes
    KEY[:-3],
    KEY[:-7] + ".gz",
    KEY + ".tmp",
    KEY.replace(".log.gz", ".LOG.GZ"),
    KEY.replace(".log.gz", ".log.gzip"),
    KEY.replace("a1b2c3d4", "A1B2C3D4"),
    KEY.replace("a1b2c3d4", "a1b2c3d"),
    KEY.replace("fl-0123456789abcdef0", "fl-0123"),
    KEY.replace("fl-0123456789abcdef0", "fl-0123456789ABCDEF0"),
    KEY.replace("012345678901", "01234567890"),
    KEY.replace("vpcflowlogs/us-east-1", "vpcflowlog/us-east-1"),
    KEY.replace("AWSLogs", "awslogs"),
    KEY.replace("us-east-1", "US-EAST-1"),
    PATH + NAME.replace("_", "-"),
    "",
    "AWSLogs/",
]


@pytest.mark.parametrize("key", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_or_malformed_names_are_refused(key):
    with pytest.raises(ObjectNameError):
        parse_object_name(key)


def key_of_length(length: int) -> str:
    """A valid key padded to `length` characters with a prefix of short segments."""
    rest, segments = length - len(PATH + NAME), []
    while rest > 0:
        size = 50 if rest == 101 else min(100, rest)  # never leave a 1-character (empty) segment
        segments.append("x" * (size - 1) + "/")
        rest -= size
    key = "".join(segments) + PATH + NAME
    assert len(key) == length
    return key


def test_non_text_keys_and_the_s3_length_limit():
    for key in (KEY.encode(), None, 12):
        with pytest.raises(ObjectNameError):
            parse_object_name(key)
    assert parse_object_name(key_of_length(MAX_KEY_LENGTH)).account == ACCOUNT
    with pytest.raises(ObjectNameError, match="not a VPC flow log"):
        parse_object_name(key_of_length(MAX_KEY_LENGTH + 1))
    assert issubclass(ObjectNameError, ValueError)
