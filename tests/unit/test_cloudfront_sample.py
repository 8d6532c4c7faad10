"""The synthetic CloudFront log generator: layout per the shared spec, realism, determinism."""

from __future__ import annotations

import gzip
import ipaddress
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import crawleruseragents
import pytest

from assets.cloudfront import sample
from assets.cloudfront.format import FIELDS, LEGACY_FIELDS, parse_object_name
from dataplatform.landing_zones import zone
from assets.cloudfront.sample import SampleSpec, distribution_ids, encode_value, generate, render_file
from dataplatform.resources.lake import LocalObjectStore

START = datetime(2024, 5, 1, tzinfo=timezone.utc)
EDGE = re.compile(r"^[A-Z]{3}\d{1,2}(-[PC]\d+)?$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{54}==$")


def read_files(store: LocalObjectStore, infos, bucket: str = "landing") -> list[tuple[str, list[str], list[list[str]]]]:
    """(key, #Fields names, data rows split on tabs) per file, checking the two header lines on the way."""
    files = []
    for info in infos:
        text = gzip.decompress(store.get(bucket, info.key)).decode("utf-8")
        assert text.endswith("\n")
        lines = text[:-1].split("\n")
        assert lines[0] == "#Version: 1.0"
        assert lines[1].startswith("#Fields: ")
        fields = lines[1][len("#Fields: "):].split(" ")
        files.append((info.key, fields, [line.split("\t") for line in lines[2:]]))
    return files


def records(files) -> list[dict[str, str]]:
    return [dict(zip(fields, row)) for _, fields, rows in files for row in rows]


def fully_decoded(value: str) -> str:
    while (decoded := unquote(value)) != value:
        value = decoded
    return value


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """20k lines over 6 hours with two late files: the realism checks run on this one sample."""
    store = LocalObjectStore(tmp_path_factory.mktemp("big"))
    spec = SampleSpec(start=START, hours=6, lines=20_000, late_files=2)
    infos = generate(store, spec)
    return spec, infos, read_files(store, infos)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    store = LocalObjectStore(tmp_path_factory.mktemp("small"))
    spec = SampleSpec(start=START, lines=3_000)
    infos = generate(store, spec)
    return spec, store, infos, read_files(store, infos)


def test_same_spec_gives_identical_keys_and_bytes_in_separate_stores(tmp_path):
    spec = SampleSpec(start=START, hours=3, lines=3_000, late_files=1)
    one, two = LocalObjectStore(tmp_path / "one"), LocalObjectStore(tmp_path / "two")
    first = generate(one, spec)
    sample._pools.cache_clear()  # the second run rebuilds every pool from the seed
    second = generate(two, spec)
    assert [i.key for i in first] == [i.key for i in second]
    assert [one.get("landing", i.key) for i in first] == [two.get("landing", i.key) for i in second]
    assert first == second  # sizes and etags too
    assert sorted(i.key for i in one.list("landing")) == sorted(i.key for i in first)


def test_another_seed_gives_other_keys_and_content(tmp_path):
    spec = SampleSpec(start=START, hours=2, lines=1_000)
    a = generate(LocalObjectStore(tmp_path / "a"), spec)
    b = generate(LocalObjectStore(tmp_path / "b"), SampleSpec(start=START, hours=2, lines=1_000, seed=8))
    assert not {i.key for i in a} & {i.key for i in b}
    assert {i.etag for i in a}.isdisjoint({i.etag for i in b})


def test_gzip_is_deterministic_level_6_without_mtime(small):
    _, store, infos, _ = small
    data = store.get("landing", infos[0].key)
    assert data[:2] == b"\x1f\x8b" and data[4:8] == b"\0\0\0\0"
    assert data[8] == 0  # XFL 0: default level (6), neither fastest nor best


