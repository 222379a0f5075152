"""``salesops commissions estimate`` shows what a line was paid at and why (issue 12 items 6, 7):
target, attainment and multiplier per line, the reason of a line that pays nothing, totals per
rep x period, per rep, per period and in all, the recoverable draw balance and the warnings.
Every figure is computed by hand in the comments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.commissions import app

runner = CliRunner()
PLAN = """plans:
  - plan_id: P
    version: 1
    effective_from: 2026-01-01
    currency: USD
    draw: {amount: 500.00, recoverable: true}
    components:
      - component: bookings
        type: tiered_marginal
        gate: {min_attainment: 0.50}
        tiers:
          - {band_lower: 0.00, band_upper: 0.50, rate: 0.02}
          - {band_lower: 0.50, band_upper: null, rate: 0.05}
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "plan.yml").write_text(PLAN, encoding="utf-8")
    # rep ids differ in case between the files ('Ann' / 'ann' / 'ANN'): they are one rep
    (tmp_path / "credits.csv").write_text(
        "deal_id,rep_id,credit_date,amount\nA,Ann,2026-10-03,4000.00\nB,ann,2026-11-09,6000.00\n"
        'C,=HYPERLINK("http://x"),2025-06-01,10.00\n',
        encoding="utf-8",
    )
    (tmp_path / "targets.csv").write_text(
        "rep_id,period,target_amount\nANN,2026-10,10000.00\nann,2026-11,10000.00\n", encoding="utf-8"
    )
    return tmp_path


def run(files: Path, *extra: str):
    result = runner.invoke(
        app,
        ["estimate", "--plan", str(files / "plan.yml"), "--credits", str(files / "credits.csv"),
         "--targets", str(files / "targets.csv"), *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result


# October: A 4,000 of a 10,000 target: attainment 0.40 < gate 0.50 -> 0.00 (multiplier 0); the
# 500.00 draw tops up 0.00 -> 500.00, recoverable: balance 500.00.
# November: B 6,000: attainment 0.60: 5,000 x 2 % = 100.00 + 1,000 x 5 % = 50.00 = 150.00 - the
# draw (500.00) is not reached: top-up 350.00, balance 850.00. Totals: Oct 500.00, Nov 500.00.
# C (June 2025) is before the plan's first version: not paid, warned.


def test_the_table_shows_target_attainment_multiplier_and_why_a_line_pays_nothing(files):
    out = run(files).output
    header = out.splitlines()[0].split()
    assert header[:13] == [
        "period_month", "rep_id", "deal_id", "line_type", "component", "tier_number", "rate",
        "multiplier", "target_amount", "attainment", "base_amount", "commission_amount", "note",
    ]  # fmt: skip
    gated = next(line for line in out.splitlines() if line.startswith("2026-10-01") and " A " in line)
    assert gated.split()[6:12] == ["0.02", "0", "10000.00", "0.400000", "4000.00", "0.00"]
    assert gated.endswith("gate not met (attainment 0.400000 < 0.50)")
    november = [line.split() for line in out.splitlines() if line.startswith("2026-11-01") and " B " in line]
    assert [row[11] for row in november] == ["100.00", "50.00"]
    assert "draw 500.00 guaranteed, earned 150.00: top-up 350.00" in out


def test_totals_per_rep_per_period_grand_total_balance_and_warnings(files):
    out = run(files).output
    assert "Totals (rep x period):\n  2026-10  Ann  500.00\n  2026-11  Ann  500.00\n" in out
    assert "Totals per rep:\n  Ann  1000.00\n" in out
    assert "Totals per period:\n  2026-10  500.00\n  2026-11  500.00\n" in out
    assert "Grand total: 1000.00" in out
    assert (
        "Recoverable draw balance (after the period):\n  2026-10  Ann  500.00\n  2026-11  Ann  850.00" in out
    )
    assert "Warnings (1):" in out
    assert '[unmatched_credit] credit C of =HYPERLINK("http://x") on 2025-06-01 (10.00) is not paid' in out


def test_json_carries_totals_balances_and_warnings(files):
    data = json.loads(run(files, "--format", "json").output)
    assert data["totals_by_rep"] == [{"rep_id": "Ann", "total_amount": "1000.00"}]
    assert data["grand_total"] == "1000.00"
    assert data["draw_balances"][-1] == {"rep_id": "Ann", "period_month": "2026-11-01", "balance": "850.00"}
    assert [w["code"] for w in data["warnings"]] == ["unmatched_credit"]


def test_a_csv_file_has_a_bom_and_neutralised_cells(files):
    credits = (files / "credits.csv").read_text(encoding="utf-8").replace("\nA,Ann,", "\n-2+3,Ann,")
    (files / "credits.csv").write_text(credits, encoding="utf-8")
    out = files / "lines.csv"
    result = run(files, "--format", "csv", "--output", str(out))
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "warning: [unmatched_credit]" in result.output  # on stderr, which CliRunner mixes in
    text = out.read_text(encoding="utf-8-sig")
    # the deal id '-2+3' would be a formula in Excel: written as text ('-2+3), here and in every column
    assert "'-2+3:P:v1:bookings:1,commission,Ann,2026-10-01,'-2+3,'-2+3," in text
