"""Synthetic outreach deliveries, for tests, demos and benchmarks of the rules in
platform/policies/outreach_rules.yaml.

`generate(lake, SampleSpec(...))` writes into the landing bucket, under `outreach/<feed>/<delivery id>/`:

    members/<day>-m01/          members-0001.csv.gz (`members` rows), manifest.json
    responses/<day>-r01/        responses-0001.csv.gz and responses-0002.jsonl, manifest.json
    pharmacy_claims/<day>/      claims-0001.csv (no manifest: the feed closes at a daily cut-off)
    members/<day>-m02/          with `unruled_field`: 5 new members with an extra `ssn` column, manifest.json

Every data file is written before any manifest, since a manifest completes its delivery.

Noise the rules' cleansing has to absorb (rates, so counts vary with seed and size): phones in four
formats, state codes in lower case or padded, plans in mixed case, some dates MM/DD/YYYY (birth
dates), YYYYMMDD (fill dates) or `YYYY-MM-DD HH:MM:SS` (answers), emails in mixed case, "N/A" or
empty emails and phones, responses in lower case or padded and ~1 % "N/A", channels " IVR",
"Agent ", member ids in lower case or padded in responses and claims, NDCs with dashes,
addresses with commas and quotes, ZIPs with leading zeros and, for ~1 % of the members and the
canary, from Safe Harbor's low-population ZIP3s. Ages run 18-100 (~13 % over 89).

Deliberate faults, fixed counts whatever the size, never on the canary. Each response fault is on
its own outreach of a roster member: on the outreach's first row, or an extra row after its last.

    members-0001.csv.gz     1 row with the impossible birth date 1990-02-30
    responses-0001.csv.gz   1 row with 7 columns instead of 8 (answered_at missing)
                            1 row answered at "yesterday"
                            1 extra row with the unknown question code HC99
                            1 row answering "MAYBE" (not in the question's responses)
    responses-0002.jsonl    1 line that is not JSON (cut short)
                            1 extra row with the unknown question code HC99
                            1 row answering "MAYBE"

Besides, 3 outreaches (all their rows) are of member ids that are not in the roster.

The canary member (`canaries(seed)`) is in the roster, completes one outreach of each campaign
(one in each responses file, no faults) and has pharmacy claims: tests follow its identifiers.
Deterministic: one spec gives byte-identical objects (created_at is 23:00Z of the day, 23:30Z for m02).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations

from faker import Faker
from isal import igzip

from dataplatform.governance.policies import load

BUCKET = "landing"
PREFIX = "outreach/"
RULES = "outreach_rules"

MEMBER_FIELDS = ("member_id", "name", "birth_date", "phone", "email", "address", "zip", "state", "plan", "mrn")
RESPONSE_FIELDS = ("outreach_id", "member_id", "campaign", "channel", "question_code", "question_text", "response",
                   "answered_at")
CLAIM_FIELDS = ("member_id", "ndc", "fill_date", "days_supply", "prescriber_npi")
RESPONSE, ANSWERED_AT = RESPONSE_FIELDS.index("response"), RESPONSE_FIELDS.index("answered_at")

CAMPAIGNS = {"2026-annual-wellness": "health_check", "2026-adherence": "medication_adherence"}
CAMPAIGN_DRAW = ("2026-annual-wellness",) * 3 + ("2026-adherence",) * 2
CHANNELS = ("ivr",) * 6 + ("IVR", " IVR", "agent", "Agent ")  # ~80 % IVR; agents key the channel by hand
PLANS = ("GOLD", "GOLD", "SILVER", "SILVER", "BRONZE", "PLATINUM", "silver ", "Gold", " bronze")
AREA_CODES = (202, 206, 212, 215, 303, 305, 312, 404, 415, 503, 602, 614, 615, 617, 702, 713, 801, 808, 907, 919)
EXCHANGES = tuple(n for n in range(200, 1000) if n != 555)  # 555-01xx is fictional: left to the canary
PHONE_FORMATS = ("({0}) {1}-{2:04d}", "{0}.{1}.{2:04d}", "+1 {0} {1} {2:04d}", "{0}{1}{2:04d}")
NONE_OF_THESE = {"none", "nothing"}  # multi-select answers that are only ever given alone

UNKNOWN_MEMBERS = 3  # outreaches of member ids not in the roster
UNRULED_ROWS = 5
INVALID_BIRTH_DATE = "1990-02-30"
UNKNOWN_QUESTION = ("HC99", "How many glasses of water do you drink a day?", "3")  # not (yet) in the catalogue
UNMAPPED_RESPONSE = "MAYBE"
CSV_FAULTS = ("malformed", "yesterday", "unknown_code", "unmapped")
JSONL_FAULTS = ("not_json", "unknown_code", "unmapped")
# Enough outreaches that each part holds its faulty outreaches besides the canary's and the unknown members'.
MIN_MEMBERS, MIN_OUTREACHES = 10, 20


@dataclass(frozen=True)
class SampleSpec:
    members: int
    outreaches: int
    day: date  # the delivery day; delivery ids start with it
    seed: int = 7
    unruled_field: bool = False  # also write the opt-in delivery with a field no rule covers


@dataclass(frozen=True)
class _Question:
    codes: tuple[str, ...]
    text: str
    answers: tuple[tuple[str, ...], ...]  # the possible answers: one response, or 1-3 of a multi-select


@dataclass(frozen=True)
class _Pools:
    """Faker values drawn once: Faker is slow per call, sampling from pools is not."""
    first: list[str]
    last: list[str]
    streets: list[str]
    secondary: list[str]
    places: list[tuple[str, str]]  # (state, ZIP in that state)
    domains: list[str]
    ssns: list[str]


def canaries(seed: int) -> dict[str, str]:
    """The canary member's raw identifiers by field: distinctive, so tests can prove that none
    of them reaches the curated zone. Its member id lies outside the other members' range."""
    return {"member_id": f"M9{seed % 10**8:08d}", "name": "Canary Zyxwvut", "birth_date": "1931-05-17",
            "phone": f"+1 202 555 {100 + seed % 100:04d}", "email": f"canary.{seed}@outreach.example",
            "address": '1 Canary Row, Apt "C"', "zip": "03601", "mrn": f"MRN-CANARY-{seed}"}


