"""A site's full OHDSI Athena vocabulary download replaces the shipped seeds (var omop_vocabulary
= 'athena'): the CDM vocabulary tables and the source-to-standard mapping are built from the
download's files, typed as the CDM says, plus the platform's local content the download cannot
have (the seeds' concepts of var omop_local_vocabularies: MIMIC lab/chart/drug source codes and
the 'DataPlatform Local' standard concepts they map to, with their relationships and metadata).

The fixture (tests/fixtures/athena_vocabulary) is in exactly Athena's format: tab-delimited,
lower-case header, dates YYYYMMDD, empty = NULL, no quoting. Its standard concepts are fake
(ids 9900002xx, vocabulary 'Fixture': no licensed content) and its ICD9CM source concepts carry
ids the seeds do not use, so every assertion below can only hold if the download was read.
Like every download it has the metadata vocabularies and classes (Vocabulary, Domain, Concept
Class, Relationship) and shares some domains/classes with the seeds (Drug, Lab Test, ...), but
lacks others the local concepts use (Measurement, Clinical Finding, ...): those come from the seeds.
The expectation is read from the fixture and seed files with the csv module, not from the warehouse.
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
# The other seeds are built too: their local rows are unioned with the download.
SELECT = [
    *ATHENA_TABLES, *(f"vocab_{table}" for table in ATHENA_TABLES), "source_to_concept_map",
    "vocab_source_to_concept_map", "int_omop__source_to_standard",
]
# The default of var omop_local_vocabularies (dbt_project.yml).
LOCAL_VOCABULARIES = {"MIMIC d_labitems", "MIMIC d_items", "MIMIC drugs", "DataPlatform Local"}
LOCAL_MIN_ID = 2_000_000_000
# Each table's key: a seed row whose key the download has is not added (the download's row wins).
KEYS = {
    "concept": ("concept_id",),
    "vocabulary": ("vocabulary_id",),
    "domain": ("domain_id",),
    "concept_class": ("concept_class_id",),
    "relationship": ("relationship_id",),
    "concept_relationship": ("concept_id_1", "concept_id_2", "relationship_id"),
    "concept_ancestor": ("ancestor_concept_id", "descendant_concept_id"),
    "concept_synonym": ("concept_id", "concept_synonym_name", "language_concept_id"),
    "drug_strength": ("drug_concept_id", "ingredient_concept_id"),
}


def read_athena(table: str) -> list[dict]:
    """An Athena file read as Athena writes it: tabs, no quoting, empty -> None."""
    with (FIXTURE / f"{table.upper()}.csv").open(newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [{key: value or None for key, value in row.items()} for row in reader]


def read_seed(table: str) -> list[dict]:
    """A shipped seed (comma-separated, quoted), empty -> None."""
    with (SEEDS / f"vocab_{table}.csv").open(newline="") as handle:
        return [{key: value or None for key, value in row.items()} for row in csv.DictReader(handle)]


def yyyymmdd(value: str) -> dt.date:
    return dt.datetime.strptime(value, "%Y%m%d").date()


def key(table: str, row: dict) -> tuple:
    """A row's key, ids as int (as the warehouse returns them)."""
    return tuple(int(row[column]) if "concept_id" in column else row[column] for column in KEYS[table])


def local_concept_ids() -> set[int]:
    return {
        int(c["concept_id"]) for c in read_seed("concept")
        if int(c["concept_id"]) >= LOCAL_MIN_ID and c["vocabulary_id"] in LOCAL_VOCABULARIES
    }


def expected_local_rows() -> dict[str, list[dict]]:
    """The seed rows athena mode adds to each table, by the rule of macro omop_vocabulary."""
    local = local_concept_ids()
    seed = {table: read_seed(table) for table in ATHENA_TABLES}
    concepts = {int(c["concept_id"]): c for c in seed["concept"]}
    local_relationships = [r for r in seed["concept_relationship"]
                           if int(r["concept_id_1"]) in local and int(r["concept_id_2"]) in local]
    wanted = {
        "vocabulary": lambda r: r["vocabulary_id"] in LOCAL_VOCABULARIES,
        "domain": lambda r: r["domain_id"] in {concepts[i]["domain_id"] for i in local},
        "concept_class": lambda r: r["concept_class_id"] in {concepts[i]["concept_class_id"] for i in local},
        "relationship": lambda r: r["relationship_id"] in {r["relationship_id"] for r in local_relationships},
        "concept_relationship": lambda r: int(r["concept_id_1"]) in local and int(r["concept_id_2"]) in local,
        "concept_ancestor": lambda r: int(r["ancestor_concept_id"]) in local and int(r["descendant_concept_id"]) in local,
        "drug_strength": lambda r: int(r["drug_concept_id"]) in local and int(r["ingredient_concept_id"]) in local,
        "concept_synonym": lambda r: int(r["concept_id"]) in local,
    }
    added = {}
    for table, is_wanted in wanted.items():
        in_download = {key(table, row) for row in read_athena(table)}
        added[table] = [row for row in seed[table] if is_wanted(row) and key(table, row) not in in_download]
    # Concepts: the local ones, and the metadata concepts the rows added above point to.
    metadata = {
        int(row[f"{meta}_concept_id"]) for meta in ("vocabulary", "domain", "concept_class", "relationship")
        for row in added[meta]
    }
    in_download = {key("concept", row) for row in read_athena("concept")}
    added["concept"] = [
        row for row in seed["concept"]
        if int(row["concept_id"]) >= LOCAL_MIN_ID and int(row["concept_id"]) in local | metadata
        and key("concept", row) not in in_download
    ]
    return added


