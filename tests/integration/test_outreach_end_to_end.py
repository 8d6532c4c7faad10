"""Outreach lake end to end, the way production runs it: sample deliveries land (two days, one
delivery with a field no rule covers), `catch-up` runs the outreach_deliveries sensor, the loads
and the dbt build. Outputs are compared with an independent reading of the landing files (csv,
json and hmac here, not DuckDB or the platform's rules code), and scanned for leaks."""

from __future__ import annotations

import csv
import gzip
import hashlib
import hmac
import io
import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from assets.outreach import sample
from conftest import asset_check_evaluations

pytestmark = pytest.mark.slow

DAYS = (date(2026, 12, 5), date(2026, 12, 6))
SEED = 7
NULL_TOKENS = {"", "N/A", "NA", "NULL", "NONE", "-", "?", "UNKNOWN"}
TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S")


@dataclass(frozen=True)
class Build:
    home: Path
    landing: Path
    ports: dict
    checks: dict
    failures: dict  # run id -> reason
    token_key: bytes


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Build:
    from dataplatform import settings
    from dataplatform.catchup import catch_up
    from dataplatform.definitions import build_definitions
    from dataplatform.environments import ports
    from dataplatform.governance.protection import token_key

    home = tmp_path_factory.mktemp("outreach")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATAPLATFORM_HOME", str(home))
        patch.setenv("DATAPLATFORM_ENV", "local")
        patch.delenv("DAGSTER_HOME", raising=False)
        adapters = ports()
        for day in DAYS:
            sample.generate(adapters["lake"], sample.SampleSpec(members=60, outreaches=150, day=day, seed=SEED,
                                                                unruled_field=day == DAYS[-1]))
        with dg.instance_for_test() as instance:
            summary = catch_up(build_definitions(), instance)
            checks = asset_check_evaluations(instance)
        key = token_key(adapters["keys"], adapters["kv"], "outreach")
        yield Build(home, settings.lake_root() / "landing" / "outreach", adapters, checks, summary.failures, key)


def _token(key: bytes, value: str) -> str:
    return hmac.new(key, b"member_id\x00" + value.encode(), hashlib.sha256).hexdigest()[:32]


def _records(path: Path):
    """(fields or None for a malformed record) of a delivered data file, read with csv / json."""
    text = (gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()).decode()
    if ".jsonl" in path.name:
        for line in text.splitlines():
            try:
                yield json.loads(line)
            except ValueError:
                yield None
    else:
        rows = list(csv.reader(io.StringIO(text)))
        for row in rows[1:]:
            yield dict(zip(rows[0], row)) if len(row) == len(rows[0]) else None


def _clean(value):
    value = (value or "").strip().upper()
    return None if value in NULL_TOKENS else value


def _timestamp(text: str):
    for fmt in TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    return None


def expected_responses(build: Build):
    """(mapped answers, unmapped reasons, rejected records) computed from the landing files."""
    catalogue = _catalogue()
    mapped, unmapped, rejected = Counter(), Counter(), 0
    for path in sorted(build.landing.glob("responses/*/responses-*")):
        for record in _records(path):
            answered = _timestamp(record["answered_at"]) if record else None
            if answered is None:
                rejected += 1
                continue
            code, response = _clean(record["question_code"]), _clean(record["response"])
            found = _question(catalogue, code, answered.date())
            if found is None:
                unmapped[f"unknown question code {code}"] += 1
                continue
            name, question = found
            responses = {str(k).upper(): v for k, v in question["responses"].items()}
            if response is None:
                unmapped["no response"] += 1
            elif response not in responses:
                unmapped[f"response {response} is not an answer to {question['question_id']} v{question['version']}"] += 1
            else:
                mapped[(record["outreach_id"].strip(), _token(build.token_key, _clean(record["member_id"])), name,
                        question["question_id"], question["version"], responses[response], answered)] += 1
    return mapped, unmapped, rejected


def _query(build: Build, sql: str):
    con = duckdb.connect()
    try:
        return con.execute(sql.replace("$lake", str(build.home / "lake"))).fetchall()
    finally:
        con.close()


def test_curated_answers_equal_an_independent_mapping(build):
    assert len(build.failures) == 1, build.failures  # the refused delivery's run (below)
    mapped, unmapped, rejected = expected_responses(build)
    curated = Counter(_query(build, "select outreach_id, member_token, questionnaire, question_id, question_version, "
                                    "response_code, answered_at from read_parquet('$lake/curated/outreach/responses/*/*/*.parquet')"))
    assert curated == mapped and sum(mapped.values()) > 1000
    reasons = Counter(dict(_query(build, "select reason, count(*) from read_parquet("
                                         "'$lake/curated/outreach/response_unmapped/*/*/*.parquet') group by reason")))
    assert reasons == unmapped
    assert reasons["unknown question code HC99"] == 2 * len(DAYS)  # the sample's two per delivery
    rejects = _query(build, "select count(*) from read_parquet('$lake/restricted/outreach/responses_rejects/*/*/*.parquet')")
    assert rejects[0][0] == rejected == 3 * len(DAYS)  # a short row, a non-JSON line, an unreadable time per delivery


