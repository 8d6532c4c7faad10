"""The OMOP vocabulary seeds: generated (not hand-edited), in the CDM v5.4 shape, every concept
reference resolving, ids in their documented ranges, and the mapping cases the CDM must handle."""

import csv
import io
import os
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from assets.clinical import codes, vocabulary

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = Path(os.environ.get("DATAPLATFORM_OMOP_SPEC_DIR") or REPO / "platform" / "policies" / "omop_spec")
OMOP_IDS = {0, 756265, 8507, 8532, 8527, 8516, 8515, 8657, 8557, 38003563, 38003564, 9201, 9202, 9203, 262, 32037,
            32817, 32838, 32856, 32815}
SOURCE_RANGES = {"ICD9CM": 2000100000, "ICD9Proc": 2000200000, "MIMIC d_labitems": 2000300000,
                 "MIMIC d_items": 2000400000, "MIMIC drugs": 2000500000}


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return vocabulary.render()


@pytest.fixture(scope="module")
def tables(files) -> dict[str, list[dict[str, str]]]:
    return {table: list(csv.DictReader(io.StringIO(files[f"vocab_{table}.csv"]))) for table in vocabulary.COLUMNS}


@pytest.fixture(scope="module")
def concepts(tables) -> dict[int, dict[str, str]]:
    return {int(row["concept_id"]): row for row in tables["concept"]}


def test_committed_seeds_are_the_generated_ones(files):
    committed = {path.name: path.read_text() for path in vocabulary.SEEDS_DIR.iterdir() if path.is_file()}
    assert committed == files, "run `python -m assets.clinical.vocabulary` and commit the result"


def test_columns_follow_the_cdm_spec(files):
    with (SPEC_DIR / "OMOP_CDMv5.4_Field_Level.csv").open(encoding="utf-8-sig", newline="") as handle:
        spec = defaultdict(list)
        for row in csv.DictReader(handle):
            spec[row["cdmTableName"].lower()].append((row["cdmFieldName"], row["cdmDatatype"].lower()))
    for table, columns in vocabulary.COLUMNS.items():
        assert list(columns) == spec[table], table
        header = files[f"vocab_{table}.csv"].split("\n", 1)[0]
        assert header.split(",") == [name for name, _ in columns]


def test_required_fields_are_filled(tables):
    with (SPEC_DIR / "OMOP_CDMv5.4_Field_Level.csv").open(encoding="utf-8-sig", newline="") as handle:
        required = [(r["cdmTableName"].lower(), r["cdmFieldName"]) for r in csv.DictReader(handle) if r["isRequired"] == "Yes"]
    for table, field in required:
        if table in tables:
            assert all(row[field] != "" for row in tables[table]), (table, field)


def test_every_concept_reference_resolves(tables, concepts):
    for table, columns in vocabulary.COLUMNS.items():
        for name, _ in columns:
            if name.endswith("concept_id") or name in ("concept_id_1", "concept_id_2"):
                for row in tables[table]:
                    if row[name] != "":
                        assert int(row[name]) in concepts, (table, name, row)
    keys = {"domain_id": "domain", "vocabulary_id": "vocabulary", "concept_class_id": "concept_class"}
    for column, table in keys.items():
        known = {row[column] for row in tables[table]}
        assert {row[column] for row in tables["concept"]} <= known, column
    relationships = {row["relationship_id"] for row in tables["relationship"]}
    assert {row["relationship_id"] for row in tables["concept_relationship"]} <= relationships
    assert {row["reverse_relationship_id"] for row in tables["relationship"]} <= relationships
    assert {row["target_vocabulary_id"] for row in tables["source_to_concept_map"]} <= {
        row["vocabulary_id"] for row in tables["vocabulary"]}


def test_concept_ids_are_in_their_ranges(concepts):
    for concept_id, row in concepts.items():
        vocabulary_id = row["vocabulary_id"]
        if vocabulary_id in SOURCE_RANGES:
            assert SOURCE_RANGES[vocabulary_id] < concept_id < SOURCE_RANGES[vocabulary_id] + 100000
            assert row["standard_concept"] == ""
        elif row["standard_concept"] == "S" and vocabulary_id == vocabulary.LOCAL:
            assert 2001000000 < concept_id < 2002000000
        elif concept_id >= 2000000000:
            assert concept_id <= 2000009999 and row["standard_concept"] == "", row
        else:
            assert concept_id in OMOP_IDS, row
    assert OMOP_IDS <= set(concepts)
    coded = [(r["vocabulary_id"], r["concept_code"]) for r in concepts.values() if r["concept_code"] != "OMOP generated"]
    assert len(set(coded)) == len(coded)