def test_total_data_lines_is_exactly_the_spec(small, tmp_path):
    spec, _, infos, files = small
    assert sum(len(rows) for _, _, rows in files) == spec.lines == 3_000
    assert all(rows for _, _, rows in files)  # no empty deliveries
    for lines in (0, 1, 7, 1_001):
        store = LocalObjectStore(tmp_path / str(lines))
        got = generate(store, SampleSpec(start=START, hours=2, lines=lines))
        assert sum(len(rows) for _, _, rows in read_files(store, got)) == lines


def test_fields_header_is_current_or_legacy_and_lines_fit_it(small):
    spec, _, infos, files = small
    layouts = Counter(tuple(fields) for _, fields, _ in files)
    assert set(layouts) == {tuple(FIELDS), tuple(LEGACY_FIELDS)}
    assert 0.1 < layouts[tuple(LEGACY_FIELDS)] / len(files) < 0.3  # legacy_share 0.2
    shorter = 0
    for _, fields, rows in files:
        for row in rows:
            if len(fields) == 26:
                assert len(row) == 26
            else:
                assert 29 <= len(row) <= 33
                shorter += len(row) < 33
    assert shorter > 0  # ~1 % of current lines stop early, which the spec allows


def test_legacy_share_bounds(tmp_path):
    for share, expected in ((0.0, {tuple(FIELDS)}), (1.0, {tuple(LEGACY_FIELDS)})):
        store = LocalObjectStore(tmp_path / str(share))
        infos = generate(store, SampleSpec(start=START, hours=2, lines=500, legacy_share=share))
        assert {tuple(fields) for _, fields, _ in read_files(store, infos)} == expected


