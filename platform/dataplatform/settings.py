"""Where things live. Every path the platform uses is derived here."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

# platform/dataplatform/settings.py -> repository root (the project is installed editable).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
POLICIES_DIR = PROJECT_ROOT / "platform" / "policies"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

ENVIRONMENTS = ("local", "aws")


class ConfigurationError(RuntimeError):
    """The environment describes no usable deployment (a setting missing or invalid)."""


def environment() -> str:
    name = os.environ.get("DATAPLATFORM_ENV", "local")
    if name not in ENVIRONMENTS:
        raise ConfigurationError(f"DATAPLATFORM_ENV={name!r}: expected one of {', '.join(ENVIRONMENTS)}")
    return name


def executable(name: str) -> str:
    """A console script of the running interpreter's environment (dbt, dagster), also when it is
    not on PATH (cron, systemd, an unactivated venv); else from PATH; else the bare name."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)


def home() -> Path:
    """All local state: lake/, warehouse.duckdb, catalog.sqlite, the Dagster instance."""
    return Path(os.environ.get("DATAPLATFORM_HOME", ".dataplatform")).resolve()


def lake_root() -> Path:
    return home() / "lake"


OLTP_DSN = "DATAPLATFORM_OLTP_DSN"


def oltp_dsn() -> str | None:
    """The operational (OLTP) database's PostgreSQL DSN; unset: the local SQLite file."""
    return os.environ.get(OLTP_DSN) or None


def warehouse_path() -> Path:
    return home() / "warehouse.duckdb"


def catalog_path() -> Path:
    return home() / "catalog.sqlite"


def dagster_home() -> Path:
    return home() / "dagster"


def ensure_dagster_home() -> Path:
    """Point DAGSTER_HOME at $DATAPLATFORM_HOME/dagster with telemetry off, unless set already."""
    path = Path(os.environ.get("DAGSTER_HOME") or dagster_home())
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        config.write_text(
            "telemetry:\n  enabled: false\n"
            # One run at a time: the embedded warehouse is a single DuckDB file.
            "run_queue:\n  max_concurrent_runs: 1\n"
        )
    os.environ["DAGSTER_HOME"] = str(path)
    return path
