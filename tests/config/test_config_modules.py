"""flows.config's shared pieces: the one YAML-with-lines reader and the package's import direction."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from flows.config.commission_plan import PlanError, parse_plan_text
from flows.config.errors import ConfigError
from flows.config.yaml_lines import line_of, load_yaml, locate

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def test_yaml_lines_remember_lines_and_read_floats_as_decimals() -> None:
    tree = load_yaml("# comment\nplans:\n  - rate: 0.05\n    name: a\n", "x.yml", ConfigError)
    assert line_of(tree) == 2
    assert line_of(tree["plans"]) == 3
    assert tree["plans"][0]["rate"] == Decimal("0.05")
    assert locate(tree, ("plans", 0, "name")) == (4, "plans[0].name")


def test_invalid_yaml_names_the_line_with_the_callers_error() -> None:
    with pytest.raises(ConfigError, match=r"^s.yml line 3: not valid YAML"):
        load_yaml("a: 1\nb: [\n", "s.yml", ConfigError)
    with pytest.raises(PlanError, match=r"^p.yml line 3: not valid YAML"):
        parse_plan_text("plans:\n  - [\n", "p.yml")


def _flows_imports(package: str) -> set[str]:
    found = set()
    for path in (FLOWS / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return found


def test_flows_config_does_not_import_flows_targets() -> None:
    # flows.targets (locks, history, the `salesops targets` commands) builds on flows.config
    assert not {m for m in _flows_imports("config") if m.startswith("flows.targets")}
    assert any(m.startswith("flows.config") for m in _flows_imports("targets"))
