"""Warehouse snapshot port: point-in-time copies of a warehouse that can be listed, taken,
deleted and restored into a scratch target.
`local` = consistent copies of the DuckDB warehouse file under `$DATAPLATFORM_HOME/snapshots/`,
`aws` = Redshift cluster snapshots.

A snapshot carries its creation time, type (`manual` | `automated`), status (`creating` |
`available` | `failed`), tags, size and the row counts of the warehouse's key tables at the
time it was taken (None = the table did not exist). A restore returns the row counts of the
same tables in the restored copy, so the caller can verify it.

Row counts on Redshift are recorded as snapshot tags (`dataplatform:rows:<schema.table>` =
count or `missing`): they live and die with the snapshot, survive a lost metadata store and
need no extra storage. They are counted just before the snapshot starts (Redshift offers no
way to count a snapshot without restoring it); a writer running at that moment shows up as a
mismatch in the restore drill, never as a silent pass.

Errors are `SnapshotError`s with messages that say what to do; nothing is deleted on an error.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dataplatform import faults

MANUAL, AUTOMATED = "manual", "automated"
CREATING, AVAILABLE, FAILED = "creating", "available", "failed"
NAMESPACE_TAG = "dataplatform:namespace"
ROWS_TAG_PREFIX = "dataplatform:rows:"
MISSING = "missing"

# Redshift's rules for snapshot and cluster identifiers, applied by both adapters.
_IDENTIFIER = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,254}(?<!-)$")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$")


class SnapshotError(Exception):
    """A snapshot operation failed; the message says why and what happens next."""


class ClusterNotFound(SnapshotError):
    """The warehouse (Redshift cluster, or the local DuckDB file) does not exist."""


class SnapshotNotFound(SnapshotError):
    pass


class SnapshotExists(SnapshotError):
    pass


class SnapshotNotReady(SnapshotError):
    """The snapshot is still being created (or the restored copy is not usable yet)."""


class QuotaExceeded(SnapshotError):
    """No more manual snapshots allowed: the quota must be raised or old snapshots pruned."""


class StorageFull(SnapshotError):
    """The local disk is full: the partial copy was removed."""


class WarehouseBusy(SnapshotError):
    """The local warehouse file is locked by a writer: a consistent copy is not possible now."""


class Throttled(SnapshotError):
    """The API kept throttling after every retry."""


class ProtectedSnapshot(SnapshotError):
    """Automated snapshots are managed by the service and are never deleted by the platform."""


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    cluster: str
    created: datetime  # UTC
    kind: str  # manual | automated
    status: str  # creating | available | failed
    tags: Mapping[str, str] = field(default_factory=dict)
    size_bytes: int | None = None
    row_counts: Mapping[str, int | None] = field(default_factory=dict)

    @property
    def namespace(self) -> str | None:
        return self.tags.get(NAMESPACE_TAG)

    @property
    def available(self) -> bool:
        return self.status == AVAILABLE


def check_identifier(kind: str, value: str) -> None:
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise ValueError(
            f"invalid {kind} {value!r}: 1-255 lowercase letters, digits and hyphens, starting with a letter, "
            "no '--', not ending with '-'"
        )


def check_tables(tables: Iterable[str]) -> list[str]:
    tables = list(tables)
    for table in tables:
        if not _TABLE.match(table):
            raise ValueError(f"invalid key table {table!r}: expected schema.table")
    return tables


def rows_tags(counts: Mapping[str, int | None]) -> dict[str, str]:
    return {f"{ROWS_TAG_PREFIX}{table}": (MISSING if n is None else str(n)) for table, n in counts.items()}


def counts_from_tags(tags: Mapping[str, str]) -> dict[str, int | None]:
    return {
        name[len(ROWS_TAG_PREFIX):]: (None if value == MISSING else int(value))
        for name, value in tags.items()
        if name.startswith(ROWS_TAG_PREFIX)
    }


class SnapshotStore(ABC):
    @abstractmethod
    def list_snapshots(self, cluster: str, namespace: str | None = None) -> list[Snapshot]:
        """Every snapshot of the cluster (manual and automated, any status), oldest first; with
        `namespace`, only snapshots tagged with it. Raises ClusterNotFound."""

    @abstractmethod
    def create_snapshot(
        self, cluster: str, snapshot_id: str, *, tags: Mapping[str, str], key_tables: Iterable[str]
    ) -> Snapshot:
        """Start a manual snapshot tagged with `tags`, recording the row counts of `key_tables`.
        Raises ClusterNotFound, SnapshotExists, QuotaExceeded, WarehouseBusy, StorageFull."""

    @abstractmethod
    def wait_until_available(self, cluster: str, snapshot_id: str, *, timeout_seconds: float) -> Snapshot:
        """The snapshot once available; SnapshotNotReady if it is still creating after the timeout."""

    @abstractmethod
    def delete_snapshot(self, cluster: str, snapshot_id: str) -> None:
        """Delete a manual snapshot. ProtectedSnapshot for automated ones, SnapshotNotFound if absent."""

    @abstractmethod
    def restore(
        self, cluster: str, snapshot_id: str, target: str, *, key_tables: Iterable[str], timeout_seconds: float
    ) -> dict[str, int | None]:
        """Restore the snapshot into the scratch `target`, wait until it is usable and return the
        row counts of `key_tables` there (None = missing). The target must not exist."""

    @abstractmethod
    def drop_restore(self, target: str) -> None:
        """Remove a scratch target made by `restore` (no error if it is gone)."""


# --------------------------------------------------------------------------------------------
# local: copies of the DuckDB file


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _count_rows(con, tables: Iterable[str], catalog: str | None = None) -> dict[str, int | None]:
    """Row counts of schema.table in a DuckDB connection; None for a table (or view) that does not exist."""
    counts: dict[str, int | None] = {}
    for table in tables:
        schema, name = table.split(".")
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
            + (" and table_catalog = ?" if catalog else ""),
            [schema, name, catalog] if catalog else [schema, name],
        ).fetchone()[0]
        if not exists:
            counts[table] = None
            continue
        prefix = f'"{catalog}".' if catalog else ""
        counts[table] = con.execute(f'select count(*) from {prefix}"{schema}"."{name}"').fetchone()[0]
    return counts


class LocalSnapshotStore(SnapshotStore):
    """`root/<cluster>/<snapshot_id>.duckdb` (+ `.duckdb.wal` when the warehouse had one) and
    `<snapshot_id>.json` (metadata, written last: a snapshot without it does not exist).

    A consistent copy: the warehouse is opened read-only, which takes DuckDB's shared file
    lock, so no writer can change the file (or its WAL) while the bytes are copied; row counts
    come from the same read-only connection. A writer holding the file makes the open fail:
    WarehouseBusy, retried by the next tick. `warehouses` maps cluster names to DuckDB files.
    The local warehouse has no automated snapshots of its own; `create_snapshot(..., kind=AUTOMATED)`
    stands in for them (tests, demos)."""

    def __init__(
        self,
        root: Path,
        warehouses: Mapping[str, Path],
        *,
        manual_snapshot_quota: int | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ):
        self.root = Path(root)
        self.warehouses = {name: Path(path) for name, path in warehouses.items()}
        self.manual_snapshot_quota = manual_snapshot_quota
        self.clock = clock

    def _warehouse(self, cluster: str) -> Path:
        if cluster not in self.warehouses:
            raise ClusterNotFound(f"warehouse {cluster!r} is not configured (known: {', '.join(sorted(self.warehouses))})")
        path = self.warehouses[cluster]
        if not path.exists():
            raise ClusterNotFound(
                f"warehouse {cluster!r}: {path} does not exist yet - nothing to snapshot until the pipeline "
                "has built it (e.g. `dataplatform demo` or `dataplatform catch-up`)"
            )
        return path

    def _dir(self, cluster: str) -> Path:
        return self.root / cluster

    def _read(self, path: Path) -> Snapshot:
        raw = json.loads(path.read_text())
        return Snapshot(
            snapshot_id=raw["snapshot_id"],
            cluster=raw["cluster"],
            created=datetime.fromisoformat(raw["created"]),
            kind=raw["kind"],
            status=raw["status"],
            tags=raw["tags"],
            size_bytes=raw["size_bytes"],
            row_counts=raw["row_counts"],
        )

    def _write(self, snapshot: Snapshot, database: str) -> None:
        path = self._dir(snapshot.cluster) / f"{snapshot.snapshot_id}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps(
                {
                    "snapshot_id": snapshot.snapshot_id,
                    "cluster": snapshot.cluster,
                    "created": snapshot.created.isoformat(),
                    "kind": snapshot.kind,
                    "status": snapshot.status,
                    "tags": dict(snapshot.tags),
                    "size_bytes": snapshot.size_bytes,
                    "row_counts": dict(snapshot.row_counts),
                    "database": database,
                },
                indent=1,
                sort_keys=True,
            )
        )
        tmp.replace(path)

    def list_snapshots(self, cluster: str, namespace: str | None = None) -> list[Snapshot]:
        self._warehouse(cluster)
        folder = self._dir(cluster)
        found = [self._read(path) for path in folder.glob("*.json")] if folder.exists() else []
        if namespace is not None:
            found = [s for s in found if s.namespace == namespace]
        return sorted(found, key=lambda s: (s.created, s.snapshot_id))

    def _files(self, cluster: str, snapshot_id: str) -> tuple[Path, Path]:
        data = self._dir(cluster) / f"{snapshot_id}.duckdb"
        return data, data.with_name(data.name + ".wal")

    def create_snapshot(
        self, cluster: str, snapshot_id: str, *, tags: Mapping[str, str], key_tables: Iterable[str], kind: str = MANUAL
    ) -> Snapshot:
        import duckdb

        check_identifier("snapshot identifier", snapshot_id)
        tables = check_tables(key_tables)
        source = self._warehouse(cluster)
        folder = self._dir(cluster)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / f"{snapshot_id}.json").exists():
            raise SnapshotExists(f"snapshot {snapshot_id!r} of {cluster!r} already exists")
        if kind == MANUAL and self.manual_snapshot_quota is not None:
            manual = [s for s in self.list_snapshots(cluster) if s.kind == MANUAL]
            if len(manual) >= self.manual_snapshot_quota:
                raise QuotaExceeded(
                    f"{cluster}: {len(manual)} manual snapshots reach the quota of {self.manual_snapshot_quota}; "
                    "prune old snapshots or raise the quota (nothing was created)"
                )
        data, wal = self._files(cluster, snapshot_id)
        for stale in folder.glob("*.partial"):  # copies of an attempt killed before it published
            stale.unlink(missing_ok=True)
        partial_data, partial_wal = data.with_name(data.name + ".partial"), wal.with_name(wal.name + ".partial")
        created = self.clock()
        try:
            con = duckdb.connect(str(source), read_only=True)
        except duckdb.Error as error:
            # Another process's writer holds the file lock; or this process has it open for writing.
            if "lock" in str(error).lower() or "different configuration" in str(error).lower():
                raise WarehouseBusy(
                    f"{cluster}: {source} is locked by a writer, so no consistent copy can be taken now "
                    "(the next tick retries)"
                ) from error
            raise
        try:
            counts = _count_rows(con, tables)
            try:
                shutil.copyfile(source, partial_data)
                source_wal = source.with_name(source.name + ".wal")
                if source_wal.exists():
                    shutil.copyfile(source_wal, partial_wal)
            except OSError as error:
                for path in (partial_data, partial_wal):
                    path.unlink(missing_ok=True)
                if error.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise StorageFull(
                        f"{cluster}: disk full while copying {source} to {folder}; the partial copy was removed "
                        "and no snapshot was recorded (free space; the next tick retries)"
                    ) from error
                raise
        finally:
            con.close()
        faults.point("snapshot.before_publish")
        partial_data.replace(data)
        if partial_wal.exists():
            partial_wal.replace(wal)
        size = data.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        snapshot = Snapshot(snapshot_id, cluster, created, kind, AVAILABLE, dict(tags), size, counts)
        self._write(snapshot, database=source.stem)
        return snapshot

    def _get(self, cluster: str, snapshot_id: str) -> Snapshot:
        path = self._dir(cluster) / f"{snapshot_id}.json"
        if not path.exists():
            raise SnapshotNotFound(f"snapshot {snapshot_id!r} of {cluster!r} does not exist")
        return self._read(path)

    def wait_until_available(self, cluster: str, snapshot_id: str, *, timeout_seconds: float) -> Snapshot:
        snapshot = self._get(cluster, snapshot_id)  # local copies are complete once recorded
        if snapshot.status == FAILED:
            raise SnapshotError(f"snapshot {snapshot_id!r} of {cluster!r} failed")
        if not snapshot.available:
            raise SnapshotNotReady(f"snapshot {snapshot_id!r} of {cluster!r} is still {snapshot.status}")
        return snapshot

    def delete_snapshot(self, cluster: str, snapshot_id: str) -> None:
        snapshot = self._get(cluster, snapshot_id)
        if snapshot.kind != MANUAL:
            raise ProtectedSnapshot(f"snapshot {snapshot_id!r} of {cluster!r} is {snapshot.kind}: never deleted")
        (self._dir(cluster) / f"{snapshot_id}.json").unlink()  # gone from the listing first
        for path in self._files(cluster, snapshot_id):
            path.unlink(missing_ok=True)

    def _restore_dir(self) -> Path:
        return self.root / "_restores"

    def restore(
        self, cluster: str, snapshot_id: str, target: str, *, key_tables: Iterable[str], timeout_seconds: float
    ) -> dict[str, int | None]:
        import duckdb

        check_identifier("restore target", target)
        tables = check_tables(key_tables)
        snapshot = self._get(cluster, snapshot_id)
        if not snapshot.available:
            raise SnapshotNotReady(f"snapshot {snapshot_id!r} of {cluster!r} is {snapshot.status}, not available")
        database = json.loads((self._dir(cluster) / f"{snapshot_id}.json").read_text()).get("database", "warehouse")
        data, wal = self._files(cluster, snapshot_id)
        folder = self._restore_dir()
        folder.mkdir(parents=True, exist_ok=True)
        restored = folder / f"{target}.duckdb"
        if restored.exists():
            raise SnapshotExists(f"restore target {target!r} exists from an earlier restore: drop it first")
        try:
            shutil.copyfile(data, restored)
            if wal.exists():
                shutil.copyfile(wal, restored.with_name(restored.name + ".wal"))
        except OSError as error:
            self.drop_restore(target)
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(f"disk full while restoring {snapshot_id!r} into {restored}; removed the partial copy") from error
            raise
        # Attached under the warehouse's own name, so views qualified with it resolve.
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"attach '{restored}' as \"{database}\" (read_only)")
            return _count_rows(con, tables, catalog=database)
        finally:
            con.close()

    def drop_restore(self, target: str) -> None:
        check_identifier("restore target", target)
        restored = self._restore_dir() / f"{target}.duckdb"
        for path in (restored, restored.with_name(restored.name + ".wal")):
            path.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# aws: Redshift cluster snapshots


class RedshiftDataRowCounter:
    """Row counts through the Redshift Data API (`select count(*)` per table). Credentials:
    `REDSHIFT_DATABASE` and either `REDSHIFT_SECRET_ARN` or `REDSHIFT_USER` (temporary credentials)."""

    def __init__(self, client, database: str, *, secret_arn: str | None = None, db_user: str | None = None,
                 schema_prefix: str = "", sleep: Callable[[float], None] = time.sleep, poll_seconds: float = 1.0,
                 timeout_seconds: float = 600):
        self.client = client
        self.database = database
        self.schema_prefix = schema_prefix  # the deployment's namespace: dbt builds <prefix>marts etc.
        self.secret_arn = secret_arn
        self.db_user = db_user
        self.sleep = sleep
        self.poll_seconds = poll_seconds
        self.timeout_seconds = timeout_seconds

    def _run(self, cluster: str, sql: str, parameters: list[dict] | None = None) -> list[list[dict]]:
        kwargs = {"ClusterIdentifier": cluster, "Database": self.database, "Sql": sql}
        kwargs.update({"SecretArn": self.secret_arn} if self.secret_arn else {"DbUser": self.db_user})
        if parameters:
            kwargs["Parameters"] = parameters
        statement = self.client.execute_statement(**kwargs)["Id"]
        waited = 0.0
        while True:
            described = self.client.describe_statement(Id=statement)
            if described["Status"] == "FINISHED":
                break
            if described["Status"] in ("FAILED", "ABORTED"):
                raise SnapshotError(f"{cluster}: counting rows failed: {described.get('Error', described['Status'])}")
            if waited >= self.timeout_seconds:
                raise SnapshotNotReady(f"{cluster}: row count query still {described['Status']} after {waited:.0f}s")
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds
        if not described.get("HasResultSet"):
            return []
        return self.client.get_statement_result(Id=statement)["Records"]

    def count_rows(self, cluster: str, tables: Iterable[str]) -> dict[str, int | None]:
        counts: dict[str, int | None] = {}
        for table in check_tables(tables):
            schema, name = table.split(".")
            schema = self.schema_prefix + schema
            exists = self._run(
                cluster,
                "select count(*) from information_schema.tables where table_schema = :schema and table_name = :name",
                [{"name": "schema", "value": schema}, {"name": "name", "value": name}],
            )
            if not exists or not exists[0][0].get("longValue"):
                counts[table] = None
                continue
            rows = self._run(cluster, f'select count(*) from "{schema}"."{name}"')
            counts[table] = int(rows[0][0]["longValue"])
        return counts


THROTTLING_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}


class RedshiftSnapshotStore(SnapshotStore):
    """Redshift cluster snapshots through boto3. `row_counter.count_rows(cluster, tables)` reads
    the data plane (RedshiftDataRowCounter in production). Throttled calls are retried with
    exponential backoff through the injectable `sleep`; waits poll through the same `sleep`."""

    def __init__(
        self,
        client,
        row_counter,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 6,
        base_delay_seconds: float = 0.5,
        max_delay_seconds: float = 20.0,
        poll_seconds: float = 15.0,
    ):
        self.client = client
        self.row_counter = row_counter
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.base_delay_seconds = base_delay_seconds
        self.max_delay_seconds = max_delay_seconds
        self.poll_seconds = poll_seconds

    def _call(self, operation: str, **kwargs):
        from botocore.exceptions import ClientError

        for attempt in range(1, self.max_attempts + 1):
            try:
                return getattr(self.client, operation)(**kwargs)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                message = error.response.get("Error", {}).get("Message", "")
                if code in THROTTLING_CODES:
                    if attempt == self.max_attempts:
                        raise Throttled(
                            f"redshift {operation}: still throttled after {attempt} attempts ({message}); "
                            "nothing was changed, the next tick retries"
                        ) from error
                    self.sleep(min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempt - 1)))
                    continue
                cluster, snapshot = kwargs.get("ClusterIdentifier", ""), kwargs.get("SnapshotIdentifier", "")
                if code in ("ClusterNotFound", "ClusterNotFoundFault"):
                    raise ClusterNotFound(f"redshift cluster {cluster!r} not found ({message})") from error
                if code in ("ClusterSnapshotNotFound", "ClusterSnapshotNotFoundFault"):
                    raise SnapshotNotFound(f"snapshot {snapshot!r} not found ({message})") from error
                if code in ("ClusterSnapshotAlreadyExists", "ClusterSnapshotAlreadyExistsFault"):
                    raise SnapshotExists(f"snapshot {snapshot!r} already exists ({message})") from error
                if code in ("ClusterSnapshotQuotaExceeded", "ClusterSnapshotQuotaExceededFault"):
                    raise QuotaExceeded(
                        f"redshift {operation}: the manual snapshot quota is exceeded ({message}); prune old snapshots "
                        "or raise the quota (nothing was created)"
                    ) from error
                if code in ("ClusterAlreadyExists", "ClusterAlreadyExistsFault"):
                    raise SnapshotExists(f"restore target {cluster!r} exists from an earlier restore: drop it first") from error
                raise SnapshotError(f"redshift {operation} failed: {code}: {message}") from error
        raise AssertionError("unreachable")

    def _paginate(self, **kwargs) -> list[dict]:
        found, marker = [], None
        while True:
            response = self._call("describe_cluster_snapshots", **kwargs, **({"Marker": marker} if marker else {}))
            found.extend(response.get("Snapshots", []))
            marker = response.get("Marker")
            if not marker:
                return found

    @staticmethod
    def _snapshot(raw: dict) -> Snapshot:
        tags = {tag["Key"]: tag.get("Value", "") for tag in raw.get("Tags", [])}
        created = raw.get("SnapshotCreateTime") or raw.get("ClusterCreateTime")
        if created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        size = raw.get("TotalBackupSizeInMegaBytes")
        return Snapshot(
            snapshot_id=raw["SnapshotIdentifier"],
            cluster=raw["ClusterIdentifier"],
            created=created.astimezone(timezone.utc),
            kind=raw.get("SnapshotType", MANUAL),
            status=raw.get("Status", AVAILABLE),
            tags=tags,
            size_bytes=None if size is None else int(size * 1024 * 1024),
            row_counts=counts_from_tags(tags),
        )

    def _require_cluster(self, cluster: str) -> dict:
        return self._call("describe_clusters", ClusterIdentifier=cluster)["Clusters"][0]

    def list_snapshots(self, cluster: str, namespace: str | None = None) -> list[Snapshot]:
        check_identifier("cluster identifier", cluster)
        self._require_cluster(cluster)
        kwargs: dict = {"ClusterIdentifier": cluster}
        if namespace is not None:
            kwargs.update(TagKeys=[NAMESPACE_TAG], TagValues=[namespace])
        snapshots = [self._snapshot(raw) for raw in self._paginate(**kwargs)]
        # Filter again: the tag filter matches any listed key OR value, and moto ignores it (and may
        # return other clusters' snapshots for a cluster that has none).
        snapshots = [s for s in snapshots if s.cluster == cluster and s.status != "deleted"]
        if namespace is not None:
            snapshots = [s for s in snapshots if s.namespace == namespace]
        return sorted(snapshots, key=lambda s: (s.created, s.snapshot_id))

    def _get(self, cluster: str, snapshot_id: str) -> Snapshot:
        found = [
            self._snapshot(raw)
            for raw in self._paginate(SnapshotIdentifier=snapshot_id, ClusterIdentifier=cluster)
            if raw["SnapshotIdentifier"] == snapshot_id and raw["ClusterIdentifier"] == cluster
        ]
        if not found:
            raise SnapshotNotFound(f"snapshot {snapshot_id!r} of {cluster!r} does not exist")
        return found[0]

    def create_snapshot(
        self, cluster: str, snapshot_id: str, *, tags: Mapping[str, str], key_tables: Iterable[str]
    ) -> Snapshot:
        check_identifier("snapshot identifier", snapshot_id)
        tables = check_tables(key_tables)
        self._require_cluster(cluster)
        all_tags = {**tags, **rows_tags(self.row_counter.count_rows(cluster, tables))}
        if len(all_tags) > 50 or any(len(k) > 128 or len(v) > 256 for k, v in all_tags.items()):
            raise ValueError(f"{cluster}: {len(all_tags)} tags, Redshift allows 50 (keys <= 128, values <= 256 chars)")
        response = self._call(
            "create_cluster_snapshot",
            SnapshotIdentifier=snapshot_id,
            ClusterIdentifier=cluster,
            Tags=[{"Key": key, "Value": value} for key, value in all_tags.items()],
        )
        return self._snapshot(response["Snapshot"])

    def wait_until_available(self, cluster: str, snapshot_id: str, *, timeout_seconds: float) -> Snapshot:
        waited = 0.0
        while True:
            snapshot = self._get(cluster, snapshot_id)
            if snapshot.available:
                return snapshot
            if snapshot.status == FAILED:
                raise SnapshotError(f"snapshot {snapshot_id!r} of {cluster!r} failed")
            if waited >= timeout_seconds:
                raise SnapshotNotReady(
                    f"snapshot {snapshot_id!r} of {cluster!r} is still {snapshot.status} after {waited:.0f}s "
                    "(the next tick sees it and does not start another)"
                )
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds

    def delete_snapshot(self, cluster: str, snapshot_id: str) -> None:
        snapshot = self._get(cluster, snapshot_id)
        if snapshot.kind != MANUAL:
            raise ProtectedSnapshot(f"snapshot {snapshot_id!r} of {cluster!r} is {snapshot.kind}: never deleted")
        self._call("delete_cluster_snapshot", SnapshotIdentifier=snapshot_id, SnapshotClusterIdentifier=cluster)

    def restore(
        self, cluster: str, snapshot_id: str, target: str, *, key_tables: Iterable[str], timeout_seconds: float
    ) -> dict[str, int | None]:
        check_identifier("restore target", target)
        tables = check_tables(key_tables)
        if target == cluster:
            raise ValueError(f"restore target {target!r} is the source cluster")
        snapshot = self._get(cluster, snapshot_id)
        if not snapshot.available:
            raise SnapshotNotReady(f"snapshot {snapshot_id!r} of {cluster!r} is {snapshot.status}, not available")
        self._call(
            "restore_from_cluster_snapshot",
            ClusterIdentifier=target,
            SnapshotIdentifier=snapshot_id,
            SnapshotClusterIdentifier=cluster,
            PubliclyAccessible=False,
        )
        waited = 0.0
        while True:
            status = self._require_cluster(target)
            restore = (status.get("RestoreStatus") or {}).get("Status", "completed").lower()
            if status.get("ClusterStatus") == "available" and restore in ("completed", "complete"):
                break
            if waited >= timeout_seconds:
                raise SnapshotNotReady(
                    f"restore of {snapshot_id!r} into {target!r} not usable after {waited:.0f}s "
                    f"(cluster {status.get('ClusterStatus')}, restore {restore})"
                )
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds
        return self.row_counter.count_rows(target, tables)

    def drop_restore(self, target: str) -> None:
        check_identifier("restore target", target)
        with contextlib.suppress(ClusterNotFound):
            self._call("delete_cluster", ClusterIdentifier=target, SkipFinalClusterSnapshot=True)


def redshift_row_counter_from_env(client, schema_prefix: str = "") -> RedshiftDataRowCounter:
    return RedshiftDataRowCounter(
        client,
        os.environ.get("REDSHIFT_DATABASE", "dataplatform"),
        secret_arn=os.environ.get("REDSHIFT_SECRET_ARN"),
        db_user=os.environ.get("REDSHIFT_USER", "dataplatform"),
        schema_prefix=schema_prefix,
    )
