"""One complete delivery -> raw_restricted (values as delivered), its rejects, and curated (the
rules applied: cleansed, mapped, tokens and ciphertexts instead of identifiers).

Everything that can refuse the delivery is checked before anything is written: a field without a
rule (fail closed), a file whose sha256 or row count differs from the manifest. A row that cannot
be cleansed is rejected with the field and reason; a response that does not map is kept in
curated.response_unmapped with its reason. Before curated is published, the leak scan runs on it:
a raw identifier in a curated cell stops the run."""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from assets.outreach import leaks
from assets.outreach.deliveries import Delivery
from assets.outreach.rules import Feed, RuleSet
from assets.outreach.transform import cleansing_sql, identifier, literal, mapping_sql
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
    files: dict[str, dict[str, int]]  # landing key -> records, malformed, rejected, loaded
    out: Path  # where `write` puts the outputs
    paths: dict[str, Path] = field(default_factory=dict)  # raw, rejects, curated, unmapped -> Parquet file
    rows: dict[str, int] = field(default_factory=dict)


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
    # A table created from one ordered scan keeps the file's order in its rowids: numbering the
    # records that way costs nothing, where row_number() OVER () serialises the scan.
    con.execute(f"""CREATE TABLE {table}_rows AS SELECT * FROM read_csv({literal(str(path))},
        header = true, columns = {columns}, auto_detect = false, delim = ',', quote = '"', escape = '"',
        store_rejects = true, rejects_table = 'rej_{table}', rejects_scan = 'scan_{table}')""")
    for name in (r.field for r in feed.fields if r.field not in header):  # an absent column is empty, not an error
        con.execute(f"ALTER TABLE {table}_rows ADD COLUMN {identifier(name)} VARCHAR")
    con.execute(f"CREATE VIEW {table} AS SELECT *, rowid + 1 AS _record FROM {table}_rows")
    malformed = con.execute(
        f"SELECT line, any_value(csv_line), string_agg(error_message, '; ') FROM rej_{table} GROUP BY line ORDER BY line"
    ).fetchall()
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0], malformed


def _read_jsonl(con, path: Path, key: str, feed: Feed, table: str) -> tuple[int, list[tuple]]:
    """JSON lines, parsed by DuckDB: each line read whole (0x1F cannot occur raw in valid JSON),
    then parsed once into the feed's fields; lines that are not JSON objects or hold nested
    values are malformed. Numbering and parsing are separate statements: an expression above
    `row_number() OVER ()` runs on one thread."""
    shape = literal(json.dumps({r.field: "VARCHAR" for r in feed.fields}))
    # An object or array becomes its JSON text in a VARCHAR: only values that start like one are
    # looked up again (CASE evaluates its branch only for those rows), to tell them from strings
    # that merely start with a bracket.
    nested = " OR ".join(f"CASE WHEN left(s.{identifier(r.field)}, 1) IN ('{{', '[') "
                         f"THEN try(json_type(line, {literal('$.' + json.dumps(r.field))})) IN ('OBJECT', 'ARRAY') END"
                         for r in feed.fields)
    con.execute(f"""CREATE TABLE {table}_lines AS SELECT line
        FROM read_csv({literal(str(path))}, columns = {{'line': 'VARCHAR'}}, header = false, delim = '\x1f', quote = '',
                      escape = '', auto_detect = false, store_rejects = true, rejects_table = 'rej_{table}',
                      rejects_scan = 'scan_{table}')""")
    con.execute(f"""CREATE TABLE {table}_parsed AS
        SELECT _record, s, s IS NOT NULL AND is_object AND NOT coalesce({nested}, false) AS good, keys
        FROM (SELECT rowid + 1 AS _record, line, try(json_transform(line, {shape})) AS s, try(json_keys(line)) AS keys,
                     starts_with(ltrim(line), '{{') AS is_object
              FROM {table}_lines)""")
    delivered = [row[0] for row in con.execute(
        f"SELECT DISTINCT unnest(keys) FROM {table}_parsed WHERE s IS NOT NULL").fetchall()]
    unruled = feed.unruled(sorted(delivered))
    if unruled:
        raise DeliveryRefused(f"feed {feed.name}: field(s) {', '.join(map(repr, unruled))} of {key} have no rule in "
                              f"outreach_rules.yaml; nothing of the delivery is published")
    con.execute(f"""CREATE VIEW {table} AS SELECT {', '.join(f"s.{identifier(r.field)}" for r in feed.fields)}, _record
        FROM {table}_parsed WHERE good""")
    malformed = con.execute(f"""
        SELECT p._record, l.line, CASE WHEN p.s IS NULL THEN 'not JSON' WHEN NOT starts_with(ltrim(l.line), '{{')
                                         THEN 'a JSON value, not an object'
                                         ELSE 'a field holds an object or array, not a value' END
        FROM {table}_parsed AS p JOIN (SELECT rowid + 1 AS _record, line FROM {table}_lines) AS l USING (_record)
        WHERE NOT p.good
        UNION ALL SELECT line, any_value(csv_line), string_agg(error_message, '; ') FROM rej_{table} GROUP BY line
        ORDER BY 1""").fetchall()
    con.execute(f"DROP TABLE {table}_lines")
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0], malformed


