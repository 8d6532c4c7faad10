"""Outreach rules: the policy is checked when read, and each cleansing step and action does what
the rule file says, compared with values computed here by hand (not by the same SQL)."""

from __future__ import annotations

import copy
from datetime import date

import duckdb
import pytest

from assets.outreach import leaks
from assets.outreach.rules import RuleError, parse, rules
from assets.outreach.transform import cleansing_sql
from dataplatform.governance.policies import load

DAY = date(2026, 12, 6)


def _document() -> dict:
    return copy.deepcopy(load("outreach_rules"))


def _cleanse(feed_name: str, rows: list[dict]) -> list[dict]:
    feed = rules().feed(feed_name)
    names = [r.field for r in feed.fields]
    con = duckdb.connect()
    con.execute("CREATE TABLE delivered (" + ", ".join(f'"{n}" VARCHAR' for n in names) + ", _source_key VARCHAR, _record BIGINT)")
    con.executemany(f"INSERT INTO delivered VALUES ({', '.join('?' for _ in names)}, 'k', ?)",
                    [[row.get(n) for n in names] + [i] for i, row in enumerate(rows, start=1)])
    result = con.execute(cleansing_sql(feed, rules(), "delivered", DAY, names) + " ORDER BY _record")
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, values)) for values in result.fetchall()]


MEMBER = {"member_id": " m123 ", "name": "Ann Lee", "birth_date": "1950-03-04", "phone": "(202) 555-0147",
          "email": " Ann@Example.org ", "address": "1 Main St", "zip": "02139", "state": " ma", "plan": "gold ", "mrn": "mrn1234567"}


def test_member_fields_follow_their_rules():
    [row] = _cleanse("members", [MEMBER])
    assert row["_errors"] is None
    assert "name" not in row and "address" not in row  # dropped
    assert row["member_token"] == "M123"  # cleansed; the token is made outside SQL, from this value
    assert row["birth_year"] == 1950
    assert row["phone_encrypted"] == "+12025550147"  # E.164 plaintext, encrypted outside SQL
    assert row["email"] == "[REDACTED]"
    assert row["zip3"] == "021"
    assert row["state"] == "MA" and row["plan"] == "GOLD"
    assert row["mrn_masked"] == "*" * (len("MRN1234567") - 4) + "4567"


@pytest.mark.parametrize("field, value, expected", [
    ("birth_date", "1930-12-08", DAY.year - 90),  # 95 years old: shown as 90
    ("birth_date", "1936-12-07", 1936),  # 89 on the delivery day
    ("birth_date", "03/04/1950", 1950),  # US format
    ("zip", "03601", "000"),  # a low-population ZIP3 (Safe Harbor)
    ("zip", "02139-4307", "021"),  # ZIP+4
    ("phone", "1-202-555-0147", "+12025550147"),
    ("phone", "N/A", None),  # a null token is no value, not an error
    ("email", "", None),
    ("mrn", "12", "**"),  # shorter than what a mask keeps: all masked
])
def test_generalisation_and_cleansing(field, value, expected):
    output = rules().feed("members").rule(field).output
    [row] = _cleanse("members", [{**MEMBER, field: value}])
    assert row["_errors"] is None and row[output] == expected


@pytest.mark.parametrize("field, value, reason", [
    ("birth_date", "1990-02-30", "birth_date is not a date: 1990-02-30"),
    ("phone", "555-0147", "phone is not a US phone number: 555-0147"),
    ("zip", "1234", "zip is not a 5 or 9 digit ZIP code: 1234"),
    ("state", "Massachusetts", "state is not a US state code: MASSACHUSETTS"),
    ("birth_date", "2027-01-01", "birth_date is after the delivery date: 2027-01-01"),
])
def test_a_value_a_rule_cannot_read_rejects_the_row_with_field_and_reason(field, value, reason):
    [row] = _cleanse("members", [{**MEMBER, field: value}])
    assert row["_errors"] == reason


def test_every_error_of_a_row_is_reported():
    [row] = _cleanse("members", [{**MEMBER, "birth_date": "soon", "state": "XX"}])
    assert row["_errors"].split("; ") == ["birth_date is not a date: soon", "state is not a US state code: XX"]


def test_response_timestamps_and_codes():
    rows = _cleanse("responses", [
        {"outreach_id": "O1", "member_id": "m1", "campaign": " Wellness ", "channel": " IVR", "question_code": " hc01",
         "question_text": "x", "response": " yes ", "answered_at": "2026-12-06T14:03:22Z"},
        {"outreach_id": "O1", "member_id": "m1", "campaign": "w", "channel": "ivr", "question_code": "HC02",
         "question_text": "x", "response": "n/a", "answered_at": "2026-12-06 14:04:00"},
    ])
    assert [r["_errors"] for r in rows] == [None, None]
    assert rows[0]["campaign"] == "wellness" and rows[0]["channel"] == "ivr" and rows[0]["question_code"] == "HC01"
    assert rows[0]["response"] == "YES" and str(rows[0]["answered_at"]) == "2026-12-06 14:03:22"
    assert rows[1]["response"] is None and "question_text" not in rows[1]


