"""The stream sample producers: CloudFront real-time log records and web-analytics events."""

from __future__ import annotations

import ipaddress
import json
import re
import statistics
from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import islice
from urllib.parse import unquote

import crawleruseragents
import pytest

from assets.cloudfront.realtime_format import CONFIGURED_FIELDS, REALTIME_FIELDS, parse_record, render_record
from assets.cloudfront.realtime_sample import RealtimeSpec, host_to_distribution, records
from assets.cloudfront.sample import distribution_ids
from assets.web_analytics.sample import EVENT_NAMES, KEYS, OPTIONAL_KEYS, EventsSpec, events

START = datetime(2024, 5, 1, 14, tzinfo=timezone.utc)
T0 = START.timestamp()
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{54}==$")
HOST = re.compile(r"^d[a-z0-9]{13}\.cloudfront\.net$")
UTC = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{7})Z$")


def fully_decoded(value: str) -> str:
    while (decoded := unquote(value)) != value:
        value = decoded
    return value


def late_emissions(times: list[float], threshold: float = 5.0) -> int:
    """Emissions whose time trails an earlier emission's by more than `threshold` seconds."""
    late, newest = 0, float("-inf")
    for t in times:
        if newest - t > threshold:
            late += 1
        newest = max(newest, t)
    return late


@pytest.fixture(scope="module")
def stream():
    spec = RealtimeSpec(start=START, seconds=300, rate=200, duplicate_share=0.03, late_share=0.02)
    emitted = list(records(spec))
    return spec, emitted, [parse_record(data) for _, data in emitted]


@pytest.fixture(scope="module")
def analytics():
    spec = EventsSpec(start=START, seconds=600, rate=100, duplicate_share=0.03, late_share=0.02, anomaly_minute=6)
    emitted = list(events(spec))
    return spec, emitted, [json.loads(data) for _, data in emitted]


# --- format -----------------------------------------------------------------------------------

def test_field_lists():
    assert len(REALTIME_FIELDS) == 43 == len(set(REALTIME_FIELDS))
    assert REALTIME_FIELDS[0] == "timestamp" and REALTIME_FIELDS[-1] == "asn"
    assert CONFIGURED_FIELDS == ("timestamp", "c-ip", "sc-status", "sc-bytes", "cs-host", "x-edge-location",
                                 "x-edge-request-id", "cs-user-agent", "x-edge-result-type")
    positions = [REALTIME_FIELDS.index(field) for field in CONFIGURED_FIELDS]
    assert positions == sorted(positions)


def test_parse_render_round_trip():
    values = {"timestamp": 1714572000.123, "c-ip": "2001:db8::1", "sc-status": 200, "sc-bytes": 5120,
              "cs-host": "d111111abcdef8.cloudfront.net", "x-edge-location": "FRA56-P1",
              "x-edge-request-id": "A" * 54 + "==", "cs-user-agent": "Mozilla/5.0%2520(X11)",
              "x-edge-result-type": None}
    data = render_record(values)
    assert data == (b"1714572000.123\t2001:db8::1\t200\t5120\td111111abcdef8.cloudfront.net\tFRA56-P1\t"
                    + b"A" * 54 + b"==\tMozilla/5.0%2520(X11)\t-\n")
    assert parse_record(data) == values
    assert parse_record(data.rstrip(b"\n")) == values  # the trailing newline is optional
    subset = ("timestamp", "sc-status", "cs-uri-stem")
    assert parse_record(render_record({"timestamp": "1714572000.5", "sc-status": 304, "cs-uri-stem": "/"}, subset),
                        subset) == {"timestamp": 1714572000.5, "sc-status": 304, "cs-uri-stem": "/"}


