"""Value-level protection of personal data: keyed tokens and field encryption.

* A token replaces a value that must still join and count (an email, a phone number): the same
  value gives the same token under one key, so curated zones can group by it, but without the
  key nobody can test a guess (a plain hash of an email is reversed by hashing a list of emails).
  The field is the domain separation: an email and a phone number that happen to be equal
  strings give unrelated tokens.
* Encryption keeps a value recoverable by whoever may unwrap its data key (the keys port):
  AES-256-GCM, so a wrong key, an altered ciphertext or a value moved to another record (other
  associated data) is refused rather than decrypted to garbage.

Everything here is pure but `token_key`, which fetches the platform's token key once per call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dataplatform.resources.keys import KEY_BYTES, KeyService
from dataplatform.resources.kv import ConditionFailed, KeyValueStore

TOKEN_HEX_CHARS = 32  # 128 bits: no collision in any realistic number of distinct values
TOKEN_KEYS_TABLE = "platform_token_keys"
_PREFIX = "enc1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_REF = re.compile(r"[A-Za-z0-9._~/@+=-]{1,256}")
_TEXT = re.compile(rf"{_PREFIX}:({_KEY_REF.pattern}):([A-Za-z0-9_-]+)")


def token(key: bytes, domain: str, value: str) -> str:
    """The first 32 hex characters of HMAC-SHA-256(key, domain NUL value). `domain` (e.g. the
    field's name) may not hold NUL, so no (domain, value) pair can forge another's message."""
    if len(key) < KEY_BYTES:
        raise ValueError(f"a token key is at least {KEY_BYTES} bytes, not {len(key)}")
    if not domain or "\x00" in domain:
        raise ValueError(f"invalid token domain {domain!r}: non-empty, without NUL")
    return hmac.new(key, f"{domain}\x00{value}".encode(), hashlib.sha256).hexdigest()[:TOKEN_HEX_CHARS]


def _check_key_ref(key_ref: str) -> None:
    if not isinstance(key_ref, str) or not _KEY_REF.fullmatch(key_ref):
        raise ValueError(f"invalid key_ref {key_ref!r}: 1-256 letters, digits or . _ ~ / @ + = - (no ':')")


def _aead(data_key: bytes) -> AESGCM:
    if len(data_key) != KEY_BYTES:
        raise ValueError(f"a data key is {KEY_BYTES} bytes (AES-256), not {len(data_key)}")
    return AESGCM(data_key)


def _bound(key_ref: str, associated_data: str) -> bytes:
    """What the ciphertext is bound to: its format, its key reference and the caller's associated
    data (key_ref holds no NUL, so the parts cannot be shifted into one another)."""
    return f"{_PREFIX}\x00{key_ref}\x00{associated_data}".encode()


def encrypt_value(data_key: bytes, key_ref: str, plaintext: str, associated_data: str) -> str:
    """`enc1:<key_ref>:<base64url(nonce + ciphertext), unpadded>`, with a random 96-bit nonce.
    `key_ref` names the data key (e.g. a delivery id) for whoever decrypts; `associated_data`
    (e.g. the record's id and field) must be given again to decrypt."""
    _check_key_ref(key_ref)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _aead(data_key).encrypt(nonce, plaintext.encode(), _bound(key_ref, associated_data))
    return f"{_PREFIX}:{key_ref}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def _parse(text: str) -> tuple[str, bytes]:
    match = _TEXT.fullmatch(text) if isinstance(text, str) else None
    if match is None:  # the text itself is not quoted: it may be a value that was never encrypted
        raise ValueError(f"not an encrypted value: expected {_PREFIX}:<key_ref>:<base64url data>")
    key_ref, payload = match.groups()
    try:
        blob = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except binascii.Error as error:
        raise ValueError(f"encrypted value under {key_ref!r}: its data is not base64url ({error})") from None
    if len(blob) < _NONCE_BYTES + _TAG_BYTES:
        raise ValueError(f"encrypted value under {key_ref!r} is truncated ({len(blob)} bytes)")
    return key_ref, blob


def key_ref_of(text: str) -> str:
    """Which data key decrypts `text`."""
    return _parse(text)[0]


def decrypt_value(data_key: bytes, text: str, associated_data: str) -> str:
    key_ref, blob = _parse(text)
    try:
        plaintext = _aead(data_key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _bound(key_ref, associated_data))
    except InvalidTag:
        raise ValueError(
            f"cannot decrypt the value under {key_ref!r}: wrong data key, altered ciphertext or other associated data"
        ) from None
    return plaintext.decode()


def token_key(keys: KeyService, kv: KeyValueStore, name: str) -> bytes:
    """The platform's secret token key `name`: made once, then the same in every process.

    Its wrapped form is created in the key-value table `platform_token_keys` with a create-only
    put; a process that loses the race discards its own key and unwraps the winner's, so no two
    processes ever tokenise with different keys. Not cached: callers fetch it once (per run) and
    pass the bytes on, which keeps the plaintext key's lifetime theirs to see and avoids a
    module-level cache keyed by objects that may be replaced."""
    context = {"purpose": "token-key", "name": name}
    kv.ensure_table(TOKEN_KEYS_TABLE)
    item = kv.get(TOKEN_KEYS_TABLE, name)
    if item is None:
        fresh = keys.generate_data_key(context)
        try:
            kv.put(TOKEN_KEYS_TABLE, name, {"wrapped": base64.b64encode(fresh.wrapped).decode()}, expected_version=None)
            return fresh.plaintext
        except ConditionFailed:  # another process created it first: theirs is the key
            item = kv.get(TOKEN_KEYS_TABLE, name)
    return keys.decrypt_data_key(base64.b64decode(item["wrapped"]), context)
