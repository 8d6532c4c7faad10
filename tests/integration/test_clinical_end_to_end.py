"""MIMIC delivery -> sensor -> raw -> dbt CDM, reconciled with an independent computation.

The expectation is computed here in plain Python from the delivered tables and the shipped
vocabulary CSVs (not from the warehouse, not with SQL): which CDM table each source record
lands in, under which concept, one row per 'Maps to' target. Documented exclusions: chart
events a caregiver marked as errors; transfer rows of type 'discharge' (the end of a stay).
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest

from dataplatform import settings

SEEDS = settings.DBT_PROJECT_DIR / "seeds" / "clinical"
EVENT_TABLES = {
    "Condition": "condition_occurrence", "Procedure": "procedure_occurrence", "Drug": "drug_exposure",
    "Measurement": "measurement", "Observation": "observation",
}
CONCEPT_COLUMN = {
    "condition_occurrence": "condition_concept_id", "procedure_occurrence": "procedure_concept_id",
    "drug_exposure": "drug_concept_id", "measurement": "measurement_concept_id", "observation": "observation_concept_id",
}


def rows(table) -> list[dict]:
    return table.to_pylist()


def read_seed(name: str) -> list[dict]:
    with (SEEDS / f"{name}.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def dotted_icd9cm(code: str) -> str:
    split = 4 if code.startswith("E") else 3
    return code if len(code) <= split else f"{code[:split]}.{code[split:]}"


def dotted_icd9proc(code: str) -> str:
    return code if len(code) <= 2 else f"{code[:2]}.{code[2:]}"


class Vocabulary:
    def __init__(self):
        concepts = {int(c["concept_id"]): c for c in read_seed("vocab_concept")}
        self.source = {(c["vocabulary_id"], c["concept_code"]): (cid, c["domain_id"]) for cid, c in concepts.items()}
        self.maps: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for r in read_seed("vocab_concept_relationship"):
            target = concepts[int(r["concept_id_2"])]
            if (r["relationship_id"] == "Maps to" and not r["invalid_reason"]
                    and target["standard_concept"] == "S" and not target["invalid_reason"]):
                self.maps[int(r["concept_id_1"])].append((int(r["concept_id_2"]), target["domain_id"]))

    def targets(self, vocabulary: str, code: str, default_domain: str) -> list[tuple[int, str]]:
        """(concept id, domain) per CDM row the record becomes."""
        if (vocabulary, code) not in self.source:
            return [(0, default_domain)]
        source_id, source_domain = self.source[(vocabulary, code)]
        return self.maps.get(source_id) or [(0, source_domain)]


def expected_events(tables: dict) -> Counter:
    """(CDM table, concept id) -> rows."""
    vocabulary = Vocabulary()
    sources = [
        ("DIAGNOSES_ICD", "ICD9CM", lambda r: dotted_icd9cm(r["ICD9_CODE"]), "Condition"),
        ("PROCEDURES_ICD", "ICD9Proc", lambda r: dotted_icd9proc(r["ICD9_CODE"]), "Procedure"),
        ("LABEVENTS", "MIMIC d_labitems", lambda r: str(r["ITEMID"]), "Measurement"),
        ("CHARTEVENTS", "MIMIC d_items", lambda r: str(r["ITEMID"]), "Measurement"),
        ("PRESCRIPTIONS", "MIMIC drugs", lambda r: r["FORMULARY_DRUG_CD"], "Drug"),
    ]
    counts = Counter()
    for table, vocabulary_id, code_of, default in sources:
        for record in rows(tables[table]):
            if table == "CHARTEVENTS" and record["ERROR"] == 1:
                continue
            for concept_id, domain in vocabulary.targets(vocabulary_id, code_of(record), default):
                counts[(EVENT_TABLES.get(domain, "observation"), concept_id)] += 1
    return counts


def actual_events(warehouse: Path) -> Counter:
    counts = Counter()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for table, column in CONCEPT_COLUMN.items():
            for concept_id, n in con.execute(f"select {column}, count(*) from omop_cdm.{table} group by 1").fetchall():
                counts[(table, concept_id)] = n
    return counts


def scalar(warehouse: Path, sql: str):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def test_the_build_ran_without_failed_runs(clinical_build):
    assert clinical_build.failed_runs == []
    assert clinical_build.warehouse.exists()


def test_event_tables_reconcile_with_the_source_per_concept(clinical_build):
    expected = expected_events(clinical_build.tables)
    actual = actual_events(clinical_build.warehouse)
    assert actual == expected
    # The fixture exercises what matters: several domains, unmapped codes, one-to-many maps.
    assert {table for table, _ in expected} == set(CONCEPT_COLUMN)
    assert any(concept == 0 for _, concept in expected)


def test_person_visit_and_death_tables_reconcile_with_the_source(clinical_build):
    tables, warehouse = clinical_build.tables, clinical_build.warehouse
    patients = rows(tables["PATIENTS"])
    assert scalar(warehouse, "select count(*) from omop_cdm.person") == len(patients)
    assert scalar(warehouse, "select count(*) from omop_cdm.visit_occurrence") == tables["ADMISSIONS"].num_rows
    assert scalar(warehouse, "select count(*) from omop_cdm.death") == sum(p["DOD"] is not None for p in patients)
    stays = sum(t["EVENTTYPE"] != "discharge" for t in rows(tables["TRANSFERS"]))
    assert scalar(warehouse, "select count(*) from omop_cdm.visit_detail") == stays
    assert scalar(warehouse, "select count(*) from omop_cdm.observation_period") == len(
        {p["SUBJECT_ID"] for p in patients}
    )
    women = sum(p["GENDER"] == "F" for p in patients)
    assert scalar(warehouse, "select count(*) from omop_cdm.person where gender_concept_id = 8532") == women


def test_measurement_values_are_carried_over(clinical_build):
    tables = clinical_build.tables
    labs = [r["VALUENUM"] for r in rows(tables["LABEVENTS"]) if r["VALUENUM"] is not None]
    charts = [r["VALUENUM"] for r in rows(tables["CHARTEVENTS"]) if r["VALUENUM"] is not None and r["ERROR"] != 1]
    measured = scalar(
        clinical_build.warehouse,
        "select sum(value_as_number) from omop_cdm.measurement",
    ) + (scalar(clinical_build.warehouse, "select coalesce(sum(value_as_number), 0) from omop_cdm.observation"))
    assert measured == pytest.approx(sum(labs) + sum(charts), rel=1e-9)


def test_every_data_quality_check_passes_on_generated_data(clinical_build):
    clinical = {key: e for key, e in clinical_build.checks.items() if key[0].startswith(("marts/", "raw/clinical"))}
    dq = {key: e for key, e in clinical.items() if key[0].split("/")[-1] in CONCEPT_COLUMN or key[0] == "marts/person"}
    assert dq, "no data-quality checks were evaluated"
    failed = sorted(f"{asset}:{name}" for (asset, name), e in clinical.items() if not e.passed)
    assert failed == []
    with duckdb.connect(str(clinical_build.warehouse), read_only=True) as con:
        total, passed = con.execute("select count(*), count(*) filter (where passed) from omop_results.omop_dq_results").fetchone()
    assert total > 50 and passed == total


def test_characterisation_counts_persons_once(clinical_build):
    persons = clinical_build.tables["PATIENTS"].num_rows
    assert scalar(clinical_build.warehouse, "select sum(persons) from omop_results.omop_persons_by_gender_birth_decade") == persons
    visits = clinical_build.tables["ADMISSIONS"].num_rows
    assert scalar(clinical_build.warehouse, "select sum(visits) from omop_results.omop_visits_by_concept_year") == visits


def test_the_reconciliation_model_agrees_with_the_independent_counts(clinical_build):
    expected = expected_events(clinical_build.tables)
    with duckdb.connect(str(clinical_build.warehouse), read_only=True) as con:
        reconciled = con.execute(
            "select source_table, cdm_table, source_rows, excluded_rows, target_rows, reconciles "
            "from omop_results.omop_source_reconciliation"
        ).fetchall()
    assert reconciled and all(row[5] for row in reconciled)
    by_pair = {(source, table): (n, excluded, target) for source, table, n, excluded, target, _ in reconciled}
    for table in CONCEPT_COLUMN:
        assert by_pair[("clinical events", table)][2] == sum(n for (t, _), n in expected.items() if t == table)
    charts = rows(clinical_build.tables["CHARTEVENTS"])
    assert by_pair[("chartevents", "clinical events")][:2] == (len(charts), sum(r["ERROR"] == 1 for r in charts))
    patients = clinical_build.tables["PATIENTS"].num_rows
    assert by_pair[("patients", "person")] == (patients, 0, patients)


def test_drug_doses_keep_value_and_unit(clinical_build):
    prescriptions = rows(clinical_build.tables["PRESCRIPTIONS"])
    with duckdb.connect(str(clinical_build.warehouse), read_only=True) as con:
        units = dict(con.execute(
            "select dose_unit_source_value, count(*) from omop_cdm.drug_exposure group by 1"
        ).fetchall())
        empty_sig = con.execute("select count(*) from omop_cdm.drug_exposure where sig is null or sig = ''").fetchone()[0]
    expected = Counter(p["DOSE_UNIT_RX"] for p in prescriptions)
    assert units == dict(expected)
    assert empty_sig == sum(p["DOSE_VAL_RX"] is None and p["DOSE_UNIT_RX"] is None for p in prescriptions)


def test_icu_events_point_at_the_stay_they_happened_in(clinical_build):
    """A chart event's visit_detail is the transfer row (not a discharge) of its admission whose
    [INTIME, OUTTIME) holds the event time; computed here from the delivered tables."""
    stays = defaultdict(list)
    for transfer in rows(clinical_build.tables["TRANSFERS"]):
        if transfer["EVENTTYPE"] != "discharge" and transfer["OUTTIME"] is not None:
            stays[transfer["HADM_ID"]].append(transfer)
    expected = Counter()
    for event in rows(clinical_build.tables["CHARTEVENTS"]):
        if event["ERROR"] == 1:
            continue
        hits = [s["ROW_ID"] for s in stays[event["HADM_ID"]] if s["INTIME"] <= event["CHARTTIME"] < s["OUTTIME"]]
        expected[min(hits) if hits else None] += 1
    with duckdb.connect(str(clinical_build.warehouse), read_only=True) as con:
        # Chart events are the rows whose source concept is a MIMIC d_items concept.
        actual = Counter(dict(con.execute(
            "select visit_detail_id, count(*) from ("
            " select visit_detail_id from omop_cdm.measurement"
            " where measurement_source_concept_id between 2000400000 and 2000499999"
            " union all select visit_detail_id from omop_cdm.observation"
            " where observation_source_concept_id between 2000400000 and 2000499999"
            ") as charts group by 1"
        ).fetchall()))
    assert sum(expected.values()) > 0 and expected[None] < sum(expected.values())
    assert sorted(actual.items(), key=str) == sorted(expected.items(), key=str)
