"""VPC Flow Logs: landing files -> sensor -> raw -> dbt marts, compared with an independent computation.

The expectation is computed here from the gz files with Python's gzip and str.split — not
DuckDB, not the platform's parser — so a bug in either side shows up as a difference. Every
file is parsed by its own header line (default v2 or a custom format, fields in any order),
'-' is null.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from assets.vpc_flow import format as vpc_format
from assets.vpc_flow import sample
from dataplatform import settings
from dataplatform.catchup import catch_up
from dataplatform.resources.lake import LocalObjectStore

START = datetime(2026, 11, 24, tzinfo=timezone.utc)
HOURS = 4
RECORDS = 8000
EPOCH = datetime(1970, 1, 1)  # DuckDB TIMESTAMPs come back naive, in UTC
DEFAULT_HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
                  "start end action log-status")
# Fields the platform types as integers (the rest are text); a value that is neither '-' nor an
# integer makes the line a reject. Written out here rather than taken from format.py.
INTEGER_FIELDS = {"version", "srcport", "dstport", "protocol", "packets", "bytes", "start", "end", "tcp-flags", "traffic-path"}
INTEGER = re.compile(r"-?[0-9]+")
RAW = ("lake", "raw", "vpc_flow")


def parse_line(fields: list[str], line: str) -> dict | None:
    """The record of one data line by its file's header, or None for a line the platform rejects."""
    values = line.split(" ")
    if len(values) > len(fields):
        return None  # too many fields (fewer is valid: the rest are null)
    record = dict.fromkeys(fields)
    for field, value in zip(fields, values):
        if value == "-":
            continue
        if field in INTEGER_FIELDS:
            if not INTEGER.fullmatch(value):
                return None
            record[field] = int(value)
        else:
            record[field] = value
    return record


def read_landing(landing: Path) -> list[tuple[Path, list[str], list[str]]]:
    """(path, header fields, data lines) of every readable file."""
    files = []
    for path in sorted(landing.rglob("*.log.gz")):
        try:
            text = gzip.decompress(path.read_bytes()).decode()
        except (OSError, EOFError, zlib.error):
            continue  # unreadable files are quarantined, not loaded
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        files.append((path, lines[0].split(), lines[1:]))
    return files


def independent_records(landing: Path) -> tuple[list[dict], int]:
    """Every parsable record of every readable file, and the number of data lines read."""
    records, lines_read = [], 0
    for _, fields, lines in read_landing(landing):
        lines_read += len(lines)
        for line in lines:
            record = parse_line(fields, line)
            if record is None:
                continue  # a reject
            start = record["start"]
            record["day"] = None if start is None else datetime.fromtimestamp(start, timezone.utc).date()
            records.append(record)
    return records, lines_read


def _timestamp(seconds: int | None) -> datetime | None:
    return None if seconds is None else EPOCH + timedelta(seconds=seconds)


