"""A Bulk Read CSV page written straight to canonical JSON (``flows.crm.zoho.bulk_csv``) must land
exactly what converting each cell to its REST value and encoding the record would: the same text,
so the same ``record_hash`` as a record read through the REST listing (issue 14)."""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime
from typing import Any

import duckdb
import pytest

from flows.crm.base import CrmError
from flows.crm.zoho.bulk_csv import EncodedRecord, Export, RecordBuilder, number_json
from flows.warehouse.database import RawRecord, canonical_json, record_hash, upsert_raw

NAMES = {
    "u1": {"name": 'Zoë "Z" Ng', "email": "zoe@example.com"},
    "a1": {"name": "Ünïcode \\ Acct\n"},
}
TYPES: dict[str, dict] = {
    "Amount": {"json_type": "double", "data_type": "currency"},
    "Probability": {"json_type": "integer", "data_type": "integer"},
    "Tags": {"json_type": "jsonarray", "data_type": "multiselectpicklist"},
    "Is_Key": {"json_type": "boolean", "data_type": "boolean"},
    "Owner": {"json_type": "jsonobject", "data_type": "ownerlookup"},
    "Account_Name": {"json_type": "jsonobject", "data_type": "lookup"},
    "Pipeline": {"json_type": "jsonobject", "data_type": "picklist"},
    "Deal_Name": {"json_type": "string", "data_type": "text"},
    "Modified_Time": {"json_type": "string", "data_type": "datetime"},
    "Odd%Name": {"json_type": "string", "data_type": "text"},
}


def rest_value(text: str, meta: dict) -> Any:
    """The REST listing's value of a CSV cell, cell by cell (the conversion as documented in
    docs/connectors.md, "Bulk Read for first loads"): the reference the fast path must equal."""
    json_type, data_type = meta.get("json_type"), meta.get("data_type")
    if json_type == "jsonarray":
        return [] if not text else text.split(";")
    if text == "":
        return None
    if json_type == "jsonobject":
        extra = NAMES.get(text, {})
        if data_type == "ownerlookup":
            return {"name": extra.get("name"), "id": text, "email": extra.get("email")}
        return {"name": extra.get("name"), "id": text}
    if json_type == "boolean":
        return text == "true"
    if json_type in ("double", "integer"):
        return json.loads(text)
    return text


HEADER = ["Id", *TYPES]
ROWS = [
    [
        "1",
        "48000.5",
        "10",
        "a;b;c",
        "true",
        "u1",
        "a1",
        "p9",
        'Deal "one"\tx',
        "2026-12-01T10:00:00+08:00",
        "5%",
    ],
    ["2", "", "", "", "", "", "", "", "", "", ""],
    [
        "3",
        "1e5",
        "-0",
        "solo",
        "false",
        "u2",
        "a2",
        "p9",
        "日本語 \\ \u2028 \x01",
        "2026-12-02T00:00:00Z",
        "%s",
    ],
    ["4", "-2.50", "0", ";", "TRUE", "u1", "a1", "", "NaN", "2026-12-03T00:00:00-05:00", ""],
    ["5", "1E+400", "7", "x;", "true", "u1", "a1", "p9", "null", "2026-12-04T00:00:00+00:00", "''"],
    ["6", "0.1", "123456789012345678901234567890", "", "", "", "", "", " ", "", ""],
    ["7", "NaN", "-Infinity", "", "", "", "", "", "", "", ""],
]


def reference(row: list[str]) -> dict[str, Any]:
    record: dict[str, Any] = {"id": row[0]}
    for name, text in zip(HEADER[1:], row[1:], strict=True):
        record[name] = rest_value(text, TYPES[name])
    return record


def test_each_row_is_the_canonical_json_of_its_rest_shaped_record():
    records = RecordBuilder(HEADER, TYPES, NAMES).records(ROWS)
    for row, rec in zip(ROWS, records, strict=True):
        expected = reference(row)
        assert isinstance(rec, EncodedRecord)
        assert rec.id == row[0]
        assert rec.canonical() == canonical_json(expected), row
        # NaN never equals itself: compare the decoded record by its text
        assert canonical_json(rec.record) == canonical_json(expected)
        assert record_hash(rec.record) == record_hash(expected)
    assert records[0].modified_at == datetime(2026, 12, 1, 2, tzinfo=UTC)
    assert records[1].modified_at is None
    assert records[4].record["Amount"] == math.inf, "1E+400 is a float overflow, as json.loads reads it"
    assert records[5].record["Probability"] == 123456789012345678901234567890


@pytest.mark.parametrize(
    "text", ["0", "7", "10", "-0", "-12", "0.5", "48000.50", "1e5", "1E-7", "-2.5e+3", "NaN", "Infinity"]
)
def test_numbers_are_read_as_the_json_decoder_reads_them(text: str):
    assert number_json(text) == canonical_json(json.loads(text))


@pytest.mark.parametrize("text", ["010", "1.", ".5", "+1", "1_000", "١٢", "0x10", "1 2"])
def test_text_that_is_not_a_json_number_fails_as_the_decoder_does(text: str):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        number_json(text)


def test_landed_bulk_rows_store_the_same_text_and_hash_as_rest_records():
    """The same records landed once as REST dicts and once from CSV rows: identical raw rows."""
    conn = duckdb.connect()
    conn.execute("create schema raw")
    rows = [r for r in ROWS if r[1] not in ("NaN", "1E+400")]  # NaN, Infinity: not JSON to DuckDB
    records = RecordBuilder(HEADER, TYPES, NAMES).records(rows)
    rest = [
        RawRecord(id=r[0], record=reference(r), modified_at=rec.modified_at)
        for r, rec in zip(rows, records, strict=True)
    ]
    upsert_raw(conn, source="zoho", obj="deals", records=records, run_id="bulk")
    upsert_raw(conn, source="zoho", obj="deals_rest", records=rest, run_id="rest")
    query = "select id, record::varchar, record_hash, modified_at from raw.zoho_{} order by id"
    assert (
        conn.execute(query.format("deals")).fetchall() == conn.execute(query.format("deals_rest")).fetchall()
    )


def test_a_row_with_more_or_fewer_cells_than_the_header_is_refused_naming_its_line():
    csv_text = "Id,Deal_Name\r\n1,a\r\n\r\n2,b,extra\r\n"
    with pytest.raises(CrmError, match=r"job 9 \(Deals\): CSV line 4: 3 cells, the header 2"):
        Export.read(io.StringIO(csv_text, newline=""), "job 9 (Deals)")
    export = Export.read(io.StringIO("Id,Deal_Name\r\n1,a\r\n\r\n2,b\r\n", newline=""))
    assert export.rows == [["1", "a"], ["2", "b"]], "blank lines are skipped, as csv.DictReader does"
    assert export.column("Deal_Name") == ["a", "b"] and export.column("Missing") == []


def test_an_export_without_an_id_column_is_refused():
    with pytest.raises(CrmError, match=r"no Id column .*Deal_Name"):
        RecordBuilder(["Deal_Name"], TYPES, NAMES, "job 9 (Deals)")