def _pools(seed: int) -> _Pools:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    states = [fake.state_abbr(include_territories=False, include_freely_associated_states=False) for _ in range(400)]
    return _Pools(first=[fake.first_name() for _ in range(500)], last=[fake.last_name() for _ in range(800)],
                  streets=[f"{fake.building_number()} {fake.street_name()}" for _ in range(1500)],
                  secondary=[fake.secondary_address() for _ in range(200)],
                  places=[(state, fake.zipcode_in_state(state)) for state in states],
                  domains=[fake.free_email_domain() for _ in range(30)], ssns=[fake.ssn() for _ in range(UNRULED_ROWS)])


def _questionnaires(day: date) -> dict[str, list[_Question]]:
    """Per questionnaire, its questions in the version valid on `day` (valid_until exclusive)."""
    out = {}
    for name, questionnaire in load(RULES)["catalogue"].items():
        out[name] = []
        for q in questionnaire["questions"]:
            if not date.fromisoformat(q["valid_from"]) <= day < date.fromisoformat(q.get("valid_until", "9999-12-31")):
                continue
            answers = [(key,) for key in q["responses"]]
            if q["answers"] == "multi":
                answers = [(k,) for k, v in q["responses"].items() if v in NONE_OF_THESE]
                combinable = [k for k, v in q["responses"].items() if v not in NONE_OF_THESE]
                answers += [keys for size in (1, 2, 3) for keys in combinations(combinable, size)]
            out[name].append(_Question(tuple(q["source_codes"]), q["text"], tuple(answers)))
    return out


