"""The MIMIC-III source tables the clinical domain loads: MIMIC's upper-case columns and the
type each is loaded as. A delivery is complete when its manifest lists every required table."""

from pathlib import Path

from dataplatform import settings

# DuckDB types; the raw Parquet keeps MIMIC's column names in lower case (dbt sources read them).
_IDS = {"ROW_ID": "INTEGER", "SUBJECT_ID": "INTEGER", "HADM_ID": "INTEGER"}

TABLES: dict[str, dict[str, str]] = {
    "PATIENTS": {
        "ROW_ID": "INTEGER", "SUBJECT_ID": "INTEGER", "GENDER": "VARCHAR", "DOB": "TIMESTAMP",
        "DOD": "TIMESTAMP", "DOD_HOSP": "TIMESTAMP", "DOD_SSN": "TIMESTAMP", "EXPIRE_FLAG": "INTEGER",
    },
    "ADMISSIONS": {
        **_IDS, "ADMITTIME": "TIMESTAMP", "DISCHTIME": "TIMESTAMP", "DEATHTIME": "TIMESTAMP",
        "ADMISSION_TYPE": "VARCHAR", "ADMISSION_LOCATION": "VARCHAR", "DISCHARGE_LOCATION": "VARCHAR",
        "INSURANCE": "VARCHAR", "LANGUAGE": "VARCHAR", "RELIGION": "VARCHAR", "MARITAL_STATUS": "VARCHAR",
        "ETHNICITY": "VARCHAR", "EDREGTIME": "TIMESTAMP", "EDOUTTIME": "TIMESTAMP", "DIAGNOSIS": "VARCHAR",
        "HOSPITAL_EXPIRE_FLAG": "INTEGER", "HAS_CHARTEVENTS_DATA": "INTEGER",
    },
    "ICUSTAYS": {
        **_IDS, "ICUSTAY_ID": "INTEGER", "DBSOURCE": "VARCHAR", "FIRST_CAREUNIT": "VARCHAR",
        "LAST_CAREUNIT": "VARCHAR", "FIRST_WARDID": "INTEGER", "LAST_WARDID": "INTEGER",
        "INTIME": "TIMESTAMP", "OUTTIME": "TIMESTAMP", "LOS": "DOUBLE",
    },
    "TRANSFERS": {
        **_IDS, "ICUSTAY_ID": "INTEGER", "DBSOURCE": "VARCHAR", "EVENTTYPE": "VARCHAR",
        "PREV_CAREUNIT": "VARCHAR", "CURR_CAREUNIT": "VARCHAR", "PREV_WARDID": "INTEGER",
        "CURR_WARDID": "INTEGER", "INTIME": "TIMESTAMP", "OUTTIME": "TIMESTAMP", "LOS": "DOUBLE",
    },
    "SERVICES": {
        **_IDS, "TRANSFERTIME": "TIMESTAMP", "PREV_SERVICE": "VARCHAR", "CURR_SERVICE": "VARCHAR",
    },
    "DIAGNOSES_ICD": {**_IDS, "SEQ_NUM": "INTEGER", "ICD9_CODE": "VARCHAR"},
    "PROCEDURES_ICD": {**_IDS, "SEQ_NUM": "INTEGER", "ICD9_CODE": "VARCHAR"},
    "PRESCRIPTIONS": {
        **_IDS, "ICUSTAY_ID": "INTEGER", "STARTDATE": "TIMESTAMP", "ENDDATE": "TIMESTAMP",
        "DRUG_TYPE": "VARCHAR", "DRUG": "VARCHAR", "DRUG_NAME_POE": "VARCHAR", "DRUG_NAME_GENERIC": "VARCHAR",
        "FORMULARY_DRUG_CD": "VARCHAR", "GSN": "VARCHAR", "NDC": "VARCHAR", "PROD_STRENGTH": "VARCHAR",
        "DOSE_VAL_RX": "VARCHAR", "DOSE_UNIT_RX": "VARCHAR", "FORM_VAL_DISP": "VARCHAR",
        "FORM_UNIT_DISP": "VARCHAR", "ROUTE": "VARCHAR",
    },
    "LABEVENTS": {
        **_IDS, "ITEMID": "INTEGER", "CHARTTIME": "TIMESTAMP", "VALUE": "VARCHAR", "VALUENUM": "DOUBLE",
        "VALUEUOM": "VARCHAR", "FLAG": "VARCHAR",
    },
    "D_LABITEMS": {
        "ROW_ID": "INTEGER", "ITEMID": "INTEGER", "LABEL": "VARCHAR", "FLUID": "VARCHAR",
        "CATEGORY": "VARCHAR", "LOINC_CODE": "VARCHAR",
    },
    "CHARTEVENTS": {
        **_IDS, "ICUSTAY_ID": "INTEGER", "ITEMID": "INTEGER", "CHARTTIME": "TIMESTAMP",
        "STORETIME": "TIMESTAMP", "CGID": "INTEGER", "VALUE": "VARCHAR", "VALUENUM": "DOUBLE",
        "VALUEUOM": "VARCHAR", "WARNING": "INTEGER", "ERROR": "INTEGER", "RESULTSTATUS": "VARCHAR",
        "STOPPED": "VARCHAR",
    },
    "D_ITEMS": {
        "ROW_ID": "INTEGER", "ITEMID": "INTEGER", "LABEL": "VARCHAR", "ABBREVIATION": "VARCHAR",
        "DBSOURCE": "VARCHAR", "LINKSTO": "VARCHAR", "CATEGORY": "VARCHAR", "UNITNAME": "VARCHAR",
        "PARAM_TYPE": "VARCHAR", "CONCEPTID": "INTEGER",
    },
    "CAREGIVERS": {"ROW_ID": "INTEGER", "CGID": "INTEGER", "LABEL": "VARCHAR", "DESCRIPTION": "VARCHAR"},
    "D_ICD_DIAGNOSES": {"ROW_ID": "INTEGER", "ICD9_CODE": "VARCHAR", "SHORT_TITLE": "VARCHAR", "LONG_TITLE": "VARCHAR"},
    "D_ICD_PROCEDURES": {"ROW_ID": "INTEGER", "ICD9_CODE": "VARCHAR", "SHORT_TITLE": "VARCHAR", "LONG_TITLE": "VARCHAR"},
    "NOTEEVENTS": {
        **_IDS, "CHARTDATE": "TIMESTAMP", "CHARTTIME": "TIMESTAMP", "STORETIME": "TIMESTAMP",
        "CATEGORY": "VARCHAR", "DESCRIPTION": "VARCHAR", "CGID": "INTEGER", "ISERROR": "VARCHAR", "TEXT": "VARCHAR",
    },
}

# Notes are optional in a delivery; every other table must be in it.
OPTIONAL_TABLES = frozenset({"NOTEEVENTS"})
REQUIRED_TABLES = tuple(name for name in TABLES if name not in OPTIONAL_TABLES)

LANDING_BUCKET, LANDING_PREFIX = "landing", "clinical/mimic/"
RAW_BUCKET, RAW_PREFIX = "raw", "clinical/mimic/"
RAW_DATABASE = "raw_mimic"
MANIFEST_NAME = "manifest.json"


def raw_name(table: str) -> str:
    """The raw table / asset name of a MIMIC table: its name in lower case."""
    return table.lower()


def warehouse_path() -> Path:
    """The clinical warehouse's DuckDB file (Redshift in aws); dbt target `local_warehouse`
    (dbt_project/profiles.yml names the same file)."""
    return settings.home() / "clinical_warehouse.duckdb"
