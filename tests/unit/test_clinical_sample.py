"""The synthetic MIMIC-III generator: MIMIC's columns and conventions, checked on the tables
independently of how they were drawn, determinism, and the delivery layout with its manifest."""

import gzip
import hashlib
import io
import json
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from assets.clinical import codes
from assets.clinical.sample import COLUMNS, SampleSpec, generate, generate_tables, write_delivery
from dataplatform.resources.lake import LocalObjectStore

SPEC = SampleSpec(patients=300, seed=11, notes=True)


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return generate_tables(SPEC)


@pytest.fixture(scope="module")
def db(tables):
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(name.lower(), table)
    yield con
    con.close()


def scalar(db, sql: str):
    return db.execute(sql).fetchone()[0]


def test_tables_have_mimic_columns_in_order(tables):
    assert set(tables) == set(COLUMNS)
    for name, table in tables.items():
        assert table.column_names == [column for column, _ in COLUMNS[name]]
        assert table.column_names[0] == "ROW_ID" or name == "CAREGIVERS"
        assert table.column("ROW_ID").to_pylist() == list(range(1, table.num_rows + 1))
    assert tables["PATIENTS"].column_names == ["ROW_ID", "SUBJECT_ID", "GENDER", "DOB", "DOD", "DOD_HOSP", "DOD_SSN",
                                               "EXPIRE_FLAG"]
    assert "NOTEEVENTS" not in generate_tables(SampleSpec(patients=20, seed=1))


def test_icd9_codes_have_no_dots_and_come_from_the_catalogue(db):
    diagnoses, procedures = {d.code for d in codes.DIAGNOSES}, {p.code for p in codes.PROCEDURES}
    for table, known in (("diagnoses_icd", diagnoses), ("procedures_icd", procedures)):
        found = {row[0] for row in db.execute(f"select distinct icd9_code from {table}").fetchall()}
        assert found <= known and not any("." in code for code in found)
        assert scalar(db, f"select count(*) from (select hadm_id, icd9_code from {table} group by all having count(*) > 1)") == 0
        # SEQ_NUM is 1..n within each admission
        assert scalar(db, f"select count(*) from (select hadm_id from {table} group by hadm_id "
                          "having min(seq_num) <> 1 or max(seq_num) <> count(*))") == 0
    per_admission = scalar(db, "select count(*) / (select count(*) from admissions) from diagnoses_icd")
    assert 6 <= per_admission <= 12


def test_dates_are_shifted_into_2100_2200_per_patient(db):
    times = {
        "admissions": ["admittime", "dischtime", "deathtime", "edregtime", "edouttime"],
        "icustays": ["intime", "outtime"], "transfers": ["intime", "outtime"], "services": ["transfertime"],
        "labevents": ["charttime"], "chartevents": ["charttime", "storetime"], "prescriptions": ["startdate", "enddate"],
        "patients": ["dod", "dod_hosp", "dod_ssn"], "noteevents": ["chartdate", "charttime", "storetime"],
    }
    for table, columns in times.items():
        for column in columns:
            low, high = db.execute(f"select min(year({column})), max(year({column})) from {table}").fetchone()
            assert 2100 <= low and high < 2200, (table, column, low, high)
    # DOB too, except for the patients older than 89 at their first admission (age ~300).
    ages = db.execute("""
        select p.subject_id, year(p.dob) as dob_year, date_diff('day', p.dob, min(a.admittime)) / 365.2425 as age
        from patients p join admissions a using (subject_id) group by p.subject_id, p.dob""").fetchall()
    old = [(dob_year, age) for _, dob_year, age in ages if age > 89]
    assert old and all(299.5 <= age < 301.5 for _, age in old)
    assert all(2100 <= dob_year < 2200 for _, dob_year, age in ages if age <= 89)


