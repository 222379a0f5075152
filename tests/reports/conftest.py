"""Fixtures of the report tests: a warehouse with the hand-built marts, and settings."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from reports_support import build_marts

from flows.config.settings import Settings


@pytest.fixture
def conn(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    build_marts(c)
    yield c
    c.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", reporting_currency="USD")
