"""Synthetic MIMIC-III deliveries: the tables MIMIC-III ships, with its columns and conventions,
drawn from the code catalogue (`codes`), for tests, demos and benchmarks.

`generate_tables(spec)` builds the tables; `write_delivery(lake, tables, id)` puts them in the
landing zone under `clinical/mimic/<delivery_id>/` (one `<TABLE>.csv.gz` or `<TABLE>.parquet`
per table) and then, last, `manifest.json` with each file's key, rows, bytes and sha256.

MIMIC conventions kept: ICD-9 codes without dots; each patient's dates shifted by one offset
into 2100-2200 (DOB, admissions and events move together); patients older than 89 at their
first admission get a DOB ~300 years before it; newborns (~8 %) have NEWBORN admissions and
NICU stays on CareVue; in-hospital deaths (~11 % of admissions) have DEATHTIME = DISCHTIME,
HOSPITAL_EXPIRE_FLAG 1 and DOD_HOSP; some patients die within a year of discharge (DOD_SSN
only); ~15 % of lab events are outpatient (HADM_ID NULL, dated outside every admission);
dates (DOB, DOD*, STARTDATE, ENDDATE, CHARTDATE) are midnight timestamps; times are to the minute.

Shapes: ~1.3 admissions per patient, hospital stays log-normal (median ~6.5 days), ~75 % of
admissions with an ICU stay (median ~2.1 days, inside the admission, some with two), ~9
diagnoses and ~3 procedures per adult admission drawn by weight without repeats, ~40 lab
events per admission in panels sharing a CHARTTIME, ~80 chart events per ICU stay from the
stay's DBSOURCE, ~15 prescriptions per admission within its dates.

Everything is vectorised with numpy (per-admission loops only for TRANSFERS, SERVICES and
notes) and drawn from `numpy.random.Generator`s seeded from `spec.seed`, one per table family,
so a spec gives identical tables and adding notes changes no other table.
"""

import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from isal import igzip

from assets.clinical import codes
from assets.clinical.format import LANDING_BUCKET, LANDING_PREFIX, MANIFEST_NAME, TABLES

if TYPE_CHECKING:  # only for annotations: keeps `assets` importable without the platform package
    from dataplatform.resources.lake import ObjectStore

MINUTE, HOUR, DAY = 60, 3600, 86400
YEAR = 365.2425 * DAY
Y2100 = int(datetime(2100, 1, 1, tzinfo=timezone.utc).timestamp())
LAST_FIRST_ADMISSION = int(datetime(2190, 1, 1, tzinfo=timezone.utc).timestamp())  # leaves room for follow-up
TS = pa.timestamp("s")

# MIMIC-III columns per table, in MIMIC's order (assets/clinical/format.py), as Arrow types.
_I, _F, _S, _T = pa.int32(), pa.float64(), pa.string(), TS
_ARROW = {"INTEGER": _I, "DOUBLE": _F, "VARCHAR": _S, "TIMESTAMP": _T}
COLUMNS: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    table: tuple((name, _ARROW[kind]) for name, kind in columns.items()) for table, columns in TABLES.items()
}
COLUMNS_TYPES = {name: kind for columns in COLUMNS.values() for name, kind in columns}  # a name has one type


@dataclass(frozen=True)
class SampleSpec:
    patients: int = 1000
    seed: int = 7
    delivery_id: str | None = None  # default: mimic-<seed>-<patients>
    fmt: str = "csv"  # csv (gzip) | parquet
    notes: bool = False  # add NOTEEVENTS

    @property
    def delivery(self) -> str:
        return self.delivery_id or f"mimic-{self.seed}-{self.patients}"


# ---------------------------------------------------------------------------- helpers


