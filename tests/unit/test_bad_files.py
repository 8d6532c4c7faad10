"""Bad landing files, for both log formats, in one hour with a good file: each is loaded,
rejected line by line or quarantined with its reason; per file, the lines delivered (counted
here from the bytes, independently of the ingest) = rows + rejected lines; no file blocks the
others."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from assets.cloudfront.format import FIELDS
from assets.cloudfront.ingest import ACCESS_LOGS
from assets.vpc_flow.format import FIELDS_V2
from assets.vpc_flow.ingest import FLOW_LOGS
from dataplatform.delimited_logs import HourIngestor

UA = "Mozilla/5.0%20(X11;%20Linux%20x86_64)%20Chrome/120.0"


def cloudfront_line(fields, ua=UA) -> str:
    values = {"date": "2026-11-24", "time": "05:06:07", "x-edge-location": "FRA56-P1", "sc-bytes": "1234",
              "c-ip": "10.0.0.1", "cs-method": "GET", "sc-status": "200", "cs(User-Agent)": ua, "time-taken": "0.012"}
    return "\t".join(values.get(f, "-") for f in fields)


def cloudfront_text(fields=FIELDS, lines=3, newline="\n", ua=UA) -> bytes:
    header = f"#Version: 1.0{newline}#Fields: {' '.join(fields)}{newline}"
    return (header + "".join(cloudfront_line(fields, ua) + newline for _ in range(lines))).encode()


def vpc_line(fields) -> str:
    values = {"version": "2", "account-id": "123456789012", "interface-id": "eni-0a1b2c3d", "srcaddr": "10.0.0.1",
              "dstaddr": "10.0.0.2", "srcport": "443", "dstport": "51000", "protocol": "6", "packets": "10",
              "bytes": "840", "start": "1795928400", "end": "1795928460", "action": "ACCEPT", "log-status": "OK"}
    return " ".join(values[f] for f in fields)


def vpc_text(fields=FIELDS_V2, lines=3, newline="\n") -> bytes:
    return (" ".join(fields) + newline + "".join(vpc_line(fields) + newline for _ in range(lines))).encode()


def cases(fmt: str) -> dict[str, bytes]:
    """name -> the file's bytes as delivered (gzip unless the case is about not being gzip)."""
    text, reordered = (cloudfront_text, list(reversed(FIELDS))) if fmt == "cloudfront" else (vpc_text, list(reversed(FIELDS_V2)))
    z = lambda data: gzip.compress(data, mtime=0)  # noqa: E731
    return {
        "good": z(text()),
        "empty_gzip": z(b""),
        "header_only": z(text(lines=0)),
        "crlf": z(text(newline="\r\n")),
        "utf8_bom": z(b"\xef\xbb\xbf" + text()),
        "nul_bytes": z(text()[:-1] + b"\x00\x00\n"),  # in the last record
        "plain_text_named_gz": text(),
        "reordered_fields": z(text(fields=reordered)),
        **({"10kB_user_agent": z(cloudfront_text(ua="A" * 10_000))} if fmt == "cloudfront" else {}),
    }


def delivered_lines(data: bytes, fmt: str) -> int | None:
    """Record lines in the file (header lines excluded), from the bytes; None if not gzip."""
    try:
        text = gzip.decompress(data)
    except OSError:
        return None
    lines = [line for line in text.split(b"\n") if line.strip(b"\r")]
    header = sum(1 for line in lines if line.lstrip(b"\xef\xbb\xbf").startswith(b"#")) if fmt == "cloudfront" else min(1, len(lines))
    return len(lines) - header


@pytest.mark.parametrize("fmt", ["cloudfront", "vpc"])
def test_each_bad_file_is_loaded_rejected_or_quarantined_with_its_reason(tmp_path: Path, fmt: str):
    log_format = ACCESS_LOGS if fmt == "cloudfront" else FLOW_LOGS
    files = []
    for name, data in cases(fmt).items():
        path = tmp_path / f"{name}.gz"
        path.write_bytes(data)
        constants = {"source_key": name} if fmt == "cloudfront" else {"flow_log_id": "fl-0123abcd", "source_key": name}
        files.append((name, {"distribution_id": "E1", **constants} if fmt == "cloudfront" else constants, path))
    result = HourIngestor(log_format).ingest_hour(files, tmp_path / "rows.parquet", tmp_path / "rejects.parquet")
    rows = Counter(pq.read_table(tmp_path / "rows.parquet", columns=["source_key"]).column(0).to_pylist())
    rejects = pq.read_table(tmp_path / "rejects.parquet").to_pylist()
    rejected = Counter(r["source_key"] for r in rejects if r["line_number"] is not None)
    quarantined = dict(result.quarantined)

    expected = {name: delivered_lines(data, fmt) for name, data in cases(fmt).items()}
    for name, lines in expected.items():
        if name in quarantined:
            assert quarantined[name], name  # a reason
            assert rows[name] == 0 and rejected[name] == 0, name
        else:
            assert rows[name] + rejected[name] == lines, (name, rows[name], rejected[name], lines)
    # Each case's outcome, as a user would expect it:
    assert "plain_text_named_gz" in quarantined and "gzip" in quarantined["plain_text_named_gz"]
    for readable in ("good", "crlf", "utf8_bom", "reordered_fields"):
        assert readable not in quarantined and rows[readable] == 3 and rejected[readable] == 0, readable
    assert rows["header_only"] == 0 and "header_only" not in quarantined
    assert "empty_gzip" in quarantined and "header" in quarantined["empty_gzip"]
    assert rows["nul_bytes"] + rejected["nul_bytes"] == 3
    if fmt == "cloudfront":
        assert rows["10kB_user_agent"] == 3
    # The hour's totals agree with the files'.
    assert result.lines_read == sum(v for k, v in expected.items() if k not in quarantined)
    assert result.lines_read == result.rows_written + result.rejected_lines
    assert {r["source_key"]: r["reason"] for r in rejects if r["line_number"] is None} == quarantined
