"""Outreach assets: the landing zone, and per feed one load (a run per delivery, a dynamic partition
per delivery id) writing raw_restricted (as delivered), its rejects and curated (rules applied).
dbt builds the marts from curated only (models/outreach)."""

import tempfile
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from assets.outreach import load, state
from assets.outreach.deliveries import ZONE, Delivery, delivery
from assets.outreach.rules import Feed, rules
from dataplatform.delimited_logs import glue_columns
from dataplatform.governance.policies import CLASSIFICATION_TAG, python_asset_spec
from dataplatform.governance.protection import token_key
from dataplatform.lake_tables import HIVE_PARTITION_KEYS, publish_partition
from dataplatform.ledger import Ledger
from dataplatform.resources.catalog import Table

DOMAIN = "outreach"
CURATED_BUCKET = "curated"
RAW_DATABASE, CURATED_DATABASE = "raw_restricted_outreach", "curated_outreach"
LANDING = dg.AssetKey(["landing", "outreach", "deliveries"])
TOKEN_KEY_NAME = "outreach"
SAFE_HARBOR_TAG, PROTECTION_TAG = "dataplatform/safe_harbor", "dataplatform/protection"
LEAK_CHECK, RECONCILE_CHECK = "no_identifier_leaks", "records_reconcile"
DESCRIPTIONS = {
    "source_key": "Landing object the record came from.",
    "record_number": "The record in its file: its line for JSON lines; for CSV its position among the well-formed records.",
    "line_number": "Line of the file a malformed record is on (the header is line 1).",
    "raw_record": "The record as delivered: the line, or the parsed fields as JSON.",
    "reason": "Why the record was rejected or not mapped (the field and its value, or the parse error).",
    "feed": "Feed of the delivery.",
    "delivery_id": "Delivery the row came from (its day, then a suffix).",
    "delivered_at": "When the delivery was complete: its manifest's created_at, or the feed's cut-off.",
    "rule_version": "Version of outreach_rules.yaml applied.",
    "questionnaire": "Catalogue questionnaire of the question.",
    "question_id": "Canonical question (catalogue), the same across versions and source codes.",
    "question_version": "Catalogue version of the question valid on the answer's day.",
    "answer_seq": "1.. per outreach and question (multi-select questions have several answers).",
    "response_code": "Canonical response code (catalogue).",
}


def _field_columns(feed: Feed, curated: bool) -> list[tuple]:
    """Columns with the rule that made them: Safe Harbor type and protection, visible per column."""
    columns = []
    names = {name: kind for name, kind in (load.curated_columns(feed) if curated else load.raw_columns(feed))}
    for rule in feed.fields:
        name = rule.output if curated else rule.field
        if name not in names:
            continue
        tags = {SAFE_HARBOR_TAG: rule.classification, PROTECTION_TAG: rule.action if curated else "as delivered",
                CLASSIFICATION_TAG: ("restricted" if rule.identifying else "personal") if not curated
                else ("confidential" if rule.identifying else "internal")}
        description = f"{rule.field}: {rule.classification}, {rule.action}" + (f" ({', '.join(rule.cleanse)})" if rule.cleanse else "")
        columns.append((name, names.pop(name).lower(), description, tags))
    return columns + [(name, kind.lower(), DESCRIPTIONS.get(name, "")) for name, kind in names.items()]


def _outputs(feed: Feed) -> dict[str, tuple[str, str, tuple, str]]:
    """asset key -> (bucket, catalog database, columns, which of the load's files) of a feed's load."""
    outputs = {
        f"raw_restricted/outreach/{feed.name}": ("restricted", RAW_DATABASE, load.raw_columns(feed), "raw"),
        f"raw_restricted/outreach/{feed.name}_rejects": ("restricted", RAW_DATABASE, load.REJECTS, "rejects"),
        f"curated/outreach/{feed.name}": (CURATED_BUCKET, CURATED_DATABASE, load.curated_columns(feed), "curated"),
    }
    if feed.name == load.RESPONSES:
        outputs["curated/outreach/response_unmapped"] = (CURATED_BUCKET, CURATED_DATABASE, (*load.UNMAPPED, *load.LINEAGE), "unmapped")
    return outputs