@pytest.mark.parametrize("data", [
    b"1714572000.123\t1.2.3.4\t200",  # too few fields
    b"1714572000.123\t1.2.3.4\t200\t1\th\tIAD12\tid\tua\tHit\textra",  # too many
    b"17145720x0.123\t1.2.3.4\t200\t1\th\tIAD12\tid\tua\tHit",
    b"1714572000.1234\t1.2.3.4\t200\t1\th\tIAD12\tid\tua\tHit",
    b"nan\t1.2.3.4\t200\t1\th\tIAD12\tid\tua\tHit",
    b"1714572000.123\t1.2.3.4\tOK\t1\th\tIAD12\tid\tua\tHit",
    b"1714572000.123\t1.2.3.4\t200\t-5\th\tIAD12\tid\tua\tHit",
    b"1714572000.123\t1.2.3.4\t200\t1e3\th\tIAD12\tid\tua\tHit",
    b"1714572000.123\t1.2.3.4\t200\t1\th\tIAD12\tid\t\xff\xfe\tHit",  # not UTF-8
])
def test_parse_rejects_bad_records(data):
    with pytest.raises(ValueError):
        parse_record(data)


def test_render_rejects_tabs_and_unknown_fields():
    with pytest.raises(ValueError):
        render_record({"cs-user-agent": "a\tb"})
    with pytest.raises(ValueError):
        render_record({}, ("timestamp", "cs(User-Agent)"))


# --- real-time records ------------------------------------------------------------------------

def test_realtime_deterministic():
    spec = RealtimeSpec(start=START, seconds=20, rate=50, duplicate_share=0.1, late_share=0.1)
    assert list(records(spec)) == list(records(spec))
    assert list(records(spec)) != list(records(RealtimeSpec(start=START, seconds=20, rate=50, seed=8)))


def test_realtime_counts_duplicates_and_timestamps(stream):
    spec, emitted, parsed = stream
    assert all(len(data.rstrip(b"\n").split(b"\t")) == len(CONFIGURED_FIELDS) for _, data in emitted)
    by_id: dict[str, set[bytes]] = {}
    for (key, data), record in zip(emitted, parsed):
        assert key == record["x-edge-request-id"]
        assert REQUEST_ID.match(key)
        by_id.setdefault(key, set()).add(data)
    unique = len(by_id)
    assert abs(unique - spec.rate * spec.seconds) <= 0.1 * spec.rate * spec.seconds
    assert all(len(datas) == 1 for datas in by_id.values())  # repeats are byte-identical
    repeats = len(emitted) - unique
    assert 0.75 * spec.duplicate_share * unique <= repeats <= 1.25 * spec.duplicate_share * unique
    assert max(Counter(key for key, _ in emitted).values()) == 2
    stamps = [record["timestamp"] for record in parsed]
    assert all(T0 <= t < T0 + spec.seconds for t in stamps)
    assert all(re.fullmatch(rb"\d{10}\.\d{3}", data.split(b"\t", 1)[0]) for _, data in emitted)


def test_realtime_late_records(stream):
    spec, _, parsed = stream
    late = late_emissions([record["timestamp"] for record in parsed])
    assert 0.6 * spec.late_share * len(parsed) <= late <= 1.4 * spec.late_share * len(parsed)
    on_time = [parse_record(data)["timestamp"]
               for _, data in records(RealtimeSpec(start=START, seconds=60, rate=200, duplicate_share=0.05))]
    assert late_emissions(on_time) == 0
    assert late_emissions(on_time, threshold=0.0) > 0  # neighbours are slightly out of order, as delivered