def expected_mapping(concepts: list[dict], relationships: list[dict], vocabularies: set[str]) -> set[tuple]:
    """(vocabulary, code, source id, target id, target domain) for the source concepts of `vocabularies`,
    by the CDM rule: valid 'Maps to' to a valid standard concept, else 0 with the source domain."""
    by_id = {int(c["concept_id"]): c for c in concepts}
    expected = set()
    for source_id, source in by_id.items():
        if source["vocabulary_id"] not in vocabularies:
            continue
        targets = {
            (int(r["concept_id_2"]), by_id[int(r["concept_id_2"])]["domain_id"])
            for r in relationships
            if int(r["concept_id_1"]) == source_id and r["relationship_id"] == "Maps to" and r["invalid_reason"] is None
            and by_id[int(r["concept_id_2"])]["standard_concept"] == "S"
            and by_id[int(r["concept_id_2"])]["invalid_reason"] is None
        } or {(0, source["domain_id"])}
        expected |= {(source["vocabulary_id"], source["concept_code"], source_id, *target) for target in targets}
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
    # The download, and the seeds only for their local rows.
    assert "CONCEPT.csv" in compiled and "vocab_concept" in compiled and "MIMIC d_labitems" in compiled, compiled
    return home / "clinical_warehouse.duckdb"


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.sql(sql).fetchall()


def test_concept_is_the_downloads_concepts_plus_the_local_ones(warehouse):
    def row(c: dict, date) -> tuple:
        return (
            int(c["concept_id"]), c["concept_name"], c["domain_id"], c["vocabulary_id"], c["concept_class_id"],
            c["standard_concept"], c["concept_code"], date(c["valid_start_date"]), date(c["valid_end_date"]),
            c["invalid_reason"],
        )

    downloaded = {row(c, yyyymmdd) for c in read_athena("concept")}
    local = {row(c, dt.date.fromisoformat) for c in expected_local_rows()["concept"]}
    actual = query(warehouse, """
        select concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, standard_concept,
               concept_code, valid_start_date, valid_end_date, invalid_reason
        from omop_cdm.concept""")
    assert len(actual) == len(downloaded) + len(local)
    assert set(actual) == downloaded | local
    seed_ids = {int(c["concept_id"]) for c in read_seed("concept")}
    assert {r[0] for r in actual} - seed_ids, "the fixture's own ids must be in use"
    # Every local concept is there; the seeds' OHDSI-vocabulary concepts (ICD9CM 20001xxxxx,
    # ICD9Proc 20002xxxxx, Gender, Visit, ...) are not: the download has the real ones.
    ids_by_vocabulary = {}
    for concept_id, vocabulary_id in query(warehouse, "select concept_id, vocabulary_id from omop_cdm.concept"):
        ids_by_vocabulary.setdefault(vocabulary_id, set()).add(concept_id)
    assert local_concept_ids() <= {r[0] for r in actual}
    assert ids_by_vocabulary["ICD9CM"] == {int(c["concept_id"]) for c in read_athena("concept") if c["vocabulary_id"] == "ICD9CM"}
    assert "ICD9Proc" not in ids_by_vocabulary
    assert {r[0] for r in actual if r[0] < LOCAL_MIN_ID} == {int(c["concept_id"]) for c in read_athena("concept")}
    added_metadata = {r[0] for r in local} - local_concept_ids()
    assert added_metadata and all(c[2] == "Metadata" for c in local if c[0] in added_metadata)


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
def test_every_vocabulary_table_holds_the_downloads_rows_and_the_local_ones(warehouse, table):
    columns = ", ".join(KEYS[table])
    actual = query(warehouse, f"select {columns} from omop_cdm.{table}")
    downloaded = [key(table, row) for row in read_athena(table)]
    local = [key(table, row) for row in expected_local_rows()[table]]
    assert sorted(actual, key=repr) == sorted(downloaded + local, key=repr)


@pytest.mark.parametrize("table", ["concept", "vocabulary", "domain", "concept_class", "relationship"])
def test_primary_keys_stay_unique(warehouse, table):
    (column,) = KEYS[table]
    assert query(warehouse, f"select {column}, count(*) from omop_cdm.{table} group by 1 having count(*) > 1") == []


