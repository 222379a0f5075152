"""``salesops commissions``: estimate, close and export through typer's CliRunner."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli.commissions import app
from flows.commissions.lines import Line
from flows.commissions.tables import write_lines

runner = CliRunner()
PLAN = """plans:
  - plan_id: P
    version: 1
    effective_from: 2026-01-01
    currency: USD
    components:
      - component: bookings
        type: tiered_marginal
        tiers:
          - {band_lower: 0.00, band_upper: 0.50, rate: 0.02}
          - {band_lower: 0.50, band_upper: null, rate: 0.05}
"""


@pytest.fixture
def files(tmp_path: Path):
    (tmp_path / "plan.yml").write_text(PLAN, encoding="utf-8")
    (tmp_path / "credits.csv").write_text(
        "deal_id,rep_id,credit_date,amount,currency,fx_rate,split_share\n"
        "A,ann,2026-10-03,4000.00,USD,1,1\n"
        "B,ann,2026-10-09,2000.00,EUR,1.09,0.5\n",
        encoding="utf-8",
    )
    (tmp_path / "targets.csv").write_text(
        "rep_id,period,target_amount\nann,2026-10,10000.00\n", encoding="utf-8"
    )
    return tmp_path


def args(files: Path, *extra: str) -> list[str]:
    return [
        "estimate",
        "--plan",
        str(files / "plan.yml"),
        "--credits",
        str(files / "credits.csv"),
        "--targets",
        str(files / "targets.csv"),
        *extra,
    ]


# target 10,000 -> boundary 5,000.00. A 0 -> 4,000: 4,000 x 2 % = 80.00.
# B: 2,000 EUR x 1.09 x 0.5 = 1,090.00 credited, 4,000 -> 5,090: 1,000 x 2 % = 20.00 and
# 90 x 5 % = 4.50. Total 104.50


def test_estimate_table(files):
    result = runner.invoke(app, args(files))
    assert result.exit_code == 0, result.output
    assert "Totals (rep x period):" in result.output
    assert "2026-10  ann  104.50" in result.output


def test_estimate_csv_and_json(files):
    result = runner.invoke(app, args(files, "--format", "csv"))
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["commission_line_id"], r["commission_amount"]) for r in rows] == [
        ("A:P:v1:bookings:1", "80.00"),
        ("B:P:v1:bookings:1", "20.00"),
        ("B:P:v1:bookings:2", "4.50"),
    ]
    assert rows[1]["credit_amount"] == "1090.00" and rows[1]["fx_rate"] == "1.09"
    out = files / "est.json"
    result = runner.invoke(app, args(files, "--format", "json", "--output", str(out)))
    assert result.exit_code == 0 and "wrote 3 lines" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["totals"] == [{"rep_id": "ann", "period_month": "2026-10-01", "total_amount": "104.50"}]


def test_estimate_rejects_a_bad_plan_and_bad_credits(files):
    (files / "plan.yml").write_text(PLAN.replace("band_lower: 0.50", "band_lower: 0.40"), encoding="utf-8")
    result = runner.invoke(app, args(files))
    assert result.exit_code == 1
    assert "line 11 (plans[0].components[0].tiers[1].band_lower): band [0.40, open) overlaps" in result.output
    (files / "plan.yml").write_text(PLAN, encoding="utf-8")
    (files / "credits.csv").write_text("rep_id,credit_date,amount\nann,2026-10-03,abc\n", encoding="utf-8")
    result = runner.invoke(app, args(files))
    assert result.exit_code == 1
    assert "credits.csv row 2, field amount: 'abc' is not a number" in result.output


def test_close_and_export(tmp_path, monkeypatch):
    monkeypatch.setenv("SALESOPS_HOME", str(tmp_path / "home"))
    from flows.config.settings import get_settings

    settings = get_settings()
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    line = Line(
        commission_line_id="A:P:v1:bookings:1",
        line_type="commission",
        rep_id="ann",
        period_month=date(2026, 10, 1),
        deal_id="A",
        credit_id="A",
        base_amount=D("4000.00"),
        rate=D("0.02"),
        weight=D("1"),
        multiplier=D("1"),
        commission_amount=D("80.00"),
        currency="USD",
        explanation="4000.00 x 0.02",
    )
    with duckdb.connect(str(settings.warehouse_path)) as conn:
        write_lines(conn, [line], date(2026, 10, 31))

    result = runner.invoke(app, ["close", "--period", "2026-10", "--closed-by", "cfo"])
    assert result.exit_code == 0, result.output
    assert "closed 2026-10: 1 statement lines snapshotted" in result.output
    again = runner.invoke(app, ["close", "--period", "2026-10"])
    assert again.exit_code == 1 and "already closed" in again.output
    assert runner.invoke(app, ["close", "--period", "2026-13"]).exit_code == 2

    result = runner.invoke(
        app, ["export", "--period", "2026-10", "--xlsx", "--output-dir", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out" / "payroll_2026-10.csv").read_text(encoding="utf-8-sig")
    assert "2026-10-01,closed,ann,,,,USD,1,80.00,0.00," in text
    assert text.rstrip().endswith(
        "2026-10-01,closed,TOTAL,,,,USD,1,80.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,0.00,80.00,"
    )
    assert (tmp_path / "out" / "payroll_2026-10.xlsx").exists()


def test_estimate_pays_collections_and_caps_on_the_fiscal_year(tmp_path: Path):
    # pay on collection, flat 10 %, per_year 1,000.00; the fiscal year starts in April. The booking
    # credit is ignored (not the plan's basis). A (Dec 2026) 600.00 and B (Feb 2027) 600.00 are in
    # FY2026: B is cut by 200.00; C (Apr 2027) starts FY2027: 500.00 uncut.
    (tmp_path / "plan.yml").write_text(
        PLAN.replace("currency: USD", "currency: USD\n    credit_on: collection")
        .replace("type: tiered_marginal", "type: flat\n        rate: 0.10\n        caps: {per_year: 1000.00}")
        .split("        tiers:")[0],
        encoding="utf-8",
    )
    (tmp_path / "credits.csv").write_text(
        "deal_id,rep_id,credit_date,amount,basis\n"
        "X,ann,2026-12-01,50000.00,booking\n"
        "A,ann,2026-12-10,6000.00,collection\n"
        "B,ann,2027-02-10,6000.00,collection\n"
        "C,ann,2027-04-05,5000.00,collection\n",
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        [
            "estimate",
            "--plan",
            str(tmp_path / "plan.yml"),
            "--credits",
            str(tmp_path / "credits.csv"),
            "--fiscal-year-start-month",
            "4",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    got = {r["commission_line_id"]: D(r["commission_amount"]) for r in json.loads(result.output)["lines"]}
    assert got == {
        "A:P:v1:bookings:0": D("600.00"),
        "B:P:v1:bookings:0": D("600.00"),
        "cap:year:ann:2027-02:P:v1:bookings": D("-200.00"),
        "C:P:v1:bookings:0": D("500.00"),
    }
