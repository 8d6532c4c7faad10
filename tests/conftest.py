"""Shared fixtures: every test that touches state gets its own DATAPLATFORM_HOME."""

from __future__ import annotations

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "home"
    monkeypatch.setenv("DATAPLATFORM_HOME", str(path))
    monkeypatch.setenv("DATAPLATFORM_ENV", "local")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return path
