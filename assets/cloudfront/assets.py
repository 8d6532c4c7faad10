"""CloudFront assets: landing files -> raw hourly Parquet (+ rejects, + distinct user agents)
-> the user-agent dimension. dbt takes it from there (models/cloudfront)."""

import tempfile
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.cloudfront import user_agents
from assets.cloudfront.format import parse_object_name
from assets.cloudfront.ingest import ACCESS_LOGS
from dataplatform.delimited_logs import arrow_schema, glue_columns
from dataplatform.governance.policies import python_asset_spec
from dataplatform.landing_zones import zone
from dataplatform.raw_logs import SideOutput, raw_log_asset
from dataplatform.resources.catalog import Table

DOMAIN = "cloudfront"
ZONE = zone("cloudfront")
RAW_BUCKET = ZONE.raw_bucket
CATALOG_DATABASE = ZONE.raw_tables[0][0]

HOURLY_USER_AGENTS = dg.AssetKey(["raw", "cloudfront", "access_log_user_agents"])
USER_AGENTS = dg.AssetKey(["raw", "cloudfront", "user_agents"])
REALTIME_RECORDS = dg.AssetKey(["raw", "cloudfront", "realtime_records"])
USER_AGENTS_KEY = "cloudfront/user_agents/user_agents.parquet"


def _distinct_user_agents():
    """Collects the hour's distinct decoded user agents, file by file."""
    seen: set[str] = set()

    def collect(table: pa.Table | None) -> pa.Table | None:
        if table is None:
            return pa.table({"user_agent": pa.array(sorted(seen), pa.string())})
        seen.update(v for v in pc.unique(table.column("cs_user_agent")).to_pylist() if v is not None)
        return None

    return collect


landing_access_logs, cloudfront_raw = raw_log_asset(
    zone=ZONE,
    log_format=ACCESS_LOGS,
    constants_for_key=lambda key: {"distribution_id": parse_object_name(key)[0], "source_key": key},
    column_descriptions={
        "ts": "Request time (UTC), from the log's date and time fields.",
        "c_ip": "Viewer (client) IP address, IPv4 or IPv6.",
        "sc_bytes": "Bytes CloudFront served to the viewer, headers included.",
        "cs_user_agent": "User agent, URL-decoded until stable.",
        "distribution_id": "CloudFront distribution, from the object name.",
    },
    side_outputs=[
        SideOutput(
            HOURLY_USER_AGENTS.to_user_string(),
            (("user_agent", "VARCHAR", "A distinct decoded user agent seen in the hour."),),
            _distinct_user_agents,
        )
    ],
)


@dg.multi_asset(
    specs=[
        python_asset_spec(
            USER_AGENTS.path,
            DOMAIN,
            [(n, t.lower(), d) for n, t, d in user_agents.COLUMNS],
            deps=[HOURLY_USER_AGENTS, REALTIME_RECORDS],
            # Logs at rest and the real-time stream each suffice to classify their agents.
            tags={"dataplatform/partial_inputs_ok": "true"},
        )
    ],
    required_resource_keys={"lake", "catalog"},
)
def user_agent_dimension(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Classify each distinct user agent once; earlier classifications are kept as they are."""
    lake, catalog = context.resources.lake, context.resources.catalog
    # Agents seen in the logs at rest (distinct per hour) and on the real-time stream.
    sources = {"cloudfront/access_log_user_agents/": "user_agent", "cloudfront/realtime_records/": "cs_user_agent"}
    seen = set()
    for prefix, column in sources.items():
        with lake.localized(RAW_BUCKET, list(lake.list_keys(RAW_BUCKET, prefix))) as paths:
            for path in paths:
                seen.update(pq.read_table(path, columns=[column]).column(0).drop_null().to_pylist())
    known: list[dict] = []
    if any(True for _ in lake.list(RAW_BUCKET, USER_AGENTS_KEY)):
        with lake.localized(RAW_BUCKET, [USER_AGENTS_KEY]) as (path,):
            known = pq.read_table(path).to_pylist()
    known_agents = {row["user_agent"] for row in known}
    new_rows = [user_agents.classify(agent) for agent in sorted(seen - known_agents)]
    rows = sorted(known + new_rows, key=lambda row: row["user_agent"])
    columns = tuple((name, kind) for name, kind, _ in user_agents.COLUMNS)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "user_agents.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema(columns)), path, compression="zstd")
        lake.upload(path, RAW_BUCKET, USER_AGENTS_KEY)
    catalog.ensure_database(CATALOG_DATABASE)
    catalog.ensure_table(
        Table(CATALOG_DATABASE, "user_agents", glue_columns(columns), (), lake.uri(RAW_BUCKET, "cloudfront/user_agents/"))
    )
    return dg.MaterializeResult(
        metadata={
            "distinct_user_agents": len(rows),
            "newly_classified": len(new_rows),
            "bot_user_agents": sum(1 for row in rows if row["is_bot"]),
            "classified_with": user_agents.CLASSIFIER_VERSION,
        }
    )