def read_delivery(con, delivery: Delivery, paths: list[Path], feed: Feed) -> dict[str, dict[str, int]]:
    """Create `delivered` (every field VARCHAR, `_source_key`, `_record`) and `malformed`
    (source_key, line_number, raw_record, reason); refuse the delivery before anything is written."""
    files, parts = {}, []
    con.execute("CREATE TABLE malformed (source_key VARCHAR, line_number BIGINT, raw_record VARCHAR, reason VARCHAR)")
    # Digests are computed beside the parse (hashlib releases the GIL) and checked before anything
    # is written, and before a parse error is reported: a damaged file is named as such.
    with ThreadPoolExecutor(max_workers=1) as pool:
        digests = [pool.submit(_sha256, path) if entry.sha256 is not None else None for entry, path in zip(delivery.files, paths)]
        try:
            for index, (entry, path) in enumerate(zip(delivery.files, paths)):
                files[entry.key], part = _read_file(con, entry, path, feed, index)
                parts.append(part)
        finally:
            for entry, digest in zip(delivery.files, digests):
                if digest is not None and digest.result() != entry.sha256:
                    raise DeliveryRefused(f"{entry.key}: its sha256 differs from the manifest's (damaged or replaced)")
    for entry in delivery.files:
        counts = files[entry.key]
        if entry.rows is not None and counts["records"] != entry.rows:
            raise DeliveryRefused(f"{entry.key}: {counts['records'] - counts['malformed']} rows and {counts['malformed']} "
                                  f"malformed lines, the manifest says {entry.rows} rows")
    columns = ", ".join(f"CAST(NULL AS VARCHAR) AS {identifier(r.field)}" for r in feed.fields)
    union = " UNION ALL ".join(parts) or f"SELECT {columns}, CAST(NULL AS VARCHAR) AS _source_key, 0::BIGINT AS _record WHERE false"
    con.execute(f"CREATE VIEW delivered AS {union}")
    # Records are numbered now; every later row carries its source_key and record number, so the
    # engine may reorder them (the raw file is written in half the time).
    con.execute("SET preserve_insertion_order = false")
    return files


def _read_file(con, entry, path: Path, feed: Feed, index: int) -> tuple[dict[str, int], str]:
    """Parse one file into table f<index> and its lines into `malformed`: its counts, and its SELECT for `delivered`."""
    reader = _read_jsonl if entry.key.endswith((".jsonl", ".jsonl.gz")) else _read_csv
    parsed, bad = reader(con, path, entry.key, feed, f"f{index}")
    if bad:
        con.executemany("INSERT INTO malformed VALUES (?, ?, ?, ?)", [(entry.key, line, raw, why) for line, raw, why in bad])
    columns = ", ".join(identifier(r.field) for r in feed.fields)
    return ({"records": parsed + len(bad), "malformed": len(bad)},
            f"SELECT {columns}, {literal(entry.key)} AS _source_key, _record FROM f{index}")