def _pick(rng: np.random.Generator, weights: dict, n: int) -> np.ndarray:
    """`n` keys of `weights` drawn by weight, as an object array."""
    keys = np.array(list(weights), dtype=object)
    p = np.array(list(weights.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def _days(seconds: np.ndarray) -> np.ndarray:
    """Midnight of the day of each time (MIMIC's dates are midnight timestamps)."""
    return seconds // DAY * DAY


def _minutes(seconds: np.ndarray) -> np.ndarray:
    return (np.asarray(seconds) // MINUTE * MINUTE).astype(np.int64)


def _lognormal(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(n))


def _segment_starts(counts: np.ndarray) -> np.ndarray:
    """Index of the first element of each segment when segments of `counts` are laid end to end."""
    return np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)


def _rank_in_segment(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each segment of `counts`."""
    return np.arange(counts.sum()) - np.repeat(_segment_starts(counts), counts)


def _col(values, kind: pa.DataType, mask: np.ndarray | None = None) -> pa.Array:
    """An Arrow column; `mask` True = NULL."""
    if kind == TS:
        return pa.array(np.asarray(values, dtype=np.int64), type=TS, mask=mask)
    return pa.array(values, type=kind, mask=mask)


def _table(name: str, columns: dict) -> pa.Table:
    """Arrow table in MIMIC's column order; ROW_ID is 1..n; columns not given are all NULL."""
    n = len(next(iter(columns.values())))
    arrays = []
    for column, kind in COLUMNS[name]:
        if column == "ROW_ID":
            arrays.append(pa.array(np.arange(1, n + 1), type=kind))
        elif column in columns:
            value = columns[column]
            arrays.append(value.cast(kind) if isinstance(value, (pa.Array, pa.ChunkedArray)) else _col(value, kind))
        else:
            arrays.append(pa.nulls(n, type=kind))
    return pa.Table.from_arrays(arrays, names=[c for c, _ in COLUMNS[name]])


def _masked(values, mask: np.ndarray, kind: pa.DataType) -> pa.Array:
    return _col(values, kind, mask=np.asarray(mask, dtype=bool))


def _top_k(rng: np.random.Generator, weights: np.ndarray, groups: np.ndarray, counts: np.ndarray) -> tuple:
    """Per row, `counts[row]` distinct catalogue indexes drawn by `weights[groups[row]]` without
    replacement (Gumbel top-k): returns (row of each draw, catalogue index, 1-based rank)."""
    with np.errstate(divide="ignore"):
        keys = np.log(weights)[groups] + rng.gumbel(size=(len(groups), weights.shape[1]))
    order = np.argsort(-keys, axis=1)
    take = np.arange(weights.shape[1])[None, :] < counts[:, None]
    rows, ranks = np.nonzero(take)
    return rows, order[take], ranks + 1


# ---------------------------------------------------------------------------- the population


@dataclass
class _People:
    subject_id: np.ndarray
    newborn: np.ndarray
    old: np.ndarray  # older than 89 at first admission
    dob: np.ndarray
    dod: np.ndarray  # -1: alive
    metavision: np.ndarray  # the patient's ICU stays are charted in MetaVision (else CareVue)


@dataclass
class _Admissions:
    patient: np.ndarray  # index into _People
    hadm_id: np.ndarray
    admit: np.ndarray
    disch: np.ndarray
    died: np.ndarray
    newborn: np.ndarray


def _population(rng: np.random.Generator, n: int) -> tuple[_People, _Admissions, dict]:
    subject_id = np.sort(rng.choice(np.arange(1, max(100_000, 10 * n)), size=n, replace=False))
    newborn = rng.random(n) < 0.08
    age = np.where(newborn, 0.0, np.clip(rng.normal(62, 16.5, n), 18, 100))
    old = age > 89
    n_adm = np.where(newborn, 1, 1 + np.minimum(rng.poisson(0.35, n), 4))

    # One offset per patient: the first admission lands in 2100-2190, DOB (kept in 2100+ unless
    # the patient is >89, whose DOB goes ~300 years back, as MIMIC's) moves with it.
    earliest = np.where(old, Y2100, Y2100 + age * YEAR + DAY)
    first = earliest + rng.random(n) * (LAST_FIRST_ADMISSION - earliest)
    dob = _days(np.where(old, first - (300 + rng.random(n)) * YEAR, first - age * YEAR)).astype(np.int64)
    first = np.where(newborn, dob + rng.uniform(0.5, 20, n) * HOUR, first)  # newborns are admitted at birth

    patient = np.repeat(np.arange(n), n_adm)
    total = len(patient)
    adm_newborn = newborn[patient]
    los = np.clip(np.where(adm_newborn, _lognormal(rng, 3.0, 0.9, total), _lognormal(rng, 6.5, 0.75, total)), 0.15, 100)
    gap = np.minimum(rng.exponential(250, total), 500) + 1  # days from the previous discharge
    rank = _rank_in_segment(n_adm)
    step = np.where(rank > 0, np.roll(los, 1) + gap, 0.0) * DAY
    cumulative = np.cumsum(step)
    admit = _minutes(first[patient] + cumulative - cumulative[_segment_starts(n_adm)][patient])
    disch = _minutes(admit + los * DAY)

    # Deaths: in hospital at the last admission (older patients more often), or within a year after it.
    last = np.cumsum(n_adm) - 1
    p_hospital = np.where(newborn, 0.005, np.clip(0.158 + 0.004 * (age - 62), 0.04, 0.4))
    in_hospital = rng.random(n) < p_hospital
    later = ~in_hospital & ~newborn & (rng.random(n) < 0.2)
    died = np.zeros(total, dtype=bool)
    died[last[in_hospital]] = True
    last_day = _days(disch[last])
    dod = np.where(in_hospital, last_day, np.where(later, last_day + rng.integers(1, 366, n) * DAY, -1))
    dod_ssn = np.where(later | (in_hospital & (rng.random(n) < 0.7)), dod, -1)

    people = _People(subject_id, newborn, old, dob, dod, ~newborn & (rng.random(n) < 0.45))
    hadm_id = rng.choice(np.arange(100_001, 100_001 + max(100_000, 10 * total)), size=total, replace=False)
    admissions = _Admissions(patient, hadm_id, admit, disch, died, adm_newborn)
    extra = {"dod_hosp": np.where(in_hospital, dod, -1), "dod_ssn": dod_ssn, "gender_p": rng.random(n)}
    return people, admissions, extra


def _patients_table(people: _People, extra: dict) -> pa.Table:
    gender = np.where(extra["gender_p"] < np.where(people.newborn, 0.53, 0.56), "M", "F").astype(object)
    return _table("PATIENTS", {
        "SUBJECT_ID": people.subject_id,
        "GENDER": gender,
        "DOB": people.dob,
        "DOD": _masked(people.dod, people.dod < 0, TS),
        "DOD_HOSP": _masked(extra["dod_hosp"], extra["dod_hosp"] < 0, TS),
        "DOD_SSN": _masked(extra["dod_ssn"], extra["dod_ssn"] < 0, TS),
        "EXPIRE_FLAG": (people.dod >= 0).astype(np.int32),
    })


# ---------------------------------------------------------------------------- ICU stays


@dataclass
class _Stays:
    admission: np.ndarray  # index into _Admissions
    icustay_id: np.ndarray
    careunit: np.ndarray
    ward: np.ndarray
    intime: np.ndarray
    outtime: np.ndarray
    metavision: np.ndarray


def _icu_stays(rng: np.random.Generator, people: _People, adm: _Admissions) -> _Stays:
    total = len(adm.admit)
    has_icu = rng.random(total) < np.where(adm.newborn, 0.85, 0.74)
    span = adm.disch - adm.admit
    length = np.clip(_lognormal(rng, 2.1 * DAY, 0.85, total), HOUR, 0.9 * span)
    lead = np.where(adm.newborn, 0.1 * rng.random(total), rng.random(total) ** 2) * (span - length)
    intime = _minutes(adm.admit + lead)
    outtime = np.minimum(_minutes(intime + length), adm.disch)
    # A second stay for some, in the time left after the first (readmission to the ICU).
    room = adm.disch - outtime
    second = has_icu & ~adm.newborn & (rng.random(total) < 0.08) & (room > DAY)
    length2 = np.minimum(_lognormal(rng, 1.5 * DAY, 0.7, total), 0.8 * room)
    in2 = _minutes(outtime + 0.1 * DAY + rng.random(total) * (room - length2 - 0.1 * DAY))
    out2 = np.minimum(_minutes(in2 + length2), adm.disch)

    first_idx, second_idx = np.nonzero(has_icu)[0], np.nonzero(second)[0]
    admission = np.concatenate((first_idx, second_idx))
    order = np.lexsort((np.concatenate((intime[first_idx], in2[second_idx])), admission))
    admission = admission[order]
    ins = np.concatenate((intime[first_idx], in2[second_idx]))[order]
    outs = np.concatenate((outtime[first_idx], out2[second_idx]))[order]
    n = len(admission)
    careunit = np.where(adm.newborn[admission], "NICU", _pick(rng, codes.ADULT_CARE_UNITS, n)).astype(object)
    ward = np.array([codes.CARE_UNITS[u][i % len(codes.CARE_UNITS[u])] for u, i in
                     zip(careunit, rng.integers(0, 6, n))], dtype=np.int32)
    icustay_id = rng.choice(np.arange(200_001, 200_001 + max(100_000, 10 * n)), size=n, replace=False)
    return _Stays(admission, icustay_id, careunit, ward, ins, outs, people.metavision[adm.patient[admission]])


def _icustays_table(people: _People, adm: _Admissions, stays: _Stays) -> pa.Table:
    source = np.where(stays.metavision, "metavision", "carevue").astype(object)
    return _table("ICUSTAYS", {
        "SUBJECT_ID": people.subject_id[adm.patient[stays.admission]],
        "HADM_ID": adm.hadm_id[stays.admission],
        "ICUSTAY_ID": stays.icustay_id,
        "DBSOURCE": source,
        "FIRST_CAREUNIT": stays.careunit, "LAST_CAREUNIT": stays.careunit,
        "FIRST_WARDID": stays.ward, "LAST_WARDID": stays.ward,
        "INTIME": stays.intime, "OUTTIME": stays.outtime,
        "LOS": np.round((stays.outtime - stays.intime) / DAY, 4),
    })


def _stays_by_admission(adm: _Admissions, stays: _Stays) -> list[list[int]]:
    grouped: list[list[int]] = [[] for _ in adm.admit]
    for index, admission in enumerate(stays.admission.tolist()):
        grouped[admission].append(index)
    return grouped


def _transfers_and_services(rng: np.random.Generator, people: _People, adm: _Admissions, stays: _Stays,
                            grouped: list[list[int]]) -> tuple[pa.Table, pa.Table]:
    """TRANSFERS: ward and ICU segments from admission to discharge ('admit', 'transfer'...,
    'discharge'), consistent with ICUSTAYS. SERVICES: the admitting service, sometimes a change."""
    t_rows: list[tuple] = []
    s_rows: list[tuple] = []
    ward_draws = rng.integers(0, 1 << 30, size=(len(adm.admit), 4)).tolist()
    service_draws = rng.random((len(adm.admit), 3)).tolist()
    subject_ids = people.subject_id[adm.patient].tolist()
    admit, disch, hadm = adm.admit.tolist(), adm.disch.tolist(), adm.hadm_id.tolist()
    ins, outs, units = stays.intime.tolist(), stays.outtime.tolist(), stays.careunit.tolist()
    wards, ids, meta = stays.ward.tolist(), stays.icustay_id.tolist(), stays.metavision.tolist()
    newborn = adm.newborn.tolist()
    for a, stay_indexes in enumerate(grouped):
        ward_pool = codes.NEWBORN_WARDS if newborn[a] else codes.WARDS
        segments, cursor = [], admit[a]  # (icustay, careunit, ward, in, out)
        for k, s in enumerate(stay_indexes):
            if ins[s] > cursor:
                segments.append((None, None, ward_pool[ward_draws[a][k] % len(ward_pool)], cursor, ins[s]))
            segments.append((ids[s], units[s], wards[s], ins[s], outs[s]))
            cursor = outs[s]
        if disch[a] > cursor or not segments:
            segments.append((None, None, ward_pool[ward_draws[a][3] % len(ward_pool)], cursor, disch[a]))
        source = ("metavision" if meta[stay_indexes[0]] else "carevue") if stay_indexes else None
        prev_unit = prev_ward = None
        for k, (icustay, unit, ward, start, end) in enumerate(segments):
            t_rows.append((subject_ids[a], hadm[a], icustay, source, "admit" if k == 0 else "transfer", prev_unit, unit,
                           prev_ward, ward, start, end, round((end - start) / HOUR, 2)))
            prev_unit, prev_ward = unit, ward
        t_rows.append((subject_ids[a], hadm[a], None, source, "discharge", prev_unit, None, prev_ward, None, disch[a],
                       None, None))

        first_unit = units[stay_indexes[0]] if stay_indexes else ""
        service = _weighted(codes.SERVICES[first_unit], service_draws[a][0])
        s_rows.append((subject_ids[a], hadm[a], admit[a], None, service))
        if not newborn[a] and service_draws[a][1] < 0.15:  # a change of service during the stay
            later = _weighted({k: v for k, v in codes.SERVICES[""].items() if k != service}, service_draws[a][2])
            s_rows.append((subject_ids[a], hadm[a], admit[a] + int((disch[a] - admit[a]) * 0.5) // 60 * 60, service, later))

    def columns(rows: list[tuple], names: list[str]) -> dict:
        return {name: pa.array(list(values), type=COLUMNS_TYPES[name]) for name, values in zip(names, zip(*rows))}

    transfers = _table("TRANSFERS", columns(t_rows, ["SUBJECT_ID", "HADM_ID", "ICUSTAY_ID", "DBSOURCE", "EVENTTYPE",
                                                      "PREV_CAREUNIT", "CURR_CAREUNIT", "PREV_WARDID", "CURR_WARDID",
                                                      "INTIME", "OUTTIME", "LOS"]))
    services = _table("SERVICES", columns(s_rows, ["SUBJECT_ID", "HADM_ID", "TRANSFERTIME", "PREV_SERVICE", "CURR_SERVICE"]))
    return transfers, services


def _weighted(weights: dict, u: float) -> str:
    total, acc = sum(weights.values()), 0.0
    for key, weight in weights.items():
        acc += weight / total
        if u < acc:
            return key
    return key


# ---------------------------------------------------------------------------- coded events


def _coded(rng: np.random.Generator, catalogue, adm: _Admissions, adult_mean: float,
           newborn_mean: float, at_least_one: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Diagnoses or procedures: (admission, catalogue index, SEQ_NUM) per row."""
    weights = np.array([[0.0 if c.newborn else c.weight for c in catalogue],
                        [c.weight if c.newborn else 0.0 for c in catalogue]])
    available = (weights > 0).sum(axis=1)
    group = adm.newborn.astype(np.int64)
    mean = np.where(adm.newborn, newborn_mean, adult_mean)
    counts = rng.poisson(mean - at_least_one) + at_least_one
    counts = np.minimum(counts, np.minimum(available[group], 39))
    return _top_k(rng, weights, group, counts)


def _icd_table(name: str, people: _People, adm: _Admissions, rows, index, seq, catalogue) -> pa.Table:
    code = np.array([c.code for c in catalogue], dtype=object)
    return _table(name, {
        "SUBJECT_ID": people.subject_id[adm.patient[rows]],
        "HADM_ID": adm.hadm_id[rows],
        "SEQ_NUM": seq,
        "ICD9_CODE": code[index],
    })


def _dictionary_tables() -> dict[str, pa.Table]:
    labs, items = codes.LAB_ITEMS, codes.CHART_ITEMS
    return {
        "D_LABITEMS": _table("D_LABITEMS", {
            "ITEMID": [lab.itemid for lab in labs], "LABEL": [lab.label for lab in labs],
            "FLUID": [lab.fluid for lab in labs], "CATEGORY": [lab.category for lab in labs],
            "LOINC_CODE": pa.nulls(len(labs), pa.string()),  # LOINC content is not shipped
        }),
        "D_ITEMS": _table("D_ITEMS", {
            "ITEMID": [i.itemid for i in items], "LABEL": [i.label for i in items],
            "ABBREVIATION": [i.abbreviation or None for i in items], "DBSOURCE": [i.dbsource for i in items],
            "LINKSTO": ["chartevents"] * len(items), "CATEGORY": [i.category or None for i in items],
            "UNITNAME": [i.unit or None for i in items],
            "PARAM_TYPE": [i.param_type if i.dbsource == "metavision" else None for i in items],
        }),
        "D_ICD_DIAGNOSES": _table("D_ICD_DIAGNOSES", {
            "ICD9_CODE": [d.code for d in codes.DIAGNOSES], "SHORT_TITLE": [d.short_title for d in codes.DIAGNOSES],
            "LONG_TITLE": [d.long_title for d in codes.DIAGNOSES],
        }),
        "D_ICD_PROCEDURES": _table("D_ICD_PROCEDURES", {
            "ICD9_CODE": [p.code for p in codes.PROCEDURES], "SHORT_TITLE": [p.short_title for p in codes.PROCEDURES],
            "LONG_TITLE": [p.long_title for p in codes.PROCEDURES],
        }),
    }


def _caregivers(rng: np.random.Generator, patients: int) -> pa.Table:
    n = max(50, min(3000, patients // 5))
    labels = _pick(rng, {label: weight for label, (_, weight) in codes.CAREGIVER_LABELS.items()}, n)
    return _table("CAREGIVERS", {
        "CGID": np.arange(14_000, 14_000 + n),
        "LABEL": labels,
        "DESCRIPTION": np.array([codes.CAREGIVER_LABELS[label][0] for label in labels], dtype=object),
    })


# ---------------------------------------------------------------------------- measurements


def _values(rng: np.random.Generator, center, spread, lognormal, decimals) -> np.ndarray:
    z = rng.standard_normal(len(center))
    values = np.where(lognormal, center * np.exp(spread * z), center + spread * z)
    scale = 10.0 ** decimals
    return np.maximum(np.round(values * scale) / scale, 1 / scale)


def _labevents(rng: np.random.Generator, people: _People, adm: _Admissions) -> pa.Table:
    labs = codes.LAB_ITEMS
    panels = list(codes.LAB_PANELS)
    members = [np.array([i for i, lab in enumerate(labs) if lab.panel == panel]) for panel in panels]
    sizes = np.array([len(m) for m in members])
    flat, starts = np.concatenate(members), _segment_starts(sizes)
    panel_p = np.array(list(codes.LAB_PANELS.values()), dtype=float)
    panel_p /= panel_p.sum()

    # Inpatient blood draws, then outpatient ones (~15 % of rows) outside every admission.
    los_days = (adm.disch - adm.admit) / DAY
    draws = rng.poisson(1 + 0.95 * los_days)
    draw_adm = np.repeat(np.arange(len(adm.admit)), draws)
    draw_time = _minutes(adm.admit[draw_adm] + rng.random(len(draw_adm)) * (adm.disch - adm.admit)[draw_adm])
    draw_patient = adm.patient[draw_adm]
    out_patient, out_time = _outpatient_draws(rng, people, adm, round(len(draw_adm) * 0.15 / 0.85))
    patient = np.concatenate((draw_patient, out_patient))
    time = np.concatenate((draw_time, out_time))
    hadm = np.concatenate((adm.hadm_id[draw_adm], np.zeros(len(out_patient), dtype=np.int64)))
    outpatient = np.concatenate((np.zeros(len(draw_adm), dtype=bool), np.ones(len(out_patient), dtype=bool)))

    panel = rng.choice(len(panels), size=len(patient), p=panel_p)
    per_draw = sizes[panel]
    draw = np.repeat(np.arange(len(patient)), per_draw)
    item = flat[starts[panel][draw] + _rank_in_segment(per_draw)]
    attr = {name: np.array([getattr(lab, name) for lab in labs]) for name in
            ("itemid", "center", "spread", "lognormal", "decimals", "low", "high", "unit")}
    value = _values(rng, attr["center"][item], attr["spread"][item], attr["lognormal"][item], attr["decimals"][item])
    abnormal = (value < attr["low"][item]) | (value > attr["high"][item])
    order = np.lexsort((attr["itemid"][item], time[draw], patient[draw]))
    draw, item, value, abnormal = draw[order], item[order], value[order], abnormal[order]
    unit = attr["unit"].astype(object)[item]
    return _table("LABEVENTS", {
        "SUBJECT_ID": people.subject_id[patient[draw]],
        "HADM_ID": _masked(hadm[draw], outpatient[draw], _I),
        "ITEMID": attr["itemid"][item],
        "CHARTTIME": time[draw],
        "VALUE": pa.array(value).cast(pa.string()),
        "VALUENUM": value,
        "VALUEUOM": _masked(unit, unit == "", _S),
        "FLAG": _masked(np.full(len(item), "abnormal", dtype=object), ~abnormal, _S),
    })


def _outpatient_draws(rng: np.random.Generator, people: _People, adm: _Admissions, n: int):
    """`n` draws for adult patients, within a year of their hospital history, after birth,
    before death and outside every admission (redrawn a few times; the rest dropped)."""
    adults = np.nonzero(~people.newborn)[0]
    patient = adults[rng.integers(0, len(adults), n)] if len(adults) and n else np.zeros(0, dtype=np.int64)
    first = np.full(len(people.dob), np.iinfo(np.int64).max)
    last = np.zeros(len(people.dob), dtype=np.int64)
    np.minimum.at(first, adm.patient, adm.admit)
    np.maximum.at(last, adm.patient, adm.disch)
    lo = np.maximum(first - 365 * DAY, people.dob + DAY)[patient]
    hi = np.minimum(last + 365 * DAY, np.where(people.dod >= 0, people.dod, np.iinfo(np.int64).max))[patient]
    # Admissions are in (patient, admit) order: one search finds the latest admission before a time.
    base, stride = int(datetime(1700, 1, 1, tzinfo=timezone.utc).timestamp()), 1 << 34
    keys = adm.patient * stride + (adm.admit - base)
    time = np.zeros(len(patient), dtype=np.int64)
    pending = np.ones(len(patient), dtype=bool)
    for _ in range(6):
        idx = np.nonzero(pending)[0]
        if not len(idx):
            break
        t = _minutes(lo[idx] + rng.random(len(idx)) * np.maximum(hi[idx] - lo[idx], 0))
        found = np.searchsorted(keys, patient[idx] * stride + (t - base), side="right") - 1
        inside = (found >= 0) & (adm.patient[np.maximum(found, 0)] == patient[idx]) & (t <= adm.disch[np.maximum(found, 0)])
        ok = ~inside & (t >= lo[idx]) & (t < hi[idx])
        time[idx[ok]] = t[ok]
        pending[idx[ok]] = False
    return patient[~pending], time[~pending]


def _chartevents(rng: np.random.Generator, people: _People, adm: _Admissions, stays: _Stays, caregivers: pa.Table) -> pa.Table:
    items = codes.CHART_ITEMS
    los_days = (stays.outtime - stays.intime) / DAY
    counts = rng.poisson(np.maximum(5, 34 * los_days))
    stay = np.repeat(np.arange(len(stays.intime)), counts)
    n = len(stay)
    meta = stays.metavision[stay]
    item = np.zeros(n, dtype=np.int64)
    for source, mask in (("metavision", meta), ("carevue", ~meta)):
        pool = np.array([i for i, it in enumerate(items) if it.dbsource == source])
        p = np.array([items[i].weight for i in pool], dtype=float)
        item[mask] = pool[rng.choice(len(pool), size=int(mask.sum()), p=p / p.sum())]
    time = _minutes(stays.intime[stay] + rng.random(n) * (stays.outtime - stays.intime)[stay])
    store = np.minimum(_minutes(time + rng.integers(1, 45, n) * MINUTE), stays.outtime[stay])

    attr = {name: np.array([getattr(it, name) for it in items]) for name in
            ("itemid", "center", "spread", "decimals", "low", "high", "unit")}
    numeric = np.array([not it.values for it in items])[item]
    value = np.clip(_values(rng, attr["center"][item], attr["spread"][item], False, attr["decimals"][item]),
                    attr["low"][item], attr["high"][item])
    # Coded items: the first listed value most often.
    counts_v = np.array([len(it.values) for it in items])
    flat_text = np.array([v for it in items for v, _ in it.values] or [""], dtype=object)
    flat_num = np.array([np.nan if x is None else x for it in items for _, x in it.values] or [np.nan])
    pick = _segment_starts(counts_v)[item] + (rng.random(n) ** 1.8 * np.maximum(counts_v[item], 1)).astype(np.int64)
    pick = np.minimum(pick, len(flat_text) - 1)
    valuenum = np.where(numeric, value, flat_num[pick])
    text = pa.array(np.where(numeric, "", flat_text[pick]).tolist(), type=pa.string())
    value_text = pc.if_else(pa.array(numeric), pa.array(valuenum).cast(pa.string()), text)

    order = np.lexsort((attr["itemid"][item], time, stay))
    stay, item, time, store, meta = stay[order], item[order], time[order], store[order], meta[order]
    valuenum, value_text = valuenum[order], value_text.take(pa.array(order))
    cgids = caregivers.column("CGID").to_numpy()
    unit = attr["unit"].astype(object)[item]
    carevue = ~meta
    return _table("CHARTEVENTS", {
        "SUBJECT_ID": people.subject_id[adm.patient[stays.admission[stay]]],
        "HADM_ID": adm.hadm_id[stays.admission[stay]],
        "ICUSTAY_ID": stays.icustay_id[stay],
        "ITEMID": attr["itemid"][item],
        "CHARTTIME": time,
        "STORETIME": store,
        "CGID": cgids[rng.integers(0, len(cgids), n)],
        "VALUE": value_text,
        "VALUENUM": _masked(np.nan_to_num(valuenum), np.isnan(valuenum), _F),
        "VALUEUOM": _masked(unit, unit == "", _S),
        "WARNING": _masked(np.zeros(n, dtype=np.int32), carevue, _I),
        "ERROR": _masked(np.zeros(n, dtype=np.int32), carevue, _I),
        "RESULTSTATUS": _masked(np.full(n, "Manual", dtype=object), meta, _S),
        "STOPPED": _masked(np.full(n, "NotStopd", dtype=object), meta, _S),
    })


# ---------------------------------------------------------------------------- prescriptions


def _prescriptions(rng: np.random.Generator, people: _People, adm: _Admissions, stays: _Stays,
                   grouped: list[list[int]]) -> pa.Table:
    drugs = codes.DRUGS
    los_days = (adm.disch - adm.admit) / DAY
    counts = rng.poisson(np.where(adm.newborn, 3.0, 15.0 * (los_days / 6.5) ** 0.35))
    row_adm = np.repeat(np.arange(len(adm.admit)), counts)
    n = len(row_adm)
    newborn = adm.newborn[row_adm]
    drug = np.zeros(n, dtype=np.int64)
    for is_newborn in (False, True):
        pool = np.array([i for i, d in enumerate(drugs) if d.newborn == is_newborn])
        p = np.array([drugs[i].weight for i in pool], dtype=float)
        mask = newborn == is_newborn
        drug[mask] = pool[rng.choice(len(pool), size=int(mask.sum()), p=p / p.sum())]
    first_day, last_day = _days(adm.admit)[row_adm], _days(adm.disch)[row_adm]
    days = (last_day - first_day) // DAY
    start = first_day + (rng.random(n) * (days + 1)).astype(np.int64) * DAY
    end = np.minimum(start + (rng.geometric(0.3, n) - 1) * DAY, last_day)

    # The ICU stay (if any) whose dates cover the start date.
    stay_of = np.full(n, -1, dtype=np.int64)
    for k in (1, 0):  # the first stay wins when both cover it
        candidate = np.array([g[k] if len(g) > k else -1 for g in grouped], dtype=np.int64)[row_adm]
        has = candidate >= 0
        safe = np.maximum(candidate, 0)
        covers = has & (_days(stays.intime[safe]) <= start) & (start <= _days(stays.outtime[safe])) if len(stays.intime) \
            else np.zeros(n, dtype=bool)
        stay_of = np.where(covers, candidate, stay_of)

    doses = [d.doses for d in drugs]
    n_doses = np.array([len(d) for d in doses])
    flat_dose = np.array([dose for d in doses for dose, _ in d], dtype=object)
    flat_form = np.array([form for d in doses for _, form in d], dtype=object)
    pick = _segment_starts(n_doses)[drug] + (rng.random(n) * n_doses[drug]).astype(np.int64)
    attr = {name: np.array([getattr(d, name) for d in drugs], dtype=object) for name in
            ("drug_type", "drug", "generic", "formulary_drug_cd", "prod_strength", "dose_unit", "form_unit", "route")}
    ndc = np.array([codes.ndc(i, d) for i, d in enumerate(drugs, 1)], dtype=object)
    order = np.lexsort((drug, start, row_adm))
    row_adm, drug, start, end, stay_of, pick = (a[order] for a in (row_adm, drug, start, end, stay_of, pick))
    base = attr["drug_type"][drug] == "BASE"
    return _table("PRESCRIPTIONS", {
        "SUBJECT_ID": people.subject_id[adm.patient[row_adm]],
        "HADM_ID": adm.hadm_id[row_adm],
        "ICUSTAY_ID": _masked(stays.icustay_id[np.maximum(stay_of, 0)] if len(stays.icustay_id) else np.zeros(n),
                              stay_of < 0, _I),
        "STARTDATE": start, "ENDDATE": end,
        "DRUG_TYPE": attr["drug_type"][drug],
        "DRUG": attr["drug"][drug],
        "DRUG_NAME_POE": _masked(attr["drug"][drug], base, _S),
        "DRUG_NAME_GENERIC": attr["generic"][drug],
        "FORMULARY_DRUG_CD": attr["formulary_drug_cd"][drug],
        "NDC": ndc[drug],
        "PROD_STRENGTH": attr["prod_strength"][drug],
        "DOSE_VAL_RX": flat_dose[pick],
        "DOSE_UNIT_RX": attr["dose_unit"][drug],
        "FORM_VAL_DISP": flat_form[pick],
        "FORM_UNIT_DISP": attr["form_unit"][drug],
        "ROUTE": attr["route"][drug],
    })


# ---------------------------------------------------------------------------- admissions and notes


def _admissions_table(rng: np.random.Generator, people: _People, adm: _Admissions, first_code: np.ndarray,
                      charted: np.ndarray) -> pa.Table:
    n = len(adm.admit)
    patient = adm.patient
    kind = np.where(adm.newborn, "NEWBORN", _pick(rng, codes.ADMISSION_TYPES, n)).astype(object)
    location = np.empty(n, dtype=object)
    for admission_type, weights in codes.ADMISSION_LOCATIONS.items():
        mask = kind == admission_type
        location[mask] = _pick(rng, weights, int(mask.sum()))
    discharge = np.where(adm.newborn, _pick(rng, codes.NEWBORN_DISCHARGE_LOCATIONS, n),
                         _pick(rng, codes.DISCHARGE_LOCATIONS, n)).astype(object)
    discharge[adm.died] = codes.DEAD
    insurance = np.where(adm.newborn, _pick(rng, codes.NEWBORN_INSURANCE, n), _pick(rng, codes.INSURANCE, n))
    # Demographics belong to the patient: drawn once, repeated on each admission.
    m = len(people.dob)
    language = np.where(people.newborn, "", _pick(rng, codes.LANGUAGES, m))[patient]
    marital = np.where(people.newborn, "", _pick(rng, codes.MARITAL_STATUSES, m))[patient]
    religion = _pick(rng, codes.RELIGIONS, m)[patient]
    ethnicity = _pick(rng, {e.value: e.weight for e in codes.ETHNICITIES}, m)[patient]
    via_er = location == "EMERGENCY ROOM ADMIT"
    edreg = _minutes(adm.admit - rng.uniform(1, 8, n) * HOUR)
    edout = np.minimum(_minutes(adm.admit + rng.uniform(0, 1, n) * HOUR), adm.disch)
    titles = {d.code: d.short_title.upper() for d in codes.DIAGNOSES}
    diagnosis = np.array(["NEWBORN" if nb else titles.get(code, "") for nb, code in zip(adm.newborn, first_code)], dtype=object)
    return _table("ADMISSIONS", {
        "SUBJECT_ID": people.subject_id[patient],
        "HADM_ID": adm.hadm_id,
        "ADMITTIME": adm.admit, "DISCHTIME": adm.disch,
        "DEATHTIME": _masked(adm.disch, ~adm.died, TS),
        "ADMISSION_TYPE": kind, "ADMISSION_LOCATION": location, "DISCHARGE_LOCATION": discharge,
        "INSURANCE": insurance.astype(object),
        "LANGUAGE": _masked(language.astype(object), language == "", _S),
        "RELIGION": religion,
        "MARITAL_STATUS": _masked(marital.astype(object), marital == "", _S),
        "ETHNICITY": ethnicity,
        "EDREGTIME": _masked(edreg, ~via_er, TS), "EDOUTTIME": _masked(edout, ~via_er, TS),
        "DIAGNOSIS": diagnosis,
        "HOSPITAL_EXPIRE_FLAG": adm.died.astype(np.int32),
        "HAS_CHARTEVENTS_DATA": charted.astype(np.int32),
    })


def _noteevents(rng: np.random.Generator, people: _People, adm: _Admissions, stays: _Stays, caregivers: pa.Table,
                diagnoses: pa.Table) -> pa.Table:
    """A discharge summary per admission and 1-3 nursing notes per ICU stay, from templates."""
    titles = {d.code: d.long_title for d in codes.DIAGNOSES}
    by_hadm: dict[int, list[str]] = {}
    for hadm, code in zip(diagnoses.column("HADM_ID").to_pylist(), diagnoses.column("ICD9_CODE").to_pylist()):
        by_hadm.setdefault(hadm, []).append(titles[code])
    subject = people.subject_id[adm.patient]
    rows = []
    for a in range(len(adm.admit)):
        admit, disch = datetime.fromtimestamp(int(adm.admit[a]), timezone.utc), datetime.fromtimestamp(int(adm.disch[a]), timezone.utc)
        lines = "\n".join(f"{i}. {title}" for i, title in enumerate(by_hadm.get(int(adm.hadm_id[a]), []), 1))
        text = (f"Admission Date:  [**{admit:%Y-%m-%d}**]       Discharge Date:   [**{disch:%Y-%m-%d}**]\n\n"
                f"Service: {'NEONATOLOGY' if adm.newborn[a] else 'MEDICINE'}\n\nDischarge Diagnosis:\n{lines}\n\n"
                f"Discharge Condition: {'expired' if adm.died[a] else 'stable'}\n")
        rows.append((subject[a], adm.hadm_id[a], _days(adm.disch[a]), None, None, "Discharge summary", "Report", None, text))
    cgids = caregivers.column("CGID").to_numpy()
    per_stay = rng.integers(1, 4, len(stays.intime))
    stay = np.repeat(np.arange(len(stays.intime)), per_stay)
    time = _minutes(stays.intime[stay] + rng.random(len(stay)) * (stays.outtime - stays.intime)[stay])
    store = np.minimum(_minutes(time + rng.integers(5, 90, len(stay)) * MINUTE), stays.outtime[stay])
    cgid = cgids[rng.integers(0, len(cgids), len(stay))]
    for s, t, st, cg in zip(stay.tolist(), time.tolist(), store.tolist(), cgid.tolist()):
        a = stays.admission[s]
        text = (f"Nursing progress note, {stays.careunit[s]}.\nNeuro: alert, follows commands.\n"
                f"CV: rate controlled, BP stable.\nResp: lungs clear, sats stable.\nPlan: continue current care.\n")
        rows.append((subject[a], adm.hadm_id[a], _days(t), t, st, "Nursing/other", "Report", cg, text))
    names = ["SUBJECT_ID", "HADM_ID", "CHARTDATE", "CHARTTIME", "STORETIME", "CATEGORY", "DESCRIPTION", "CGID", "TEXT"]
    columns = {name: pa.array([None if v is None else (int(v) if isinstance(v, np.integer) else v) for v in values],
                              type=pa.int64() if COLUMNS_TYPES[name] == TS else COLUMNS_TYPES[name])
               for name, values in zip(names, zip(*rows))}
    return _table("NOTEEVENTS", columns)


# ---------------------------------------------------------------------------- entry points


def generate_tables(spec: SampleSpec) -> dict[str, pa.Table]:
    """Every MIMIC-III table of the sample (NOTEEVENTS only with `spec.notes`), by upper-case name."""
    if spec.patients < 1:
        raise ValueError("patients must be >= 1")
    rng = [np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(11)]
    people, adm, extra = _population(rng[0], spec.patients)
    stays = _icu_stays(rng[1], people, adm)
    grouped = _stays_by_admission(adm, stays)
    transfers, services = _transfers_and_services(rng[2], people, adm, stays, grouped)
    dx_rows, dx_index, dx_seq = _coded(rng[3], codes.DIAGNOSES, adm, 9.0, 4.0, at_least_one=True)
    px_rows, px_index, px_seq = _coded(rng[4], codes.PROCEDURES, adm, 3.2, 1.0, at_least_one=False)
    diagnoses = _icd_table("DIAGNOSES_ICD", people, adm, dx_rows, dx_index, dx_seq, codes.DIAGNOSES)
    caregivers = _caregivers(rng[5], spec.patients)
    chartevents = _chartevents(rng[6], people, adm, stays, caregivers)
    first_code = np.full(len(adm.admit), "", dtype=object)
    first_code[dx_rows[dx_seq == 1]] = np.array([c.code for c in codes.DIAGNOSES], dtype=object)[dx_index[dx_seq == 1]]
    charted = np.zeros(len(adm.admit), dtype=bool)
    charted[stays.admission[np.isin(stays.icustay_id, chartevents.column("ICUSTAY_ID").to_numpy())]] = True
    tables = {
        "PATIENTS": _patients_table(people, extra),
        "ADMISSIONS": _admissions_table(rng[7], people, adm, first_code, charted),
        "ICUSTAYS": _icustays_table(people, adm, stays),
        "TRANSFERS": transfers,
        "SERVICES": services,
        "DIAGNOSES_ICD": diagnoses,
        "PROCEDURES_ICD": _icd_table("PROCEDURES_ICD", people, adm, px_rows, px_index, px_seq, codes.PROCEDURES),
        "PRESCRIPTIONS": _prescriptions(rng[8], people, adm, stays, grouped),
        "LABEVENTS": _labevents(rng[9], people, adm),
        "CHARTEVENTS": chartevents,
        "CAREGIVERS": caregivers,
        **_dictionary_tables(),
    }
    if spec.notes:
        tables["NOTEEVENTS"] = _noteevents(rng[10], people, adm, stays, caregivers, diagnoses)
    return {name: tables[name] for name in COLUMNS if name in tables}


def _encode(table: pa.Table, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "csv":
        pacsv.write_csv(table, buffer)
        return igzip.compress(buffer.getvalue(), compresslevel=2, mtime=0)  # mtime 0: same tables, same bytes
    pq.write_table(table, buffer)
    return buffer.getvalue()


def check_delivery(delivery_id: str, fmt: str) -> None:
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", delivery_id):
        raise ValueError(f"invalid delivery id {delivery_id!r}: letters, digits, '.', '_' and '-', up to 128")


def write_delivery(lake: "ObjectStore", tables: dict[str, pa.Table], delivery_id: str, fmt: str = "csv") -> list[str]:
    """Put one file per table, then the manifest, under `clinical/mimic/<delivery_id>/` in the
    landing zone; returns the keys in write order (the manifest last)."""
    check_delivery(delivery_id, fmt)
    prefix = f"{LANDING_PREFIX}{delivery_id}/"
    suffix = ".csv.gz" if fmt == "csv" else ".parquet"
    written, entries = [], {}
    for name, table in tables.items():
        data = _encode(table, fmt)
        key = f"{prefix}{name}{suffix}"
        lake.put(LANDING_BUCKET, key, data)
        written.append(key)
        entries[name] = {"key": key, "rows": table.num_rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {"source": "mimic-iii", "delivery_id": delivery_id,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "format": fmt, "tables": entries}
    key = f"{prefix}{MANIFEST_NAME}"
    lake.put(LANDING_BUCKET, key, json.dumps(manifest, indent=2).encode())  # last: it makes the delivery complete
    return [*written, key]


def generate(lake: "ObjectStore", spec: SampleSpec) -> list[str]:
    return write_delivery(lake, generate_tables(spec), spec.delivery, spec.fmt)
