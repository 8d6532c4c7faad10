"""The outreach sample generator, checked on the stored objects independently of how they were
drawn: the delivery layout and its manifests, determinism, the rules' field names, the canary,
multi-select answers, the catalogue's question codes and the deliberate faults' counts."""

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from assets.outreach.sample import BUCKET, SampleSpec, canaries, generate
from dataplatform.resources.lake import LocalObjectStore

RULES = yaml.safe_load((Path(__file__).parents[2] / "platform" / "policies" / "outreach_rules.yaml").read_text())
DAY = date(2026, 7, 15)
SPEC = SampleSpec(members=200, outreaches=400, day=DAY, seed=11, unruled_field=True)
M01, M02 = f"outreach/members/{DAY}-m01/", f"outreach/members/{DAY}-m02/"
R01, CLAIMS = f"outreach/responses/{DAY}-r01/", f"outreach/pharmacy_claims/{DAY}/"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    lake = LocalObjectStore(tmp_path_factory.mktemp("lake"))
    return lake, generate(lake, SPEC)


def decoded(name: str, data: bytes) -> str:
    return (gzip.decompress(data) if name.endswith(".gz") else data).decode()


def csv_records(lake, key: str) -> list[list[str]]:
    """Every record, the header first."""
    return list(csv.reader(io.StringIO(decoded(key, lake.get(BUCKET, key)))))


def table(lake, key: str) -> list[dict[str, str]]:
    header, *rows = csv_records(lake, key)
    return [dict(zip(header, row)) for row in rows if len(row) == len(header)]


def jsonl_lines(lake, key: str) -> list[str]:
    return decoded(key, lake.get(BUCKET, key)).splitlines()


def parsed_lines(lines: list[str]) -> list[dict]:
    objects = []
    for line in lines:
        try:
            objects.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return objects


def responses(lake, day: date = DAY) -> list[dict[str, str]]:
    """The readable response rows of both files."""
    folder = f"outreach/responses/{day}-r01/"
    return table(lake, folder + "responses-0001.csv.gz") + parsed_lines(jsonl_lines(lake, folder + "responses-0002.jsonl"))


def fields(feed: str) -> list[str]:
    return list(RULES["feeds"][feed]["fields"])


def valid_questions(day: date) -> dict[str, dict]:
    """Source code -> the catalogue question version valid on `day`."""
    out = {}
    for questionnaire in RULES["catalogue"].values():
        for q in questionnaire["questions"]:
            if q["valid_from"] <= day.isoformat() < q.get("valid_until", "9999"):
                out |= {code: q for code in q["source_codes"]}
    return out


def test_layout_and_manifests_last_matching_the_stored_files(sample):
    lake, written = sample
    keys = [info.key for info in written]
    assert set(keys) == set(lake.list_keys(BUCKET)) == {
        M01 + "members-0001.csv.gz", M01 + "manifest.json", M02 + "members-0001.csv.gz", M02 + "manifest.json",
        R01 + "responses-0001.csv.gz", R01 + "responses-0002.jsonl", R01 + "manifest.json", CLAIMS + "claims-0001.csv"}
    manifests = [k for k in keys if k.endswith("/manifest.json")]
    assert keys[-len(manifests):] == manifests  # no delivery is complete before every file is stored
    for manifest_key in manifests:
        folder = manifest_key.removesuffix("manifest.json")
        manifest = json.loads(lake.get(BUCKET, manifest_key))
        _, feed, delivery_id, _ = manifest_key.split("/")
        assert (manifest["feed"], manifest["delivery_id"]) == (feed, delivery_id) and delivery_id.startswith(str(DAY))
        datetime.strptime(manifest["created_at"], "%Y-%m-%dT%H:%M:%SZ")
        assert {f["name"] for f in manifest["files"]} == {k.removeprefix(folder) for k in keys if k.startswith(folder)} - {"manifest.json"}
        for entry in manifest["files"]:
            data = lake.get(BUCKET, folder + entry["name"])
            text = decoded(entry["name"], data)
            rows = len(text.splitlines()) if entry["name"].endswith(".jsonl") else len(list(csv.reader(io.StringIO(text)))) - 1
            assert (entry["bytes"], entry["sha256"], entry["rows"]) == (len(data), hashlib.sha256(data).hexdigest(), rows)
    assert len(csv_records(lake, M01 + "members-0001.csv.gz")) - 1 == SPEC.members


def test_same_seed_same_bytes(tmp_path):
    spec = SampleSpec(members=40, outreaches=60, day=DAY, seed=3, unruled_field=True)
    stored = []
    for run in ("a", "b", "c"):
        lake = LocalObjectStore(tmp_path / run)
        generate(lake, spec if run != "c" else SampleSpec(members=40, outreaches=60, day=DAY, seed=4))
        stored.append({key: lake.get(BUCKET, key) for key in lake.list_keys(BUCKET)})
    assert stored[0] == stored[1]
    assert stored[0][M01 + "members-0001.csv.gz"] != stored[2][M01 + "members-0001.csv.gz"]


def test_headers_are_the_rules_field_names(sample):
    lake, _ = sample
    assert csv_records(lake, M01 + "members-0001.csv.gz")[0] == fields("members")
    assert csv_records(lake, R01 + "responses-0001.csv.gz")[0] == fields("responses")
    assert csv_records(lake, CLAIMS + "claims-0001.csv")[0] == fields("pharmacy_claims")
    assert all(list(row) == fields("responses") for row in parsed_lines(jsonl_lines(lake, R01 + "responses-0002.jsonl")))


