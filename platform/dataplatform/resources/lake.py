"""Object-store port: buckets of keyed objects. `local` = a folder per bucket, `aws` = S3.

Keys use `/` separators. Listing is lexicographic by key, like S3, so callers can resume
with `start_after` and roll keys up with a delimiter instead of walking everything.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    etag: str  # content hash (S3's ETag without quotes)
    size: int


class ObjectStore(ABC):
    @abstractmethod
    def put(self, bucket: str, key: str, data: bytes) -> ObjectInfo: ...

    @abstractmethod
    def get(self, bucket: str, key: str) -> bytes: ...

    @abstractmethod
    def list(self, bucket: str, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        """Objects under `prefix` with key > `start_after`, in key order."""

    def list_keys(self, bucket: str, prefix: str = "", start_after: str = "") -> Iterator[str]:
        """Keys only, for callers that need no ETags (adapters may skip computing them)."""
        return (info.key for info in self.list(bucket, prefix, start_after))

    @abstractmethod
    def list_level(self, bucket: str, prefix: str, delimiter: str) -> tuple[list[str], list[ObjectInfo]]:
        """One level under `prefix`, like S3's listing with a delimiter: the distinct
        `prefix + ... + delimiter` roll-ups (CommonPrefixes) and the objects that did not roll up."""

    def list_prefixes(self, bucket: str, prefix: str, delimiter: str) -> list[str]:
        return self.list_level(bucket, prefix, delimiter)[0]

    @abstractmethod
    def delete(self, bucket: str, key: str) -> None: ...

    @abstractmethod
    def upload(self, path: Path, bucket: str, key: str) -> ObjectInfo:
        """Publish a finished local file at `key` atomically (readers see all of it or nothing)."""

    @abstractmethod
    def uri(self, bucket: str, key: str = "") -> str:
        """Address engines use to read the object or prefix (a path locally, s3:// on AWS)."""

    @abstractmethod
    @contextlib.contextmanager
    def localized(self, bucket: str, keys: Sequence[str]) -> Iterator[list[Path]]:
        """Local file paths for `keys` for the duration of the block."""


@functools.lru_cache(maxsize=1 << 16)
def _md5_of(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _md5(path: Path) -> str:
    """The file's MD5, hashed once per version of the file (size, mtime) in a process: the
    arrival sensor, the run's ledger and the reconciliation all list the same files."""
    stat = path.stat()
    return _md5_of(str(path), stat.st_size, stat.st_mtime_ns)


@contextlib.contextmanager
def _published(tmp: Path, target: Path) -> Iterator[None]:
    """Write `tmp` in the block, then rename it over `target` (readers see the old object or the
    new one); a failed write (disk full) removes `tmp`, leaving nothing partial behind."""
    try:
        yield
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class LocalObjectStore(ObjectStore):
    """A folder per bucket under `root`. ETags are MD5 of the content, as S3 single-part puts."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, bucket: str, key: str) -> Path:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid object key {key!r}")
        return self.root / bucket / key

    def put(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        path = self._path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # unique per writer, threads included
        with _published(tmp, path):
            tmp.write_bytes(data)
        return ObjectInfo(key, hashlib.md5(data).hexdigest(), len(data))

    def get(self, bucket: str, key: str) -> bytes:
        path = self._path(bucket, key)
        if not path.is_file():
            raise FileNotFoundError(f"{bucket}/{key}")
        return path.read_bytes()

    def _keys_under(self, bucket: str, prefix: str) -> Iterator[str]:
        base = self.root / bucket
        # Walk only the deepest directory the prefix names, not the whole bucket.
        directory, _, _ = prefix.rpartition("/")
        start = base / directory if directory else base
        if not start.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(start):
            rel_dir = Path(dirpath).relative_to(base).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            dirnames[:] = [d for d in dirnames if (rel_dir + d + "/").startswith(prefix) or prefix.startswith(rel_dir + d + "/")]
            for name in filenames:
                if name.startswith("."):
                    continue  # in-flight temporary files
                key = rel_dir + name
                if key.startswith(prefix):
                    yield key

    def list(self, bucket: str, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        for key in sorted(k for k in self._keys_under(bucket, prefix) if k > start_after):
            path = self.root / bucket / key
            yield ObjectInfo(key, _md5(path), path.stat().st_size)

    def list_keys(self, bucket: str, prefix: str = "", start_after: str = "") -> Iterator[str]:
        # Hashing every file for an ETag nobody reads was the ingest's biggest listing cost.
        return iter(sorted(k for k in self._keys_under(bucket, prefix) if k > start_after))

    def list_level(self, bucket: str, prefix: str, delimiter: str) -> tuple[list[str], list[ObjectInfo]]:
        if delimiter == "/" and (prefix == "" or prefix.endswith("/")):
            return self._directory_level(bucket, prefix)
        rolled, loose = set(), []
        for key in self._keys_under(bucket, prefix):
            rest = key[len(prefix):]
            if delimiter in rest:
                rolled.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
            else:
                path = self.root / bucket / key
                loose.append(ObjectInfo(key, _md5(path), path.stat().st_size))
        return sorted(rolled), sorted(loose, key=lambda info: info.key)

    def _directory_level(self, bucket: str, prefix: str) -> tuple[list[str], list[ObjectInfo]]:
        """One directory's entries, as S3's common prefixes and objects at that level: the cost of a
        level, not of everything under it. (A directory emptied by deletes still shows, empty.)"""
        if prefix and ".." in prefix.split("/"):
            raise ValueError(f"invalid prefix {prefix!r}")
        rolled, loose = [], []
        with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(self.root / bucket / prefix) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # in-flight temporary files
                if entry.is_dir():
                    rolled.append(f"{prefix}{entry.name}/")
                else:
                    loose.append(ObjectInfo(prefix + entry.name, _md5(Path(entry.path)), entry.stat().st_size))
        return sorted(rolled), sorted(loose, key=lambda info: info.key)

    def delete(self, bucket: str, key: str) -> None:
        self._path(bucket, key).unlink(missing_ok=True)

    def upload(self, path: Path, bucket: str, key: str) -> ObjectInfo:
        target = self._path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        with _published(tmp, target):
            shutil.copyfile(path, tmp)
        return ObjectInfo(key, _md5(target), target.stat().st_size)

    def uri(self, bucket: str, key: str = "") -> str:
        path = str(self.root / bucket / key)  # pathlib drops a trailing "/"; a prefix keeps it, as on S3
        return path + "/" if not key or key.endswith("/") else path

    @contextlib.contextmanager
    def localized(self, bucket: str, keys: Sequence[str]) -> Iterator[list[Path]]:
        paths = [self._path(bucket, key) for key in keys]
        missing = [key for key, path in zip(keys, paths) if not path.is_file()]
        if missing:
            raise FileNotFoundError(f"{bucket}/{missing[0]}")
        yield paths


class BucketMissing(LookupError):
    """The deployment's bucket does not exist: named, not a bare NoSuchBucket."""


class S3ObjectStore(ObjectStore):
    """S3 with one bucket per logical bucket name: `<bucket_prefix><name>`."""

    def __init__(self, client, bucket_prefix: str = ""):
        self.client = client
        self.bucket_prefix = bucket_prefix

    def _bucket(self, bucket: str) -> str:
        return self.bucket_prefix + bucket

    @contextlib.contextmanager
    def _existing(self, bucket: str) -> Iterator[None]:
        try:
            yield
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchBucket":
                raise BucketMissing(
                    f"bucket {self._bucket(bucket)} does not exist (the lake's {bucket!r} bucket: "
                    "<DATAPLATFORM_S3_BUCKET_PREFIX><name>, created by platform/infrastructure/cloudformation.yaml)"
                ) from None
            raise

    def put(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        with self._existing(bucket):
            response = self.client.put_object(Bucket=self._bucket(bucket), Key=key, Body=data)
        return ObjectInfo(key, response["ETag"].strip('"'), len(data))

    def get(self, bucket: str, key: str) -> bytes:
        try:
            with self._existing(bucket):
                return self.client.get_object(Bucket=self._bucket(bucket), Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey as error:
            raise FileNotFoundError(f"{bucket}/{key}") from error

    def list(self, bucket: str, prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        kwargs = {"Bucket": self._bucket(bucket), "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        with self._existing(bucket):
            for page in paginator.paginate(**kwargs):
                for item in page.get("Contents", []):
                    yield ObjectInfo(item["Key"], item["ETag"].strip('"'), item["Size"])

    def list_level(self, bucket: str, prefix: str, delimiter: str) -> tuple[list[str], list[ObjectInfo]]:
        paginator = self.client.get_paginator("list_objects_v2")
        rolled, loose = [], []
        with self._existing(bucket):
            for page in paginator.paginate(Bucket=self._bucket(bucket), Prefix=prefix, Delimiter=delimiter):
                rolled.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
                loose.extend(ObjectInfo(i["Key"], i["ETag"].strip('"'), i["Size"]) for i in page.get("Contents", []))
        return sorted(rolled), sorted(loose, key=lambda info: info.key)

    def delete(self, bucket: str, key: str) -> None:
        with self._existing(bucket):
            self.client.delete_object(Bucket=self._bucket(bucket), Key=key)

    def upload(self, path: Path, bucket: str, key: str) -> ObjectInfo:
        # A PUT is atomic in S3: readers see the previous object or the whole new one.
        data = Path(path).read_bytes()
        return self.put(bucket, key, data)

    def uri(self, bucket: str, key: str = "") -> str:
        return f"s3://{self._bucket(bucket)}/{key}"

    @contextlib.contextmanager
    def localized(self, bucket: str, keys: Sequence[str]) -> Iterator[list[Path]]:
        with tempfile.TemporaryDirectory(prefix="dataplatform-") as tmp:
            paths = []
            for index, key in enumerate(keys):
                path = Path(tmp) / f"{index:06d}-{key.rsplit('/', 1)[-1]}"
                try:
                    self.client.download_file(self._bucket(bucket), key, str(path))
                except self.client.exceptions.ClientError as error:
                    if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
                        raise FileNotFoundError(f"{bucket}/{key}") from error
                    raise
                paths.append(path)
            yield paths
