"""The KeyService contract: every test runs against LocalKeyFile and KmsKeys (moto's KMS), and the
token key of governance/protection.py against each with its own key-value store.

moto 5.2.5 enforces the encryption context on Decrypt (a different or missing context is
InvalidCiphertextException, as in KMS), so the context tests run unchanged on both adapters. It
answers a blob wrapped under another key with AccessDeniedException where KMS says
IncorrectKeyException: both are KeyUnavailable."""

from __future__ import annotations

import base64
import multiprocessing
import os
import threading
import uuid
from dataclasses import dataclass
from typing import Callable

import pytest

from contract.conftest import aws_client, dynamodb_client
from dataplatform.governance.protection import TOKEN_KEYS_TABLE, token_key
from dataplatform.resources.keys import KeyService, KeyUnavailable, KmsKeys, LocalKeyFile
from dataplatform.resources.kv import DynamoDbKeyValueStore, KeyValueStore, SqliteKeyValueStore

CONTEXT = {"purpose": "outreach-delivery", "delivery": "2026-11-24-0001"}


@dataclass
class Master:
    """One master key: `adapter()` is a new adapter instance on it (a second process, say),
    `other()` an adapter on another master key, `kv` a key-value store for token keys."""

    adapter: Callable[[], KeyService]
    other: Callable[[], KeyService]
    kv: KeyValueStore


