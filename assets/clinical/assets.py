"""Clinical source assets: the MIMIC-III deliveries in the landing zone and one raw table per
MIMIC table, loaded from the newest complete delivery (deliveries are full snapshots)."""

import json
import tempfile
from pathlib import Path

import dagster as dg
import duckdb

from assets.clinical.delivery import DeliveryError, Manifest, newest_complete_delivery
from assets.clinical.format import LANDING_BUCKET, RAW_BUCKET, RAW_DATABASE, RAW_PREFIX, TABLES, raw_name
from assets.clinical.ingest import REJECT_COLUMNS, load_table, sha256_of
from dataplatform.governance.policies import python_asset_spec
from dataplatform.resources.catalog import Table

DOMAIN = "clinical"
LANDING_KEY = dg.AssetKey(["landing", DOMAIN, "mimic_deliveries"])
REJECTS_KEY = dg.AssetKey(["raw", DOMAIN, "mimic_rejects"])
DELIVERY_TAG = "dataplatform/delivery_id"  # on load runs: which delivery they load

_GLUE_TYPES = {"INTEGER": "int", "DOUBLE": "double", "TIMESTAMP": "timestamp", "VARCHAR": "string"}


def raw_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", DOMAIN, raw_name(table)])


def _columns(table: str) -> list[tuple[str, str]]:
    return [(name.lower(), _GLUE_TYPES[kind]) for name, kind in TABLES[table].items()]


landing_deliveries = python_asset_spec(
    LANDING_KEY.path, DOMAIN, [("manifest", "json", "Tables of the delivery with key, rows, bytes and sha256.")]
)

_specs = [
    *(python_asset_spec(raw_key(t).path, DOMAIN, [(n, k, "") for n, k in _columns(t)], deps=[LANDING_KEY]) for t in TABLES),
    python_asset_spec(REJECTS_KEY.path, DOMAIN, list(REJECT_COLUMNS), deps=[LANDING_KEY]),
]


class MimicDelivery(dg.Config):
    delivery_id: str = ""  # empty: the newest complete delivery


def _chosen(lake, delivery_id: str, log) -> Manifest:
    found = newest_complete_delivery(lake, log, delivery_id)
    if found is None:
        which = f"delivery {delivery_id!r}" if delivery_id else "any delivery"
        raise DeliveryError(f"no complete MIMIC delivery for {which} in {lake.uri(LANDING_BUCKET, 'clinical/mimic/')}")
    return found[0]


@dg.multi_asset(
    name="clinical_raw",
    specs=_specs,
    check_specs=[
        dg.AssetCheckSpec(
            "rows_reconcile",
            asset=REJECTS_KEY,
            description="Per table: rows in the manifest = rows read = rows loaded + rows rejected.",
        )
    ],
    required_resource_keys={"lake", "catalog"},
)
def clinical_raw(context: dg.AssetExecutionContext, config: MimicDelivery):
    """Verify the delivery's files against its manifest (size, sha256) and type every table;
    only when all of them loaded, publish each as one Parquet object plus a catalog table (a
    failed delivery leaves the previous one in place, whole). Rejected rows go to mimic_rejects."""
    lake, catalog = context.resources.lake, context.resources.catalog
    manifest = _chosen(lake, config.delivery_id, context.log.warning)
    counts, mismatches = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        outputs: dict[str, Path] = {}
        for entry in manifest.files:
            with lake.localized(LANDING_BUCKET, [entry.key]) as (path,):
                digest = sha256_of(path)
                if digest != entry.sha256:
                    raise DeliveryError(f"{entry.key}: sha256 {digest} differs from the manifest's {entry.sha256}")
                outputs[entry.table] = Path(tmp) / f"{entry.table}.parquet"
                counts[entry.table] = load_table(
                    entry.table, path, manifest.format, entry.key, outputs[entry.table],
                    Path(tmp) / f"{entry.table}.rejects.parquet",
                )
            result = counts[entry.table]
            if not (entry.rows == result.rows_read == result.rows_loaded + result.rows_rejected):
                mismatches.append(f"{entry.table}: manifest {entry.rows}, read {result.rows_read}, "
                                  f"loaded {result.rows_loaded}, rejected {result.rows_rejected}")
        rejects = Path(tmp) / "mimic_rejects.parquet"
        _merge([Path(tmp) / f"{table}.rejects.parquet" for table in outputs], rejects)
        for table in TABLES:  # an optional table not delivered is published empty: nothing stale lingers
            outputs.setdefault(table, _empty(table, Path(tmp)))

        catalog.ensure_database(RAW_DATABASE)
        for table, out in outputs.items():
            _publish(lake, catalog, raw_name(table), _columns(table), out)
        _publish(lake, catalog, REJECTS_KEY.path[-1], _reject_columns(), rejects)

    for table in TABLES:
        loaded = counts[table].rows_loaded if table in counts else 0
        rejected = counts[table].rows_rejected if table in counts else 0
        yield dg.MaterializeResult(
            asset_key=raw_key(table),
            metadata={"delivery_id": manifest.delivery_id, "dagster/row_count": loaded, "rows_rejected": rejected,
                      "delivered": table in counts},
        )
    rejected_total = sum(r.rows_rejected for r in counts.values())
    context.log.info(f"delivery {manifest.delivery_id}: {json.dumps({t: r.rows_loaded for t, r in counts.items()})}")
    yield dg.MaterializeResult(
        asset_key=REJECTS_KEY,
        metadata={"delivery_id": manifest.delivery_id, "dagster/row_count": rejected_total},
        check_results=[
            dg.AssetCheckResult(
                check_name="rows_reconcile",
                passed=not mismatches,
                metadata={"tables": len(counts), "mismatches": "\n".join(mismatches) or "none",
                          "rows_loaded": sum(r.rows_loaded for r in counts.values()), "rows_rejected": rejected_total},
            )
        ],
    )


def _reject_columns() -> list[tuple[str, str]]:
    return [(name, kind) for name, kind, _ in REJECT_COLUMNS]


def _publish(lake, catalog, name: str, columns, path: Path) -> None:
    """Replace the table's single object, then (re)register it: readers see old or new, whole."""
    lake.upload(path, RAW_BUCKET, f"{RAW_PREFIX}{name}/data.parquet")
    catalog.ensure_table(Table(RAW_DATABASE, name, tuple(columns), (), lake.uri(RAW_BUCKET, f"{RAW_PREFIX}{name}/")))


def _merge(paths: list[Path], out: Path) -> None:
    files = ", ".join(f"'{p}'" for p in paths)
    with duckdb.connect() as con:
        con.execute(f"copy (select * from read_parquet([{files}]) order by source_table, line_number) to '{out}' (format parquet)")


def _empty(table: str, tmp: Path) -> Path:
    out = tmp / f"{table}.empty.parquet"
    select = ", ".join(f"cast(null as {kind}) as {name.lower()}" for name, kind in TABLES[table].items())
    with duckdb.connect() as con:
        con.execute(f"copy (select {select} limit 0) to '{out}' (format parquet)")
    return out