def test_every_record_is_accounted_for_and_nothing_leaks(build):
    for feed in ("responses", "members", "pharmacy_claims"):
        for check in ("records_reconcile", "no_identifier_leaks"):
            evaluation = build.checks[(f"curated/outreach/{feed}", check)]
            assert evaluation.passed, (feed, check, evaluation.metadata)
    # Values as delivered, in file order, every delivered record once (malformed ones in the rejects).
    import pyarrow.parquet as pq

    for path in (build.home / "lake/restricted/outreach/responses").rglob("*.parquet"):
        rows = pq.read_table(path, columns=["source_key", "record_number"]).to_pylist()
        order = [(r["source_key"], r["record_number"]) for r in rows]
        assert order == sorted(order) and len(set(order)) == len(order), path
    # Run by automation after the marts were built: every curated table and outreach mart scanned.
    scan = build.checks[("marts/member_engagement", "no_identifier_leaks")]
    assert scan.passed and scan.metadata["needles"].value > 1000 and scan.metadata["mart_tables"].value >= 4, scan


def _catalogue() -> dict:
    return yaml.safe_load((Path(__file__).parents[2] / "platform/policies/outreach_rules.yaml").read_text())["catalogue"]


def _question(catalogue: dict, code: str | None, day: date):
    """(questionnaire, question) a source code means on a day, or None."""
    for name, spec in catalogue.items():
        for q in spec["questions"]:
            if code in q["source_codes"] and date.fromisoformat(q["valid_from"]) <= day and (
                    not q.get("valid_until") or day < date.fromisoformat(q["valid_until"])):
                return name, q
    return None


def expected_pivots(build: Build) -> dict[str, dict[str, dict]]:
    """questionnaire -> outreach -> question -> its value in the pivot, from the landing files: each
    outreach's latest delivery; a single answer's last mapped code, a multi-select's codes sorted."""
    catalogue = _catalogue()
    records = {}  # outreach -> (delivery, [records in file order]); later deliveries replace earlier ones
    for folder in sorted(build.landing.glob("responses/*")):
        for path in sorted(folder.glob("responses-*")):
            for record in filter(None, _records(path)):
                outreach = record["outreach_id"].strip()
                if records.get(outreach, ("",))[0] != folder.name:
                    records[outreach] = (folder.name, [])
                records[outreach][1].append(record)
    answers: dict[tuple, list[str]] = {}
    for outreach, (_, given) in records.items():
        for record in given:
            answered = _timestamp(record["answered_at"])
            found = _question(catalogue, _clean(record["question_code"]), answered.date()) if answered else None
            if found is None:
                continue
            name, question = found
            code = {str(k).upper(): v for k, v in question["responses"].items()}.get(_clean(record["response"]))
            if code is not None:
                answers.setdefault((name, outreach, question["question_id"], question["answers"]), []).append(code)
    pivots: dict[str, dict[str, dict]] = {name: {} for name in catalogue}
    for (name, outreach, question, kind), codes in answers.items():
        pivots[name].setdefault(outreach, {})[question] = "|".join(sorted(set(codes))) if kind == "multi" else codes[-1]
    return pivots


def test_each_questionnaires_pivot_equals_an_independent_computation(build):
    catalogue = _catalogue()
    expected = expected_pivots(build)
    warehouse = duckdb.connect(str(build.home / "warehouse.duckdb"), read_only=True)
    try:
        for name, spec in catalogue.items():
            questions = list(dict.fromkeys(q["question_id"] for q in spec["questions"]))
            rows = warehouse.execute(f"select outreach_id, {', '.join(questions)}, questions_answered, is_complete "
                                     f"from marts.outreach_{name}").fetchall()
            actual = {row[0]: {q: v for q, v in zip(questions, row[1:]) if v is not None} for row in rows}
            assert actual == expected[name] and len(actual) > 50, name
            for row in rows:
                assert row[-2] == len(actual[row[0]]) and row[-1] == (len(actual[row[0]]) == len(questions))
    finally:
        warehouse.close()