def test_the_downloads_row_wins_on_a_shared_key(warehouse):
    # Both the fixture and the seeds have domain Drug, Condition and Metadata and concept class
    # Lab Test (all used by local concepts): the download's rows (concept ids 0) are kept.
    assert query(warehouse, "select domain_id, domain_concept_id from omop_cdm.domain where domain_id in ('Drug', 'Condition', 'Metadata') order by 1") == [
        ("Condition", 0), ("Drug", 0), ("Metadata", 0),
    ]
    assert query(warehouse, "select concept_class_concept_id from omop_cdm.concept_class where concept_class_id = 'Lab Test'") == [(0,)]
    # The seed's Measurement domain (only local concepts use it; the fixture lacks it) is added.
    assert query(warehouse, "select domain_concept_id >= 2000000000 from omop_cdm.domain where domain_id = 'Measurement'") == [(True,)]


def test_the_vocabulary_tables_reference_only_what_they_hold(warehouse):
    """The CDM's foreign keys within the vocabulary: the local rows bring what they point to."""
    dangling = {
        "concept.domain_id": "select domain_id from omop_cdm.concept except select domain_id from omop_cdm.domain",
        "concept.vocabulary_id": "select vocabulary_id from omop_cdm.concept except select vocabulary_id from omop_cdm.vocabulary",
        "concept.concept_class_id": "select concept_class_id from omop_cdm.concept except select concept_class_id from omop_cdm.concept_class",
        "concept_relationship.relationship_id": "select relationship_id from omop_cdm.concept_relationship except select relationship_id from omop_cdm.relationship",
    }
    for table, column in [
        ("vocabulary", "vocabulary_concept_id"), ("domain", "domain_concept_id"),
        ("concept_class", "concept_class_concept_id"), ("relationship", "relationship_concept_id"),
        ("concept_relationship", "concept_id_1"), ("concept_relationship", "concept_id_2"),
        ("concept_ancestor", "ancestor_concept_id"), ("concept_ancestor", "descendant_concept_id"),
        ("concept_synonym", "concept_id"), ("concept_synonym", "language_concept_id"),
    ]:
        dangling[f"{table}.{column}"] = f"select {column} from omop_cdm.{table} except select concept_id from omop_cdm.concept"
    assert {name: query(warehouse, sql) for name, sql in dangling.items() if query(warehouse, sql)} == {}


def test_source_to_concept_map_stays_the_sites_seed(warehouse):
    with (SEEDS / "vocab_source_to_concept_map.csv").open(newline="") as handle:
        seed = {(r["source_vocabulary_id"], r["source_code"], int(r["target_concept_id"])) for r in csv.DictReader(handle)}
    actual = query(warehouse, "select source_vocabulary_id, source_code, target_concept_id from omop_cdm.source_to_concept_map")
    assert len(actual) == len(seed) and set(actual) == seed


def test_icd9cm_codes_map_to_the_downloads_standard_concepts(warehouse):
    actual = set(query(warehouse, """
        select source_vocabulary_id, source_code, source_concept_id, target_concept_id, target_domain_id
        from intermediate.int_omop__source_to_standard
        where source_vocabulary_id in ('ICD9CM', 'ICD9Proc')"""))
    expected = expected_mapping(read_athena("concept"), read_athena("concept_relationship"), {"ICD9CM", "ICD9Proc"})
    assert actual == expected
    # Spelled out: a valid map; a deprecated map ignored beside a valid one; a map to a retired concept -> 0.
    assert {(code, target) for _, code, _, target, _ in actual} == {
        ("401.9", 990000201), ("428.0", 990000202), ("427.31", 0),
    }


def test_mimic_local_codes_still_map_to_the_local_standard_concepts(warehouse):
    """Lab, chart and drug items are not in Athena: their source concepts and 'Maps to' rows come
    from the seeds, so the events keep their standard concepts instead of 0."""
    mimic = {"MIMIC d_labitems", "MIMIC d_items", "MIMIC drugs"}
    actual = set(query(warehouse, """
        select source_vocabulary_id, source_code, source_concept_id, target_concept_id, target_domain_id
        from intermediate.int_omop__source_to_standard
        where source_vocabulary_id in ('MIMIC d_labitems', 'MIMIC d_items', 'MIMIC drugs')"""))
    expected = expected_mapping(read_seed("concept"), read_seed("concept_relationship"), mimic)
    assert actual == expected
    assert {vocabulary for vocabulary, *_ in actual} == mimic
    # Spelled out: ITEMID 50912 (Creatinine) maps to the seed's local standard Measurement concept.
    seed_concepts = {int(c["concept_id"]): c for c in read_seed("concept")}
    (creatinine,) = [r for r in actual if r[:2] == ("MIMIC d_labitems", "50912")]
    target = seed_concepts[creatinine[3]]
    assert (target["vocabulary_id"], target["standard_concept"], creatinine[4]) == ("DataPlatform Local", "S", "Measurement")
    assert creatinine[2] >= LOCAL_MIN_ID
    assert sum(1 for r in actual if r[3] == 0) < len(actual) / 10, "most local codes must keep a standard concept"