def test_keys_follow_the_object_name_and_records_lie_in_its_hour(small):
    spec, _, infos, files = small
    window = {START + timedelta(hours=h) for h in range(spec.hours)}
    distributions = set()
    for key, _, rows in files:
        _, groups = zone("cloudfront").parse(key)
        assert key.startswith("cloudfront/") and groups["subprefix"] == ""
        assert re.fullmatch(r"[a-z0-9]{8}", groups["unique"])
        dist, hour = parse_object_name(key)
        assert re.fullmatch(r"E[A-Z0-9]{13}", dist)
        assert hour in window
        distributions.add(dist)
        for row in rows:
            at = datetime.strptime(f"{row[0]} {row[1]}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
            assert hour <= at < hour + timedelta(hours=1)
    assert len(distributions) == spec.distributions == 3
    assert len({i.key for i in infos}) == len(infos)


def test_several_files_per_distribution_hour(small):
    spec, _, _, files = small
    per = Counter(parse_object_name(key) for key, _, _ in files)
    assert len(per) == spec.hours * spec.distributions  # every distribution-hour delivered
    assert 2 <= sum(per.values()) / len(per) <= 4  # files_per_hour 3, give or take one
    assert max(per.values()) >= 3


def test_records_inside_a_file_are_not_in_time_order(small):
    _, _, _, files = small
    assert any([row[1] for row in rows] != sorted(row[1] for row in rows) for _, _, rows in files)


def test_late_files_come_last_for_an_earlier_hour(big):
    spec, infos, files = big
    last_hour = START + timedelta(hours=spec.hours - 1)
    hours = [parse_object_name(i.key)[1] for i in infos]
    regular, late = hours[:-spec.late_files], hours[-spec.late_files:]
    assert regular == sorted(regular) and regular[-1] == last_hour  # written hour by hour
    assert all(hour < last_hour for hour in late)
    for key, _, rows in files[-spec.late_files:]:
        hour = parse_object_name(key)[1]
        assert rows and all(row[1].startswith(f"{hour:%H}:") and row[0] == f"{hour:%Y-%m-%d}" for row in rows)
    with pytest.raises(ValueError):
        generate(None, SampleSpec(start=START, hours=1, late_files=1))


def test_edge_locations_are_many_and_iata_like(big):
    _, _, files = big
    edges = Counter(r["x-edge-location"] for r in records(files))
    assert len(edges) >= 30
    assert all(EDGE.match(edge) for edge in edges)
    assert edges.most_common(1)[0][1] > 3 * edges.most_common()[-1][1]  # weighted, not uniform


def test_viewers_mix_ipv4_ipv6_and_follow_zipf(big):
    _, _, files = big
    rows = records(files)
    ips = Counter(r["c-ip"] for r in rows)
    versions = Counter(ipaddress.ip_address(ip).version for ip in ips.elements())
    assert versions[4] and versions[6]
    assert 0.03 < versions[6] / len(rows) < 0.3
    assert sum(count for _, count in ips.most_common(10)) / len(rows) > 0.2
    assert len(ips) > 1_000  # and a long tail


def test_bots_are_real_crawler_agents_at_a_realistic_share(big):
    _, _, files = big
    rows = records(files)
    agents = [fully_decoded(r["cs(User-Agent)"]) for r in rows]
    crawler = {agent: crawleruseragents.is_crawler(agent) for agent in set(agents)}  # few distinct agents
    bots = [agent for agent in agents if crawler[agent]]
    assert 0.10 <= len(bots) / len(rows) <= 0.40
    assert any("Googlebot" in agent for agent in bots) and any("bingbot" in agent for agent in bots)
    top = Counter((r["c-ip"], a) for r, a in zip(rows, agents)).most_common(50)
    assert any(crawler[agent] for (_, agent), _ in top)  # some heavy viewers are bots


def test_user_agents_are_encoded_and_some_double_encoded(big):
    _, _, files = big
    agents = [r["cs(User-Agent)"] for r in records(files)]
    assert all(" " not in a and '"' not in a for a in agents)
    double = [a for a in agents if "%2520" in a]
    assert 0.01 < len(double) / len(agents) < 0.1
    assert all("%20" in unquote(a) for a in double)
    assert any("%C3%A9" in a for a in agents)  # a non-ASCII app name, UTF-8 bytes encoded


def test_field_values_are_consistent(big):
    _, _, files = big
    rows = records(files)
    statuses = Counter(r["sc-status"] for r in rows)
    assert statuses.most_common(1)[0][0] == "200"
    assert {"304", "206", "301", "403", "404", "500", "502", "503"} <= set(statuses)
    results = Counter(r["x-edge-result-type"] for r in rows)
    assert set(results) <= {"Hit", "RefreshHit", "Miss", "LimitExceeded", "CapacityExceeded", "Error", "Redirect"}
    assert 0.65 <= (results["Hit"] + results["RefreshHit"]) / len(rows) <= 0.9
    sizes = sorted(int(r["sc-bytes"]) for r in rows)
    assert sizes[len(sizes) // 2] < 100_000 < 1_000_000 < sizes[-1]  # mostly small, heavy tail
    for r in rows:
        assert r["x-edge-response-result-type"] == r["x-edge-result-type"]
        assert REQUEST_ID.match(r["x-edge-request-id"])
        assert r["cs(Cookie)"] == "-" and r["fle-status"] == "-" and r["fle-encrypted-fields"] == "-"
        assert re.fullmatch(r"\d+\.\d{3}", r["time-taken"])
        assert r["cs-protocol-version"] in ("HTTP/1.1", "HTTP/2.0", "HTTP/3.0")
        status = int(r["sc-status"])
        if status >= 400:
            assert r["x-edge-result-type"] in ("Error", "LimitExceeded", "CapacityExceeded")
        if r["cs-protocol"] == "http":
            assert r["ssl-protocol"] == r["ssl-cipher"] == "-" and r["x-edge-result-type"] == "Redirect"
        else:
            assert r["ssl-protocol"].startswith("TLSv1.") and r["ssl-cipher"] != "-"
        if "time-to-first-byte" in r:
            assert float(r["time-to-first-byte"]) <= float(r["time-taken"])
            assert 1024 <= int(r["c-port"]) <= 65535
        if "sc-range-end" in r:
            if status == 206:
                start, end = int(r["sc-range-start"]), int(r["sc-range-end"])
                assert end - start + 1 == int(r["sc-content-len"]) <= int(r["sc-bytes"])
            else:
                assert r["sc-range-start"] == r["sc-range-end"] == "-"
    assert len(set(r["x-edge-request-id"] for r in rows)) == len(rows)


def test_distributions_have_their_own_hosts(big):
    _, _, files = big
    hosts = {}
    for key, fields, rows in files:
        dist = parse_object_name(key)[0]
        for row in rows:
            r = dict(zip(fields, row))
            hosts.setdefault(dist, set()).add((r["cs(Host)"], r["x-host-header"]))
    assert all(len(pairs) == 1 for pairs in hosts.values())
    pairs = [next(iter(p)) for p in hosts.values()]
    assert len({host for host, _ in pairs}) == len({site for _, site in pairs}) == 3
    assert all(re.fullmatch(r"d[a-z0-9]{13}\.cloudfront\.net", host) for host, _ in pairs)


def test_average_data_line_is_a_few_hundred_bytes(big):
    _, _, files = big
    rows = [row for _, _, file_rows in files for row in file_rows]
    assert 300 <= sum(len("\t".join(row)) + 1 for row in rows) / len(rows) <= 450


def test_progress_reaches_the_total(tmp_path):
    calls = []
    spec = SampleSpec(start=START, hours=2, lines=2_000)
    infos = generate(LocalObjectStore(tmp_path), spec, bucket="other", progress=lambda done, total: calls.append((done, total)))
    assert len(calls) == len(infos)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert calls[-1] == (2_000, 2_000)
    assert (tmp_path / "other" / infos[0].key).is_file()


def test_render_file_fills_missing_fields_and_round_trips(small):
    assert render_file([{"date": "2024-05-01", "c-ip": "192.0.2.1", "time": ""}], ["date", "time", "c-ip", "sc-status"]) == (
        b"#Version: 1.0\n#Fields: date time c-ip sc-status\n2024-05-01\t-\t192.0.2.1\t-\n"
    )
    _, store, infos, files = small
    for info, (_, fields, rows) in zip(infos, files):
        if all(len(row) == len(fields) for row in rows):
            text = gzip.decompress(store.get("landing", info.key))
            assert render_file([dict(zip(fields, row)) for row in rows], fields) == text


def test_encode_value_follows_the_cloudfront_rules():
    assert encode_value("Mozilla/5.0 (X11; Linux x86_64)") == "Mozilla/5.0%20(X11;%20Linux%20x86_64)"
    assert encode_value('<>"#%{}|\\^~[]`\'') == "%3C%3E%22%23%25%7B%7D%7C%5C%5E%7E%5B%5D%60%27"
    assert encode_value("é\t\x7f") == "%C3%A9%09%7F"
    assert encode_value("a+b=c&d:e,f@g!$*()/?") == "a+b=c&d:e,f@g!$*()/?"
    assert encode_value(encode_value("a b")) == "a%2520b"


def test_start_must_be_an_aware_whole_hour_and_names_use_utc(tmp_path):
    for start in (datetime(2024, 5, 1), START + timedelta(minutes=30)):
        with pytest.raises(ValueError):
            generate(LocalObjectStore(tmp_path), SampleSpec(start=start, hours=1, lines=10))
    plus_two = timezone(timedelta(hours=2))
    infos = generate(LocalObjectStore(tmp_path), SampleSpec(start=datetime(2024, 5, 1, 2, tzinfo=plus_two), hours=1, lines=10))
    assert {parse_object_name(i.key)[1] for i in infos} == {START}


def test_distribution_ids_look_real_and_are_stable():
    ids = distribution_ids(5, 7)
    assert ids == distribution_ids(5, 7) != distribution_ids(5, 8)
    assert len(set(ids)) == 5 and all(re.fullmatch(r"E[A-Z0-9]{13}", i) for i in ids)
