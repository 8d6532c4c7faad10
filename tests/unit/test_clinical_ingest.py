"""Loading one delivered MIMIC file: values that do not cast are rejected with their line."""

from __future__ import annotations

import gzip
import json

import duckdb

from assets.clinical.ingest import load_table

CSV = """\
"ROW_ID","SUBJECT_ID","GENDER","DOB","DOD","DOD_HOSP","DOD_SSN","EXPIRE_FLAG"
1,10,"F","2101-03-04 00:00:00",,,,0
2,eleven,"M","2102-01-01 00:00:00",,,,0
3,12,"M","not a date",,,,1
4,13,"F","2103-05-06 00:00:00","2180-01-02 00:00:00",,"2180-01-02 00:00:00",1
5,14,"F, with comma","2104-01-01 00:00:00",,,,0
"""


def test_rows_that_do_not_cast_are_rejected_with_line_and_reason(tmp_path):
    source = tmp_path / "PATIENTS.csv.gz"
    source.write_bytes(gzip.compress(CSV.encode()))
    out, rejects = tmp_path / "patients.parquet", tmp_path / "rejects.parquet"

    result = load_table("PATIENTS", source, "csv", "clinical/mimic/d1/PATIENTS.csv.gz", out, rejects)

    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 3, 2)
    with duckdb.connect() as con:
        loaded = con.execute(f"select subject_id, gender, dod from read_parquet('{out}') order by 1").fetchall()
        rejected = con.execute(
            f"select line_number, reason, raw_record, source_key from read_parquet('{rejects}') order by 1"
        ).fetchall()
    assert [row[0] for row in loaded] == [10, 13, 14]
    assert loaded[2][1] == "F, with comma" and loaded[0][2] is None and str(loaded[1][2]) == "2180-01-02 00:00:00"
    assert [(line, reason) for line, reason, _, _ in rejected] == [
        (3, "SUBJECT_ID is not integer"),
        (4, "DOB is not timestamp"),
    ]
    assert json.loads(rejected[0][2])["SUBJECT_ID"] == "eleven"
    assert rejected[0][3] == "clinical/mimic/d1/PATIENTS.csv.gz"


def test_reject_lines_count_newlines_inside_quoted_fields(tmp_path):
    text = (
        '"ROW_ID","CGID","LABEL","DESCRIPTION"\n'
        '1,7,"RN","two\nlines"\n'
        '2,eight,"MD","x"\n'
        '3,9,"RN","three\nlong\nlines"\n'
        '4,ten,"RT","y"\n'
    )
    source = tmp_path / "CAREGIVERS.csv.gz"
    source.write_bytes(gzip.compress(text.encode()))
    result = load_table("CAREGIVERS", source, "csv", "k", tmp_path / "out.parquet", tmp_path / "rejects.parquet")
    assert (result.rows_loaded, result.rows_rejected) == (2, 2)
    with duckdb.connect() as con:
        lines = con.execute(f"select line_number from read_parquet('{tmp_path / 'rejects.parquet'}') order by 1").fetchall()
    # Line 1 header, 2-3 record 1, 4 record 2, 5-7 record 3, 8 record 4.
    assert [line for (line,) in lines] == [4, 8]
