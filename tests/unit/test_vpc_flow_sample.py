"""The synthetic VPC Flow Logs generator: layout per the shared spec, realism, determinism."""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from assets.vpc_flow import sample
from assets.vpc_flow.format import (
    ALL_FIELDS,
    FIELD_VERSION,
    FIELDS_V2,
    REQUIRED_FIELDS,
    ObjectNameError,
    parse_object_name,
)
from assets.vpc_flow.sample import SampleSpec, generate, render_file
from dataplatform.resources.lake import LocalObjectStore

START = datetime(2024, 5, 1, tzinfo=timezone.utc)
NO_DATA_DASHES = ("srcaddr", "dstaddr", "srcport", "dstport", "protocol", "packets", "bytes", "action")
NO_PACKET_DASHES = ("tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr", "pkt-src-aws-service", "pkt-dst-aws-service",
                    "flow-direction", "traffic-path")


def read_files(store: LocalObjectStore, infos, bucket: str = "landing") -> list[tuple[str, list[str], list[list[str]]]]:
    """(key, header fields, data rows split on spaces) per file."""
    files = []
    for info in infos:
        text = gzip.decompress(store.get(bucket, info.key)).decode("ascii")
        assert text.endswith("\n")
        lines = text[:-1].split("\n")
        files.append((info.key, lines[0].split(" "), [line.split(" ") for line in lines[1:]]))
    return files


def records(files) -> list[dict[str, str]]:
    return [dict(zip(fields, row)) for _, fields, rows in files for row in rows]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """20k records over 6 hours with two late files: the realism checks run on this one sample."""
    store = LocalObjectStore(tmp_path_factory.mktemp("big"))
    spec = SampleSpec(start=START, hours=6, records=20_000, late_files=2)
    infos = generate(store, spec)
    return spec, infos, read_files(store, infos)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    store = LocalObjectStore(tmp_path_factory.mktemp("small"))
    spec = SampleSpec(start=START, hours=3, records=3_000)
    infos = generate(store, spec)
    return spec, store, infos, read_files(store, infos)


def test_same_spec_gives_identical_keys_and_bytes_in_separate_stores(tmp_path):
    spec = SampleSpec(start=START, hours=3, records=3_000, late_files=1)
    one, two = LocalObjectStore(tmp_path / "one"), LocalObjectStore(tmp_path / "two")
    first = generate(one, spec)
    sample._pools.cache_clear()  # the second run rebuilds every pool from the seed
    second = generate(two, spec)
    assert [i.key for i in first] == [i.key for i in second]
    assert [one.get("landing", i.key) for i in first] == [two.get("landing", i.key) for i in second]
    assert first == second  # sizes and etags too
    assert sorted(i.key for i in one.list("landing")) == sorted(i.key for i in first)


def test_output_does_not_depend_on_string_hashing(tmp_path):
    """Separate interpreters with other hash seeds: no set or hash order leaks into the files."""
    script = (
        "import hashlib, sys; from datetime import datetime, timezone; from pathlib import Path;"
        "from assets.vpc_flow.sample import SampleSpec, generate;"
        "from dataplatform.resources.lake import LocalObjectStore;"
        "infos = generate(LocalObjectStore(Path(sys.argv[1])), SampleSpec(start=datetime(2024, 5, 1, tzinfo=timezone.utc),"
        " hours=2, records=500, custom_share=0.5));"
        "print(hashlib.sha256(repr([(i.key, i.etag) for i in infos]).encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run([sys.executable, "-c", script, str(tmp_path / hash_seed)], env=env,
                                capture_output=True, text=True, timeout=120, check=True)
        digests.add(result.stdout.strip())
    infos = generate(LocalObjectStore(tmp_path / "here"), SampleSpec(start=START, hours=2, records=500, custom_share=0.5))
    digests.add(hashlib.sha256(repr([(i.key, i.etag) for i in infos]).encode()).hexdigest())
    assert len(digests) == 1


def test_another_seed_gives_other_keys_and_content(tmp_path):
    a = generate(LocalObjectStore(tmp_path / "a"), SampleSpec(start=START, hours=2, records=1_000))
    b = generate(LocalObjectStore(tmp_path / "b"), SampleSpec(start=START, hours=2, records=1_000, seed=8))
    assert not {i.key for i in a} & {i.key for i in b}
    assert {i.etag for i in a}.isdisjoint({i.etag for i in b})


