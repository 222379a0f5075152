"""A Bulk Read export's CSV as the REST listing's records, written as the JSON ``raw`` stores.

Why a module of its own: at a million deals this conversion was most of the landing's CPU (issue
14). It reads the CSV into plain row lists, chooses each column's encoder once from the field
metadata (``/settings/fields``), encodes a column at a time and fills each row's values into one
template: no dict per row, and no second encoding by the landing. What a cell becomes is what
converting it to its REST value and encoding the record gives: empty is null, lookups are
``{name, id}`` (owners with ``email``), multi-selects are lists, numbers keep the REST JSON's int
or float (``10`` an int, ``48000.5`` a float).
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring as _string  # the C encoder of a str, non-ASCII kept
from typing import Any, TextIO

from flows.crm.base import CrmError
from flows.crm.zoho.reads import parse_datetime
from flows.warehouse.database import RawRecord, canonical_json

#: A JSON number (RFC 8259 grammar): such text is what ``float`` / ``int`` read exactly as
#: ``json.loads`` does (it calls them on the same text); anything else still goes to the decoder.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")

Encode = Callable[[Sequence[str]], list[str]]


@dataclass
class Export:
    """One downloaded page: the CSV's header and its rows (lists of cells, in header order)."""

    header: list[str]
    rows: list[list[str]]

    @classmethod
    def read(cls, text: TextIO, where: str = "the export") -> Export:
        """Parse the CSV. A row whose cell count differs from the header's is refused, naming its
        line: a cell would otherwise land under the wrong field or be dropped. Blank lines are
        skipped (as ``csv.DictReader`` does)."""
        reader = csv.reader(text)
        header = next(reader, [])
        rows = []
        width = len(header)
        for row in reader:
            if len(row) != width:
                if not row:
                    continue
                raise CrmError(f"{where}: CSV line {reader.line_num}: {len(row)} cells, the header {width}")
            rows.append(row)
        return cls(header, rows)

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[str]:
        """The cells of a column (empty when the export has no such column)."""
        if name not in self.header:
            return []
        at = self.header.index(name)
        return [row[at] for row in self.rows]


def number_json(text: str) -> str:
    """A numeric cell as the canonical JSON of the value ``json.loads`` reads from it (an int
    unless it has a fraction or an exponent, as the decoder decides): an integer's text is its
    JSON (the grammar allows no leading zeros; ``-0`` reads as ``0``), a finite float's is its
    ``repr``, as the encoder writes them."""
    if not text:
        return "null"
    found = _JSON_NUMBER.match(text)
    if found is None:
        return canonical_json(json.loads(text))  # NaN, Infinity, or the decoder's error
    if found.lastindex is None:
        return "0" if text == "-0" else text
    value = float(text)
    return repr(value) if math.isfinite(value) else canonical_json(value)


def _text_column(cells: Sequence[str]) -> list[str]:
    return [_string(c) if c else "null" for c in cells]


def _number_column(cells: Sequence[str]) -> list[str]:
    # plain digits without a leading zero (most integer cells) are already their JSON
    return [
        c if c.isdigit() and c.isascii() and (len(c) == 1 or c[0] != "0") else number_json(c) for c in cells
    ]


def _list_column(cells: Sequence[str]) -> list[str]:
    """Multi-selects: ``;``-separated in the CSV, lists in REST (empty is ``[]``)."""
    return ["[" + ",".join(map(_string, c.split(";"))) + "]" if c else "[]" for c in cells]


def _boolean_column(cells: Sequence[str]) -> list[str]:
    return [("true" if c == "true" else "false") if c else "null" for c in cells]


def encoder(meta: dict, names: dict[str, dict[str, Any]]) -> Encode:
    """How a column's cells are written as the canonical JSON of their REST values, per the field
    metadata: a column at a time (a list comprehension per column, no call per cell for most
    types). ``names``: id -> the lookup object's other keys (``name``, owners' ``email``); a
    lookup's JSON is built once per id (an account or owner is named by thousands of deals)."""
    json_type, data_type = meta.get("json_type"), meta.get("data_type")
    if json_type == "jsonarray":
        return _list_column
    if json_type == "boolean":
        return _boolean_column
    if json_type in ("double", "integer"):
        return _number_column
    if json_type != "jsonobject":
        return _text_column
    owner = data_type == "ownerlookup"
    built: dict[str, str] = {"": "null"}

    def lookup(text: str) -> str:  # {"email", "id", "name"}: the encoder's sorted key order
        extra = names.get(text, {})
        value = f'"id":{_string(text)},"name":{_json(extra.get("name"))}}}'
        value = f'{{"email":{_json(extra.get("email"))},{value}' if owner else "{" + value
        built[text] = value
        return value

    def column(cells: Sequence[str]) -> list[str]:
        known = built.get
        return [known(c) or lookup(c) for c in cells]

    return column


def _json(value: Any) -> str:
    return _string(value) if type(value) is str else canonical_json(value)


class EncodedRecord(RawRecord):
    """A record the reader wrote as its canonical JSON (what ``raw`` stores), so the landing does
    not encode it again; ``record`` decodes it for whoever asks (nothing on the landing path)."""

    def __init__(self, id: str, text: str, modified_at: datetime | None) -> None:
        # frozen, as RawRecord: set through the instance dict, in one call
        vars(self).update(id=id, text=text, modified_at=modified_at, deleted_at=None)

    @property
    def record(self) -> dict:  # type: ignore[override]
        return json.loads(self.text)

    def canonical(self) -> str:
        return self.text


class RecordBuilder:
    """Rows of one export as the REST listing's records, written as canonical JSON: ``id`` from
    ``Id``, each other column per its metadata, keys in sorted order (what
    :func:`flows.warehouse.database.canonical_json` of the REST-shaped dict gives)."""

    def __init__(self, header: list[str], types: dict[str, dict], names: dict[str, dict[str, Any]],
                 where: str = "the export") -> None:  # fmt: skip
        if "Id" not in header:
            raise CrmError(f"{where}: the CSV has no Id column (columns: {', '.join(header)})")
        self.id_at = header.index("Id")
        self.modified_at = header.index("Modified_Time") if "Modified_Time" in header else None
        keys = sorted([("id", self.id_at)] + [(name, i) for i, name in enumerate(header) if name != "Id"])
        self.plan = [
            (_text_column if key == "id" else encoder(types.get(key) or {}, names), at) for key, at in keys
        ]
        # '{"Amount":%s,...}': each key written once; % escapes nothing, the values are JSON
        self.template = "{" + ",".join(_string(key).replace("%", "%%") + ":%s" for key, _ in keys) + "}"

    def records(self, rows: Sequence[list[str]]) -> list[RawRecord]:
        """The rows' records, a column at a time: the cells transposed, each column encoded, each
        row's encoded cells put into the template."""
        if not rows:
            return []
        template = self.template
        columns = list(zip(*rows, strict=True))
        encoded = [encode(columns[at]) for encode, at in self.plan]
        texts = [template % values for values in zip(*encoded, strict=True)]
        at = self.modified_at
        stamps = [parse_datetime(s) for s in columns[at]] if at is not None else [None] * len(rows)
        return [
            EncodedRecord(rid, text, stamp)
            for rid, text, stamp in zip(columns[self.id_at], texts, stamps, strict=True)
        ]
