"""A site's full OHDSI Athena vocabulary download replaces the shipped seeds (var omop_vocabulary
= 'athena'): the CDM vocabulary tables and the source-to-standard mapping are built from the
download's files, typed as the CDM says.

The fixture (tests/fixtures/athena_vocabulary) is in exactly Athena's format: tab-delimited,
lower-case header, dates YYYYMMDD, empty = NULL, no quoting. Its standard concepts are fake
(ids 9900002xx, vocabulary 'Fixture': no licensed content) and its ICD9CM source concepts carry
ids the seeds do not use, so every assertion below can only hold if the download was read.
The expectation is read from the fixture files with the csv module, not from the warehouse.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dataplatform.settings import DBT_PROJECT_DIR

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "athena_vocabulary"
SEEDS = DBT_PROJECT_DIR / "seeds" / "clinical"
ATHENA_TABLES = [
    "concept", "vocabulary", "domain", "concept_class", "concept_relationship", "relationship",
    "concept_synonym", "concept_ancestor", "drug_strength",
]
# source_to_concept_map is not in an Athena download: it stays the site's seed (macro omop_vocabulary).
SELECT = [*ATHENA_TABLES, "source_to_concept_map", "vocab_source_to_concept_map", "int_omop__source_to_standard"]


def read_athena(table: str) -> list[dict]:
    """An Athena file read as Athena writes it: tabs, no quoting, empty -> None."""
    with (FIXTURE / f"{table.upper()}.csv").open(newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [{key: value or None for key, value in row.items()} for row in reader]


def yyyymmdd(value: str) -> dt.date:
    return dt.datetime.strptime(value, "%Y%m%d").date()


def expected_source_to_standard() -> set[tuple]:
    """(vocabulary, code, source id, target id, target domain) for the fixture's ICD9CM concepts,
    by the CDM rule: valid 'Maps to' to a valid standard concept, else 0 with the source domain."""
    concepts = {int(c["concept_id"]): c for c in read_athena("concept")}
    expected = set()
    for source_id, source in concepts.items():
        if source["vocabulary_id"] != "ICD9CM":
            continue
        targets = {
            (int(r["concept_id_2"]), concepts[int(r["concept_id_2"])]["domain_id"])
            for r in read_athena("concept_relationship")
            if int(r["concept_id_1"]) == source_id and r["relationship_id"] == "Maps to" and r["invalid_reason"] is None
            and concepts[int(r["concept_id_2"])]["standard_concept"] == "S"
            and concepts[int(r["concept_id_2"])]["invalid_reason"] is None
        } or {(0, source["domain_id"])}
        expected |= {("ICD9CM", source["concept_code"], source_id, *target) for target in targets}
    return expected


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """One `dbt build` of the vocabulary models against the fixture, in its own home and target path."""
    root = tmp_path_factory.mktemp("athena")
    home = root / "home"
    home.mkdir()
    env = {**os.environ, "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR), "DATAPLATFORM_HOME": str(home)}
    dbt_vars = json.dumps({"omop_vocabulary": "athena", "athena_vocabulary_path": str(FIXTURE)})
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")), "build", "--target", "local_warehouse", "--vars", dbt_vars,
            "--select", *SELECT, "--indirect-selection", "cautious",
            "--target-path", str(root / "target"), "--log-path", str(root / "logs"), "--no-partial-parse",
        ],
        cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    compiled = (root / "target" / "compiled" / "dataplatform" / "models" / "clinical" / "marts" / "concept.sql").read_text()
    assert "CONCEPT.csv" in compiled and "vocab_concept" not in compiled, compiled
    return home / "clinical_warehouse.duckdb"


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.sql(sql).fetchall()


def test_concept_is_exactly_the_downloads_concepts(warehouse):
    expected = {
        (
            int(c["concept_id"]), c["concept_name"], c["domain_id"], c["vocabulary_id"], c["concept_class_id"],
            c["standard_concept"], c["concept_code"], yyyymmdd(c["valid_start_date"]), yyyymmdd(c["valid_end_date"]),
            c["invalid_reason"],
        )
        for c in read_athena("concept")
    }
    actual = query(warehouse, """
        select concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, standard_concept,
               concept_code, valid_start_date, valid_end_date, invalid_reason
        from omop_cdm.concept""")
    assert len(actual) == len(expected)
    assert set(actual) == expected
    seed_ids = {int(row["concept_id"]) for row in csv.DictReader((SEEDS / "vocab_concept.csv").open(newline=""))}
    assert {row[0] for row in actual} - seed_ids, "the fixture's own ids must be in use"


def test_columns_have_the_cdm_types(warehouse):
    types = dict(query(warehouse, """
        select table_name || '.' || column_name, data_type from information_schema.columns
        where table_schema = 'omop_cdm' and table_name in ('concept', 'concept_relationship', 'drug_strength')"""))
    assert types["concept.concept_id"] == "INTEGER"
    for column in ("concept.valid_start_date", "concept.valid_end_date", "concept_relationship.valid_end_date",
                   "drug_strength.valid_start_date"):
        assert types[column] == "DATE", column
    assert types["drug_strength.amount_value"] == "DOUBLE"
    # YYYYMMDD became dates; empty fields became NULL, not ''.
    assert query(warehouse, "select valid_end_date, invalid_reason, standard_concept from omop_cdm.concept where concept_id = 990000203") == [
        (dt.date(2020, 9, 30), "U", None)
    ]
    assert query(warehouse, "select count(*) from omop_cdm.concept where standard_concept = '' or invalid_reason = ''") == [(0,)]
    assert query(warehouse, "select amount_value, numerator_value, box_size from omop_cdm.drug_strength") == [(10.0, None, None)]
    # A bare double quote in a name (Athena does not quote) is kept as it is.
    names = {name for (name,) in query(warehouse, "select concept_synonym_name from omop_cdm.concept_synonym")}
    assert names == {row["concept_synonym_name"] for row in read_athena("concept_synonym")}


@pytest.mark.parametrize("table", ATHENA_TABLES)
def test_every_vocabulary_table_holds_the_downloads_rows(warehouse, table):
    assert query(warehouse, f"select count(*) from omop_cdm.{table}") == [(len(read_athena(table)),)]


def test_source_to_concept_map_stays_the_sites_seed(warehouse):
    with (SEEDS / "vocab_source_to_concept_map.csv").open(newline="") as handle:
        seed = {(r["source_vocabulary_id"], r["source_code"], int(r["target_concept_id"])) for r in csv.DictReader(handle)}
    actual = query(warehouse, "select source_vocabulary_id, source_code, target_concept_id from omop_cdm.source_to_concept_map")
    assert len(actual) == len(seed) and set(actual) == seed


def test_icd9cm_codes_map_to_the_downloads_standard_concepts(warehouse):
    actual = set(query(warehouse, """
        select source_vocabulary_id, source_code, source_concept_id, target_concept_id, target_domain_id
        from intermediate.int_omop__source_to_standard"""))
    expected = expected_source_to_standard()
    assert actual == expected
    # Spelled out: a valid map; a deprecated map ignored beside a valid one; a map to a retired concept -> 0.
    assert {(code, target) for _, code, _, target, _ in actual} == {
        ("401.9", 990000201), ("428.0", 990000202), ("427.31", 0),
    }