def expected_marts(records: list[dict]) -> dict[str, set[tuple]]:
    traffic = [r for r in records if r["log-status"] == "OK"]

    # vpc_top_talkers: per day, top 50 (src, dst) pairs by bytes, ties by src then dst.
    pairs = defaultdict(lambda: [0, 0, 0])
    for r in traffic:
        p = pairs[(r["day"], r["srcaddr"], r["dstaddr"])]
        p[0] += 1
        p[1] += r["packets"]
        p[2] += r["bytes"]
    by_day = defaultdict(list)
    for (day, src, dst), (n, packets, nbytes) in pairs.items():
        by_day[day].append((-nbytes, src, dst, packets, n))
    talkers = set()
    for day, rows in by_day.items():
        for rank, (neg_bytes, src, dst, packets, n) in enumerate(sorted(rows)[:50], start=1):
            talkers.add((day, rank, src, dst, packets, -neg_bytes, n))

    # vpc_top_talkers_by_port: per day, every destination port, ranked by records, bytes, port.
    ports = defaultdict(lambda: [0, 0, 0])
    for r in traffic:
        if r["dstport"] is None:
            continue
        p = ports[(r["day"], r["dstport"])]
        p[0] += 1
        p[1] += r["packets"]
        p[2] += r["bytes"]
    by_day = defaultdict(list)
    for (day, port), (n, packets, nbytes) in ports.items():
        by_day[day].append((-n, -nbytes, port, packets))
    by_port = set()
    for day, rows in by_day.items():
        for rank, (neg_n, neg_bytes, port, packets) in enumerate(sorted(rows), start=1):
            by_port.add((day, port, -neg_n, packets, -neg_bytes, port <= 1024, rank))

    # vpc_rejected_traffic: per day, source and destination port.
    rejected = defaultdict(lambda: [0, 0])
    for r in traffic:
        if r["action"] == "REJECT":
            x = rejected[(r["day"], r["srcaddr"], r["dstport"])]
            x[0] += 1
            x[1] += r["packets"]

    # vpc_interface_exposure: the interface's addresses = per address family, its most frequent
    # endpoint over all traffic (src and dst), ties by the smaller address; inbound =
    # flow-direction 'ingress' where the record has one, else addressed to one of those
    # addresses; accepted only. Rows are per (interface, receiving address, protocol, port).
    appearances = defaultdict(Counter)
    for r in traffic:
        for addr in (r["srcaddr"], r["dstaddr"]):
            appearances[(r["interface-id"], ":" in addr)][addr] += 1
    addresses = defaultdict(set)
    for (eni, _), counts in appearances.items():
        addresses[eni].add(min(counts.items(), key=lambda item: (-item[1], item[0]))[0])
    exposure = {}
    for r in traffic:
        if r["action"] != "ACCEPT":
            continue
        direction = r.get("flow-direction")
        inbound = direction == "ingress" if direction is not None else r["dstaddr"] in addresses[r["interface-id"]]
        if not inbound:
            continue
        key = (r["interface-id"], r["dstaddr"], r["protocol"], r["dstport"])
        start, end = _timestamp(r["start"]), _timestamp(r["end"])
        reply = r["dstport"] is not None and r["srcport"] is not None and r["dstport"] >= 32768 and r["srcport"] < r["dstport"]
        e = exposure.setdefault(key, {"n": 0, "bytes": 0, "first": [], "last": [], "replies": 0})
        e["n"] += 1
        e["bytes"] += r["bytes"]
        e["first"] += [start] if start is not None else []  # min/max ignore nulls, as in SQL
        e["last"] += [end] if end is not None else []
        e["replies"] += reply

    # vpc_flow_log_coverage: every record (NODATA/SKIPDATA included) per day, account, interface.
    coverage = defaultdict(Counter)
    for r in records:
        c = coverage[(r["day"], r["account-id"], r["interface-id"])]
        c["records"] += 1
        c[r["log-status"]] += 1

    return {
        "vpc_top_talkers": talkers,
        "vpc_top_talkers_by_port": by_port,
        "vpc_rejected_traffic": {(day, src, port, n, packets) for (day, src, port), (n, packets) in rejected.items()},
        "vpc_interface_exposure": {
            (*key, e["n"], e["bytes"], min(e["first"], default=None), max(e["last"], default=None),
             e["replies"] == e["n"]) for key, e in exposure.items()
        },
        "vpc_flow_log_coverage": {
            (day, account, eni, c["records"], c["OK"], c["NODATA"], c["SKIPDATA"],
             round((c["records"] - c["SKIPDATA"]) / c["records"], 6))
            for (day, account, eni), c in coverage.items()
        },
    }


MART_QUERIES = {
    "vpc_top_talkers": "select flow_date, talker_rank, src_addr, dst_addr, packets, bytes_transferred, flow_records "
                       "from marts.vpc_top_talkers",
    "vpc_top_talkers_by_port": "select flow_date, dst_port, flow_records, packets, bytes_transferred, is_well_known_port, "
                               "port_rank from marts.vpc_top_talkers_by_port",
    "vpc_rejected_traffic": "select flow_date, src_addr, dst_port, rejected_flow_records, rejected_packets "
                            "from marts.vpc_rejected_traffic",
    "vpc_interface_exposure": "select interface_id, interface_addr, protocol, dst_port, flow_records, bytes_transferred, "
                              "first_seen, last_seen, likely_replies from marts.vpc_interface_exposure",
    "vpc_flow_log_coverage": "select flow_date, account_id, interface_id, records, ok_records, nodata_records, "
                             "skipdata_records, round(capture_ratio, 6) from marts.vpc_flow_log_coverage",
}


