"""The leak scan over everything the outreach domain publishes: every string cell of every curated
table and every outreach mart, and the curated Parquet files' bytes, against the raw identifiers
(and their unsalted SHA-256 / MD5) of every delivery still in raw_restricted. Each load scans its
own delivery before publishing; this check covers what a load cannot see: marts built later,
deliveries combined, a rule changed since."""

import contextlib
import tempfile
from pathlib import Path

import dagster as dg

from assets.outreach import leaks
from assets.outreach.assets import CURATED_BUCKET, DOMAIN, LEAK_CHECK
from assets.outreach.load import open_engine
from assets.outreach.rules import rules
from dataplatform import settings

RESTRICTED_BUCKET = "restricted"
MARTS = dg.AssetKey(["marts", "member_engagement"])


def _source(paths: list[Path]) -> str | None:
    if not paths:
        return None
    return "read_parquet([" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "], union_by_name = true)"


def scan(lake, warehouse: Path | None) -> dict:
    """Hits per table and column (empty: no leak), and what was scanned."""
    feeds = rules().feeds
    curated_tables = [*feeds, "response_unmapped"]
    wanted = [(RESTRICTED_BUCKET, name) for name in feeds] + [(CURATED_BUCKET, name) for name in curated_tables]
    hits, scanned = {}, {"curated_tables": 0, "mart_tables": 0, "files": 0}
    with tempfile.TemporaryDirectory(prefix="leak-scan-") as tmp, contextlib.ExitStack() as files:
        con = open_engine(Path(tmp))
        local: dict[tuple[str, str], list[Path]] = {}  # (bucket, table) -> its Parquet files, listed once
        for bucket, table in wanted:
            keys = [k for k in lake.list_keys(bucket, f"{DOMAIN}/{table}/") if k.endswith(".parquet")]
            local[(bucket, table)] = files.enter_context(lake.localized(bucket, keys)) if keys else []
        raw = [(feeds[name], _source(local[(RESTRICTED_BUCKET, name)])) for name in feeds]
        con.execute(f"CREATE TABLE needles AS {leaks.needles_sql([(feed, source) for feed, source in raw if source])}")
        scanned["needles"] = con.execute("SELECT count(*) FROM needles").fetchall()[0][0]
        for table in curated_tables:
            source = _source(local[(CURATED_BUCKET, table)])
            if source:
                scanned["curated_tables"] += 1
                con.execute(f"CREATE OR REPLACE VIEW scanned AS SELECT * FROM {source}")
                hits |= {f"curated.{table}.{column}": n for column, n in leaks.scan_relation(con, "needles", "scanned").items()}
        curated_files = [path for (bucket, _), paths in local.items() if bucket == CURATED_BUCKET for path in paths]
        scanned["files"] = len(curated_files)
        hits |= {f"bytes of {Path(p).name}": n for p, n in leaks.scan_files(con, "needles", curated_files).items()}
        if warehouse is not None and warehouse.exists():
            con.execute(f"ATTACH '{warehouse}' AS warehouse (READ_ONLY)")
            tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'warehouse' "
                                 "AND (table_name LIKE 'outreach%' OR table_name = 'member_engagement')").fetchall()
            for schema, table in tables:
                scanned["mart_tables"] += 1
                relation = f'warehouse."{schema}"."{table}"'
                hits |= {f"{schema}.{table}.{column}": n for column, n in leaks.scan_relation(con, "needles", relation).items()}
        con.close()
    return {"hits": hits, **scanned}


@dg.asset_check(
    asset=MARTS, name=LEAK_CHECK, required_resource_keys={"lake"},
    automation_condition=dg.AutomationCondition.eager(),
    description="No string cell of any curated outreach table or outreach mart, and no token of the curated Parquet "
    "bytes, equals a raw identifier of a delivery in raw_restricted or its unsalted SHA-256/MD5.",
)
def outputs_hold_no_identifiers(context) -> dg.AssetCheckResult:
    result = scan(context.resources.lake, settings.warehouse_path())
    hits = result.pop("hits")
    return dg.AssetCheckResult(
        passed=not hits and result["needles"] > 0,
        description="; ".join(f"{where}: {n}" for where, n in sorted(hits.items())) or
        ("no raw identifier found" if result["needles"] else "nothing to scan for: raw_restricted is empty"),
        metadata={**result, "hits": sum(hits.values())},
    )