def test_gzip_is_deterministic_without_mtime(small):
    _, store, infos, _ = small
    for info in infos[:5]:
        data = store.get("landing", info.key)
        assert data[:3] == b"\x1f\x8b\x08" and data[4:8] == b"\0\0\0\0"


def test_total_records_is_exactly_the_spec(small, tmp_path):
    spec, _, infos, files = small
    assert sum(len(rows) for _, _, rows in files) == spec.records == 3_000
    assert all(rows for _, _, rows in files)  # no empty deliveries
    for count in (0, 1, 7, 1_001):
        store = LocalObjectStore(tmp_path / str(count))
        got = generate(store, SampleSpec(start=START, hours=2, records=count))
        assert sum(len(rows) for _, _, rows in read_files(store, got)) == count
        assert len(got) == len({i.key for i in got})


def test_headers_are_the_default_or_custom_formats_with_the_required_fields(big):
    _, _, files = big
    layouts = Counter(tuple(fields) for _, fields, _ in files)
    assert tuple(FIELDS_V2) in layouts
    custom = [layout for layout in layouts if layout != tuple(FIELDS_V2)]
    assert custom, "some flow logs use a custom format"
    for layout in custom:
        assert len(set(layout)) == len(layout) and set(layout) <= set(ALL_FIELDS)
        assert set(REQUIRED_FIELDS) <= set(layout)
        assert max(FIELD_VERSION[f] for f in layout) >= 3  # several v3+ fields
        assert list(layout) != [f for f in ALL_FIELDS if f in layout]  # in their own order
    assert 0.15 <= sum(layouts[c] for c in custom) / len(files) <= 0.5  # custom_share 0.3, per flow log
    # One flow log, one format: every file of a flow log has the same header.
    per_flow_log = defaultdict(set)
    for key, fields, _ in files:
        per_flow_log[parse_object_name(key).flow_log_id].add(tuple(fields))
    assert all(len(headers) == 1 for headers in per_flow_log.values())


def test_custom_share_bounds(tmp_path):
    for share, check in ((0.0, lambda layouts: layouts == {tuple(FIELDS_V2)}),
                         (1.0, lambda layouts: tuple(FIELDS_V2) not in layouts)):
        store = LocalObjectStore(tmp_path / str(share))
        infos = generate(store, SampleSpec(start=START, hours=1, records=500, custom_share=share))
        assert check({tuple(fields) for _, fields, _ in read_files(store, infos)})


def test_version_is_the_highest_version_of_the_format(big):
    _, _, files = big
    seen = set()
    for _, fields, rows in files:
        if "version" in fields:
            expected = str(max(FIELD_VERSION[f] for f in fields))
            i = fields.index("version")
            assert {row[i] for row in rows} == {expected}
            seen.add(expected)
    assert "2" in seen and seen - {"2"}


def test_every_line_has_a_value_for_every_header_field(big):
    _, _, files = big
    for _, fields, rows in files:
        for row in rows:
            assert len(row) == len(fields) and all(row)


def test_nodata_and_skipdata_rows_carry_dashes(big):
    _, _, files = big
    rows = records(files)
    statuses = Counter(r["log-status"] for r in rows)
    assert set(statuses) == {"OK", "NODATA", "SKIPDATA"}
    assert 0.01 <= (statuses["NODATA"] + statuses["SKIPDATA"]) / len(rows) <= 0.03
    assert statuses["NODATA"] > statuses["SKIPDATA"] > 0
    for r in rows:
        if r["log-status"] == "OK":
            assert all(r[f] != "-" for f in NO_DATA_DASHES)
            continue
        assert all(r[f] == "-" for f in NO_DATA_DASHES)
        assert all(r.get(f, "-") == "-" for f in NO_PACKET_DASHES)
        assert r["interface-id"].startswith("eni-") and re.fullmatch(r"\d{12}", r["account-id"])
        assert int(r["start"]) <= int(r["end"])
        for f in ("vpc-id", "subnet-id", "region", "az-id"):
            assert r.get(f) != "-"  # properties of the ENI, set even without traffic


