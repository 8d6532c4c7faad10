"""The rules compiled to SQL: cleansing, the value actions and the question mapping run in DuckDB
over a delivery's rows as delivered (every field VARCHAR, plus `_source_key` and `_record`).

Cleansing runs in stages, one per step position, so a field's value is computed once per step
instead of nesting each step's expression into the next. A value a step cannot read records the
field's first error; a row with any error is rejected with all its reasons. Tokens and ciphertexts
are not made here: the plaintext leaves DuckDB once, to the protection functions (load.py)."""

from __future__ import annotations

from datetime import date

from assets.outreach.rules import FieldRule, Feed, RuleSet

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d")
TIMESTAMP_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S")
# USPS codes of the states, DC and the territories.
STATE_CODES = (
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK "
    "OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR VI GU AS MP"
).split()
REDACTED = "[REDACTED]"


def literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _list(values) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"


def _step(step: str, v: str, rules: RuleSet) -> tuple[str, str | None]:
    """(expression of the step over column `v`, why a non-null input became null; None: cannot fail)."""
    if step == "trim":
        # trim() removes spaces; most values have none, and testing the ends is cheaper than trim.
        return f"CASE WHEN starts_with({v}, ' ') OR ends_with({v}, ' ') THEN trim({v}) ELSE {v} END", None
    if step in ("upper", "lower"):
        return f"{step}({v})", None
    if step == "null_tokens":
        return f"CASE WHEN upper({v}) IN ({', '.join(literal(t) for t in rules.null_tokens)}) THEN NULL ELSE {v} END", None
    if step == "digits":
        return f"nullif(regexp_replace({v}, '[^0-9]', '', 'g'), '')", "has no digits"
    if step == "e164":
        digits = f"regexp_replace({v}, '[^0-9]', '', 'g')"
        return (f"CASE WHEN length({digits}) = 10 THEN '+1' || {digits} "
                f"WHEN length({digits}) = 11 AND {digits} LIKE '1%' THEN '+' || {digits} END"), "is not a US phone number"
    if step == "iso_date":
        return f"CAST(try_strptime({v}, {_list(DATE_FORMATS)}) AS DATE)", "is not a date"
    if step == "iso_timestamp":
        return f"try_strptime({v}, {_list(TIMESTAMP_FORMATS)})", "is not a timestamp"
    if step == "state_code":
        return f"CASE WHEN upper({v}) IN ({', '.join(literal(c) for c in STATE_CODES)}) THEN upper({v}) END", "is not a US state code"
    if step == "integer":
        return f"TRY_CAST({v} AS INTEGER)", "is not an integer"
    raise ValueError(f"unknown cleansing step {step!r}")


def _action(rule: FieldRule, v: str, rules: RuleSet, delivered_on: date) -> tuple[str, str | None]:
    """(the curated value over the cleansed column `v`, why it cannot be produced)."""
    if rule.action == "redact":
        return f"CASE WHEN {v} IS NOT NULL THEN {literal(REDACTED)} END", None
    if rule.action == "mask":
        n = rule.keep_last
        # A value no longer than what is kept would be shown whole: mask all of it.
        return (f"CASE WHEN length({v}) > {n} THEN repeat('*', length({v}) - {n}) || right({v}, {n}) "
                f"ELSE repeat('*', length({v})) END"), None
    if rule.generalize_to == "zip3":
        zip3 = f"left({v}, 3)"
        low = ", ".join(literal(z) for z in sorted(rules.low_population_zip3))
        return (f"CASE WHEN length({v}) IN (5, 9) THEN CASE WHEN {zip3} IN ({low}) THEN '000' ELSE {zip3} END END",
                "is not a 5 or 9 digit ZIP code")
    if rule.generalize_to == "year_capped_at_90":
        # Safe Harbor: ages over 89 are aggregated into one category, shown as the year of age 90.
        on = f"DATE {literal(delivered_on.isoformat())}"
        birth = f"CAST({v} AS DATE)"
        return (f"CASE WHEN {birth} > {on} THEN NULL WHEN datesub('year', {birth}, {on}) > 89 THEN {delivered_on.year - 90} "
                f"ELSE year({birth}) END"), "is after the delivery date"
    return v, None  # keep, token and encrypt (done outside SQL): the cleansed value


