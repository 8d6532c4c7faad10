"""Keys port: envelope encryption. A data key is generated per purpose, used in memory, and stored
only wrapped under a master key that never leaves its service.
`local` = a 256-bit master key in a file, `aws` = KMS (GenerateDataKey / Decrypt).

Every data key is bound to an encryption context (KMS semantics): unwrapping needs exactly the
context it was generated with, so a wrapped key copied to another purpose or record is refused.
Both adapters refuse the same things with the same exception, KeyUnavailable.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256
_NONCE_BYTES = 12
_VERSION = b"lk1"  # local wrapped key, format 1: version + master key id + nonce + ciphertext
_KEY_ID_BYTES = 8
_HEADER_BYTES = len(_VERSION) + _KEY_ID_BYTES
_WRAPPED_BYTES = _HEADER_BYTES + _NONCE_BYTES + KEY_BYTES + 16  # + the GCM tag

# What KMS answers when a wrapped key cannot be unwrapped (as opposed to throttling or an outage).
_UNAVAILABLE_CODES = frozenset({
    "InvalidCiphertextException",  # altered blob, or a different encryption context
    "IncorrectKeyException",  # wrapped under another KMS key
    "AccessDeniedException",
    "NotFoundException",
    "DisabledException",
    "KMSInvalidStateException",  # pending deletion, pending import
})


@dataclass(frozen=True)
class DataKey:
    plaintext: bytes  # 32 bytes: use, never store
    wrapped: bytes  # safe to store: only the master key unwraps it


class KeyUnavailable(Exception):
    """The master key cannot serve the request: a wrapped key made under another master key, an
    altered blob, a different encryption context; or the master key is missing, disabled or denied.
    The message says which, as far as the service tells (KMS: its error code)."""


def _check_context(context: Mapping[str, str]) -> dict[str, str]:
    if not all(isinstance(k, str) and k and isinstance(v, str) for k, v in context.items()):
        raise TypeError(f"encryption context {context!r}: non-empty string keys, string values")
    return dict(context)


class KeyService(ABC):
    @abstractmethod
    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        """A fresh random 256-bit data key, with its wrapped form bound to `context`."""

    @abstractmethod
    def decrypt_data_key(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        """The data key of `wrapped`, given exactly the context it was generated with; KeyUnavailable otherwise."""


class LocalKeyFile(KeyService):
    """A 32-byte master key in `path` (mode 0600), created on first use. Data keys are wrapped with
    AES-256-GCM under it, the canonical JSON of the context (sorted keys) as associated data.

    The file is written whole to a temporary file and then hard-linked into place, which fails if
    the name exists: of two processes creating it at once one wins and the other reads the winner's
    key, so no process ever holds a master key that is not the file's."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._master: tuple[bytes, bytes] | None = None  # (key, id)

    def _create(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".master-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(os.urandom(KEY_BYTES))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process won: its key is the key
                os.link(temporary, self.path)
        finally:
            os.unlink(temporary)

    def _master_key(self, create: bool) -> tuple[bytes, bytes]:
        """The master key and its id, which each wrapped key carries so that unwrapping under
        another master key says so (instead of a bare authentication failure)."""
        if self._master is None:
            if not self.path.exists():
                if not create:  # a lost key file is reported, not silently replaced by a new key
                    raise KeyUnavailable(f"{self.path} does not exist: no master key to unwrap with")
                self._create()
            key = self.path.read_bytes()
            if len(key) != KEY_BYTES:
                raise ValueError(f"{self.path}: a master key is {KEY_BYTES} bytes, this file holds {len(key)}")
            self._master = key, hmac.new(key, b"dataplatform master key id", hashlib.sha256).digest()[:_KEY_ID_BYTES]
        return self._master

    @staticmethod
    def _associated_data(context: Mapping[str, str]) -> bytes:
        return json.dumps(_check_context(context), sort_keys=True, separators=(",", ":")).encode()

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        associated = self._associated_data(context)
        master, master_id = self._master_key(create=True)
        plaintext, nonce = os.urandom(KEY_BYTES), os.urandom(_NONCE_BYTES)
        return DataKey(plaintext, _VERSION + master_id + nonce + AESGCM(master).encrypt(nonce, plaintext, associated))

    def decrypt_data_key(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        associated = self._associated_data(context)
        if len(wrapped) != _WRAPPED_BYTES or not wrapped.startswith(_VERSION):
            raise KeyUnavailable(f"not a key wrapped by a local key file ({len(wrapped)} bytes, expected {_WRAPPED_BYTES})")
        master, master_id = self._master_key(create=False)
        key_id = wrapped[len(_VERSION):_HEADER_BYTES]
        nonce, sealed = wrapped[_HEADER_BYTES:_HEADER_BYTES + _NONCE_BYTES], wrapped[_HEADER_BYTES + _NONCE_BYTES:]
        if key_id != master_id:
            raise KeyUnavailable(f"wrapped under master key {key_id.hex()}, but {self.path} holds {master_id.hex()}")
        try:
            return AESGCM(master).decrypt(nonce, sealed, associated)
        except InvalidTag:
            raise KeyUnavailable(
                f"cannot unwrap under {self.path}: the wrapped key was altered, or {context!r} is not its context"
            ) from None


class KmsKeys(KeyService):
    """Data keys from KMS under `key_id` (a key id, key ARN, alias name or alias ARN). Decrypt names
    the key too, so a blob wrapped under another KMS key is refused instead of silently accepted."""

    def __init__(self, client, key_id: str):
        self.client = client
        self.key_id = key_id

    @contextlib.contextmanager
    def _unavailable(self, action: str):
        try:
            yield
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in _UNAVAILABLE_CODES:
                raise
            detail = error.response["Error"].get("Message") or "no message"
            raise KeyUnavailable(f"KMS key {self.key_id}: cannot {action}: {code} ({detail})") from error

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        with self._unavailable("generate a data key"):
            response = self.client.generate_data_key(
                KeyId=self.key_id, KeySpec="AES_256", EncryptionContext=_check_context(context)
            )
        return DataKey(response["Plaintext"], response["CiphertextBlob"])

    def decrypt_data_key(self, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        with self._unavailable("unwrap the data key"):
            response = self.client.decrypt(
                CiphertextBlob=wrapped, EncryptionContext=_check_context(context), KeyId=self.key_id
            )
        return response["Plaintext"]