def test_ipv4_and_ipv6_both_present_and_typed(big, tmp_path):
    _, _, files = big
    rows = [r for r in records(files) if r["log-status"] == "OK"]
    families = Counter(ipaddress.ip_address(r["srcaddr"]).version for r in rows)
    assert families[4] and families[6]
    assert 0.01 < families[6] / len(rows) < 0.15  # ipv6_share 0.1 of the internet clients' flows
    for r in rows:
        src, dst = ipaddress.ip_address(r["srcaddr"]), ipaddress.ip_address(r["dstaddr"])
        assert src.version == dst.version
        if "type" in r:
            assert r["type"] == f"IPv{src.version}"
        if src.version == 6:
            assert not (src.is_private or src.is_multicast or src.is_loopback) and src.is_global
    store = LocalObjectStore(tmp_path)
    infos = generate(store, SampleSpec(start=START, hours=1, records=2_000, ipv6_share=0.0))
    assert all(":" not in r["srcaddr"] for r in records(read_files(store, infos)))


def test_reject_share_and_who_gets_rejected(big):
    _, _, files = big
    rows = [r for r in records(files) if r["log-status"] == "OK"]
    actions = Counter(r["action"] for r in rows)
    assert set(actions) == {"ACCEPT", "REJECT"}
    assert 0.05 <= actions["REJECT"] / len(rows) <= 0.15
    rejected = [r for r in rows if r["action"] == "REJECT"]
    # Port scanners: a few sources trying many ports.
    ports_per_source = defaultdict(set)
    for r in rejected:
        ports_per_source[r["srcaddr"]].add(r["dstport"])
    assert max(len(ports) for ports in ports_per_source.values()) >= 10
    # Misconfigured clients: one source retrying one closed port many times.
    retries = Counter((r["srcaddr"], r["dstaddr"], r["dstport"]) for r in rejected if r["dstport"] in ("22", "3389", "23", "445"))
    assert retries.most_common(1)[0][1] >= 20
    assert all(r["flow-direction"] == "ingress" for r in rejected if "flow-direction" in r)


def test_start_and_end_lie_in_the_interval_before_the_stamp(big):
    spec, _, files = big
    interval = spec.interval_minutes * 60
    for key, fields, rows in files:
        name = parse_object_name(key)
        stamp, hour = int(name.stamp.timestamp()), int(name.hour.timestamp())
        s, e = fields.index("start"), fields.index("end")
        for row in rows:
            start, end = int(row[s]), int(row[e])
            assert 0 <= end - start <= interval
            assert stamp - 300 <= end < stamp  # captured in the 5 minutes before the delivery
            # so the file's hour window, allowing the interval (and the 5-minute delivery) before it
            assert hour - 300 - interval <= start < hour + 3600


def test_records_inside_a_file_are_not_in_time_order(big):
    _, _, files = big
    unsorted = 0
    for _, fields, rows in files:
        starts = [int(row[fields.index("start")]) for row in rows]
        unsorted += starts != sorted(starts)
    assert unsorted > len(files) / 2


def test_one_minute_aggregation(tmp_path):
    store = LocalObjectStore(tmp_path)
    infos = generate(store, SampleSpec(start=START, hours=2, records=3_000, interval_minutes=1))
    durations = Counter()
    for key, fields, rows in read_files(store, infos):
        stamp = int(parse_object_name(key).stamp.timestamp())
        for row in rows:
            start, end = int(row[fields.index("start")]), int(row[fields.index("end")])
            assert 0 <= end - start <= 60 and stamp - 360 <= start <= end < stamp
            durations[end - start > 30] += 1
    assert durations[True] and durations[False]
    with pytest.raises(ValueError):
        generate(store, SampleSpec(start=START, hours=1, records=10, interval_minutes=5))