def actual_marts(warehouse: Path) -> dict[str, set[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {mart: set(con.execute(sql).fetchall()) for mart, sql in MART_QUERIES.items()}


def _sample_of(rows: set[tuple]) -> list[tuple]:
    return sorted(rows, key=repr)[:3]


def assert_marts_match(home: Path) -> dict[str, set[tuple]]:
    records, _ = independent_records(home / "lake" / "landing")
    expected, actual = expected_marts(records), actual_marts(home / "warehouse.duckdb")
    for mart in expected:
        assert expected[mart], f"{mart}: the sample should fill every mart"
        assert len(actual[mart]) == len(expected[mart]) and actual[mart] == expected[mart], (
            f"{mart}: {len(actual[mart] - expected[mart])} unexpected rows, e.g. {_sample_of(actual[mart] - expected[mart])}; "
            f"{len(expected[mart] - actual[mart])} missing, e.g. {_sample_of(expected[mart] - actual[mart])}"
        )
    return expected


def raw_rows(home: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in home.joinpath(*RAW, "flow_logs").rglob("*.parquet"))


@pytest.fixture
def platform(home):
    from dataplatform.definitions import build_definitions

    defs = build_definitions()
    with dg.instance_for_test() as instance:
        yield defs, instance, lambda: catch_up(defs, instance)


@pytest.mark.slow
def test_vpc_marts_equal_an_independent_computation_with_custom_formats_ipv6_and_bad_lines(home, platform):
    defs, instance, run_catch_up = platform
    lake = LocalObjectStore(settings.lake_root())
    landing = home / "lake" / "landing"
    sample.generate(
        lake,
        sample.SampleSpec(start=START, hours=HOURS, records=RECORDS, accounts=2, seed=7, custom_share=0.5, ipv6_share=0.3),
    )

    # The input really has what this test claims to cover: custom formats (with and without
    # flow-direction and `version`, fields in another order), IPv6, NODATA/SKIPDATA, and
    # records whose start falls on the day before the first delivery hour.
    files = read_landing(landing)
    headers = Counter(" ".join(fields) for _, fields, _ in files)
    custom = [h.split() for h in headers if h != DEFAULT_HEADER]
    assert headers[DEFAULT_HEADER] and len(custom) >= 2
    assert any("flow-direction" in h for h in custom) and any("flow-direction" not in h for h in custom)
    assert any("version" not in h for h in custom)
    assert sum(n for h, n in headers.items() if h != DEFAULT_HEADER) >= len(files) // 4
    records, lines_read = independent_records(landing)
    assert lines_read == len(records) == RECORDS
    ok = [r for r in records if r["log-status"] == "OK"]
    v6 = [r for r in ok if ":" in r["srcaddr"] or ":" in r["dstaddr"]]
    assert len(v6) >= len(ok) // 20
    assert any(":" in r["srcaddr"] and r.get("flow-direction") is None for r in ok)  # IPv6 in the default format too
    statuses = Counter(r["log-status"] for r in records)
    assert statuses["NODATA"] and statuses["SKIPDATA"]
    assert {r["day"] for r in records} == {date(2026, 11, 23), date(2026, 11, 24)}

    # A few hours of files: one sensor run over the hour range, then one dbt invocation.
    first = run_catch_up()
    assert first.failed_runs == []
    # Runs: the hour range, the refresh (with the reference seeds), and the RPO sensor's first
    # snapshot of each warehouse once it exists.
    assert (first.runs, first.partitions, first.dbt_invocations) == (4, HOURS, 1)
    expected = assert_marts_match(home)
    # IPv6 made it through to the marts, exposure of dual-stack interfaces' IPv6 addresses included.
    assert any(":" in row[1] for row in expected["vpc_rejected_traffic"])
    assert any(":" in row[1] for row in expected["vpc_interface_exposure"])

    # Every line is accounted for: rows in the raw partitions = data lines in the files.
    assert raw_rows(home) == lines_read == RECORDS
    rejects = home.joinpath(*RAW, "flow_log_rejects")
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in rejects.rglob("*.parquet")) == 0

    # A new file for hour 1 with a bad line (`packets` = 'lots') and one with too many fields,
    # among good lines: one more catch-up of exactly that partition; the bad lines go to
    # rejects with their line numbers (the header is line 1), the rest loads.
    bad_hour = START + timedelta(hours=1)
    # The donor: a custom-format file of that hour (so its header is not the default's).
    donor_path, fields, donor_lines = next(
        (p, f, lines) for p, f, lines in files
        if vpc_format.parse_object_name(p.relative_to(landing).as_posix()).hour == bad_hour
        and " ".join(f) != DEFAULT_HEADER
    )
    donor = vpc_format.parse_object_name(donor_path.relative_to(landing).as_posix())
    good = [line for line in donor_lines if parse_line(fields, line)["log-status"] == "OK"][:4]
    assert len(good) == 4
    values = good[1].split(" ")
    values[fields.index("packets")] = "lots"
    lots = " ".join(values)
    too_many = good[2] + " extra"
    bad_key = vpc_format.object_name(
        "vpcflowlogs/", donor.account, donor.region, donor.flow_log_id, bad_hour + timedelta(minutes=35), "badf00d1"
    )
    assert bad_key not in {p.relative_to(landing).as_posix() for p, _, _ in files}
    text = "\n".join([" ".join(fields), good[0], lots, too_many, good[3]]) + "\n"
    lake.put("landing", bad_key, gzip.compress(text.encode(), mtime=0))

    second = run_catch_up()
    assert (second.runs, second.partitions, second.dbt_invocations, second.failed_runs) == (2, 1, 1, [])
    assert_marts_match(home)

    rows = pq.read_table(rejects / "dt=2026-11-24" / "hour=01").to_pylist()
    assert [(r["source_key"], r["line_number"], r["raw_line"]) for r in rows] == [(bad_key, 3, lots), (bad_key, 4, too_many)]
    assert "packets" in rows[0]["reason"] and rows[1]["reason"]
    records, lines_read = independent_records(landing)
    assert lines_read == RECORDS + 4 and len(records) == RECORDS + 2
    assert raw_rows(home) + 2 == lines_read and raw_rows(home) == len(records)

    # The reconciliation check ran on the materialisation and passed.
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey(["raw", "vpc_flow", "flow_logs"]), "lines_reconcile")]
    )
    evaluation = next(iter(check.values())).event.dagster_event.event_specific_data
    assert evaluation.passed and evaluation.metadata["rejected_lines"].value == 2