def output_keys(feed: Feed) -> list[dg.AssetKey]:
    return [dg.AssetKey.from_user_string(key) for key in _outputs(feed)]


def _spec(key: str, feed: Feed, columns, partitions) -> dg.AssetSpec:
    if key == f"raw_restricted/outreach/{feed.name}":
        described = _field_columns(feed, curated=False)
    elif key == f"curated/outreach/{feed.name}" and feed.name != load.RESPONSES:
        described = _field_columns(feed, curated=True)
    else:
        restricted = key.startswith("raw_restricted")
        described = [(n, k.lower(), DESCRIPTIONS.get(n, ""), {CLASSIFICATION_TAG: "restricted"} if restricted else {})
                     for n, k in columns]
    # Lineage as the data flows: curated is made from the values as delivered (in the same run).
    deps = [dg.AssetKey(["raw_restricted", "outreach", feed.name])] if key.startswith("curated") else [LANDING]
    return python_asset_spec(dg.AssetKey.from_user_string(key).path, DOMAIN, described, deps=deps, partitions_def=partitions)


landing_deliveries = python_asset_spec(
    LANDING.path, DOMAIN,
    [("feed", "varchar", "Feed (outreach_rules.yaml)."), ("delivery_id", "varchar", "Delivery folder: its day, then a suffix."),
     ("file", "varchar", "A data file (.csv, .csv.gz, .jsonl, .jsonl.gz) or manifest.json, written last.")],
    metadata={"landing_prefix": f"{ZONE.bucket}/{ZONE.prefix}", "key_pattern": ZONE.key_pattern.pattern},
)


def _publish(lake, catalog, bucket: str, database: str, name: str, columns, path: Path, delivery: Delivery) -> None:
    catalog.ensure_database(database)
    target = Table(database, name, glue_columns(columns), HIVE_PARTITION_KEYS, lake.uri(bucket, f"{DOMAIN}/{name}/"))
    catalog.ensure_table(target)
    day = datetime.combine(delivery.day, datetime.min.time(), timezone.utc)
    publish_partition(lake, catalog, target, bucket, day, path, file_name=f"part-{delivery.delivery_id}.parquet")


def _refuse(context, feed: Feed, found: Delivery, reason: str) -> None:
    ruleset = rules()
    state.record_outcome(context.resources.kv, feed.name, found.delivery_id, found.fingerprint, "refused", reason, ruleset.version)
    context.resources.notify.publish(ruleset.notify_topic, f"outreach delivery refused: {feed.name}/{found.delivery_id}",
                                     {"feed": feed.name, "delivery_id": found.delivery_id, "status": "refused",
                                      "reason": reason, "rule_version": ruleset.version})
    raise dg.Failure(f"{feed.name}/{found.delivery_id} refused: {reason}")


