"""The raw load publishes a delivery whole or not at all."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pytest

from assets.clinical import sample
from assets.clinical.assets import clinical_raw
from assets.clinical.format import LANDING_BUCKET, LANDING_PREFIX, MANIFEST_NAME, RAW_BUCKET, RAW_PREFIX
from dataplatform.resources.catalog import LocalCatalog
from dataplatform.resources.lake import LocalObjectStore


@pytest.fixture
def ports(tmp_path):
    return {"lake": LocalObjectStore(tmp_path / "lake"), "catalog": LocalCatalog(tmp_path / "catalog.sqlite")}


def load(ports, delivery: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [clinical_raw], resources=ports, raise_on_error=False,
        run_config={"ops": {"clinical_raw": {"config": {"delivery_id": delivery}}}},
    )


def raw_rows(ports, table: str) -> int:
    path = ports["lake"].root / RAW_BUCKET / f"{RAW_PREFIX}{table}/data.parquet"
    with duckdb.connect() as con:
        return con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0]


def test_a_delivery_that_fails_verification_leaves_the_previous_one_whole(ports):
    first = sample.generate_tables(sample.SampleSpec(patients=20, seed=1))
    second = sample.generate_tables(sample.SampleSpec(patients=40, seed=2))
    sample.write_delivery(ports["lake"], first, "d1")
    assert load(ports, "d1").success
    before = {t: raw_rows(ports, t.lower()) for t in ("PATIENTS", "ADMISSIONS", "LABEVENTS")}
    assert before["PATIENTS"] == first["PATIENTS"].num_rows

    # d2: its last data file is altered after the manifest was written (same size, other bytes).
    keys = sample.write_delivery(ports["lake"], second, "d2")
    manifest = json.loads(ports["lake"].get(LANDING_BUCKET, f"{LANDING_PREFIX}d2/{MANIFEST_NAME}"))
    last_table = list(manifest["tables"])[-1]
    key = manifest["tables"][last_table]["key"]
    data = bytearray(ports["lake"].get(LANDING_BUCKET, key))
    data[-9] ^= 0xFF
    ports["lake"].put(LANDING_BUCKET, key, bytes(data))
    assert key in keys

    result = load(ports, "d2")
    assert not result.success
    error = result.failure_data_for_node("clinical_raw").error
    assert f"{key}: sha256" in (error.cause.message if error.cause else error.message)
    # Nothing of d2 was published: every table still holds d1.
    assert {t: raw_rows(ports, t.lower()) for t in before} == before