def _catalogue_tables(con, rules: RuleSet) -> None:
    codes = [(code, q.questionnaire, q.question_id, q.version, q.valid_from, q.valid_until) for q in rules.questions for code in q.source_codes]
    answers = [(q.questionnaire, q.question_id, q.version, value, code) for q in rules.questions for value, code in q.responses]
    con.execute("CREATE TABLE catalogue_codes (source_code VARCHAR, questionnaire VARCHAR, question_id VARCHAR, "
                "version INTEGER, valid_from DATE, valid_until DATE)")
    con.executemany("INSERT INTO catalogue_codes VALUES (?, ?, ?, ?, ?, ?)", codes)
    con.execute("CREATE TABLE catalogue_responses (questionnaire VARCHAR, question_id VARCHAR, version INTEGER, "
                "response_value VARCHAR, response_code VARCHAR)")
    con.executemany("INSERT INTO catalogue_responses VALUES (?, ?, ?, ?, ?)", answers)


def _sealer(data_key: bytes, key_ref: str, associated_data: str):
    def seal(values: pa.Array) -> pa.Array:
        return pa.array([None if v is None else encrypt_value(data_key, key_ref, v, associated_data) for v in values.to_pylist()],
                        pa.string())

    return seal


def _protections(con, feed: Feed, source: str, token_key: bytes, data_key: bytes, key_ref: str) -> dict[str, str]:
    """Output column -> the SQL that puts its token or ciphertext in place of the cleansed plaintext.
    Tokens are computed once per distinct value (a member appears in many rows) and joined back;
    ciphertexts per value through a vectorised Python function (random nonce each)."""
    protected = {}
    for index, rule in enumerate(r for r in feed.fields if r.action in ("token", "encrypt")):
        column = identifier(rule.output)
        if rule.action == "token":
            values = [row[0] for row in con.execute(f"SELECT DISTINCT {column} FROM {source} WHERE {column} IS NOT NULL").fetchall()]
            tokens = pa.table({"v": pa.array(values, pa.string()),
                               "t": pa.array([token(token_key, rule.token_domain, v) for v in values], pa.string())})
            con.register(f"tokens_{index}_arrow", tokens)
            con.execute(f"CREATE OR REPLACE TABLE tokens_{index} AS SELECT * FROM tokens_{index}_arrow")
            protected[rule.output] = f"(SELECT t FROM tokens_{index} WHERE v = {column})"
        else:
            name = f"seal_{index}"
            with contextlib.suppress(duckdb.InvalidInputException, duckdb.CatalogException):
                con.remove_function(name)
            con.create_function(name, _sealer(data_key, key_ref, f"{feed.name}/{rule.field}"), [duckdb.sqltype("VARCHAR")],
                                duckdb.sqltype("VARCHAR"), type="arrow", side_effects=True)
            protected[rule.output] = f"{name}({column})"
    return protected


def _select(columns, available: dict[str, str], delivery: Delivery, rules: RuleSet) -> str:
    """The SELECT list of an output: its declared columns, typed, lineage included."""
    lineage = {"delivery_id": literal(delivery.delivery_id), "rule_version": literal(rules.version),
               "delivered_at": f"TIMESTAMP {literal(delivery.delivered_at.strftime('%Y-%m-%d %H:%M:%S'))}"}
    return ", ".join(f"CAST({available.get(name, lineage.get(name, identifier(name)))} AS {kind}) AS {identifier(name)}"
                     for name, kind in columns)


def _copy(con, select: str, path: Path) -> int:
    con.execute(f"COPY ({select}) TO {literal(str(path))} (FORMAT parquet, COMPRESSION zstd)")
    return con.execute(f"SELECT count(*) FROM read_parquet({literal(str(path))})").fetchall()[0][0]