def test_keys_parse_and_match_their_records(big):
    spec, infos, files = big
    window = {START + timedelta(hours=h) for h in range(spec.hours)}
    stamps = defaultdict(set)
    accounts = set()
    for key, fields, rows in files:
        assert key.startswith("vpcflowlogs/AWSLogs/")
        name = parse_object_name(key)
        assert name.hour in window and name.stamp.minute % 5 == 0
        assert re.fullmatch(r"fl-[0-9a-f]{17}", name.flow_log_id)
        stamps[name.flow_log_id].add(name.stamp)
        accounts.add(name.account)
        for r in (dict(zip(fields, row)) for row in rows):
            assert r["account-id"] == name.account
            assert r.get("region", name.region) == name.region
            assert re.fullmatch(r"eni-[0-9a-f]{17}", r["interface-id"])
    assert len(accounts) == spec.accounts and any(a.startswith("0") for a in accounts)  # leading zeros matter
    assert len(stamps) >= spec.accounts  # one flow log per VPC, 1-2 regions of 1-2 VPCs per account
    for delivered in stamps.values():  # a file every 5 minutes: several per hour per flow log
        per_hour = Counter(stamp.replace(minute=0) for stamp in delivered)
        assert min(per_hour.values()) >= 6 and max(per_hour.values()) == 12
    assert len({i.key for i in infos}) == len(infos)


def test_late_files_come_last_for_an_earlier_hour(big):
    spec, infos, files = big
    last_hour = START + timedelta(hours=spec.hours - 1)
    stamps = [parse_object_name(i.key).stamp for i in infos]
    regular, late = stamps[:-spec.late_files], stamps[-spec.late_files:]
    assert regular == sorted(regular) and regular[-1].replace(minute=0) == last_hour  # written in time order
    assert all(stamp < last_hour for stamp in late)
    for key, fields, rows in files[-spec.late_files:]:
        stamp = int(parse_object_name(key).stamp.timestamp())
        assert rows and all(stamp - 300 <= int(row[fields.index("end")]) < stamp for row in rows)
    with pytest.raises(ValueError):
        generate(None, SampleSpec(start=START, hours=1, late_files=1))


def test_values_are_consistent(big):
    _, _, files = big
    rows = [r for r in records(files) if r["log-status"] == "OK"]
    protocols = Counter(r["protocol"] for r in rows)
    assert set(protocols) <= {"1", "6", "17", "58"} and protocols["1"] and protocols["17"]
    assert protocols.most_common(1)[0][0] == "6"
    for r in rows:
        packets, nbytes = int(r["packets"]), int(r["bytes"])
        assert packets >= 1 and 40 * packets <= nbytes <= 9001 * packets
        assert 0 <= int(r["srcport"]) <= 65535 and 0 <= int(r["dstport"]) <= 65535
        if r["protocol"] in ("1", "58"):
            assert r["srcport"] == r["dstport"] == "0"
        if "tcp-flags" in r:
            assert r["tcp-flags"] in {"0", "1", "2", "3", "4", "7", "18", "19", "23"}
            assert r["protocol"] == "6" or r["tcp-flags"] == "0"
        if "flow-direction" in r:
            assert r["flow-direction"] in ("ingress", "egress")
            assert (r["traffic-path"] == "-") == (r["flow-direction"] == "ingress")
            if r["flow-direction"] == "egress":
                assert 1 <= int(r["traffic-path"]) <= 8
        if "pkt-srcaddr" in r and (r["pkt-srcaddr"], r["pkt-dstaddr"]) != (r["srcaddr"], r["dstaddr"]):
            assert r["protocol"] in ("6", "17")  # only through the NAT gateway
        for f, pattern in (("vpc-id", r"vpc-[0-9a-f]{17}"), ("subnet-id", r"subnet-[0-9a-f]{17}"),
                           ("instance-id", r"i-[0-9a-f]{17}|-"), ("az-id", r"[a-z]{3,4}[0-9]-az[0-9]"),
                           ("sublocation-type", "-"), ("sublocation-id", "-"),
                           ("pkt-src-aws-service", r"-|[A-Z0-9_]+"), ("pkt-dst-aws-service", r"-|[A-Z0-9_]+")):
            if f in r:
                assert re.fullmatch(pattern, r[f]), (f, r[f])


