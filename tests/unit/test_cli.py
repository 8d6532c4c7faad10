"""`dataplatform`: a mistake is one line on stderr and exit status 2 for every subcommand; the
commands that only write or read data neither need dbt nor the venv on PATH."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataplatform.cli import main

MISTAKES = {
    "no subcommand": [],
    "unknown subcommand": ["bogus"],
    "sample: unknown dataset": ["sample", "nginx"],
    "sample: no dataset": ["sample"],
    "sample: zero hours": ["sample", "cloudfront", "--hours", "0"],
    "sample: hour not an hour": ["sample", "cloudfront", "--start", "2026-11-24"],
    "sample: negative lines": ["sample", "vpcflowlogs", "--lines", "-5"],
    "sample: late files without an earlier hour": ["sample", "cloudfront", "--hours", "1", "--late-files", "1"],
    "sample: another dataset's option": ["sample", "cloudfront", "--patients", "5"],
    "sample: vpc interval": ["sample", "vpcflowlogs", "--interval", "5"],
    "sample: no patients": ["sample", "mimic", "--patients", "0"],
    "sample: bad delivery id": ["sample", "mimic", "--patients", "2", "--delivery", "../x"],
    "sample: no pos stores": ["sample", "pos", "--stores", "0"],
    "sample: pos regions beyond the policy": ["sample", "pos", "--regions", "9"],
    "sample: pos store day not STORE/DATE": ["sample", "pos", "--missing", "S0001"],
    "backfill: a zone without reconciliation": ["backfill", "pos", "--from", "2026-11-24T00", "--to", "2026-11-24T00"],
    "sample: no outreach members": ["sample", "outreach", "--members", "0"],
    "sample: outreach too small for its faults": ["sample", "outreach", "--members", "3", "--outreaches", "5"],
    "sample: outreach day not a date": ["sample", "outreach", "--day", "yesterday"],
    "reveal: no reason": ["reveal", "--member-token", "0123"],
    "reveal: a field that is not encrypted": ["reveal", "--member-token", "0123", "--reason", "re-contact", "--field", "email"],
    "demo: zero hours": ["demo", "--hours", "0"],
    "produce: unknown stream": ["produce", "nginx"],
    "produce: share above 1": ["produce", "web-analytics", "--late", "1.5"],
    "produce: zero seconds": ["produce", "cloudfront-realtime", "--seconds", "0"],
    "produce: another stream's option": ["produce", "cloudfront-realtime", "--anomaly-minute", "1"],
    "produce: anomaly outside the window": ["produce", "web-analytics", "--seconds", "60", "--anomaly-minute", "3"],
    "produce: start not a time": ["produce", "web-analytics", "--start", "yesterday"],
    "orders: no action": ["orders"],
    "orders: unknown action": ["orders", "upgrade"],
    "produce: orders at no rate": ["produce", "orders", "--rate", "0", "--seconds", "1"],
    "catch-up: an argument": ["catch-up", "--now"],
    "summary: an argument": ["summary", "marts"],
    "retention: an argument": ["retention", "--days", "3"],
    "dev: port out of range": ["dev", "--port", "70000"],
}


@pytest.mark.parametrize("argv", MISTAKES.values(), ids=MISTAKES.keys())
def test_a_mistake_is_one_line_and_exit_status_2(argv, home, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert lines[0].startswith("dataplatform") or lines[0].startswith("--") or lines[0].startswith(argv[0])
    assert not (home / "lake").exists() or not any((home / "lake").rglob("*.gz")), "nothing written on a mistake"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"DATAPLATFORM_ENV": "prod"}, "DATAPLATFORM_ENV='prod'"),
        ({"DATAPLATFORM_ENV": "aws", "DATAPLATFORM_S3_BUCKET_PREFIX": ""}, "DATAPLATFORM_S3_BUCKET_PREFIX"),
    ],
)
@pytest.mark.parametrize("command", [["sample", "cloudfront", "--hours", "1"], ["retention", "--dry-run"], ["catch-up"]])
def test_a_configuration_mistake_is_one_line_and_exit_status_2(command, environ, expected, home, monkeypatch, capsys):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err, err


def _console_script() -> Path:
    return Path(sys.executable).parent / "dataplatform"


def test_sample_one_hour_by_absolute_path_without_the_venv_on_path_and_without_dbt(tmp_path):
    """From cron or systemd: the console script by absolute path, PATH without the venv. One hour
    is valid (late files default to none then); sampling never imports dagster-dbt."""
    home = tmp_path / "home"
    env = {"PATH": "/usr/bin:/bin", "DATAPLATFORM_HOME": str(home), "HOME": str(tmp_path)}
    result = subprocess.run([str(_console_script()), "sample", "cloudfront", "--hours", "1", "--lines", "300", "--quiet"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    files = sorted((home / "lake" / "landing" / "cloudfront").rglob("*.gz"))
    lines = sum(1 for path in files for line in gzip.decompress(path.read_bytes()).decode().splitlines()
                if not line.startswith("#"))
    assert files and lines >= 300  # the sample's own malformed lines come on top


@pytest.mark.parametrize(
    "argv",
    [
        ["sample", "cloudfront", "vpcflowlogs", "mimic", "--hours", "2", "--lines", "200", "--patients", "3", "--quiet"],
        ["produce", "web-analytics", "--seconds", "30", "--rate", "2", "--quiet"],
        ["summary"],
        ["retention", "--dry-run"],
    ],
    ids=["sample", "produce", "summary", "retention"],
)
def test_commands_that_need_no_dbt_do_not_import_it(argv, tmp_path):
    probe = (
        "import sys\n"
        "from dataplatform.cli import main\n"
        f"code = main({argv!r})\n"
        "assert code == 0, code\n"
        "loaded = sorted(name for name in sys.modules if name.split('.')[0] in ('dagster_dbt', 'dbt'))\n"
        "assert not loaded, loaded\n"
    )
    env = {**os.environ, "DATAPLATFORM_HOME": str(tmp_path / "home"), "DATAPLATFORM_ENV": "local"}
    env.pop("DAGSTER_HOME", None)
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