def delivery_load(feed: Feed) -> dg.AssetsDefinition:
    partitions = dg.DynamicPartitionsDefinition(name=f"outreach_{feed.name}")
    outputs = _outputs(feed)
    curated_key = dg.AssetKey.from_user_string(f"curated/outreach/{feed.name}")

    @dg.multi_asset(
        name=f"outreach_{feed.name}_load",
        specs=[_spec(key, feed, columns, partitions) for key, (_, _, columns, _) in outputs.items()],
        check_specs=[
            dg.AssetCheckSpec(RECONCILE_CHECK, asset=curated_key, description="Per file: records delivered (the manifest's "
                              "rows) = malformed + rejected + curated (mapped or unmapped)."),
            dg.AssetCheckSpec(LEAK_CHECK, asset=curated_key, description="No curated cell equals a raw identifier of the "
                              "delivery or its unsalted SHA-256/MD5 (scanned before publishing; a hit stops the run)."),
        ],
        partitions_def=partitions,
        required_resource_keys={"lake", "catalog", "kv", "keys", "notify"},
        description=f"Loads one {feed.name} delivery: {feed.description}",
    )
    def _load(context: dg.AssetExecutionContext):
        lake, catalog, kv, keys = (context.resources.lake, context.resources.catalog, context.resources.kv, context.resources.keys)
        ruleset = rules()
        state.publish_rule_set(kv, ruleset)
        prefix = f"{ZONE.prefix}{feed.name}/{context.partition_key}/"
        found = delivery(lake, feed, context.partition_key, list(lake.list(ZONE.bucket, prefix)), datetime.now(timezone.utc))
        if not found.complete:
            raise dg.Failure(f"{feed.name}/{found.delivery_id} is not complete: {'; '.join(found.problems)}")
        with tempfile.TemporaryDirectory(prefix="outreach-") as tmp, lake.localized(ZONE.bucket, [f.key for f in found.files]) as paths:
            con = load.open_engine(Path(tmp))
            try:
                files = load.read_delivery(con, found, paths, feed)
            except load.DeliveryRefused as refused:
                _refuse(context, feed, found, str(refused))
            data_key, key_ref = state.new_data_key(keys, kv, feed.name, found.delivery_id)
            out = Path(tmp) / "out"
            out.mkdir()
            loaded = load.transform(con, found, feed, ruleset, token_key(keys, kv, TOKEN_KEY_NAME), data_key.plaintext, key_ref,
                                    files, out)
            load.write(con, feed, loaded)
            hits = load.leaked(con, feed, loaded)  # before anything is published
            needles = con.execute("SELECT count(*) FROM needles").fetchall()[0][0]
            con.close()
            if hits:
                raise dg.Failure(f"{feed.name}/{found.delivery_id}: curated output would hold raw identifiers: {hits}; nothing published")
            for key, (bucket, database, columns, output) in outputs.items():  # raw first: curated never exists without its source
                _publish(lake, catalog, bucket, database, key.rsplit("/", 1)[-1], columns, loaded.paths[output], found)
        Ledger(lake, ZONE).merge(datetime.combine(found.day, datetime.min.time(), timezone.utc), found.objects, context.run.run_id)
        totals = {name: sum(f[name] for f in files.values()) for name in ("records", "malformed", "rejected", "loaded")}
        unmapped = loaded.rows.get("unmapped", 0)
        detail = (f"{totals['records']} records: {loaded.rows['curated']} curated, {unmapped} unmapped, "
                  f"{totals['rejected']} rejected, {totals['malformed']} malformed")
        state.record_outcome(kv, feed.name, found.delivery_id, found.fingerprint, "published", detail, ruleset.version)
        context.resources.notify.publish(ruleset.notify_topic, f"outreach delivery published: {feed.name}/{found.delivery_id}",
                                         {"feed": feed.name, "delivery_id": found.delivery_id, "status": "published",
                                          **totals, "curated": loaded.rows["curated"], "unmapped": unmapped,
                                          "rule_version": ruleset.version})
        context.log.info(f"{feed.name}/{found.delivery_id}: {detail} (rules {ruleset.version})")
        lineage = {"delivery_id": found.delivery_id, "rule_version": ruleset.version, "rule_digest": ruleset.digest,
                   "data_key": key_ref}
        for key, (_, _, _, output) in outputs.items():
            yield dg.MaterializeResult(asset_key=dg.AssetKey.from_user_string(key),
                                       metadata={**lineage, "dagster/row_count": loaded.rows[output]})
        mismatched = [k for k, f in files.items() if f["records"] != f["malformed"] + f["rejected"] + f["loaded"]]
        if loaded.rows["curated"] + unmapped != totals["loaded"]:
            mismatched.append(f"{loaded.rows['curated']} curated + {unmapped} unmapped rows, {totals['loaded']} clean records")
        yield dg.AssetCheckResult(check_name=RECONCILE_CHECK, asset_key=curated_key, passed=not mismatched,
                                  metadata={**totals, "unmapped": unmapped, "mismatched_files": ", ".join(mismatched) or "none"})
        yield dg.AssetCheckResult(check_name=LEAK_CHECK, asset_key=curated_key, passed=True,
                                  metadata={"cell_hits": 0, "parquet_byte_hits": 0, "needles": needles})

    return _load


def loads() -> list[dg.AssetsDefinition]:
    return [delivery_load(feed) for feed in rules().feeds.values()]