def test_keeping_an_identifier_needs_a_reason():
    document = _document()
    del document["feeds"]["responses"]["fields"]["answered_at"]["reason"]
    with pytest.raises(RuleError, match="answered_at: keeps a date identifier without a reason"):
        parse(document)


def test_unknown_classification_action_and_step_are_refused():
    for change, message in [
        (("classification", "secret"), "neither not_identifying nor a Safe Harbor type"),
        (("action", "hash"), "action 'hash' is not one of"),
        (("cleanse", ["trim", "soundex"]), "unknown cleansing steps"),
    ]:
        document = _document()
        document["feeds"]["members"]["fields"]["plan"][change[0]] = change[1]
        with pytest.raises(RuleError, match=message):
            parse(document)


def test_a_source_code_means_one_question_version_per_day():
    document = _document()
    document["catalogue"]["health_check"]["questions"][0]["valid_until"] = "2026-08-01"  # overlaps v2 from 2026-07-01
    with pytest.raises(RuleError, match="HC01"):
        parse(document)


def test_the_digest_tells_rule_sets_apart():
    document = _document()
    document["feeds"]["members"]["fields"]["plan"]["action"] = "drop"
    assert parse(document).digest != rules().digest and parse(_document()).digest == rules().digest


def test_unruled_fields_are_named():
    assert rules().feed("members").unruled(["member_id", "ssn", "name", "favourite_colour"]) == ["ssn", "favourite_colour"]


def test_needles_cover_delivered_forms_and_their_digests():
    import hashlib

    con = duckdb.connect()
    con.execute("CREATE TABLE delivered AS SELECT ' M123456789 ' AS member_id, 'Ann Lee' AS name, '1950-03-04' AS birth_date, "
                "'(202) 555-0147' AS phone, 'Ann@Example.org' AS email, '1 Main St' AS address, '02139' AS zip, "
                "'MA' AS state, 'GOLD' AS plan, 'MRN1234567' AS mrn")
    needles = {row[0] for row in con.execute(leaks.needles_sql([(rules().feed("members"), "delivered")])).fetchall()}
    for value in ("M123456789", "Ann Lee", "ann@example.org", "2025550147", "+12025550147", "02139", "MRN1234567"):
        assert value in needles
        assert hashlib.sha256(value.encode()).hexdigest() in needles and hashlib.md5(value.encode()).hexdigest() in needles
    assert "MA" not in needles and "GOLD" not in needles  # not identifying


def test_the_byte_scan_finds_an_identifier_in_a_parquet_footer(tmp_path):
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    con = duckdb.connect()
    con.execute("CREATE TABLE needles AS SELECT 'M123456789' AS needle UNION ALL SELECT sha256('Ann Lee')")
    clean, leaky = tmp_path / "clean.parquet", tmp_path / "leaky.parquet"
    pq.write_table(pa.table({"member_token": ["0" * 32]}), clean, compression="zstd")
    digest = hashlib.sha256(b"Ann Lee").hexdigest()
    table = pa.table({"x": ["y"]}).replace_schema_metadata({"note": f"member M123456789 ({digest})"})
    pq.write_table(table, leaky, compression="zstd")
    assert leaks.scan_files(con, "needles", [clean, leaky]) == {str(leaky): 2}


def test_json_lines_are_loaded_or_malformed_with_a_reason(tmp_path):
    from assets.outreach import load

    path = tmp_path / "responses.jsonl"
    path.write_text('{"outreach_id": "O1", "member_id": 5, "response": null}\nnot json\n[1, 2]\n'
                    '{"outreach_id": {"x": 1}}\n{"outreach_id": "O2", "answered_at": "2026-12-06T10:00:00Z"}\n"str"\n')
    con = duckdb.connect()
    loaded, malformed = load._read_jsonl(con, path, "k.jsonl", rules().feed("responses"), "f0")
    assert loaded == 2 and [(line, why) for line, _, why in malformed] == [
        (2, "not JSON"), (3, "a JSON value, not an object"), (4, "a field holds an object or array, not a value"),
        (6, "a JSON value, not an object")]
    rows = con.execute("SELECT outreach_id, member_id, response, answered_at, _record FROM f0 ORDER BY _record").fetchall()
    assert rows == [("O1", "5", None, None, 1), ("O2", None, None, "2026-12-06T10:00:00Z", 5)]  # a number as text
    path.write_text('{"outreach_id": "O1", "ssn": "123-45-6789"}\n')
    with pytest.raises(load.DeliveryRefused, match="field\\(s\\) 'ssn' of k.jsonl have no rule"):
        load._read_jsonl(duckdb.connect(), path, "k.jsonl", rules().feed("responses"), "f0")
