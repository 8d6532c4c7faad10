"""Keyed tokens and field encryption of governance/protection.py (pure functions; the token key's
storage is in tests/contract/test_keys_contract.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import pytest

from dataplatform.governance.protection import decrypt_value, encrypt_value, key_ref_of, token

KEY = bytes(range(32))
DATA_KEY = os.urandom(32)


def test_token_is_the_truncated_keyed_hmac_of_domain_and_value():
    expected = hmac.new(KEY, b"email\x00ada@example.org", hashlib.sha256).hexdigest()[:32]
    assert token(KEY, "email", "ada@example.org") == expected
    assert token(KEY, "email", "ada@example.org") == expected  # deterministic
    assert len(expected) == 32 and int(expected, 16) >= 0


def test_tokens_differ_by_domain_by_key_and_by_value():
    base = token(KEY, "email", "0123456789")
    assert token(KEY, "phone", "0123456789") != base
    assert token(bytes(reversed(KEY)), "email", "0123456789") != base
    assert token(KEY, "email", "0123456788") != base
    # The separator keeps (domain, value) pairs apart that plain concatenation would merge.
    assert token(KEY, "ab", "c") != token(KEY, "a", "bc")


def test_token_refuses_short_keys_and_ambiguous_domains():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        token(b"secret", "email", "x")
    for domain in ("", "a\x00b"):
        with pytest.raises(ValueError, match="domain"):
            token(KEY, domain, "x")


def test_encrypt_decrypt_round_trip_with_unicode():
    for value in ("Zoë Ångström-Łukasz ✓ 山田", "", "a:b:c", "x" * 10_000):
        text = encrypt_value(DATA_KEY, "delivery-2026-11-24.0001", value, "person/42/name")
        assert text.startswith("enc1:delivery-2026-11-24.0001:")
        assert "=" not in text.rsplit(":", 1)[1]  # unpadded base64url
        assert decrypt_value(DATA_KEY, text, "person/42/name") == value


def test_two_encryptions_of_one_value_differ():
    first, second = (encrypt_value(DATA_KEY, "d1", "same value", "ad") for _ in range(2))
    assert first != second
    assert decrypt_value(DATA_KEY, first, "ad") == decrypt_value(DATA_KEY, second, "ad") == "same value"


def _flip(text: str, index: int) -> str:
    prefix, key_ref, data = text.split(":")
    blob = bytearray(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    blob[index] ^= 0x01
    return f"{prefix}:{key_ref}:{base64.urlsafe_b64encode(bytes(blob)).decode().rstrip('=')}"


@pytest.mark.parametrize(
    "attempt",
    [
        lambda text: decrypt_value(os.urandom(32), text, "person/42/email"),  # wrong key
        lambda text: decrypt_value(DATA_KEY, _flip(text, 0), "person/42/email"),  # altered nonce
        lambda text: decrypt_value(DATA_KEY, _flip(text, 20), "person/42/email"),  # altered ciphertext
        lambda text: decrypt_value(DATA_KEY, _flip(text, -1), "person/42/email"),  # altered tag
        lambda text: decrypt_value(DATA_KEY, text, "person/43/email"),  # moved to another record
        lambda text: decrypt_value(DATA_KEY, text.replace(":d1:", ":d2:"), "person/42/email"),  # another key_ref
    ],
    ids=["wrong-key", "nonce", "ciphertext", "tag", "associated-data", "key-ref"],
)
def test_tampering_is_refused_with_a_value_error(attempt):
    text = encrypt_value(DATA_KEY, "d1", "ada@example.org", "person/42/email")
    with pytest.raises(ValueError, match="cannot decrypt the value under"):
        attempt(text)


def test_key_ref_of_names_the_data_key():
    assert key_ref_of(encrypt_value(DATA_KEY, "delivery/7", "v", "ad")) == "delivery/7"


def test_malformed_texts_are_refused_without_echoing_them():
    for text in ("ada@example.org", "enc1:d1", "enc2:d1:AAAA", "enc1::AAAA", "enc1:d1:not base64!", "enc1:d1:A",
                 "enc1:d1:AAAA"):  # the last two: not base64 (one character too many), shorter than nonce + tag
        with pytest.raises(ValueError) as raised:
            decrypt_value(DATA_KEY, text, "ad")
        assert "ada@example.org" not in str(raised.value)
        with pytest.raises(ValueError):
            key_ref_of(text)


def test_bad_key_refs_and_data_keys_are_rejected():
    for key_ref in ("", "has:colon", "has space", "new\nline", "x" * 257, "é"):
        with pytest.raises(ValueError, match="invalid key_ref"):
            encrypt_value(DATA_KEY, key_ref, "v", "ad")
    with pytest.raises(ValueError, match="32 bytes"):
        encrypt_value(os.urandom(16), "d1", "v", "ad")
