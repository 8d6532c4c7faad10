"""`dataplatform reveal`: an authorised user recovers a member's encrypted values (e.g. the phone
number for a re-contact). Every attempt, allowed or not, leaves an audit record first; the value
is decrypted with the data key of the load that wrote it (keys port: KMS in aws, where IAM on
kms:Decrypt is the second gate)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from assets.outreach import state
from assets.outreach.assets import CURATED_BUCKET, DOMAIN
from assets.outreach.load import open_engine
from assets.outreach.rules import rules
from assets.outreach.transform import identifier
from dataplatform.governance.protection import decrypt_value, key_ref_of

FEED = "members"


class NotAuthorised(Exception):
    pass


def _latest_row(lake, member_token: str, columns: list[str]) -> dict | None:
    keys = [k for k in lake.list_keys(CURATED_BUCKET, f"{DOMAIN}/{FEED}/") if k.endswith(".parquet")]
    if not keys:
        return None
    with tempfile.TemporaryDirectory(prefix="reveal-") as tmp, lake.localized(CURATED_BUCKET, keys) as paths:
        con = open_engine(Path(tmp))
        files = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"
        row = con.execute(
            f"SELECT {', '.join(identifier(c) for c in columns)}, delivery_id FROM read_parquet({files}, union_by_name = true) "
            "WHERE member_token = ? ORDER BY delivered_at DESC, delivery_id DESC LIMIT 1", [member_token]).fetchall()
        con.close()
    return dict(zip([*columns, "delivery_id"], row[0])) if row else None


def reveal(ports: dict, user: str, member_token: str, field: str | None, reason: str) -> tuple[dict[str, tuple[str, str]], str]:
    """field -> (plaintext, delivery id) of the member's latest roster row, and the audit record's key."""
    ruleset = rules()
    encrypted = [r for r in ruleset.feed(FEED).fields if r.action == "encrypt"]
    if field is not None:
        encrypted = [r for r in encrypted if r.field == field]
        if not encrypted:
            raise ValueError(f"{field!r} is not an encrypted field of {FEED} "
                             f"({', '.join(r.field for r in ruleset.feed(FEED).fields if r.action == 'encrypt')})")
    if not reason.strip():
        raise ValueError("--reason must say why the value is needed")
    kv = ports["kv"]
    request = {"feed": FEED, "fields": [r.field for r in encrypted], "member_token": member_token, "reason": reason,
               "rule_version": ruleset.version}
    allowed = user in ruleset.authorised_users
    audit_key = state.audit(kv, user, allowed, request)
    if not allowed:
        raise NotAuthorised(f"{user!r} may not reveal values (outreach_rules.yaml reveal.authorised_users); "
                            f"the attempt is recorded as {audit_key}")
    row = _latest_row(ports["lake"], member_token, [r.output for r in encrypted])
    if row is None:
        raise ValueError(f"no member with token {member_token!r} in curated {FEED}")
    revealed = {}
    for rule in encrypted:
        text = row[rule.output]
        if text is None:
            revealed[rule.field] = ("(none delivered)", row["delivery_id"])
            continue
        key = state.data_key(ports["keys"], kv, key_ref_of(text))
        revealed[rule.field] = (decrypt_value(key, text, f"{FEED}/{rule.field}"), row["delivery_id"])
    return revealed, audit_key
