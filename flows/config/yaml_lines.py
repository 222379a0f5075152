"""YAML read with line numbers, floats as exact decimals: the one reader of every ``config/*.yml``.

Mappings and lists remember the line they start on (and mappings the line of each key), so an
error can name the line a person has to fix; :func:`locate` turns a pydantic error location into
that line and a dotted field path. Floats become :class:`~decimal.Decimal` (``0.05`` stays 0.05,
never the binary double nearest to it).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml


class LineDict(dict):
    """A YAML mapping that remembers its first line and the line of each key."""

    line: int = 0
    key_lines: dict[str, int]


class LineList(list):
    """A YAML sequence that remembers its first line and the line of each item."""

    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    result = LineDict(loader.construct_mapping(node, deep=True))
    result.line = node.start_mark.line + 1
    # the line of every key too, so an error on a scalar field points at its own line
    result.key_lines = {
        k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)
    }
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_sequence(node, deep=True))
    result.line = node.start_mark.line + 1
    result.item_lines = [item.start_mark.line + 1 for item in node.value]
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
_Loader.add_constructor(
    "tag:yaml.org,2002:float", lambda loader, node: Decimal(loader.construct_scalar(node))
)


def load_yaml(text: str, name: str, error: type[Exception]) -> Any:
    """Parse ``text`` (a file shown as ``name``); invalid YAML raises ``error`` naming the line."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name} line {mark.line + 1}" if mark else name
        raise error(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None


def line_of(node: Any) -> int | None:
    """The line a mapping or list read by :func:`load_yaml` starts on (None for scalars)."""
    return getattr(node, "line", None)


def locate(tree: Any, loc: tuple[Any, ...]) -> tuple[int | None, str]:
    """Line and dotted path of a pydantic error location inside the YAML tree."""
    node, line, path = tree, line_of(tree), ""
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            path += f"[{part}]"
            line = getattr(node, "item_lines", {part: line})[part]
            node = node[part]
            line = getattr(node, "line", line)
        elif isinstance(part, str) and isinstance(node, dict):
            path += f".{part}" if path else part
            line = getattr(node, "key_lines", {}).get(part, line)
            node = node.get(part)
            line = getattr(node, "line", line)
        else:
            break  # pydantic's own tags (e.g. union branches) are not part of the file
    return line, path
