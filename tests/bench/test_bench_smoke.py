"""`salesops bench` at a tiny size, end to end: the sandbox in its own process, both nightlies,
every measurement against its baseline. Not timed (speed is what the table reports, never what a
test asserts): every row must be there with figures, and the engine and its set-based baseline
must pay the same (the measurement refuses to report a ratio otherwise)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from flows.bench.runner import ROWS, BenchOptions, run_bench

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_harness"),
    pytest.mark.timeout(1500),
]


def test_a_tiny_bench_fills_every_row_and_the_baselines_agree(tmp_path, monkeypatch) -> None:
    from prefect.settings import PREFECT_API_URL

    # the measured processes are spawned: point them at the session's Prefect API (no server each)
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    lines: list[str] = []
    result = run_bench(
        BenchOptions(home=tmp_path, deals=300, reps=10, send_reports=False, progress=lines.append)
    )
    table = json.loads(result.json.read_text())
    rows = {r["measurement"]: r for r in table["rows"]}
    assert list(rows) == list(ROWS)
    for name, row in rows.items():
        assert row["error"] is None, f"{name}: {row['error']}"
        assert isinstance(row["ratio"], float) and row["ratio"] > 0, name
        assert row["pipeline"]["wall_s"] > 0 and row["pipeline"]["cpu_s"] >= 0, name
        assert row["pipeline"]["peak_rss_mib"] > 0, name
    for name in ROWS[:5]:  # the side-by-side rows have a measured baseline
        assert rows[name]["baseline"]["wall_s"] > 0, name
    engine = rows["commission engine vs set-based baseline"]
    assert engine["details"]["totals"], "the plan pays commission lines at this size"
    assert sum(Decimal(t) for _, t in engine["details"]["totals"].values()) > 0
    calls = rows["API calls per object vs the minimum (full nightly)"]["details"]["api_calls"]
    assert {c["source"] for c in calls} == {"zoho", "fxiaoke"}
    assert all(c["calls"] >= c["minimum"] >= 1 for c in calls)
    markdown = result.markdown.read_text()
    assert all(name in markdown for name in ROWS) and "FAILED" not in markdown
    assert any("incremental nightly: done" in line for line in lines)
    assert result.markdown.parent == tmp_path / "bench" and not list((tmp_path / "bench").glob("run-*"))