def test_the_canary_is_a_member_answering_with_claims(sample):
    lake, _ = sample
    canary = canaries(SPEC.seed)
    assert set(canary) == {"member_id", "name", "birth_date", "phone", "email", "address", "zip", "mrn"}
    assert canaries(SPEC.seed + 1)["email"] != canary["email"]
    [member] = [row for row in table(lake, M01 + "members-0001.csv.gz") if row["member_id"] == canary["member_id"]]
    assert canary.items() <= member.items()
    campaigns = {row["campaign"] for row in responses(lake) if row["member_id"].strip().upper() == canary["member_id"]}
    assert campaigns == {"2026-annual-wellness", "2026-adherence"}
    assert any(row["member_id"].strip().upper() == canary["member_id"] for row in table(lake, CLAIMS + "claims-0001.csv"))


def test_multi_select_questions_have_several_rows_per_outreach(sample):
    lake, _ = sample
    multi = {code for q in valid_questions(DAY).values() if q["answers"] == "multi" for code in q["source_codes"]}
    answers = defaultdict(list)
    for row in responses(lake):
        answers[row["outreach_id"], row["question_code"]].append(row["response"].strip().upper())
    assert all(len(given) == 1 for (_, code), given in answers.items() if code not in multi)
    several = [given for (_, code), given in answers.items() if code in multi and len(given) > 1]
    assert several and all(len(given) <= 3 for given in several)
    assert any(len(set(given)) == len(given) == 3 for given in several)


@pytest.mark.parametrize("day", [DAY, date(2026, 3, 2)])
def test_question_codes_and_texts_come_from_the_catalogue(tmp_path, day):
    lake = LocalObjectStore(tmp_path)
    generate(lake, SampleSpec(members=50, outreaches=300, day=day))
    valid = valid_questions(day)
    rows = [row for row in responses(lake, day) if row["question_code"] != "HC99"]
    assert all(valid[row["question_code"]]["text"] == row["question_text"] for row in rows)
    assert ("HC01B" in {row["question_code"] for row in rows}) == (day >= date(2026, 7, 1))  # version 2 adds HC01B


def test_deliberate_faults_have_their_fixed_counts(sample):
    lake, _ = sample
    header, *csv_rows = csv_records(lake, R01 + "responses-0001.csv.gz")
    assert Counter(len(row) for row in csv_rows) == {len(header): len(csv_rows) - 1, len(header) - 1: 1}
    lines = jsonl_lines(lake, R01 + "responses-0002.jsonl")
    assert len(lines) - len(parsed_lines(lines)) == 1
    rows = responses(lake)
    assert Counter(row["question_code"] for row in rows)["HC99"] == 2
    assert Counter(row["response"] for row in rows)["MAYBE"] == 2
    stamps = [row["answered_at"] for row in rows]
    assert stamps.count("yesterday") == 1
    assert all(re.fullmatch(rf"{DAY}(T\d\d:\d\d:\d\dZ| \d\d:\d\d:\d\d)", s) for s in stamps if s != "yesterday")
    members = table(lake, M01 + "members-0001.csv.gz")
    assert [m["birth_date"] for m in members].count("1990-02-30") == 1
    roster = {m["member_id"] for m in members}
    assert len({row["outreach_id"] for row in rows if row["member_id"].strip().upper() not in roster}) == 3


def test_members_and_claims_carry_the_noise_the_cleansing_absorbs(sample):
    lake, _ = sample
    members = table(lake, M01 + "members-0001.csv.gz")
    phones = [m["phone"] for m in members if m["phone"] not in ("", "N/A")]
    assert all(len(re.sub(r"\D", "", p).removeprefix("1") if p.startswith("+1") else re.sub(r"\D", "", p)) == 10 for p in phones)
    assert len({re.sub(r"\d", "9", p) for p in phones}) == 4  # four formats
    assert all(re.fullmatch(r"\d{5}", m["zip"]) for m in members)
    assert any(m["zip"].startswith("0") for m in members)
    assert any(m["zip"][:3] in RULES["low_population_zip3"] for m in members)
    assert any(m["state"] != m["state"].strip().upper() for m in members)
    assert any("," in m["address"] and '"' in m["address"] for m in members)
    claims = table(lake, CLAIMS + "claims-0001.csv")
    for claim in claims:
        filled = datetime.strptime(claim["fill_date"], "%Y%m%d" if "-" not in claim["fill_date"] else "%Y-%m-%d").date()
        assert 1 <= (DAY - filled).days <= 90 and claim["days_supply"] in ("30", "90")
        assert len(claim["ndc"].replace("-", "")) == 11 and re.fullmatch(r"\d{10}", claim["prescriber_npi"])


def test_the_unruled_delivery_is_opt_in_and_leaves_the_rest_unchanged(sample, tmp_path):
    lake, _ = sample
    header, *rows = csv_records(lake, M02 + "members-0001.csv.gz")
    assert header == [*fields("members"), "ssn"] and len(rows) == 5
    plain = LocalObjectStore(tmp_path)
    generate(plain, SampleSpec(members=SPEC.members, outreaches=SPEC.outreaches, day=DAY, seed=SPEC.seed))
    keys = set(plain.list_keys(BUCKET))
    assert keys == set(lake.list_keys(BUCKET)) - {M02 + "members-0001.csv.gz", M02 + "manifest.json"}
    assert all(plain.get(BUCKET, key) == lake.get(BUCKET, key) for key in keys)


def test_too_small_a_sample_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least"):
        generate(LocalObjectStore(tmp_path), SampleSpec(members=3, outreaches=100, day=DAY))
