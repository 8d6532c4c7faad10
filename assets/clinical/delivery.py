"""MIMIC deliveries in the landing zone: `clinical/mimic/<delivery_id>/` holds one file per table
and, written last, `manifest.json` listing each file's key, rows, bytes and sha256.

A delivery is complete when its manifest lists every required table and every listed file is
present with the listed size. Deliveries are full snapshots: the newest complete one wins.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from assets.clinical.format import LANDING_BUCKET, LANDING_PREFIX, MANIFEST_NAME, REQUIRED_TABLES, TABLES


@dataclass(frozen=True)
class TableFile:
    table: str
    key: str
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    delivery_id: str
    created_at: str
    format: str
    files: tuple[TableFile, ...]

    def file(self, table: str) -> TableFile | None:
        return next((f for f in self.files if f.table == table), None)


class DeliveryError(ValueError):
    """A manifest that cannot be used; the message says why."""


def parse_manifest(data: bytes, manifest_key: str) -> Manifest:
    prefix = manifest_key[: -len(MANIFEST_NAME)]
    try:
        document = json.loads(data)
        files = tuple(
            TableFile(table, _landing_key(prefix, entry["key"]), int(entry["rows"]), int(entry["bytes"]), entry["sha256"])
            for table, entry in document["tables"].items()
        )
        manifest = Manifest(document["delivery_id"], document["created_at"], document["format"], files)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DeliveryError(f"{manifest_key}: not a valid delivery manifest ({error!r})") from error
    unknown = [f.table for f in files if f.table not in TABLES]
    if unknown:
        raise DeliveryError(f"{manifest_key}: unknown tables {unknown}")
    if manifest.format not in ("csv", "parquet"):
        raise DeliveryError(f"{manifest_key}: unknown format {manifest.format!r}")
    return manifest


def _landing_key(delivery_prefix: str, key: str) -> str:
    """Manifests may name files by landing key or relative to the delivery folder."""
    return key if key.startswith(LANDING_PREFIX) else delivery_prefix + key


def missing_parts(manifest: Manifest, sizes: dict[str, int]) -> list[str]:
    """What keeps a delivery from being complete (empty when it is), given the sizes of the
    objects present in the landing zone by key."""
    problems = [f"{table} not in manifest" for table in REQUIRED_TABLES if manifest.file(table) is None]
    for entry in manifest.files:
        if entry.key not in sizes:
            problems.append(f"{entry.key} missing")
        elif sizes[entry.key] != entry.bytes:
            problems.append(f"{entry.key} has {sizes[entry.key]} bytes, manifest says {entry.bytes}")
    return problems


def manifest_keys(lake) -> list[str]:
    """Keys of every delivery manifest, in delivery order (ids sort by time)."""
    return sorted(
        key for key in lake.list_keys(LANDING_BUCKET, LANDING_PREFIX) if key.rsplit("/", 1)[-1] == MANIFEST_NAME
    )


def newest_complete_delivery(lake, log=lambda message: None, delivery_id: str = "") -> tuple[Manifest, str] | None:
    """The newest complete delivery (or the one with `delivery_id`) and its fingerprint, or None.
    Incomplete and invalid deliveries are reported through `log` and left for a later look.

    Every manifest is read (they are small); delivery folders are listed newest first only until
    a complete one is found, since listing may cost a hash per file (the local store's ETags).
    The fingerprint hashes the ETags of the manifest and of every file it lists, so a
    re-uploaded file is a new delivery state."""
    candidates = []
    for key in manifest_keys(lake):
        try:
            manifest = parse_manifest(lake.get(LANDING_BUCKET, key), key)
        except DeliveryError as error:
            log(str(error))
            continue
        if not delivery_id or manifest.delivery_id == delivery_id:
            candidates.append((manifest, key))
    for manifest, key in sorted(candidates, key=lambda pair: (pair[0].created_at, pair[0].delivery_id), reverse=True):
        objects = {info.key: info for info in lake.list(LANDING_BUCKET, key[: -len(MANIFEST_NAME)])}
        problems = missing_parts(manifest, {name: info.size for name, info in objects.items()})
        if problems:
            log(f"delivery {manifest.delivery_id} incomplete: {'; '.join(problems[:5])}")
            continue
        state = [objects[key].etag, *(objects[entry.key].etag for entry in manifest.files)]
        return manifest, hashlib.sha256("\n".join(state).encode()).hexdigest()[:32]
    return None



def _folder(key: str) -> str:
    return key[len(LANDING_PREFIX):].split("/", 1)[0]


def pending_problems(lake, newest: Manifest | None) -> list[str]:
    """Why the deliveries after the newest complete one (all of them when none is) cannot be
    loaded: files without a manifest, an invalid manifest, files missing or of the wrong size.
    Earlier deliveries are superseded (deliveries are full snapshots). Empty when none waits."""
    loaded = _folder(newest.files[0].key) if newest is not None and newest.files else ""
    folders: dict[str, dict[str, int]] = {}
    for info in lake.list(LANDING_BUCKET, LANDING_PREFIX):
        folders.setdefault(_folder(info.key), {})[info.key] = info.size
    problems = []
    for folder, sizes in sorted(folders.items()):
        if folder <= loaded:
            continue
        manifest_key = f"{LANDING_PREFIX}{folder}/{MANIFEST_NAME}"
        if manifest_key not in sizes:
            problems.append(f"delivery {folder}: {len(sizes)} files and no {MANIFEST_NAME} (loaded once it arrives)")
            continue
        try:
            manifest = parse_manifest(lake.get(LANDING_BUCKET, manifest_key), manifest_key)
        except DeliveryError as error:
            problems.append(f"delivery {folder}: {error}")
            continue
        missing = missing_parts(manifest, sizes)
        if missing:
            problems.append(f"delivery {folder} incomplete: {'; '.join(missing[:5])}")
    return problems
