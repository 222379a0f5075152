"""One demo company per home (issue 13, item 10): `salesops demo --dataset maven` after the
synthetic demo in the same home used to fail in dbt and leave the Maven agents behind, so the next
synthetic demo published 59 reps instead of 36. Now the switch is refused before anything runs,
naming both companies, or `--fresh` starts the home clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from flows.sandbox.demo_home import DemoHomeMismatch, claim_demo_home, demo_identity

SYNTHETIC = demo_identity("synthetic", seed=42, reps=24, deals=1200)


def _used_home(home: Path) -> None:
    """A home after a synthetic demo: state the pipeline wrote, plus a file of the user's."""
    claim_demo_home(home, SYNTHETIC)
    (home / "work").mkdir()
    (home / "work" / "warehouse.duckdb").write_bytes(b"synthetic company")
    (home / "published" / "run1").mkdir(parents=True)
    (home / "warehouse.duckdb").symlink_to(home / "published" / "run1")
    (home / "notes.txt").write_text("mine")


def test_the_same_company_may_run_again_in_its_home(tmp_path: Path) -> None:
    _used_home(tmp_path)
    claim_demo_home(tmp_path, demo_identity("synthetic", seed=42, reps=24, deals=1200))
    assert (tmp_path / "work" / "warehouse.duckdb").read_bytes() == b"synthetic company"


@pytest.mark.parametrize(
    "other",
    [
        demo_identity("maven", seed=42, reps=24, deals=1200),
        demo_identity("synthetic", seed=7, reps=24, deals=1200),
        demo_identity("synthetic", seed=42, reps=40, deals=1200),
    ],
    ids=["dataset", "seed", "reps"],
)
def test_another_company_is_refused_naming_both(tmp_path: Path, other: dict) -> None:
    _used_home(tmp_path)
    with pytest.raises(DemoHomeMismatch) as refused:
        claim_demo_home(tmp_path, other)
    message = str(refused.value)
    assert "dataset synthetic, seed 42, reps 24, deals 1200" in message
    assert ", ".join(f"{k} {v}" for k, v in other.items()) in message and "--fresh" in message
    assert (tmp_path / "work" / "warehouse.duckdb").read_bytes() == b"synthetic company"
    assert json.loads((tmp_path / "demo.json").read_text()) == SYNTHETIC


def test_fresh_starts_clean_and_keeps_what_is_not_demo_state(tmp_path: Path) -> None:
    _used_home(tmp_path)
    maven = demo_identity("maven", seed=0, reps=0, deals=0)
    claim_demo_home(tmp_path, maven, fresh=True)
    assert not (tmp_path / "work").exists() and not (tmp_path / "published").exists()
    assert not (tmp_path / "warehouse.duckdb").is_symlink()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert json.loads((tmp_path / "demo.json").read_text()) == {"dataset": "maven"}


def test_the_cli_refuses_the_switch_before_anything_runs(tmp_path: Path) -> None:
    _used_home(tmp_path)
    result = CliRunner().invoke(app, ["demo", "--dataset", "maven", "--home", str(tmp_path)])
    assert result.exit_code != 0
    assert "holds the demo company" in result.output and "--fresh" in result.output
    assert not (tmp_path / "outbox").exists(), "no sandbox or SMTP server was started"
    assert (tmp_path / "work" / "warehouse.duckdb").read_bytes() == b"synthetic company"
