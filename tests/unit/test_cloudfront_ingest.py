"""Parsing one hour of landing files: layouts by header, rejects, quarantine, accounting."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from assets.cloudfront.format import FIELDS, LEGACY_FIELDS, ObjectNameError, parse_object_name
from assets.cloudfront.ingest import ACCESS_LOGS
from dataplatform.delimited_logs import HourIngestor

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def line(fields, **overrides) -> str:
    base = {
        "date": "2026-11-24", "time": "05:06:07", "x-edge-location": "FRA56-P1", "sc-bytes": "1234",
        "c-ip": "2001:db8::1", "cs-method": "GET", "cs(Host)": "d1.cloudfront.net", "cs-uri-stem": "/",
        "sc-status": "200", "cs(User-Agent)": CHROME.replace(" ", "%20"), "x-edge-result-type": "Hit",
        "time-taken": "0.012", "c-port": "443", "sc-content-len": "1000",
    }
    base.update(overrides)
    return "\t".join(base.get(f, "-") for f in fields)


def write(tmp_path: Path, name: str, fields, lines) -> tuple[str, str, Path]:
    text = "#Version: 1.0\n#Fields: " + " ".join(fields) + "\n" + "".join(f"{l}\n" for l in lines)
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    key = f"cloudfront/{name}"
    return key, {"distribution_id": name.split(".")[0], "source_key": key}, path


def ingest(tmp_path, files):
    agents = set()
    result = HourIngestor(ACCESS_LOGS).ingest_hour(
        files, tmp_path / "out.parquet", tmp_path / "rejects.parquet", lambda t: agents.update(t.column("cs_user_agent").to_pylist())
    )
    result.user_agents = agents
    return result, pq.read_table(tmp_path / "out.parquet").to_pylist(), pq.read_table(tmp_path / "rejects.parquet").to_pylist()


def test_current_and_legacy_layouts_are_parsed_by_their_header(tmp_path):
    current = write(tmp_path, "E1.2026-11-24-05.a.gz", FIELDS, [line(FIELDS)])
    legacy = write(tmp_path, "E2.2026-11-24-05.b.gz", LEGACY_FIELDS, [line(LEGACY_FIELDS, **{"sc-bytes": "99"})])
    reordered_fields = list(reversed(FIELDS))
    reordered = write(tmp_path, "E3.2026-11-24-05.c.gz", reordered_fields, [line(reordered_fields, **{"c-ip": "10.1.2.3"})])
    result, rows, rejects = ingest(tmp_path, [current, legacy, reordered])
    assert (result.lines_read, result.rows_written, result.rejected_lines, rejects) == (3, 3, 0, [])
    assert [r["distribution_id"] for r in rows] == ["E1", "E2", "E3"]
    assert [r["sc_bytes"] for r in rows] == [1234, 99, 1234]
    assert rows[0]["c_port"] == 443 and rows[1]["c_port"] is None  # c-port is not a legacy field
    assert rows[2]["c_ip"] == "10.1.2.3"
    assert str(rows[0]["ts"]) == "2026-11-24 05:06:07"
    assert list(rows[0]) == [name for name, _ in ACCESS_LOGS.output_columns]


def test_fewer_trailing_fields_than_the_header_are_valid(tmp_path):
    short = "\t".join(line(FIELDS).split("\t")[:29])
    result, rows, _ = ingest(tmp_path, [write(tmp_path, "E1.2026-11-24-05.a.gz", FIELDS, [short])])
    assert result.rows_written == 1 and rows[0]["sc_content_len"] is None and rows[0]["x_edge_result_type"] == "Hit"


@pytest.mark.parametrize("encoded", [CHROME.replace(" ", "%20"), CHROME.replace(" ", "%2520"), CHROME.replace(" ", "%252520")])
def test_user_agent_is_decoded_until_stable(tmp_path, encoded):
    result, rows, _ = ingest(tmp_path, [write(tmp_path, "E1.2026-11-24-05.a.gz", FIELDS, [line(FIELDS, **{"cs(User-Agent)": encoded})])])
    assert rows[0]["cs_user_agent"] == CHROME and result.user_agents == {CHROME}


def test_invalid_percent_encoding_keeps_the_raw_value(tmp_path):
    _, rows, _ = ingest(tmp_path, [write(tmp_path, "E1.2026-11-24-05.a.gz", FIELDS, [line(FIELDS, **{"cs(User-Agent)": "bad%ff%fe"})])])
    assert rows[0]["cs_user_agent"] == "bad%ff%fe"


def test_malformed_lines_are_rejected_with_line_number_and_reason(tmp_path):
    lines = [line(FIELDS), line(FIELDS, **{"sc-bytes": "lots"}), "garbage", line(FIELDS) + "\textra", line(FIELDS)]
    result, rows, rejects = ingest(tmp_path, [write(tmp_path, "E1.2026-11-24-05.a.gz", FIELDS, lines)])
    assert (result.lines_read, result.rows_written, result.rejected_lines) == (5, 2, 3)
    assert [(r["line_number"], r["raw_line"]) for r in rejects] == [(4, lines[1]), (5, "garbage"), (6, lines[3])]
    assert "sc_bytes" in rejects[0]["reason"] and "TOO MANY COLUMNS" in rejects[2]["reason"]


def test_unreadable_gzip_is_quarantined_without_blocking_the_hour(tmp_path):
    good = write(tmp_path, "E1.2026-11-24-05.a.gz", FIELDS, [line(FIELDS)] * 3)
    truncated = tmp_path / "E1.2026-11-24-05.t.gz"
    truncated.write_bytes(gzip.compress(("#Version: 1.0\n" + line(FIELDS) * 200).encode())[:100])
    not_gzip = tmp_path / "E1.2026-11-24-05.n.gz"
    not_gzip.write_bytes(b"plain text, not gzip")
    no_header = write(tmp_path, "E1.2026-11-24-05.h.gz", [], [line(FIELDS)])
    no_header[2].write_bytes(gzip.compress(line(FIELDS).encode()))
    constants = {"distribution_id": "E1", "source_key": "k"}
    files = [good, ("cloudfront/t", constants, truncated), ("cloudfront/n", constants, not_gzip), no_header]
    result, rows, rejects = ingest(tmp_path, files)
    assert result.rows_written == 3 and len(rows) == 3
    assert [key for key, _ in result.quarantined] == ["cloudfront/t", "cloudfront/n", no_header[0]]
    reasons = {r["source_key"]: r["reason"] for r in rejects}
    assert "gzip" in reasons["cloudfront/t"] and "gzip" in reasons["cloudfront/n"] and "#Fields" in reasons[no_header[0]]
    assert all(r["line_number"] is None for r in rejects)


@pytest.mark.parametrize(
    "key",
    [
        "cloudfront/E1.2026-13-01-00.a.gz",
        "cloudfront/E1.2026-11-24-05.a.gz'; drop table x;--",
        "cloudfront/../E1.2026-11-24-05.a.gz/..",
        "cloudfront/e1.2026-11-24-05.a.gz",
        "cloudfront/E1.2026-11-24-05.a=b.gz",
        "cloudfront/E1.2026-11-24-05." + "a" * 100 + ".gz",
    ],
)
def test_object_names_outside_the_pattern_are_refused(key):
    with pytest.raises(ObjectNameError):
        parse_object_name(key)


def test_object_name_yields_distribution_and_utc_hour():
    distribution, hour = parse_object_name("cloudfront/logs/cf/EMLARXS9EXAMPLE.2026-11-24-05.a1b2c3d4.gz")
    assert distribution == "EMLARXS9EXAMPLE" and hour.isoformat() == "2026-11-24T05:00:00+00:00"