def transform(con, delivery: Delivery, feed: Feed, rules: RuleSet, token_key: bytes, data_key: bytes, key_ref: str,
              files: dict[str, dict[str, int]], out: Path) -> Loaded:
    """Cleanse, map and protect the delivery; the curated outputs become views (`curated`, and
    `unmapped` for responses) for the leak scan, written to `out` by `write`."""
    names = [r.field for r in feed.fields]
    cleansing = cleansing_sql(feed, rules, "delivered", delivery.day, names)
    if feed.name == RESPONSES:  # mapped in the same pass: one table of 5M rows instead of two
        _catalogue_tables(con, rules)
        cleansing = mapping_sql(f"({cleansing})")
    con.execute(f"CREATE TABLE cleansed AS {cleansing}")
    record = "to_json(struct_pack(" + ", ".join(f"{identifier(n)} := d.{identifier(n)}" for n in names) + "))"
    con.execute(f"""CREATE TABLE rejects AS
        SELECT {literal(feed.name)} AS feed, {literal(delivery.delivery_id)} AS delivery_id, source_key, line_number,
               CAST(NULL AS BIGINT) AS record_number, raw_record, reason FROM malformed
        UNION ALL
        SELECT {literal(feed.name)}, {literal(delivery.delivery_id)}, c._source_key, NULL, c._record, CAST({record} AS VARCHAR), c._errors
        FROM cleansed AS c JOIN delivered AS d ON d._source_key = c._source_key AND d._record = c._record
        WHERE c._errors IS NOT NULL""")
    protected = _protections(con, feed, "(SELECT * FROM cleansed WHERE _errors IS NULL)", token_key, data_key, key_ref)
    if feed.name == RESPONSES:
        available = {**protected, "reason": "_unmapped", "source_key": "_source_key", "record_number": "_record"}
        con.execute(f"CREATE VIEW curated AS SELECT {_select(curated_columns(feed), available, delivery, rules)} FROM cleansed "
                    "WHERE _errors IS NULL AND _unmapped IS NULL")
        con.execute(f"CREATE VIEW unmapped AS SELECT {_select((*UNMAPPED, *LINEAGE), available, delivery, rules)} FROM cleansed "
                    "WHERE _errors IS NULL AND _unmapped IS NOT NULL")
    else:
        con.execute(f"CREATE VIEW curated AS SELECT {_select(curated_columns(feed), protected, delivery, rules)} FROM cleansed "
                    "WHERE _errors IS NULL")
    per_file = con.execute("SELECT _source_key, count(*) FILTER (WHERE _errors IS NOT NULL), count(*) FILTER (WHERE _errors IS NULL) "
                           "FROM cleansed GROUP BY _source_key").fetchall()
    for key, rejected, loaded in per_file:
        files[key].update(rejected=rejected, loaded=loaded)
    for counts in files.values():
        counts.setdefault("rejected", 0)
        counts.setdefault("loaded", 0)
    return Loaded(files=files, out=out)


def write(con, feed: Feed, loaded: Loaded) -> None:
    """Every output as a Parquet file in `loaded.out` (raw, rejects, curated, unmapped), with its row count."""
    names = ", ".join(identifier(r.field) for r in feed.fields)
    outputs = {
        "raw": f"SELECT {names}, _source_key AS source_key, _record AS record_number FROM delivered",
        "rejects": "SELECT * FROM rejects ORDER BY source_key, line_number, record_number",
        "curated": "SELECT * FROM curated",
    }
    if feed.name == RESPONSES:
        outputs["unmapped"] = "SELECT * FROM unmapped"
    for name, select in outputs.items():
        loaded.paths[name] = loaded.out / f"{name}.parquet"
        loaded.rows[name] = _copy(con, select, loaded.paths[name])


def leaked(con, feed: Feed, loaded: Loaded) -> dict[str, int]:
    """What of the delivery's raw identifiers (or their digests) the curated files hold: cells of
    every string column, and tokens of the files' bytes. Empty: nothing leaked."""
    con.execute(f"CREATE OR REPLACE TABLE needles AS {leaks.needles_sql([(feed, 'delivered')])}")
    hits = {}
    for name in ("curated", "unmapped"):
        if name in loaded.paths:
            relation = f"read_parquet({literal(str(loaded.paths[name]))})"
            hits |= {f"{name}.{column}": n for column, n in leaks.scan_relation(con, "needles", relation).items()}
    curated_files = [loaded.paths[n] for n in ("curated", "unmapped") if n in loaded.paths]
    return hits | {f"bytes of {name}": n for name, n in leaks.scan_files(con, "needles", curated_files).items()}


def open_engine(scratch: Path, memory_limit: str = "4GB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to the run's scratch folder beyond `memory_limit`: a
    delivery larger than memory still loads (a database file doubled the load's time)."""
    con = duckdb.connect()
    con.execute(f"SET temp_directory = {literal(str(scratch))}")
    con.execute(f"SET memory_limit = {literal(memory_limit)}")
    return con