def test_source_codes_are_omop_style(concepts):
    by_code = {(r["vocabulary_id"], r["concept_code"]): r for r in concepts.values()}
    for code, dotted in (("4280", "428.0"), ("V4581", "V45.81"), ("E8782", "E878.2"), ("486", "486"), ("42731", "427.31")):
        assert vocabulary.icd9cm_dotted(code) == dotted
        assert ("ICD9CM", dotted) in by_code
    assert ("ICD9Proc", "38.93") in by_code and ("ICD9Proc", "96.6") in by_code
    assert ("MIMIC d_labitems", "50912") in by_code and ("MIMIC drugs", "KCL20PM") in by_code
    assert {r["concept_class_id"] for r in concepts.values() if r["vocabulary_id"] == "ICD9CM"} >= {
        "3-dig billing code", "4-dig billing code", "5-dig billing code", "5-dig billing V code", "5-dig billing E code"}
    assert "LOINC" not in {r["vocabulary_id"] for r in concepts.values()}


def test_mappings(tables, concepts):
    maps = defaultdict(set)
    for row in tables["concept_relationship"]:
        if row["relationship_id"] == "Maps to":
            maps[int(row["concept_id_1"])].add(int(row["concept_id_2"]))
    reverse = {(int(r["concept_id_2"]), int(r["concept_id_1"])) for r in tables["concept_relationship"]
               if r["relationship_id"] == "Mapped from"}
    assert {(s, t) for s, targets in maps.items() for t in targets} == reverse
    assert all(concepts[t]["standard_concept"] == "S" for targets in maps.values() for t in targets)
    standard = {cid for cid, row in concepts.items() if row["standard_concept"] == "S"}
    assert all(cid in maps[cid] for cid in standard)
    ancestors = {(int(r["ancestor_concept_id"]), int(r["descendant_concept_id"])) for r in tables["concept_ancestor"]}
    assert ancestors == {(cid, cid) for cid in standard}

    icd9 = {r["concept_code"].replace(".", ""): cid for cid, r in concepts.items() if r["vocabulary_id"] == "ICD9CM"}
    target_domains = {code: Counter(concepts[t]["domain_id"] for t in maps.get(cid, ())) for code, cid in icd9.items()}
    two = [code for code, domains in target_domains.items() if sum(domains.values()) == 2]
    unmapped = [code for code, domains in target_domains.items() if not domains]
    assert len(two) >= 2 and any(target_domains[c] == {"Condition": 1, "Observation": 1} for c in two)
    assert len(unmapped) >= 3 and all(concepts[icd9[c]]["domain_id"] == "Condition" for c in unmapped)
    for code, domains in target_domains.items():
        if code[0] in "VE" and domains:
            assert set(domains) == {"Observation"}, code
    procedures = Counter(concepts[t]["domain_id"] for r in concepts.values() if r["vocabulary_id"] == "ICD9Proc"
                         for t in maps[int(r["concept_id"])])
    assert procedures["Procedure"] > 20 and procedures["Measurement"] + procedures["Observation"] >= 1
    items = {r["concept_code"]: {concepts[t]["domain_id"] for t in maps[cid]} for cid, r in concepts.items()
             if r["vocabulary_id"] == "MIMIC d_items"}
    assert items["220045"] == {"Measurement"} and items["223758"] == {"Observation"}
    for vocabulary_id, domain in (("MIMIC d_labitems", "Measurement"), ("MIMIC drugs", "Drug")):
        assert all({concepts[t]["domain_id"] for t in maps[cid]} == {domain}
                   for cid, r in concepts.items() if r["vocabulary_id"] == vocabulary_id)


def test_units_are_standard_concepts_coded_as_mimic_spells_them(concepts):
    units = {r["concept_code"]: r for r in concepts.values() if r["domain_id"] == "Unit"}
    used = {lab.unit for lab in codes.LAB_ITEMS} | {item.unit for item in codes.CHART_ITEMS} | {
        drug.dose_unit for drug in codes.DRUGS}
    assert used - {""} <= set(units)
    assert all(r["standard_concept"] == "S" and r["vocabulary_id"] == vocabulary.LOCAL for r in units.values())


def test_source_to_concept_map_covers_the_generated_values(tables):
    mapped = {(r["source_vocabulary_id"], r["source_code"]) for r in tables["source_to_concept_map"]}
    assert {("MIMIC ethnicity", e.value) for e in codes.ETHNICITIES} <= mapped
    assert {("MIMIC gender", "M"), ("MIMIC gender", "F"), ("MIMIC admission_type", "NEWBORN")} <= mapped