def test_tokens_join_feeds_and_deliveries_and_hide_the_member(build):
    canary = sample.canaries(SEED)
    token = _token(build.token_key, canary["member_id"].upper())
    for table in ("responses", "members", "pharmacy_claims"):
        days = _query(build, f"select distinct delivery_id from read_parquet('$lake/curated/outreach/{table}/*/*/*.parquet') "
                             f"where member_token = '{token}'")
        assert len(days) == len(DAYS), table  # the same member, the same token, in every delivery
    assert not _query(build, f"select 1 from read_parquet('$lake/curated/outreach/members/*/*/*.parquet') "
                             f"where member_token = '{hashlib.sha256(canary['member_id'].encode()).hexdigest()}'")


def test_a_field_without_a_rule_refuses_its_delivery(build):
    from assets.outreach import state

    assert not list((build.home / "lake/curated/outreach/members").glob("*/*/part-2026-12-06-m02.parquet"))
    assert not list((build.home / "lake/restricted/outreach/members").glob("*/*/part-2026-12-06-m02.parquet"))
    outcome = state.outcomes(build.ports["kv"])["members/2026-12-06-m02"]
    assert outcome["status"] == "refused" and "'ssn'" in outcome["detail"]
    landing_check = build.checks[("landing/outreach/deliveries", "deliveries_published")]
    assert not landing_check.passed and "ssn" in landing_check.description
    statuses = Counter(m["message"]["status"] for m in build.ports["notify"].messages("outreach-deliveries"))
    assert statuses == {"published": 3 * len(DAYS), "refused": 1}


def test_reveal_round_trips_for_authorised_users_only_and_is_audited(build):
    from assets.outreach import reveal, state
    from dataplatform.governance.protection import decrypt_value, key_ref_of

    canary = sample.canaries(SEED)
    token = _token(build.token_key, canary["member_id"].upper())
    digits = "".join(c for c in canary["phone"] if c.isdigit())
    revealed, audit_key = reveal.reveal(build.ports, "care-coordination", token, "phone", "re-contact after a missed call")
    assert revealed["phone"][0] == "+" + digits
    with pytest.raises(reveal.NotAuthorised):
        reveal.reveal(build.ports, "intern", token, None, "curious")
    audit = dict(build.ports["kv"].scan(state.REVEAL_AUDIT))
    assert audit[audit_key]["allowed"] == 1 and sorted(a["allowed"] for a in audit.values()) == [0, 1]
    [[ciphertext]] = _query(build, f"select phone_encrypted from read_parquet('$lake/curated/outreach/members/*/*/*.parquet') "
                                   f"where member_token = '{token}' limit 1")
    key = state.data_key(build.ports["keys"], build.ports["kv"], key_ref_of(ciphertext))
    with pytest.raises(ValueError):
        decrypt_value(key, ciphertext, "members/email")  # other associated data: refused
    assert decrypt_value(key, ciphertext, "members/phone") == "+" + digits


def test_canaries_are_only_in_raw_restricted(build):
    canary = sample.canaries(SEED)
    values = {canary[f] for f in ("member_id", "name", "email", "mrn", "address")}
    values |= {hashlib.sha256(v.encode()).hexdigest() for v in values} | {hashlib.md5(v.encode()).hexdigest() for v in values}
    raw = _strings(build, build.home / "lake/restricted/outreach")
    assert {v for v in values if v in raw} >= {canary["member_id"], canary["name"], canary["email"], canary["mrn"]}
    curated = _strings(build, build.home / "lake/curated/outreach")
    assert not [v for v in values if v in curated]
    warehouse = duckdb.connect(str(build.home / "warehouse.duckdb"), read_only=True)
    try:
        tables = warehouse.execute("select table_schema, table_name from information_schema.tables "
                                   "where table_name like '%outreach%' or table_name = 'member_engagement'").fetchall()
        assert any(name == "member_engagement" for _, name in tables)
        marts = set()
        for schema, name in tables:
            columns = [c for c, kind in warehouse.execute(f"select column_name, data_type from information_schema.columns "
                                                         f"where table_schema = '{schema}' and table_name = '{name}'").fetchall()
                       if kind == "VARCHAR"]
            for column in columns:
                marts |= {row[0] for row in warehouse.execute(f'select distinct "{column}" from {schema}.{name}').fetchall()}
    finally:
        warehouse.close()
    assert not [v for v in values if v in marts]


def _strings(build: Build, root: Path) -> set[str]:
    """Every string cell of every Parquet file under `root`, read with pyarrow."""
    import pyarrow.parquet as pq

    cells = set()
    for path in root.rglob("*.parquet"):
        table = pq.read_table(path)
        for column in table.columns:
            if str(column.type) == "string":
                cells |= {v for v in column.to_pylist() if v is not None}
    return cells