def test_traffic_mix_has_tiers_both_directions_and_heavy_hitters(big):
    _, _, files = big
    rows = [r for r in records(files) if r["log-status"] == "OK"]
    ports = Counter(r["dstport"] for r in rows)
    for port in ("443", "80", "8080", "9090", "5432", "53", "123"):
        assert ports[port], port
    assert ports["3306"] or ports["6379"]
    assert ports.most_common(1)[0][0] == "443"
    # Requests from ephemeral client ports, and the responses back to them.
    web = [r for r in rows if r["dstport"] in ("443", "80") and r["action"] == "ACCEPT"]
    assert web and all(1024 <= int(r["srcport"]) for r in web)
    responses = [r for r in rows if r["srcport"] in ("443", "80", "8080", "5432")]
    assert len(responses) > 0.2 * len(rows) and all(1024 <= int(r["dstport"]) for r in responses)
    # Private addresses for the VPC side, public ones for the internet.
    assert any(ipaddress.ip_address(r["srcaddr"]).is_private for r in rows)
    assert any(ipaddress.ip_address(r["srcaddr"]).is_global for r in rows)
    # Heavy-tailed sizes: a few flows carry most bytes.
    sizes = sorted(int(r["bytes"]) for r in rows)
    assert sizes[len(sizes) // 2] < 100_000 and sizes[-1] > 1_000_000_000
    assert sum(sizes[-len(sizes) // 100:]) > 0.5 * sum(sizes)
    # Zipf clients: heavy ones and a long tail.
    clients = Counter(r["srcaddr"] for r in web)
    assert sum(count for _, count in clients.most_common(10)) / len(web) > 0.1 and len(clients) > 1_000


def test_average_line_is_about_a_hundred_bytes(big):
    _, _, files = big
    rows = [row for _, _, file_rows in files for row in file_rows]
    assert 100 <= sum(len(" ".join(row)) + 1 for row in rows) / len(rows) <= 250


def test_progress_reaches_the_total(tmp_path):
    calls = []
    spec = SampleSpec(start=START, hours=2, records=2_000)
    infos = generate(LocalObjectStore(tmp_path), spec, bucket="other", progress=lambda done, total: calls.append((done, total)))
    assert len(calls) == len(infos)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (2_000, 2_000)
    assert (tmp_path / "other" / infos[0].key).is_file()


def test_render_file_fills_missing_fields_and_round_trips(small):
    assert render_file([{"version": 2, "srcaddr": "192.0.2.1", "dstaddr": ""}], ["version", "srcaddr", "dstaddr", "end"]) == (
        b"version srcaddr dstaddr end\n2 192.0.2.1 - -\n"
    )
    with pytest.raises(ValueError):
        render_file([{"action": "ACCEPT OK"}], ["action"])
    _, store, infos, files = small
    for info, (_, fields, rows) in zip(infos, files):
        text = gzip.decompress(store.get("landing", info.key))
        assert render_file([dict(zip(fields, row)) for row in rows], fields) == text


def test_invalid_specs_are_refused_before_writing(tmp_path):
    store = LocalObjectStore(tmp_path)
    bad = [
        SampleSpec(start=datetime(2024, 5, 1)),
        SampleSpec(start=START + timedelta(minutes=30)),
        SampleSpec(start=START, hours=0),
        SampleSpec(start=START, records=-1),
        SampleSpec(start=START, accounts=0),
        SampleSpec(start=START, custom_share=1.5),
        SampleSpec(start=START, ipv6_share=-0.1),
        SampleSpec(start=START, prefix="bad prefix/"),
        SampleSpec(start=START, prefix="date=2024-05-01/"),
        SampleSpec(start=START, prefix="no-trailing-slash"),
    ]
    for spec in bad:
        with pytest.raises(ValueError):
            generate(store, spec)
    with pytest.raises(ObjectNameError):
        generate(store, SampleSpec(start=START, prefix="../"))
    assert not list(store.list("landing"))


def test_start_in_another_zone_names_in_utc(tmp_path):
    plus_two = timezone(timedelta(hours=2))
    store = LocalObjectStore(tmp_path)
    infos = generate(store, SampleSpec(start=datetime(2024, 5, 1, 2, tzinfo=plus_two), hours=1, records=100))
    assert {parse_object_name(i.key).hour for i in infos} == {START}