@pytest.fixture(params=["local", "aws"])
def master(request, tmp_path) -> Master:
    if request.param == "local":
        return Master(
            adapter=lambda: LocalKeyFile(tmp_path / "keys" / "master.key"),
            other=lambda: LocalKeyFile(tmp_path / "other" / "master.key"),
            kv=SqliteKeyValueStore(tmp_path / "kv.sqlite"),
        )
    endpoint = request.getfixturevalue("moto_endpoint")
    request.getfixturevalue("atomic_moto_dynamodb")
    kms = aws_client("kms", endpoint)
    alias = f"alias/t{uuid.uuid4().hex[:12]}-personal-data"  # as the stack names it
    kms.create_alias(AliasName=alias, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    other = kms.create_key()["KeyMetadata"]["Arn"]
    return Master(
        adapter=lambda: KmsKeys(aws_client("kms", endpoint), key_id=alias),
        other=lambda: KmsKeys(aws_client("kms", endpoint), key_id=other),
        kv=DynamoDbKeyValueStore(dynamodb_client(endpoint), table_prefix=f"t{uuid.uuid4().hex[:12]}-"),
    )


def altered(blob: bytes, index: int) -> bytes:
    changed = bytearray(blob)
    changed[index] ^= 0x01
    return bytes(changed)


def test_data_key_round_trip(master):
    keys = master.adapter()
    first, second = keys.generate_data_key(CONTEXT), keys.generate_data_key(CONTEXT)
    assert len(first.plaintext) == 32 and first.plaintext != second.plaintext
    assert first.plaintext not in first.wrapped
    assert keys.decrypt_data_key(first.wrapped, CONTEXT) == first.plaintext
    assert keys.decrypt_data_key(second.wrapped, dict(reversed(CONTEXT.items()))) == second.plaintext  # order is no part of it


def test_a_different_context_is_refused(master):
    keys = master.adapter()
    data_key = keys.generate_data_key(CONTEXT)
    for context in ({**CONTEXT, "delivery": "2026-11-24-0002"}, {"purpose": CONTEXT["purpose"]}, {**CONTEXT, "extra": ""}, {}):
        with pytest.raises(KeyUnavailable):
            keys.decrypt_data_key(data_key.wrapped, context)


def test_an_altered_or_truncated_wrapped_key_is_refused(master):
    keys = master.adapter()
    wrapped = keys.generate_data_key(CONTEXT).wrapped
    for blob in (altered(wrapped, 0), altered(wrapped, len(wrapped) // 2), altered(wrapped, -1), wrapped[:-1], wrapped + b"\0", b""):
        with pytest.raises(KeyUnavailable):
            keys.decrypt_data_key(blob, CONTEXT)


def test_another_instance_on_the_same_master_key_unwraps(master):
    data_key = master.adapter().generate_data_key(CONTEXT)
    assert master.adapter().decrypt_data_key(data_key.wrapped, CONTEXT) == data_key.plaintext


def test_another_master_key_cannot_unwrap(master):
    data_key = master.adapter().generate_data_key(CONTEXT)
    other = master.other()
    other.generate_data_key(CONTEXT)  # the other master exists (locally: its file is made)
    with pytest.raises(KeyUnavailable):
        other.decrypt_data_key(data_key.wrapped, CONTEXT)


def test_contexts_of_strings_only(master):
    keys = master.adapter()
    for context in ({"n": 1}, {"": "x"}, {1: "x"}):
        with pytest.raises(TypeError):
            keys.generate_data_key(context)


def test_token_key_is_made_once_and_shared(master):
    first = token_key(master.adapter(), master.kv, "outreach")
    assert len(first) == 32
    assert token_key(master.adapter(), master.kv, "outreach") == first  # another process, the same key
    assert token_key(master.adapter(), master.kv, "clinical") != first
    stored = master.kv.get(TOKEN_KEYS_TABLE, "outreach")
    assert first not in base64.b64decode(stored["wrapped"])  # only its wrapped form is stored
    # Under another master key the stored token key cannot be read: it is refused, never replaced.
    with pytest.raises(KeyUnavailable):
        token_key(master.other(), master.kv, "outreach")
    assert master.kv.get(TOKEN_KEYS_TABLE, "outreach") == stored


def test_concurrent_first_uses_agree_on_one_token_key(master):
    count = 6
    start, found, errors = threading.Barrier(count), [], []

    def use() -> None:
        try:
            keys = master.adapter()
            start.wait()
            found.append(token_key(keys, master.kv, "raced"))
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=use) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(found) == count and len(set(found)) == 1
    assert master.kv.get(TOKEN_KEYS_TABLE, "raced")["version"] == 1  # written once


# Local only: the key file.


def test_local_key_file_is_private_and_made_on_first_use(tmp_path):
    path = tmp_path / "keys" / "master.key"
    keys = LocalKeyFile(path)
    assert not path.exists()
    keys.generate_data_key(CONTEXT)
    assert path.stat().st_mode & 0o777 == 0o600 and path.stat().st_size == 32
    assert os.listdir(path.parent) == ["master.key"]  # no temporary file left behind


def test_local_missing_key_file_is_reported_not_replaced(tmp_path):
    wrapped = LocalKeyFile(tmp_path / "keys" / "master.key").generate_data_key(CONTEXT).wrapped
    lost = tmp_path / "elsewhere" / "master.key"
    with pytest.raises(KeyUnavailable, match="does not exist"):
        LocalKeyFile(lost).decrypt_data_key(wrapped, CONTEXT)
    assert not lost.exists()


def test_local_refusals_say_why(tmp_path):
    keys = LocalKeyFile(tmp_path / "keys" / "master.key")
    wrapped = keys.generate_data_key(CONTEXT).wrapped
    other = LocalKeyFile(tmp_path / "other" / "master.key")
    other.generate_data_key(CONTEXT)
    with pytest.raises(KeyUnavailable, match="wrapped under master key [0-9a-f]{16}, but .* holds [0-9a-f]{16}"):
        other.decrypt_data_key(wrapped, CONTEXT)
    with pytest.raises(KeyUnavailable, match="altered, or .* is not its context"):
        keys.decrypt_data_key(wrapped, {**CONTEXT, "delivery": "x"})
    with pytest.raises(KeyUnavailable, match="not a key wrapped by a local key file"):
        keys.decrypt_data_key(wrapped[:-1], CONTEXT)
    (tmp_path / "short.key").write_bytes(b"too short")
    with pytest.raises(ValueError, match="32 bytes"):
        LocalKeyFile(tmp_path / "short.key").generate_data_key(CONTEXT)


def test_local_creator_that_loses_the_race_uses_the_winners_key(tmp_path, monkeypatch):
    """Another process creates the file between our check and our link: we must read its key."""
    path = tmp_path / "keys" / "master.key"
    link, winner = os.link, []

    def another_process_links_first(source, target):
        monkeypatch.setattr(os, "link", link)
        winner.append(LocalKeyFile(path).generate_data_key(CONTEXT))
        link(source, target)  # FileExistsError: the loser's key is dropped

    monkeypatch.setattr(os, "link", another_process_links_first)
    loser = LocalKeyFile(path)
    mine = loser.generate_data_key(CONTEXT)
    assert winner, "the race was not staged"
    assert loser.decrypt_data_key(winner[0].wrapped, CONTEXT) == winner[0].plaintext
    assert LocalKeyFile(path).decrypt_data_key(mine.wrapped, CONTEXT) == mine.plaintext
    assert os.listdir(path.parent) == ["master.key"]


def _generate_in_process(path, barrier, results):
    keys = LocalKeyFile(path)
    barrier.wait()
    data_key = keys.generate_data_key(CONTEXT)
    results.put((data_key.plaintext, data_key.wrapped))


def test_local_processes_racing_to_create_the_key_file_end_with_one_key(tmp_path):
    path = tmp_path / "keys" / "master.key"
    count = 4
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(count), context.Queue()
    processes = [context.Process(target=_generate_in_process, args=(path, barrier, results)) for _ in range(count)]
    for process in processes:
        process.start()
    made = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    # Every process wrapped its data key under the one key the file holds.
    keys = LocalKeyFile(path)
    assert [keys.decrypt_data_key(wrapped, CONTEXT) for _, wrapped in made] == [plaintext for plaintext, _ in made]
    assert os.listdir(path.parent) == ["master.key"]


# AWS only: KMS errors.


def test_kms_errors_name_the_key_and_the_code(moto_endpoint):
    keys = KmsKeys(aws_client("kms", moto_endpoint), key_id=f"alias/missing-{uuid.uuid4().hex[:8]}")
    with pytest.raises(KeyUnavailable, match=f"{keys.key_id}.*NotFoundException"):
        keys.generate_data_key(CONTEXT)
    with pytest.raises(KeyUnavailable, match="NotFoundException"):
        keys.decrypt_data_key(b"x" * 64, CONTEXT)


def test_a_field_encrypted_by_a_load_is_revealed_only_with_its_key_and_field(master):
    """The outreach envelope on each adapter: a load's data key wrapped into the key-value store,
    a value sealed under it with feed and field as associated data, unwrapped again by another
    process; another field's associated data or another master key cannot open it."""
    from assets.outreach import state
    from dataplatform.governance.protection import decrypt_value, encrypt_value, key_ref_of

    data_key, key_ref = state.new_data_key(master.adapter(), master.kv, "members", "2026-11-24-m01")
    sealed = encrypt_value(data_key.plaintext, key_ref, "+12025550147", "members/phone")
    assert "+12025550147" not in sealed and "2025550147" not in sealed
    unwrapped = state.data_key(master.adapter(), master.kv, key_ref_of(sealed))
    assert decrypt_value(unwrapped, sealed, "members/phone") == "+12025550147"
    with pytest.raises(ValueError):
        decrypt_value(unwrapped, sealed, "members/email")
    with pytest.raises(KeyUnavailable):
        state.data_key(master.other(), master.kv, key_ref)
