"""Shared fixtures: every test that touches state gets its own DATAPLATFORM_HOME; tests that need
PostgreSQL get a database of their own on the server of DATAPLATFORM_PG_DSN."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_DSN = "postgresql://dataplatform:dataplatform@127.0.0.1:5432/dataplatform"


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "home"
    monkeypatch.setenv("DATAPLATFORM_HOME", str(path))
    monkeypatch.setenv("DATAPLATFORM_ENV", "local")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return path


def _unavailable(reason: str) -> None:
    """Skip locally; fail where PostgreSQL is required (CI sets DATAPLATFORM_REQUIRE_POSTGRES=1)."""
    if os.environ.get("DATAPLATFORM_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"{reason} (DATAPLATFORM_REQUIRE_POSTGRES=1, so this is a failure, not a skip)")
    pytest.skip(f"{reason}; set DATAPLATFORM_REQUIRE_POSTGRES=1 to make this a failure")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL (libpq form, for psycopg) of a fresh database on the server of DATAPLATFORM_PG_DSN
    (default: the role and database `.ci/run` creates; the role needs CREATEDB), dropped afterwards."""
    import psycopg
    from psycopg import sql

    dsn = os.environ.get("DATAPLATFORM_PG_DSN") or DEFAULT_DSN
    try:
        admin = psycopg.connect(dsn, connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as error:
        first_line = str(error).strip().splitlines()[0]
        _unavailable(f"no PostgreSQL at {urlsplit(dsn).hostname}:{urlsplit(dsn).port}: {first_line}")
    name = f"dataplatform_test_{secrets.token_hex(6)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
