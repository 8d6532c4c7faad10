"""Point-of-sale files -> transactions + rejects: every line accounted for, amounts exact."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from assets.pos import format as pos_format
from assets.pos.policy import parse_key, policy
from dataplatform.landing_zones import KeyRejected

TDF, CSV, JSONL = (policy().formats[name] for name in ("seed_tdf", "franchise_csv", "franchise_jsonl"))


def test_seed_rows_keep_the_first_line_and_reject_dash_junk():
    # The seed's layout: vendor, amount, type, item, date, then filler; no header. Its header
    # test matched every file and dropped the first transaction.
    data = (
        "VN001\t123.45\t4\tITEM-1\t2026-11-20\t1234\tPOS1\n"
        "----------------------------------\n"
        "VN001\t9.88\t5\tITEM-1\t2026-11-20\t1234\tPOS1\n"
        "VN002\t10.00\t6\tITEM-2\t2026-11-20\t99\tPOS2\n"
        "---- end of cumulative file ----\n"
    ).encode()
    parsed = pos_format.parse(data, TDF)
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in parsed.rows] == [
        ("VN001", Decimal("123.45"), 4, "ITEM-1", 1),
        ("VN001", Decimal("9.88"), 5, "ITEM-1", 3),
        ("VN002", Decimal("10.00"), 6, "ITEM-2", 4),
    ]
    assert [(line, reason) for line, _, reason in parsed.rejects] == [(2, "junk line"), (5, "junk line")]
    assert parsed.lines_read == len(parsed.rows) + len(parsed.rejects) == 5


@pytest.mark.parametrize("line, reason", [
    ("V1\tN/A\t4\tI1\t2026-11-20", "trans_amount"),
    ("V1\t1.234\t4\tI1\t2026-11-20", "at most 2 places"),
    ("V1\t1.00\tsale\tI1\t2026-11-20", "trans_type"),
    ("V1\t1.00\t4\tI1\t20-11-2026", "trans_date"),
    ("V1\t1.00\t4\tI1\t2026-02-30", "trans_date"),
    ("V1\t1.00\t4", "fields"),
    ("\t1.00\t4\tI1\t2026-11-20", "vendor_id"),
    ("", "empty line"),
])
def test_malformed_lines_are_rejected_with_their_reason(line, reason):
    parsed = pos_format.parse(f"V1\t1.00\t4\tI1\t2026-11-20\n{line}\n".encode(), TDF)
    assert len(parsed.rows) == 1 and parsed.lines_read == 2
    [(number, raw, why)] = parsed.rejects
    assert number == 2 and raw == line and reason in why


def test_csv_maps_its_header_whatever_the_column_order():
    data = ("Register,Amount,SKU,BusinessDate,TxnType,VendorNumber\r\n"
            "R1,999.99,I9,2026-11-20,4,V7\r\n"
            'R2,"0.01",I9,2026-11-20,4,V7\r\n').encode()
    parsed = pos_format.parse(data, CSV)
    assert [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in parsed.rows] == [
        ("V7", Decimal("999.99"), 4, "I9", date(2026, 11, 20), 2),
        ("V7", Decimal("0.01"), 4, "I9", date(2026, 11, 20), 3),
    ]
    assert parsed.header_lines == 1 and parsed.lines_read == 2 and not parsed.rejects


def test_csv_without_its_columns_rejects_every_line():
    parsed = pos_format.parse(b"a,b\n1,2\n3,4\n", CSV)
    assert not parsed.rows and parsed.lines_read == 2
    assert [line for line, _, _ in parsed.rejects] == [2, 3]
    assert all("header lacks columns" in why for _, _, why in parsed.rejects)


def test_jsonl_amounts_stay_exact_and_non_objects_are_rejected():
    data = b'{"vendor":"V1","amount":0.1,"type":4,"item":"I1","date":"2026-11-20"}\n[1]\n{"vendor":"V1"}\nnot json\n'
    parsed = pos_format.parse(data, JSONL)
    assert [r[1] for r in parsed.rows] == [Decimal("0.1")]
    assert [line for line, _, _ in parsed.rejects] == [2, 3, 4]


def test_keys_of_the_zone():
    landed = parse_key("pos/us-east/S0001/2026-11-20/d1-20261120.tdf")
    assert (landed.region, landed.store_id, landed.business_date, landed.extension) == ("us-east", "S0001", date(2026, 11, 20), "tdf")
    master = parse_key("pos/us-east/items/2026-11-20.csv")
    assert master.master == "items" and master.store_id is None
    for bad in ("pos/us-east/S0001/2026-11-20/d1.txt", "pos/us-east/items/2026-11-20/d1.tdf",
                "pos/mars/S0001/2026-11-20/d1.tdf", "pos/us-east/S0001/d1.tdf", "pos/us-east/stores.csv"):
        with pytest.raises(KeyRejected):
            parse_key(bad)