def _pick(rng: random.Random, items):
    """rng.choice at a third of its cost: the responses draw hundreds of thousands of times."""
    return items[int(rng.random() * len(items))]


def _blank(value: str, rng: random.Random) -> str:
    """Optional fields: ~2 % "N/A", ~2 % empty."""
    r = rng.random()
    return "N/A" if r < 0.02 else "" if r < 0.04 else value


def _noisy(text: str, rng: random.Random) -> str:
    """Mostly as keyed, ~1 % "N/A"; some in lower case or padded, as IVR exports and agents write them."""
    r = rng.random()
    if r < 0.84:
        return text
    return "N/A" if r < 0.85 else _pick(rng, (text.lower(), f" {text}", f"{text} ", f" {text.lower()}"))


def _member_row(member_id: str, mrn: int, pools: _Pools, day: date, rng: random.Random) -> list[str]:
    first, last = rng.choice(pools.first), rng.choice(pools.last)
    born = day - timedelta(days=rng.randint(18 * 366, 101 * 365 - 1))  # ages 18-100: ~13 % over 89
    birth_date = born.isoformat() if rng.random() < 0.85 else f"{born:%m/%d/%Y}"
    phone = rng.choice(PHONE_FORMATS).format(rng.choice(AREA_CODES), rng.choice(EXCHANGES), rng.randrange(10000))
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}{rng.randrange(100)}", f"{last}.{first}"))
    email = f"{local}@{rng.choice(pools.domains)}"
    street, r = rng.choice(pools.streets), rng.random()
    address = (f"{street} {rng.choice(pools.secondary)}" if r < 0.2
               else f"{street}, {rng.choice(pools.secondary)}" if r < 0.3  # commas and quotes: CSV quoting
               else f'{street}, Unit "{rng.choice("ABCD")}"' if r < 0.33 else street)
    state, zip_code = rng.choice(pools.places)
    state = state if rng.random() < 0.8 else rng.choice((state.lower(), f" {state.lower()}", f"{state} ", state.title()))
    return [member_id, f"{first} {last}", birth_date, _blank(phone, rng),
            _blank(email if rng.random() < 0.1 else email.lower(), rng),  # cleansing lowers the rest
            address, zip_code, state, rng.choice(PLANS), f"MRN{mrn:07d}"]