def test_realtime_realism(stream):
    spec, _, parsed = stream
    agents = Counter(record["cs-user-agent"] for record in parsed)
    crawler = {ua: crawleruseragents.is_crawler(fully_decoded(ua)) for ua in agents}
    bots = sum(n for ua, n in agents.items() if crawler[ua])
    assert 0.10 <= bots / len(parsed) <= 0.40
    assert any("%2520" in ua for ua in agents)  # some double-encoded
    addresses = Counter(record["c-ip"] for record in parsed)
    versions = Counter(ipaddress.ip_address(ip).version for ip in addresses.elements())
    assert versions[6] > 0 and versions[4] > versions[6]
    assert len(addresses) < 0.5 * len(parsed)  # Zipf: repeat viewers
    assert addresses.most_common(1)[0][1] > 50 * statistics.median(addresses.values())
    assert len({record["x-edge-location"] for record in parsed}) >= 30
    results = Counter(record["x-edge-result-type"] for record in parsed)
    assert results["Hit"] > results["Miss"] > 0
    sizes = sorted(record["sc-bytes"] for record in parsed)
    assert sizes[-1] > 100 * sizes[len(sizes) // 2]  # heavy tail
    hosts = Counter(record["cs-host"] for record in parsed)
    mapping = host_to_distribution(spec)
    assert set(hosts) == set(mapping) and all(HOST.match(host) for host in hosts)
    assert sorted(mapping.values()) == sorted(distribution_ids(spec.distributions, spec.seed))
    statuses = Counter(record["sc-status"] for record in parsed)
    assert statuses[200] > 0.5 * len(parsed) and statuses[404] > 0


def test_realtime_streams():
    """A day at 10k records/s (864 M records) starts at once: nothing is materialised up front."""
    head = list(islice(records(RealtimeSpec(start=START, seconds=86_400, rate=10_000)), 1000))
    assert len(head) == 1000


def test_realtime_rejects_bad_specs():
    with pytest.raises(ValueError):
        next(records(RealtimeSpec(start=START.replace(tzinfo=None))))
    with pytest.raises(ValueError):
        next(records(RealtimeSpec(start=START, late_share=1.5)))


# --- web-analytics events ---------------------------------------------------------------------

def test_events_deterministic():
    spec = EventsSpec(start=START, seconds=30, rate=50, duplicate_share=0.1, late_share=0.1, anomaly_minute=0)
    assert list(events(spec)) == list(events(spec))
    assert list(events(spec)) != list(events(EventsSpec(start=START, seconds=30, rate=50, seed=8)))


def test_events_shape(analytics):
    spec, emitted, parsed = analytics
    extras = 0
    for (key, _), event in zip(emitted, parsed):
        keys = tuple(event)
        assert keys[:len(KEYS)] == KEYS and set(keys[len(KEYS):]) <= set(OPTIONAL_KEYS)
        extras += len(keys) > len(KEYS)
        assert key == event["ip_address"]
        assert event["event"] in EVENT_NAMES
        assert event["url"].startswith("https://") and event["user_agent"].startswith("Mozilla/5.0")
        stamp = UTC.match(event["utc_timestamp"])
        assert stamp, event["utc_timestamp"]
        assert isinstance(event["unix_timestamp"], str) and event["unix_timestamp"].isdigit()
        utc = datetime.fromisoformat(stamp.group(1)).replace(tzinfo=timezone.utc)
        assert int(utc.timestamp()) == int(event["unix_timestamp"])
        assert START <= utc < START + timedelta(seconds=spec.seconds)
    assert 0.01 * len(parsed) <= extras <= 0.1 * len(parsed)  # a few % from the second producer
    assert any("email" in event for event in parsed)
    names = Counter(event["event"] for event in parsed)
    assert set(names) == set(EVENT_NAMES) and names["page view"] > 0.6 * len(parsed)
    visitors = Counter(event["ip_address"] for event in parsed)
    assert len(visitors) < 0.3 * len(parsed)
    assert any(ipaddress.ip_address(ip).version == 6 for ip in visitors)
    pages = Counter(event["url"] for event in parsed if event["event"] == "page view")
    assert pages.most_common(1)[0][1] > 20 * statistics.median(pages.values())


def test_events_duplicates_late_and_anomaly(analytics):
    spec, emitted, parsed = analytics
    counts = Counter(data for _, data in emitted)
    unique = len(counts)
    repeats = len(emitted) - unique
    assert 0.75 * spec.duplicate_share * unique <= repeats <= 1.25 * spec.duplicate_share * unique
    ticks = [datetime.fromisoformat(e["utc_timestamp"][:-2]).replace(tzinfo=timezone.utc).timestamp() for e in parsed]
    late = late_emissions(ticks)
    assert 0.6 * spec.late_share * len(parsed) <= late <= 1.4 * spec.late_share * len(parsed)
    per_minute = Counter((int(json.loads(data)["unix_timestamp"]) - int(T0)) // 60 for data in counts)
    assert sorted(per_minute) == list(range(spec.seconds // 60))
    normal = [n for minute, n in per_minute.items() if minute != spec.anomaly_minute]
    assert per_minute[spec.anomaly_minute] > 3 * statistics.median(normal)
    expected = spec.rate * (spec.seconds + 60 * 4)  # the anomaly minute at 5x
    assert abs(unique - expected) <= 0.1 * expected