def test_admissions_lie_within_life(db):
    assert scalar(db, """select count(*) from admissions a join patients p using (subject_id)
                         where a.admittime < p.dob or (p.dod is not null and a.dischtime > p.dod + interval 1 day)""") == 0
    assert scalar(db, "select count(*) from admissions where dischtime <= admittime") == 0
    per_patient = scalar(db, "select count(*) / count(distinct subject_id) from admissions")
    assert 1.15 <= per_patient <= 1.5
    newborns = scalar(db, "select avg((admission_type = 'NEWBORN')::int) from admissions")
    assert 0.03 <= newborns <= 0.12
    assert scalar(db, "select count(*) from admissions where admission_type = 'NEWBORN' and "
                      "hadm_id in (select hadm_id from icustays where first_careunit <> 'NICU')") == 0


def test_deaths_are_consistent(db):
    assert scalar(db, "select count(*) from admissions where deathtime is not null and "
                      "(hospital_expire_flag <> 1 or deathtime <> dischtime or discharge_location <> 'DEAD/EXPIRED')") == 0
    assert scalar(db, "select count(*) from admissions where deathtime is null and hospital_expire_flag <> 0") == 0
    assert scalar(db, """select count(*) from admissions a join patients p using (subject_id)
                         where a.deathtime is not null and (p.dod is null or p.dod_hosp <> date_trunc('day', a.deathtime))""") == 0
    share = scalar(db, "select avg(hospital_expire_flag) from admissions")
    assert 0.06 <= share <= 0.17
    # Deaths after discharge: DOD_SSN only, within a year of the last discharge.
    after = db.execute("""select p.dod, max(a.dischtime) from patients p join admissions a using (subject_id)
                          where p.dod is not null and p.dod_hosp is null group by all""").fetchall()
    assert after and all(0 < (dod - last).days + 1 <= 366 for dod, last in after)
    assert scalar(db, "select count(*) from patients where (dod is not null) <> (expire_flag = 1)") == 0
    assert scalar(db, "select count(*) from patients where dod is not null and dod_hosp is null and dod_ssn is null") == 0


def test_icu_stays_and_transfers_are_inside_admissions(db):
    assert scalar(db, """select count(*) from icustays i join admissions a using (hadm_id)
                         where i.intime < a.admittime or i.outtime > a.dischtime or i.outtime <= i.intime""") == 0
    share = scalar(db, "select count(distinct hadm_id) / (select count(*) from admissions) from icustays")
    assert 0.6 <= share <= 0.9
    assert 1.5 <= scalar(db, "select median(los) from icustays") <= 2.8
    assert 5 <= scalar(db, "select median(date_diff('minute', admittime, dischtime)) / 1440 from admissions "
                           "where admission_type <> 'NEWBORN'") <= 8.5
    # Every ICU stay appears in TRANSFERS with its times and unit; every admission ends with a discharge.
    assert scalar(db, """select count(*) from icustays i left join transfers t
                         on t.icustay_id = i.icustay_id and t.intime = i.intime and t.outtime = i.outtime
                         and t.curr_careunit = i.first_careunit where t.icustay_id is null""") == 0
    assert scalar(db, """select count(*) from transfers t join admissions a using (hadm_id)
                         where t.intime < a.admittime or t.intime > a.dischtime or t.outtime > a.dischtime""") == 0
    assert scalar(db, "select count(*) from transfers where eventtype = 'discharge'") == scalar(db, "select count(*) from admissions")


def test_events_lie_within_their_stays_and_lives(db):
    assert scalar(db, """select count(*) from chartevents c join icustays i using (icustay_id)
                         where c.charttime < i.intime or c.charttime > i.outtime or c.storetime < c.charttime""") == 0
    assert scalar(db, """select count(*) from chartevents c join icustays i using (icustay_id)
                         join d_items d using (itemid) where d.dbsource <> i.dbsource""") == 0
    assert scalar(db, """select count(*) from labevents l join admissions a using (hadm_id)
                         where l.charttime < a.admittime or l.charttime > a.dischtime""") == 0
    assert scalar(db, """select count(*) from prescriptions r join admissions a using (hadm_id)
                         where r.startdate < date_trunc('day', a.admittime) or r.enddate > date_trunc('day', a.dischtime)
                         or r.enddate < r.startdate""") == 0
    for table, column in (("labevents", "charttime"), ("chartevents", "charttime"), ("prescriptions", "startdate")):
        assert scalar(db, f"""select count(*) from {table} e join patients p using (subject_id)
                              where e.{column} < p.dob or e.{column} >= coalesce(p.dod, '2200-01-01') + interval 1 day""") == 0
    assert 60 <= scalar(db, "select count(*) / count(distinct icustay_id) from chartevents") <= 110
    assert 10 <= scalar(db, "select count(*) / (select count(*) from admissions) from prescriptions") <= 20