def cleansing_sql(feed: Feed, rules: RuleSet, source: str, delivered_on: date, delivered: list[str]) -> str:
    """SELECT of `source` -> per delivered field its curated value (named by its output), plus
    `_source_key`, `_record` and `_errors` (NULL when the row is clean). Dropped fields are gone."""
    kept = [feed.rule(name) for name in delivered if feed.rule(name).kept]
    cols = {r.field: f"c{i}" for i, r in enumerate(kept)}
    errs = {r.field: f"e{i}" for i, r in enumerate(kept)}
    stages = [
        "SELECT _source_key, _record, "
        + ", ".join(f"{identifier(r.field)} AS {cols[r.field]}, CAST(NULL AS VARCHAR) AS {errs[r.field]}" for r in kept)
        + f" FROM {source}"
    ]
    for position in range(max((len(r.cleanse) for r in kept), default=0) + 1):
        parts = []
        for r in kept:
            c, e = cols[r.field], errs[r.field]
            if position < len(r.cleanse):
                expr, failure = _step(r.cleanse[position], c, rules)
            elif position == len(r.cleanse):
                expr, failure = _action(r, c, rules, delivered_on)
            else:
                expr, failure = c, None
            if failure:
                reason = literal(f"{r.field} {failure}: ") + f" || {c}"
                parts.append(f"{expr} AS {c}, coalesce({e}, CASE WHEN {c} IS NOT NULL AND ({expr}) IS NULL THEN {reason} END) AS {e}")
            else:
                parts.append(f"{expr} AS {c}, {e}")
        stages.append(f"SELECT _source_key, _record, {', '.join(parts)} FROM s{len(stages) - 1}")
    ctes = ",\n".join(f"s{i} AS ({sql})" for i, sql in enumerate(stages))
    outputs = ", ".join(f"{cols[r.field]} AS {identifier(r.output)}" for r in kept)
    errors = f"nullif(concat_ws('; ', {', '.join(errs[r.field] for r in kept)}), '')" if kept else "NULL"
    return f"WITH {ctes}\nSELECT _source_key, _record, {outputs}, {errors} AS _errors FROM s{len(stages) - 1}"


def mapping_sql(cleansed: str) -> str:
    """Response rows of `cleansed` mapped through the catalogue tables `catalogue_codes`
    (source_code, questionnaire, question_id, version, valid_from, valid_until) and
    `catalogue_responses` (questionnaire, question_id, version, response_value, response_code):
    every row once, with `_unmapped` saying why it has no canonical question or response.
    Rejected rows (`_errors`) pass through, numbered apart from the clean ones."""
    return f"""
WITH coded AS (
    SELECT r.*, c.questionnaire, c.question_id, c.version AS question_version
    FROM {cleansed} AS r
    LEFT JOIN catalogue_codes AS c
        ON c.source_code = r.question_code
        AND CAST(r.answered_at AS DATE) >= c.valid_from
        AND (c.valid_until IS NULL OR CAST(r.answered_at AS DATE) < c.valid_until)
),
answered AS (
    SELECT coded.*, a.response_code
    FROM coded
    LEFT JOIN catalogue_responses AS a
        ON a.questionnaire = coded.questionnaire AND a.question_id = coded.question_id
        AND a.version = coded.question_version AND a.response_value = coded.response
)
SELECT answered.*,
    CASE
        WHEN question_id IS NULL AND question_code IN (SELECT source_code FROM catalogue_codes)
            THEN 'question code ' || question_code || ' has no catalogue question on ' || CAST(CAST(answered_at AS DATE) AS VARCHAR)
        WHEN question_id IS NULL THEN 'unknown question code ' || coalesce(question_code, '(none)')
        WHEN response IS NULL THEN 'no response'
        WHEN response_code IS NULL
            THEN 'response ' || response || ' is not an answer to ' || question_id || ' v' || CAST(question_version AS VARCHAR)
    END AS _unmapped,
    row_number() OVER (PARTITION BY outreach_id, question_id, _errors IS NULL ORDER BY _source_key, _record) AS answer_seq
FROM answered
"""
