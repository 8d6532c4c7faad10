"""The ObjectStore contract: every test runs against LocalObjectStore and S3ObjectStore (moto)."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path

import pytest

from dataplatform.resources.lake import LocalObjectStore, ObjectInfo, S3ObjectStore


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def put_all(store, bucket: str, keys) -> None:
    for key in keys:
        store.put(bucket, key, key.encode())


def test_put_get_round_trip(store):
    data = bytes(range(256)) * 10
    info = store.put("landing", "a/b/c.bin", data)
    assert info == ObjectInfo("a/b/c.bin", md5(data), len(data))
    assert store.get("landing", "a/b/c.bin") == data


def test_put_overwrites(store):
    store.put("landing", "k", b"old")
    store.put("landing", "k", b"new!")
    assert store.get("landing", "k") == b"new!"
    assert [(o.key, o.size) for o in store.list("landing")] == [("k", 4)]


def test_buckets_are_separate(store):
    store.put("landing", "k", b"landing")
    assert list(store.list("raw")) == []
    with pytest.raises(FileNotFoundError):
        store.get("raw", "k")


def test_get_missing_raises_file_not_found(store):
    store.put("landing", "present", b"x")
    with pytest.raises(FileNotFoundError):
        store.get("landing", "absent")


def test_etag_is_content_md5(store):
    first = store.put("landing", "one", b"same bytes")
    second = store.put("landing", "two", b"same bytes")
    third = store.put("landing", "three", b"other bytes")
    assert first.etag == second.etag == md5(b"same bytes")
    assert third.etag == md5(b"other bytes") != first.etag
    listed = {o.key: o.etag for o in store.list("landing")}
    assert listed == {"one": first.etag, "two": first.etag, "three": third.etag}


KEYS = [
    "cloudfront/E2XYZ.2026-01-01-01.y.gz",
    "cloudfront/E1ABC.2026-01-01-00.x.gz",
    "cloudfront/E1ABC.2026-01-01-01.x.gz",
    "cloudfront/2026/01/02/deep.gz",
    "cloudfront/2026/01/01/deep.gz",
    "cloudfronts/sibling.gz",
    "other/z.gz",
    "top.gz",
]


def test_list_is_lexicographic_with_sizes(store):
    put_all(store, "landing", KEYS)
    listed = list(store.list("landing"))
    assert [o.key for o in listed] == sorted(KEYS)
    assert all(o.size == len(o.key) and o.etag == md5(o.key.encode()) for o in listed)


def test_list_filters_by_prefix(store):
    put_all(store, "landing", KEYS)
    assert [o.key for o in store.list("landing", prefix="cloudfront/")] == sorted(
        k for k in KEYS if k.startswith("cloudfront/")
    )
    # A prefix is a string prefix, not a directory: it also matches "cloudfronts/".
    assert [o.key for o in store.list("landing", prefix="cloudfront")] == sorted(
        k for k in KEYS if k.startswith("cloudfront")
    )
    assert [o.key for o in store.list("landing", prefix="cloudfront/E1")] == [
        "cloudfront/E1ABC.2026-01-01-00.x.gz",
        "cloudfront/E1ABC.2026-01-01-01.x.gz",
    ]
    assert [o.key for o in store.list("landing", prefix="cloudfront/2026/01/")] == [
        "cloudfront/2026/01/01/deep.gz",
        "cloudfront/2026/01/02/deep.gz",
    ]
    assert list(store.list("landing", prefix="nothing/")) == []


def test_list_start_after_is_exclusive_and_resumes(store):
    put_all(store, "landing", KEYS)
    ordered = sorted(KEYS)
    for index, key in enumerate(ordered):
        assert [o.key for o in store.list("landing", start_after=key)] == ordered[index + 1 :]
    # Resuming page by page from the last key seen visits every key exactly once.
    seen, cursor = [], ""
    while page := [o.key for o in store.list("landing", start_after=cursor)][:3]:
        seen.extend(page)
        cursor = page[-1]
    assert seen == ordered
    # start_after need not be an existing key, and combines with prefix.
    resumed = store.list("landing", prefix="cloudfront/", start_after="cloudfront/E1ABC.2026-01-01-00")
    assert [o.key for o in resumed] == [
        "cloudfront/E1ABC.2026-01-01-00.x.gz",
        "cloudfront/E1ABC.2026-01-01-01.x.gz",
        "cloudfront/E2XYZ.2026-01-01-01.y.gz",
    ]


def test_list_prefixes_with_dot_delimiter(store):
    put_all(store, "raw", [k for k in KEYS if k.startswith("cloudfront/E")])
    assert store.list_prefixes("raw", "cloudfront/", ".") == ["cloudfront/E1ABC.", "cloudfront/E2XYZ."]
    # The delimiter is just a string: the roll-up spans "/" when the first "." is deeper.
    put_all(store, "landing", KEYS)
    assert store.list_prefixes("landing", "cloudfront/", ".") == [
        "cloudfront/2026/01/01/deep.",
        "cloudfront/2026/01/02/deep.",
        "cloudfront/E1ABC.",
        "cloudfront/E2XYZ.",
    ]


def test_list_prefixes_with_slash_delimiter_rolls_up_folders(store):
    put_all(store, "landing", KEYS)
    assert store.list_prefixes("landing", "", "/") == ["cloudfront/", "cloudfronts/", "other/"]
    assert store.list_prefixes("landing", "cloudfront/", "/") == ["cloudfront/2026/"]
    assert store.list_prefixes("landing", "cloudfront/2026/01/", "/") == [
        "cloudfront/2026/01/01/",
        "cloudfront/2026/01/02/",
    ]
    assert store.list_prefixes("landing", "other/", "/") == []


def test_delete(store):
    put_all(store, "landing", ["a/1", "a/2"])
    store.delete("landing", "a/1")
    with pytest.raises(FileNotFoundError):
        store.get("landing", "a/1")
    assert [o.key for o in store.list("landing")] == ["a/2"]
    store.delete("landing", "a/1")  # already gone: not an error
    store.delete("landing", "never/existed")


def test_upload_publishes_file(store, tmp_path):
    data = b"parquet bytes " * 1000
    source = tmp_path / "part-0.parquet"
    source.write_bytes(data)
    info = store.upload(source, "raw", "cloudfront/dt=2026-01-01/part-0.parquet")
    assert info == ObjectInfo("cloudfront/dt=2026-01-01/part-0.parquet", md5(data), len(data))
    assert store.get("raw", info.key) == data
    assert list(store.list("raw")) == [info]


def test_localized_yields_paths_with_object_bytes(store):
    objects = {"a/x.gz": b"first", "b/x.gz": b"second", "c.gz": b""}
    for key, data in objects.items():
        store.put("landing", key, data)
    with store.localized("landing", list(objects)) as paths:
        assert len(paths) == len(objects)
        assert [p.read_bytes() for p in paths] == list(objects.values())


def test_uri(store):
    if isinstance(store, LocalObjectStore):
        base = str(store.root / "raw")
    else:
        assert isinstance(store, S3ObjectStore)
        base = f"s3://{store.bucket_prefix}raw"
    assert store.uri("raw", "a/b.parquet") == base + "/a/b.parquet"
    assert store.uri("raw") == base + "/"
    assert store.uri("raw", "cloudfront/") == base + "/cloudfront/"  # a prefix keeps its slash


# Local-only behaviour.


@pytest.fixture
def local_store(tmp_path):
    return LocalObjectStore(tmp_path / "lake")


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "/absolute", ""])
def test_local_rejects_unsafe_keys(local_store, key):
    for operation in (
        lambda: local_store.put("landing", key, b"x"),
        lambda: local_store.get("landing", key),
        lambda: local_store.delete("landing", key),
    ):
        with pytest.raises(ValueError):
            operation()
    assert not (local_store.root.parent / "escape").exists()


def test_local_hides_temporary_files(local_store):
    local_store.put("landing", "dir/real.gz", b"x")
    (local_store.root / "landing" / "dir" / ".real.gz.123.tmp").write_bytes(b"partial")
    assert [o.key for o in local_store.list("landing")] == ["dir/real.gz"]
    assert local_store.list_prefixes("landing", "dir/", ".") == ["dir/real."]


def test_local_full_disk_keeps_the_old_object_and_leaves_no_partial_file(local_store, monkeypatch, tmp_path):
    local_store.put("landing", "dir/a.gz", b"old")
    source = tmp_path / "new.gz"
    source.write_bytes(b"new" * 1000)
    real_write = Path.write_bytes

    def full_disk(self, data):
        real_write(self, data[:10])  # part of it reached the disk
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    monkeypatch.setattr("shutil.copyfile", lambda src, dst: full_disk(Path(dst), Path(src).read_bytes()))
    for write in (lambda: local_store.put("landing", "dir/a.gz", b"new"), lambda: local_store.upload(source, "landing", "dir/a.gz")):
        with pytest.raises(OSError, match="No space left"):
            write()
        assert sorted(p.name for p in (local_store.root / "landing" / "dir").iterdir()) == ["a.gz"]
        assert local_store.get("landing", "dir/a.gz") == b"old"


def test_localized_missing_key_raises_file_not_found(store):
    store.put("landing", "present", b"x")
    with pytest.raises(FileNotFoundError):
        with store.localized("landing", ["present", "absent"]):
            pass


def test_list_level_returns_rollups_and_loose_objects(store):
    for key in ("z/a.1.gz", "z/a.2.gz", "z/b.1.gz", "z/loose", "z/sub/c.gz", "other/x.gz"):
        store.put("landing", key, b"x")
    rolled, loose = store.list_level("landing", "z/", ".")
    assert rolled == ["z/a.", "z/b.", "z/sub/c."]
    assert [info.key for info in loose] == ["z/loose"]
    rolled, loose = store.list_level("landing", "z/", "/")
    assert rolled == ["z/sub/"]
    assert [info.key for info in loose] == ["z/a.1.gz", "z/a.2.gz", "z/b.1.gz", "z/loose"]