def test_outpatient_labs_are_outside_admissions(db):
    share = scalar(db, "select avg((hadm_id is null)::int) from labevents")
    assert 0.05 <= share <= 0.30
    assert scalar(db, """select count(*) from labevents l join admissions a using (subject_id)
                         where l.hadm_id is null and l.charttime between a.admittime and a.dischtime""") == 0
    inpatient = scalar(db, "select count(*) / (select count(*) from admissions) from labevents where hadm_id is not null")
    assert 25 <= inpatient <= 60
    assert scalar(db, "select count(*) from labevents where itemid not in (select itemid from d_labitems)") == 0
    assert scalar(db, "select count(*) from d_labitems where loinc_code is not null") == 0
    assert scalar(db, "select count(*) from labevents where valuenum is not null and value <> cast(valuenum as varchar) "
                      "and value <> cast(cast(valuenum as bigint) as varchar)") == 0


def test_generation_is_deterministic(tables):
    again = generate_tables(SPEC)
    assert all(again[name].equals(tables[name]) for name in tables)
    other = generate_tables(SampleSpec(patients=300, seed=12, notes=True))
    assert not other["ADMISSIONS"].equals(tables["ADMISSIONS"])
    # Notes come from their own stream: asking for them changes no other table.
    without = generate_tables(SampleSpec(patients=300, seed=11))
    assert all(without[name].equals(tables[name]) for name in without)


class RecordingStore(LocalObjectStore):
    """A local store that remembers the order of its puts."""

    def __init__(self, root):
        super().__init__(root)
        self.puts: list[str] = []

    def put(self, bucket, key, data):
        self.puts.append(f"{bucket}/{key}")
        return super().put(bucket, key, data)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_delivery_and_manifest(tmp_path, fmt):
    store = RecordingStore(tmp_path)
    spec = SampleSpec(patients=40, seed=3, fmt=fmt)
    keys = generate(store, spec)
    prefix = "clinical/mimic/mimic-3-40/"
    assert keys[-1] == prefix + "manifest.json" and store.puts[-1] == "landing/" + keys[-1]
    assert store.puts == [f"landing/{key}" for key in keys]
    manifest = json.loads(store.get("landing", keys[-1]))
    assert manifest["source"] == "mimic-iii" and manifest["delivery_id"] == "mimic-3-40" and manifest["format"] == fmt
    assert datetime.fromisoformat(manifest["created_at"]).utcoffset().total_seconds() == 0
    tables = generate_tables(spec)
    assert set(manifest["tables"]) == set(tables)
    suffix = ".csv.gz" if fmt == "csv" else ".parquet"
    for name, entry in manifest["tables"].items():
        assert entry["key"] == f"{prefix}{name}{suffix}"
        data = store.get("landing", entry["key"])
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        if fmt == "csv":
            text = gzip.decompress(data)
            assert text.split(b"\n", 1)[0].decode() == ",".join(f'"{c}"' for c, _ in COLUMNS[name])
            read = pacsv.read_csv(io.BytesIO(text))
        else:
            read = pq.read_table(io.BytesIO(data))
        assert read.num_rows == entry["rows"] == tables[name].num_rows
    if fmt == "csv":  # MIMIC's text conventions: 'YYYY-MM-DD HH:MM:SS', empty field for NULL
        lines = gzip.decompress(store.get("landing", prefix + "ADMISSIONS.csv.gz")).decode().splitlines()
        assert lines[1].split(",")[3].count(":") == 2 and len(lines[1].split(",")[3]) == 19
        assert any(",," in line for line in lines[1:])


def test_delivery_rejects_bad_ids(tmp_path):
    with pytest.raises(ValueError):
        write_delivery(LocalObjectStore(tmp_path), {}, "../escape")
