"""What the outreach domain keeps in the key-value port (DynamoDB in aws, as the seed's metadata
tables): the rule sets applied (by version), each load's wrapped data key, each delivery's last
outcome, and the audit trail of `dataplatform reveal`."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timezone

from assets.outreach.rules import RuleSet, document_json
from dataplatform.resources.keys import DataKey, KeyService
from dataplatform.resources.kv import ConditionFailed

RULE_SETS = "outreach_rule_sets"
DATA_KEYS = "outreach_data_keys"
DELIVERIES = "outreach_deliveries"
REVEAL_AUDIT = "outreach_reveal_audit"
TABLES = (RULE_SETS, DATA_KEYS, DELIVERIES, REVEAL_AUDIT)


class RuleSetConflict(Exception):
    """A rule set was changed without a new version."""


def publish_rule_set(kv, rules: RuleSet) -> str:
    """Publish the rule set under its version once; a different rule set under a published version
    is refused, so the version a load records always means one rule set."""
    kv.ensure_table(RULE_SETS)
    item = {"digest": rules.digest, "rules": document_json(), "published_at": datetime.now(timezone.utc).isoformat()}
    try:
        kv.put(RULE_SETS, rules.version, item, expected_version=None)
        return "published"
    except ConditionFailed:
        existing = kv.get(RULE_SETS, rules.version)
    if existing["digest"] != rules.digest:
        raise RuleSetConflict(f"outreach_rules.yaml changed but its version is still {rules.version} (published digest "
                              f"{existing['digest']}, this one {rules.digest}): bump the version")
    return "already published"


def _context(key_ref: str) -> dict[str, str]:
    return {"domain": "outreach", "key_ref": key_ref}


def new_data_key(keys: KeyService, kv, feed: str, delivery_id: str) -> tuple[DataKey, str]:
    """A data key for one load of a delivery; its wrapped form is stored under a fresh key_ref
    (a rerun gets its own key, so a killed run never leaves ciphertexts without their key)."""
    key_ref = f"{feed}.{delivery_id}.{uuid.uuid4().hex[:12]}"
    data_key = keys.generate_data_key(_context(key_ref))
    kv.ensure_table(DATA_KEYS)
    kv.put(DATA_KEYS, key_ref, {"wrapped": base64.b64encode(data_key.wrapped).decode(), "feed": feed,
                                "delivery_id": delivery_id, "created_at": datetime.now(timezone.utc).isoformat()},
           expected_version=None)
    return data_key, key_ref


def data_key(keys: KeyService, kv, key_ref: str) -> bytes:
    item = kv.get(DATA_KEYS, key_ref)
    if item is None:
        raise LookupError(f"no data key {key_ref!r} in {DATA_KEYS}")
    return keys.decrypt_data_key(base64.b64decode(item["wrapped"]), _context(key_ref))


def record_outcome(kv, feed: str, delivery_id: str, fingerprint: str, status: str, detail: str, rule_version: str) -> None:
    kv.ensure_table(DELIVERIES)
    key = f"{feed}/{delivery_id}"
    item = {"status": status, "fingerprint": fingerprint, "detail": detail, "rule_version": rule_version,
            "at": datetime.now(timezone.utc).isoformat()}
    while True:  # last writer wins, without losing a concurrent write's version bump
        current = kv.get(DELIVERIES, key)
        try:
            kv.put(DELIVERIES, key, item, expected_version=current["version"] if current else None)
            return
        except ConditionFailed:
            continue


def outcomes(kv) -> dict[str, dict]:
    kv.ensure_table(DELIVERIES)
    return dict(kv.scan(DELIVERIES))


def audit(kv, user: str, allowed: bool, request: dict) -> str:
    kv.ensure_table(REVEAL_AUDIT)
    at = datetime.now(timezone.utc)
    key = f"{at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    kv.put(REVEAL_AUDIT, key, {"user": user, "allowed": int(allowed), "request": json.dumps(request, sort_keys=True),
                               "at": at.isoformat()}, expected_version=None)
    return key