def _members(spec: SampleSpec, pools: _Pools,
             rng: random.Random) -> tuple[list[list[str]], list[str], list[str], list[str]]:
    """(roster rows, roster member ids, unknown member ids, newcomer ids for the unruled delivery)."""
    n = spec.members - 1  # plus the canary
    ids = [f"M{i}" for i in rng.sample(range(100_000_000, 900_000_000), n + UNKNOWN_MEMBERS + UNRULED_ROWS)]
    roster, unknown, newcomers = ids[:n], ids[n:n + UNKNOWN_MEMBERS], ids[n + UNKNOWN_MEMBERS:]
    mrns = rng.sample(range(10**7), n)
    rows = [_member_row(member_id, mrn, pools, spec.day, rng) for member_id, mrn in zip(roster, mrns)]
    low_population = load(RULES)["low_population_zip3"]
    for index in rng.sample(range(n), max(1, n // 100)):
        rows[index][MEMBER_FIELDS.index("zip")] = f"{rng.choice(low_population)}{rng.randrange(100):02d}"
    rows[rng.randrange(n)][MEMBER_FIELDS.index("birth_date")] = INVALID_BIRTH_DATE
    canary = canaries(spec.seed)
    rows.insert(rng.randrange(n + 1), [*(canary[f] for f in MEMBER_FIELDS[:7]), " nh", "GOLD", canary["mrn"]])
    return rows, [*roster, canary["member_id"]], unknown, newcomers


def _member_text(member_id: str, rng: random.Random) -> str:
    """~2 % of the member ids of other systems' exports come in lower case or padded."""
    return member_id if rng.random() < 0.98 else _pick(rng, (member_id.lower(), f" {member_id}"))


def _responses(spec: SampleSpec, roster: list[str], unknown: list[str],
               rng: random.Random) -> tuple[list[list[str]], list[list[str]], int]:
    """(rows of the CSV file, rows of the JSONL file, index of the JSONL row to break). The first
    three fifths of the outreaches go to the CSV file; an outreach never spans both."""
    questionnaires, n = _questionnaires(spec.day), spec.outreaches
    split = n * 3 // 5
    canary = canaries(spec.seed)["member_id"]
    campaign_of = {rng.randrange(split): "2026-annual-wellness", rng.randrange(split, n): "2026-adherence"}
    members = {i: canary for i in campaign_of}
    members |= dict(zip(rng.sample([i for i in range(n) if i not in members], UNKNOWN_MEMBERS), unknown))
    plain = [i for i in range(n) if i not in members]
    faults = dict(zip(rng.sample([i for i in plain if i < split], len(CSV_FAULTS)), CSV_FAULTS))
    faults |= dict(zip(rng.sample([i for i in plain if i >= split], len(JSONL_FAULTS)), JSONL_FAULTS))
    parts, broken = ([], []), -1
    for i, number in enumerate(rng.sample(range(10**9, 10**10), n)):
        rows, first = parts[i >= split], len(parts[i >= split])
        member, campaign = members.get(i) or _pick(rng, roster), campaign_of.get(i) or _pick(rng, CAMPAIGN_DRAW)
        questions = questionnaires[CAMPAIGNS[campaign]]
        # ~80 % answer every question; the others hang up after the first k
        answered = len(questions) if i in campaign_of or rng.random() < 0.8 else rng.randint(1, max(1, len(questions) - 1))
        head = [f"O{number}", _member_text(member, rng), campaign, _pick(rng, CHANNELS)]
        at = 12 * 3600 + int(rng.random() * 10 * 3600)  # seconds of the day: calls 12:00-22:00 UTC, before the delivery
        prefix, zone = (f"{spec.day}T", "Z") if rng.random() < 0.9 else (f"{spec.day} ", "")
        for question in questions[:answered]:
            at += 8 + int(rng.random() * 52)
            stamp = f"{prefix}{at // 3600:02d}:{at // 60 % 60:02d}:{at % 60:02d}{zone}"  # strftime costs 3 times more
            code = _pick(rng, question.codes)
            for key in _pick(rng, question.answers):
                rows.append([*head, code, question.text, _noisy(key, rng), stamp])
        fault = faults.get(i)
        if fault == "malformed":
            del rows[first][ANSWERED_AT]
        elif fault == "yesterday":
            rows[first][ANSWERED_AT] = "yesterday"
        elif fault == "unmapped":
            rows[first][RESPONSE] = UNMAPPED_RESPONSE
        elif fault == "unknown_code":
            rows.append([*head, *UNKNOWN_QUESTION, stamp])
        elif fault == "not_json":
            broken = first
    return parts[0], parts[1], broken


def _claims(spec: SampleSpec, roster: list[str], rng: random.Random) -> list[list[str]]:
    """Per member 0-4 refills of one medication in the 90 days before the day, a supply apart
    give or take (adherence gaps); the canary has at least one."""
    ndcs = [f"{rng.randrange(10**11):011d}" for _ in range(300)]
    prescribers = [f"1{rng.randrange(10**9):09d}" for _ in range(400)]
    canary, rows = canaries(spec.seed)["member_id"], []
    for member in roster:
        fills = rng.randint(1 if member == canary else 0, 4)
        if not fills:
            continue
        ndc, npi, supply = rng.choice(ndcs), rng.choice(prescribers), rng.choice((30, 30, 90))
        filled = spec.day - timedelta(days=rng.randint(1, 90))
        for _ in range(fills):
            if filled >= spec.day:
                break
            rows.append([_member_text(member, rng), ndc if rng.random() < 0.7 else f"{ndc[:5]}-{ndc[5:9]}-{ndc[9:]}",
                         filled.isoformat() if rng.random() < 0.8 else f"{filled:%Y%m%d}", str(supply), npi])
            filled += timedelta(days=supply + rng.randint(-3, 10))
    return rows


def _csv(header, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _gzip(data: bytes) -> bytes:
    return igzip.compress(data, compresslevel=2, mtime=0)  # ISA-L: ~10x zlib's speed; mtime 0: same rows, same bytes


def _jsonl(rows, broken: int) -> bytes:
    lines = [json.dumps(dict(zip(RESPONSE_FIELDS, row))) for row in rows]
    lines[broken] = lines[broken][: len(lines[broken]) // 2]  # cut short, as by an interrupted export
    return "".join(f"{line}\n" for line in lines).encode()


def _manifest(feed: str, delivery_id: str, created_at: str, files: list[tuple[str, bytes, int]]) -> bytes:
    entries = [{"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "rows": rows}
               for name, data, rows in files]
    return json.dumps({"feed": feed, "delivery_id": delivery_id, "created_at": created_at, "files": entries},
                      indent=2).encode()


def generate(lake, spec: SampleSpec) -> list:
    """Write the sample; returns the ObjectInfos written, the manifests last."""
    if spec.members < MIN_MEMBERS or spec.outreaches < MIN_OUTREACHES:
        raise ValueError(f"a sample needs at least {MIN_MEMBERS} members and {MIN_OUTREACHES} outreaches")
    day = spec.day.isoformat()
    pools = _pools(spec.seed)
    # One random stream per feed: the opt-in delivery leaves the others' bytes unchanged.
    members, roster, unknown, newcomers = _members(spec, pools, random.Random(f"{spec.seed}:members"))
    csv_rows, jsonl_rows, broken = _responses(spec, roster, unknown, random.Random(f"{spec.seed}:responses"))
    claims = _claims(spec, roster, random.Random(f"{spec.seed}:pharmacy_claims"))
    members_file = ("members-0001.csv.gz", _gzip(_csv(MEMBER_FIELDS, members)), len(members))
    responses_files = [("responses-0001.csv.gz", _gzip(_csv(RESPONSE_FIELDS, csv_rows)), len(csv_rows)),
                       ("responses-0002.jsonl", _jsonl(jsonl_rows, broken), len(jsonl_rows))]
    deliveries = [  # (feed, delivery id, created_at, [(file name, bytes, rows)])
        ("members", f"{day}-m01", f"{day}T23:00:00Z", [members_file]),
        ("responses", f"{day}-r01", f"{day}T23:00:00Z", responses_files),
    ]
    if spec.unruled_field:
        rng = random.Random(f"{spec.seed}:unruled")
        rows = [[*_member_row(member_id, mrn, pools, spec.day, rng), ssn]
                for member_id, mrn, ssn in zip(newcomers, rng.sample(range(10**7), UNRULED_ROWS), pools.ssns)]
        deliveries.append(("members", f"{day}-m02", f"{day}T23:30:00Z",
                           [("members-0001.csv.gz", _gzip(_csv((*MEMBER_FIELDS, "ssn"), rows)), len(rows))]))
    written = [lake.put(BUCKET, f"{PREFIX}{feed}/{delivery_id}/{name}", data)
               for feed, delivery_id, _, files in deliveries for name, data, _ in files]
    written.append(lake.put(BUCKET, f"{PREFIX}pharmacy_claims/{day}/claims-0001.csv", _csv(CLAIM_FIELDS, claims)))
    # Manifests last: each completes its delivery, so none may be seen before every file is stored.
    for feed, delivery_id, created_at, files in deliveries:
        manifest = _manifest(feed, delivery_id, created_at, files)
        written.append(lake.put(BUCKET, f"{PREFIX}{feed}/{delivery_id}/manifest.json", manifest))
    return written
