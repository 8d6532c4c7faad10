"""One complete delivery -> raw_restricted (values as delivered), its rejects, and curated (the
rules applied: cleansed, mapped, tokens and ciphertexts instead of identifiers).

Everything that can refuse the delivery is checked before anything is written: a field without a
rule (fail closed), a file whose sha256 or row count differs from the manifest. A row that cannot
be cleansed is rejected with the field and reason; a response that does not map is kept in
curated.response_unmapped with its reason. Before curated is published, the leak scan runs on it:
a raw identifier in a curated cell stops the run."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from assets.outreach import leaks
from assets.outreach.deliveries import Delivery
from assets.outreach.rules import Feed, RuleSet
from assets.outreach.transform import cleansing_sql, identifier, literal, mapping_sql
from dataplatform.delimited_logs import arrow_schema
from dataplatform.governance.protection import encrypt_value, token

RESPONSES = "responses"  # the feed whose rows are mapped through the question catalogue
MAPPED = (
    ("outreach_id", "VARCHAR"), ("member_token", "VARCHAR"), ("campaign", "VARCHAR"), ("channel", "VARCHAR"),
    ("questionnaire", "VARCHAR"), ("question_id", "VARCHAR"), ("question_version", "INTEGER"), ("answer_seq", "INTEGER"),
    ("response_code", "VARCHAR"), ("answered_at", "TIMESTAMP"),
)
UNMAPPED = (
    ("outreach_id", "VARCHAR"), ("member_token", "VARCHAR"), ("campaign", "VARCHAR"), ("channel", "VARCHAR"),
    ("question_code", "VARCHAR"), ("response", "VARCHAR"), ("answered_at", "TIMESTAMP"), ("reason", "VARCHAR"),
    ("source_key", "VARCHAR"), ("record_number", "BIGINT"),
)
LINEAGE = (("delivery_id", "VARCHAR"), ("delivered_at", "TIMESTAMP"), ("rule_version", "VARCHAR"))
REJECTS = (
    ("feed", "VARCHAR"), ("delivery_id", "VARCHAR"), ("source_key", "VARCHAR"), ("line_number", "BIGINT"),
    ("record_number", "BIGINT"), ("raw_record", "VARCHAR"), ("reason", "VARCHAR"),
)
_FINAL_TYPE = {"iso_date": "DATE", "iso_timestamp": "TIMESTAMP", "integer": "INTEGER"}


class DeliveryRefused(Exception):
    """The delivery as a whole cannot be published; the message names the feed, file or field."""


def raw_columns(feed: Feed) -> tuple[tuple[str, str], ...]:
    return (*((r.field, "VARCHAR") for r in feed.fields), ("source_key", "VARCHAR"), ("record_number", "BIGINT"))


def curated_columns(feed: Feed) -> tuple[tuple[str, str], ...]:
    """The curated table of a feed: the kept fields under their output names, typed by their last
    cleansing step or generalisation (the responses feed: its mapped rows instead)."""
    if feed.name == RESPONSES:
        return (*MAPPED, *LINEAGE)
    columns = []
    for r in feed.fields:
        if not r.kept:
            continue
        kind = _FINAL_TYPE.get(r.cleanse[-1], "VARCHAR") if r.cleanse else "VARCHAR"
        if r.generalize_to == "year_capped_at_90":
            kind = "INTEGER"
        elif r.action in ("token", "encrypt", "redact", "mask") or r.generalize_to == "zip3":
            kind = "VARCHAR"
        columns.append((r.output, kind))
    return (*columns, *LINEAGE)


@dataclass
class Loaded:
    raw: pa.Table
    rejects: pa.Table
    curated: pa.Table
    unmapped: pa.Table | None
    files: dict[str, dict[str, int]] = field(default_factory=dict)  # key -> records, malformed, rejected, loaded


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_text(path: Path, key: str):
    return io.TextIOWrapper(gzip.open(path) if key.endswith(".gz") else open(path, "rb"), encoding="utf-8", newline="")


def _read_csv(con, path: Path, key: str, feed: Feed, table: str) -> tuple[int, list[tuple]]:
    with _open_text(path, key) as handle:
        header = next(csv.reader(handle), [])
    unruled = feed.unruled(header)
    if unruled:
        raise DeliveryRefused(f"feed {feed.name}: field(s) {', '.join(map(repr, unruled))} of {key} have no rule in "
                              f"outreach_rules.yaml; nothing of the delivery is published")
    columns = "{" + ", ".join(f"{literal(name)}: 'VARCHAR'" for name in header) + "}"
    con.execute(f"""CREATE TABLE {table} AS SELECT *, row_number() OVER () AS _record FROM read_csv({literal(str(path))},
        header = true, columns = {columns}, auto_detect = false, delim = ',', quote = '"', escape = '"',
        store_rejects = true, rejects_table = 'rej_{table}', rejects_scan = 'scan_{table}')""")
    for name in (r.field for r in feed.fields if r.field not in header):  # an absent column is empty, not an error
        con.execute(f"ALTER TABLE {table} ADD COLUMN {identifier(name)} VARCHAR")
    malformed = con.execute(
        f"SELECT line, any_value(csv_line), string_agg(error_message, '; ') FROM rej_{table} GROUP BY line ORDER BY line"
    ).fetchall()
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0], malformed


def _read_jsonl(con, path: Path, key: str, feed: Feed, table: str) -> tuple[int, list[tuple]]:
    """JSON lines, parsed by DuckDB: each line read whole (0x1F cannot occur raw in valid JSON),
    then typed; lines that are not JSON objects or hold nested values are malformed."""
    con.execute(f"""CREATE TABLE {table}_lines AS SELECT row_number() OVER () AS _record, line,
        CASE WHEN json_valid(line) THEN json_type(line) END AS kind
        FROM read_csv({literal(str(path))}, columns = {{'line': 'VARCHAR'}}, header = false, delim = '\x1f', quote = '',
                      escape = '', auto_detect = false, store_rejects = true, rejects_table = 'rej_{table}',
                      rejects_scan = 'scan_{table}')""")
    con.execute(f"CREATE TABLE {table}_objects AS SELECT _record, line, CAST(line AS JSON) AS j FROM {table}_lines WHERE kind = 'OBJECT'")
    delivered = [row[0] for row in con.execute(f"SELECT DISTINCT unnest(json_keys(j)) FROM {table}_objects").fetchall()]
    unruled = feed.unruled(sorted(delivered))
    if unruled:
        raise DeliveryRefused(f"feed {feed.name}: field(s) {', '.join(map(repr, unruled))} of {key} have no rule in "
                              f"outreach_rules.yaml; nothing of the delivery is published")
    paths = {r.field: literal('$."' + r.field + '"') for r in feed.fields}
    nested = " OR ".join(f"coalesce(json_type(j, {p}) IN ('OBJECT', 'ARRAY'), false)" for p in paths.values())
    con.execute(f"""CREATE TABLE {table} AS SELECT {', '.join(f"json_extract_string(j, {p}) AS {identifier(f)}" for f, p in paths.items())},
        _record FROM {table}_objects WHERE NOT ({nested})""")
    malformed = con.execute(f"""
        SELECT _record, line, CASE WHEN kind IS NULL THEN 'not JSON' ELSE 'a JSON ' || lower(kind) || ', not an object' END
        FROM {table}_lines WHERE kind IS DISTINCT FROM 'OBJECT'
        UNION ALL SELECT _record, line, 'a field holds an object or array, not a value' FROM {table}_objects WHERE {nested}
        UNION ALL SELECT line, any_value(csv_line), string_agg(error_message, '; ') FROM rej_{table} GROUP BY line
        ORDER BY 1""").fetchall()
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0], malformed


def read_delivery(con, delivery: Delivery, paths: list[Path], feed: Feed) -> dict[str, dict[str, int]]:
    """Create `delivered` (every field VARCHAR, `_source_key`, `_record`) and `malformed`
    (source_key, line_number, raw_record, reason); refuse the delivery before anything is written."""
    files, parts = {}, []
    con.execute("CREATE TABLE malformed (source_key VARCHAR, line_number BIGINT, raw_record VARCHAR, reason VARCHAR)")
    for index, (entry, path) in enumerate(zip(delivery.files, paths)):
        if entry.sha256 is not None and _sha256(path) != entry.sha256:
            raise DeliveryRefused(f"{entry.key}: its sha256 differs from the manifest's (damaged or replaced)")
        reader = _read_jsonl if entry.key.endswith((".jsonl", ".jsonl.gz")) else _read_csv
        parsed, bad = reader(con, path, entry.key, feed, f"f{index}")
        if bad:
            con.executemany("INSERT INTO malformed VALUES (?, ?, ?, ?)", [(entry.key, line, raw, why) for line, raw, why in bad])
        if entry.rows is not None and parsed + len(bad) != entry.rows:
            raise DeliveryRefused(f"{entry.key}: {parsed} rows and {len(bad)} malformed lines, the manifest says {entry.rows} rows")
        files[entry.key] = {"records": parsed + len(bad), "malformed": len(bad)}
        columns = ", ".join(identifier(r.field) for r in feed.fields)
        parts.append(f"SELECT {columns}, {literal(entry.key)} AS _source_key, _record FROM f{index}")
    columns = ", ".join(f"CAST(NULL AS VARCHAR) AS {identifier(r.field)}" for r in feed.fields)
    union = " UNION ALL ".join(parts) or f"SELECT {columns}, CAST(NULL AS VARCHAR) AS _source_key, 0::BIGINT AS _record WHERE false"
    con.execute(f"CREATE TABLE delivered AS {union}")
    return files


def _catalogue_tables(con, rules: RuleSet) -> None:
    codes = [(code, q.questionnaire, q.question_id, q.version, q.valid_from, q.valid_until) for q in rules.questions for code in q.source_codes]
    answers = [(q.questionnaire, q.question_id, q.version, value, code) for q in rules.questions for value, code in q.responses]
    con.execute("CREATE TABLE catalogue_codes (source_code VARCHAR, questionnaire VARCHAR, question_id VARCHAR, "
                "version INTEGER, valid_from DATE, valid_until DATE)")
    con.executemany("INSERT INTO catalogue_codes VALUES (?, ?, ?, ?, ?, ?)", codes)
    con.execute("CREATE TABLE catalogue_responses (questionnaire VARCHAR, question_id VARCHAR, version INTEGER, "
                "response_value VARCHAR, response_code VARCHAR)")
    con.executemany("INSERT INTO catalogue_responses VALUES (?, ?, ?, ?, ?)", answers)


def _protect(table: pa.Table, feed: Feed, token_key: bytes, data_key: bytes, key_ref: str) -> pa.Table:
    """Tokens (per distinct value) and ciphertexts (per value) in place of the cleansed plaintext."""
    for rule in feed.fields:
        if rule.action not in ("token", "encrypt") or rule.output not in table.column_names:
            continue
        column = table[rule.output].combine_chunks()
        if rule.action == "token":
            encoded = pc.dictionary_encode(column)
            tokens = pa.array([token(token_key, rule.token_domain, v) for v in encoded.dictionary.to_pylist()], pa.string())
            protected = pc.take(tokens, encoded.indices)
        else:
            aad = f"{feed.name}/{rule.field}"
            protected = pa.array([None if v is None else encrypt_value(data_key, key_ref, v, aad) for v in column.to_pylist()],
                                 pa.string())
        table = table.set_column(table.column_names.index(rule.output), rule.output, protected)
    return table


def _with_lineage(table: pa.Table, delivery: Delivery, rules: RuleSet, columns) -> pa.Table:
    n = table.num_rows
    table = table.append_column("delivery_id", pa.array([delivery.delivery_id] * n, pa.string()))
    table = table.append_column("delivered_at", pa.array([delivery.delivered_at.replace(tzinfo=None)] * n, pa.timestamp("us")))
    table = table.append_column("rule_version", pa.array([rules.version] * n, pa.string()))
    return table.select([name for name, _ in columns]).cast(arrow_schema(columns))


def transform(con, delivery: Delivery, feed: Feed, rules: RuleSet, token_key: bytes, data_key: bytes, key_ref: str,
              files: dict[str, dict[str, int]]) -> Loaded:
    names = [r.field for r in feed.fields]
    con.execute(f"CREATE TABLE cleansed AS {cleansing_sql(feed, rules, 'delivered', delivery.day, names)}")
    record = "to_json(struct_pack(" + ", ".join(f"{identifier(n)} := d.{identifier(n)}" for n in names) + "))"
    con.execute(f"""CREATE TABLE rejects AS
        SELECT {literal(feed.name)} AS feed, {literal(delivery.delivery_id)} AS delivery_id, source_key, line_number,
               CAST(NULL AS BIGINT) AS record_number, raw_record, reason FROM malformed
        UNION ALL
        SELECT {literal(feed.name)}, {literal(delivery.delivery_id)}, c._source_key, NULL, c._record, CAST({record} AS VARCHAR), c._errors
        FROM cleansed AS c JOIN delivered AS d ON d._source_key = c._source_key AND d._record = c._record
        WHERE c._errors IS NOT NULL""")
    unmapped = None
    if feed.name == RESPONSES:
        _catalogue_tables(con, rules)
        con.execute(f"CREATE TABLE mapped AS {mapping_sql('(SELECT * FROM cleansed WHERE _errors IS NULL)')}")
        curated = con.sql(f"SELECT {', '.join(n for n, _ in MAPPED)} FROM mapped WHERE _unmapped IS NULL "
                              "ORDER BY _source_key, _record").to_arrow_table()
        unmapped = con.sql("SELECT outreach_id, member_token, campaign, channel, question_code, response, answered_at, "
                               "_unmapped AS reason, _source_key AS source_key, _record AS record_number FROM mapped "
                               "WHERE _unmapped IS NOT NULL ORDER BY _source_key, _record").to_arrow_table()
        unmapped = _with_lineage(_protect(unmapped, feed, token_key, data_key, key_ref), delivery, rules, (*UNMAPPED, *LINEAGE))
    else:
        kept = ", ".join(identifier(r.output) for r in feed.fields if r.kept)
        curated = con.sql(f"SELECT {kept} FROM cleansed WHERE _errors IS NULL ORDER BY _source_key, _record").to_arrow_table()
    curated = _with_lineage(_protect(curated, feed, token_key, data_key, key_ref), delivery, rules, curated_columns(feed))
    per_file = con.execute("SELECT _source_key, count(*) FILTER (WHERE _errors IS NOT NULL), count(*) FILTER (WHERE _errors IS NULL) "
                           "FROM cleansed GROUP BY _source_key").fetchall()
    for key, rejected, loaded in per_file:
        files[key].update(rejected=rejected, loaded=loaded)
    for counts in files.values():
        counts.setdefault("rejected", 0)
        counts.setdefault("loaded", 0)
    raw = con.sql(f"SELECT {', '.join(identifier(n) for n in names)}, _source_key AS source_key, _record AS record_number "
                      "FROM delivered ORDER BY _source_key, _record").to_arrow_table()
    rejects = con.sql("SELECT * FROM rejects ORDER BY source_key, line_number, record_number").to_arrow_table()
    return Loaded(raw=raw, rejects=rejects, curated=curated, unmapped=unmapped, files=files)


def leaked(con, feed: Feed, loaded: Loaded) -> dict[str, int]:
    """Cells of the curated outputs equal to one of the delivery's raw identifiers (or digests)."""
    con.execute(f"CREATE OR REPLACE TABLE needles AS {leaks.needles_sql([(feed, 'delivered')])}")
    hits = {}
    for name, table in (("curated", loaded.curated), ("unmapped", loaded.unmapped)):
        if table is None:
            continue
        con.register(f"scan_{name}", table)
        hits.update({f"{name}.{column}": n for column, n in leaks.scan_relation(con, "needles", f"scan_{name}").items()})
    return hits


def open_engine(scratch: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"SET temp_directory = {literal(str(scratch))}")
    return con

