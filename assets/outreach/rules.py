"""The outreach rule set (platform/policies/outreach_rules.yaml), read and checked once.

Every delivered field needs a rule; `unruled()` names the ones that have none so the load can
refuse the delivery before anything is written (fail closed). The rule set's digest, beside its
version, tells two different rule sets published under one version apart."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, time
from functools import cache

from dataplatform.governance.policies import load

POLICY = "outreach_rules"
NOT_IDENTIFYING = "not_identifying"
# HIPAA Safe Harbor's identifier types (45 CFR 164.514(b)(2)(i)), as the rules spell them.
SAFE_HARBOR_TYPES = frozenset({
    "name", "geographic_subdivision", "date", "telephone_number", "fax_number", "email_address",
    "social_security_number", "medical_record_number", "health_plan_beneficiary_number", "account_number",
    "certificate_license_number", "vehicle_identifier", "device_identifier", "url", "ip_address",
    "biometric_identifier", "full_face_photograph", "other_unique_identifier",
})
ACTIONS = frozenset({"drop", "redact", "mask", "generalize", "token", "encrypt", "keep"})
CLEANSE_STEPS = ("trim", "upper", "lower", "null_tokens", "e164", "iso_date", "iso_timestamp", "state_code", "integer", "digits")
GENERALIZATIONS = frozenset({"year_capped_at_90", "zip3"})


class RuleError(ValueError):
    """The rule file itself is wrong; the message names the feed and field."""


@dataclass(frozen=True)
class FieldRule:
    feed: str
    field: str
    classification: str
    action: str
    output: str
    cleanse: tuple[str, ...]
    token_domain: str = ""
    keep_last: int = 0
    generalize_to: str = ""

    @property
    def identifying(self) -> bool:
        return self.classification != NOT_IDENTIFYING

    @property
    def kept(self) -> bool:
        return self.action != "drop"


@dataclass(frozen=True)
class Feed:
    name: str
    description: str
    fields: tuple[FieldRule, ...]
    daily_cutoff: time | None  # None: a manifest, written last, completes a delivery

    def rule(self, field: str) -> FieldRule | None:
        return next((r for r in self.fields if r.field == field), None)

    def unruled(self, delivered: list[str]) -> list[str]:
        return [name for name in delivered if self.rule(name) is None]


@dataclass(frozen=True)
class Question:
    questionnaire: str
    question_id: str
    version: int
    text: str
    answers: str  # single | multi
    valid_from: date
    valid_until: date | None
    source_codes: tuple[str, ...]
    responses: tuple[tuple[str, str], ...]  # cleansed value -> canonical code


@dataclass(frozen=True)
class RuleSet:
    version: str
    digest: str
    feeds: dict[str, Feed]
    null_tokens: tuple[str, ...]
    low_population_zip3: frozenset[str]
    authorised_users: frozenset[str]
    notify_topic: str
    questions: tuple[Question, ...]

    def feed(self, name: str) -> Feed:
        if name not in self.feeds:
            raise KeyError(f"feed {name!r} is not declared in {POLICY}.yaml (feeds: {', '.join(sorted(self.feeds))})")
        return self.feeds[name]

    def questionnaires(self) -> dict[str, list[str]]:
        """questionnaire -> its question ids, in catalogue order."""
        found: dict[str, list[str]] = {}
        for q in self.questions:
            ids = found.setdefault(q.questionnaire, [])
            if q.question_id not in ids:
                ids.append(q.question_id)
        return found


def _field_rule(feed: str, field: str, spec: dict) -> FieldRule:
    where = f"{POLICY}.yaml feeds.{feed}.fields.{field}"
    classification, action = spec.get("classification"), spec.get("action")
    if classification != NOT_IDENTIFYING and classification not in SAFE_HARBOR_TYPES:
        raise RuleError(f"{where}: classification {classification!r} is neither {NOT_IDENTIFYING} nor a Safe Harbor type")
    if action not in ACTIONS:
        raise RuleError(f"{where}: action {action!r} is not one of {sorted(ACTIONS)}")
    if action == "keep" and classification != NOT_IDENTIFYING and not spec.get("reason"):
        raise RuleError(f"{where}: keeps a {classification} identifier without a reason")
    unknown = [step for step in spec.get("cleanse", []) if step not in CLEANSE_STEPS]
    if unknown:
        raise RuleError(f"{where}: unknown cleansing steps {unknown}")
    generalize_to = (spec.get("generalize") or {}).get("to", "")
    if action == "generalize" and generalize_to not in GENERALIZATIONS:
        raise RuleError(f"{where}: generalize.to must be one of {sorted(GENERALIZATIONS)}")
    keep_last = int((spec.get("mask") or {}).get("keep_last", 0))
    if action == "mask" and keep_last < 0:
        raise RuleError(f"{where}: mask.keep_last must be >= 0")
    return FieldRule(
        feed=feed, field=field, classification=classification, action=action, output=spec.get("output", field),
        cleanse=tuple(spec.get("cleanse", [])), token_domain=(spec.get("token") or {}).get("domain", field),
        keep_last=keep_last, generalize_to=generalize_to,
    )


def _feed(name: str, spec: dict) -> Feed:
    trigger = spec.get("trigger", "manifest")
    cutoff = None
    if trigger != "manifest":
        try:
            cutoff = time.fromisoformat(trigger["daily_cutoff"])
        except (TypeError, KeyError, ValueError):
            raise RuleError(f"{POLICY}.yaml feeds.{name}.trigger: 'manifest' or {{daily_cutoff: 'HH:MM'}}") from None
    fields = tuple(_field_rule(name, field, rule) for field, rule in spec["fields"].items())
    outputs = [r.output for r in fields if r.kept]
    if len(set(outputs)) != len(outputs):
        raise RuleError(f"{POLICY}.yaml feeds.{name}: two fields write the same output column")
    return Feed(name, " ".join(spec.get("description", "").split()), fields, cutoff)


def _questions(catalogue: dict) -> tuple[Question, ...]:
    questions = []
    for questionnaire, spec in catalogue.items():
        for q in spec["questions"]:
            questions.append(Question(
                questionnaire=questionnaire, question_id=q["question_id"], version=int(q["version"]), text=q["text"],
                answers=q["answers"], valid_from=date.fromisoformat(q["valid_from"]),
                valid_until=date.fromisoformat(q["valid_until"]) if q.get("valid_until") else None,
                source_codes=tuple(q["source_codes"]),
                responses=tuple((str(value).upper(), str(code)) for value, code in q["responses"].items()),
            ))
    # A source code may mean only one question version on any day.
    for a in questions:
        for b in questions:
            if a is not b and set(a.source_codes) & set(b.source_codes) and _overlap(a, b):
                raise RuleError(f"{POLICY}.yaml catalogue: code(s) {sorted(set(a.source_codes) & set(b.source_codes))} "
                                f"mean both {a.question_id} v{a.version} and {b.question_id} v{b.version} on the same days")
    return tuple(questions)


def _overlap(a: Question, b: Question) -> bool:
    end_a, end_b = a.valid_until or date.max, b.valid_until or date.max
    return a.valid_from < end_b and b.valid_from < end_a


def parse(document: dict) -> RuleSet:
    digest = hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return RuleSet(
        version=str(document["version"]), digest=digest,
        feeds={name: _feed(name, spec) for name, spec in document["feeds"].items()},
        null_tokens=tuple(str(t).upper() for t in document.get("null_tokens", [])),
        low_population_zip3=frozenset(document.get("low_population_zip3", [])),
        authorised_users=frozenset(document.get("reveal", {}).get("authorised_users", [])),
        notify_topic=document["notify_topic"],
        questions=_questions(document["catalogue"]),
    )


@cache
def rules() -> RuleSet:
    return parse(load(POLICY))


def document_json() -> str:
    """The rule set as published to the key-value store (canonical JSON)."""
    return json.dumps(load(POLICY), sort_keys=True, default=str)
