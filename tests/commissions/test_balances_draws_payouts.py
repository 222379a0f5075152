"""Deficit carry-forward, draw periods (start / end / recovery start, no silent forgiveness) and
payout schedules, through the engine, ``commissions estimate`` and the nightly + close.

Every expected figure is computed by hand next to it from the published figures it cites:

* [SPIFFNEG] Salesforce Help, "Carry Forward a Negative Balance on a Statement" (Spiff): either
  "show the negative balance as the total statement balance ... and carry the balance forward" or
  "zero-out the negative balance for the current statement period ... and carry the balance forward
  to the next period".
* [ORAPP] Oracle Customer Connect, "Payment plan makes adjustment to all Plan Elements": a
  recoverable payment plan "to make sure the salesperson is paid $0 and over ... no negative
  commission is processed ... and is recovered at a later date when there is positive commission";
  PE1 = -10 -> the worksheet is at $0.
* [XACTLY] Xactly, "The Non-Recoverable Draw Against Commission": a $1,500 draw, August earns $500:
  paid $1,500 ($500 + $1,000 from the draw), -$1,000 balance; September earns $3,000: paid $2,000
  ($3,000 - $1,000 balance), balance $0.
* [ORA5050] Oracle Customer Connect, "How to pay 50/50 on order/on payment collection?": a 10K
  order at 10 % earns $1000, "paid 50% or $500 on order and the remaining as receivable invoices are
  collected"; an invoice collected pays $250 and the second one completes the entitled commission.
  (The thread's invoices are written "$500", which cannot be halves of a 10K order; we read them as
  the order's two halves, the only reading under which $250 and "fully paid" both hold.)
* [TOLT] Tolt docs, "Commission lifecycle": "A refund before that date moves the commission to
  refunded, so it never pays ... A paid one is never edited: Tolt adds a negative commission ...
  deducted from the partner's next payout".
* [ZEPYS] Zepys, "How to handle refunds and clawbacks with agents": "Pay 70% of the commission at
  the point of sale and the remaining 30% after the clawback window closes".
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.commissions import app
from flows.commissions.engine import calculate
from flows.commissions.ledger import build_ledger
from flows.commissions.lines import Credit, Rep, statement_totals
from flows.commissions.pay_warnings import pay_warnings
from flows.commissions.payouts import pending_balances
from flows.config.commission_plan import PlanError, load_plan_file, parse_plan_text

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "config/plans"
M = {m: date(2026, m, 1) for m in range(1, 13)}
FLAT_10 = "      - {component: b, type: flat, measure: monthly_credited_amount, rate: 0.10}"


def plan(component: str = FLAT_10, extra: str = "") -> object:
    return parse_plan_text(
        f"""
plans:
  - plan_id: P
    version: 1
    effective_from: 2026-01-01
    currency: USD
{extra}    components:
{component}
""",
        "test.yml",
    )


def credit(cid: str, day: str, amount: str, rep: str = "ann", **kw) -> Credit:
    return Credit(cid, cid, rep, date.fromisoformat(day), D(amount), **kw)


def totals(lines, rep: str = "ann") -> dict[date, D]:
    return {p: t for (r, p), t in statement_totals(lines).items() if r == rep}


def estimate_json(plan_file: str, credits: str, *extra: str) -> dict:
    args = ["estimate", "--plan", str(PLANS / plan_file), "--credits", str(PLANS / "examples" / credits)]
    out = CliRunner().invoke(app, [*args, *extra, "--format", "json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def json_totals(result: dict) -> dict[str, str]:
    return {t["period_month"][:7]: t["total_amount"] for t in result["totals"]}


# --- deficit carry-forward -----------------------------------------------------------------------


def test_a_negative_month_is_paid_zero_and_recovered_later_by_default():
    # [ORAPP]'s figure: a period nets -10.00 -> paid 0.00 ("paid $0 and over"), recovered "when there
    # is positive commission": the next month earns 25.00 (flat 10 % of 250) -> pays 15.00.
    # Jan: a 100.00 deal earns 10.00; cancelled in Feb -> Feb nets -10.00.
    credits = [
        credit("a", "2026-01-10", "100", reversed_on=date(2026, 2, 3)),
        credit("b", "2026-03-10", "250"),
    ]
    lines = calculate(plan(), credits)
    assert totals(lines) == {M[1]: D("10.00"), M[2]: D("0.00"), M[3]: D("15.00")}
    got = {ln.commission_line_id: (ln.line_type, ln.commission_amount, ln.base_amount) for ln in lines}
    assert got["deficit-carry:ann:2026-02"] == ("deficit_carry", D("10.00"), D("10.00"))
    assert got["deficit-recovery:ann:2026-03"] == ("deficit_recovery", D("-10.00"), D("-10.00"))
    # [SPIFFNEG] option 1: a plan may show the negative total instead
    allowed = calculate(plan(extra="    balances: {allow_negative_payout: true}\n"), credits)
    assert totals(allowed) == {M[1]: D("10.00"), M[2]: D("-10.00"), M[3]: D("25.00")}


def test_the_example_plan_recovers_at_most_100_a_month_and_writes_off_on_leave(tmp_path):
    # config/plans/deficit_carry_forward.yml + examples/deficit_credits.csv (flat 10 %):
    # Jan D-1 2,500 -> 250.00; Feb D-1 cancelled -> -250.00: paid 0.00, deficit 250.00.
    # Mar D-2 1,000 -> 100.00, recovery min(250, 100, cap 100) = 100.00 -> paid 0.00, deficit 150.00.
    # Apr D-3 1,500 -> 150.00, recovery capped at 100.00 -> paid 50.00, deficit 50.00.
    result = estimate_json("deficit_carry_forward.yml", "deficit_credits.csv")
    assert json_totals(result) == {
        "2026-01": "250.00",
        "2026-02": "0.00",
        "2026-03": "0.00",
        "2026-04": "50.00",
    }
    assert [(b["period_month"][:7], b["balance"]) for b in result["deficit_balances"]] == [
        ("2026-02", "250.00"),
        ("2026-03", "150.00"),
        ("2026-04", "50.00"),
    ]
    # ann leaves on 2026-04-20: the 50.00 left after April's recovery is written off (amount 0.00,
    # balance -> 0.00) and warned; nothing more is deducted.
    targets = tmp_path / "targets.csv"
    targets.write_text("rep_id,period,target_amount,left_on\nann,2026-04,0,2026-04-20\n", encoding="utf-8")
    result = estimate_json("deficit_carry_forward.yml", "deficit_credits.csv", "--targets", str(targets))
    assert json_totals(result)["2026-04"] == "50.00"
    assert result["deficit_balances"][-1] == {
        "rep_id": "ann",
        "period_month": "2026-04-01",
        "balance": "0.00",
    }
    assert "deficit_written_off" in {w["code"] for w in result["warnings"]}


def test_the_ledger_carries_a_deficit_over_adjustments_and_keeps_closed_months():
    # Jan (closed) paid 250.00 (D-1). D-1 cancelled in Feb: the clawback -250.00 lands in open Feb ->
    # paid 0.00, deficit 250.00; Mar earns 100.00, recovery capped at 100.00 -> 0.00.
    book = load_plan_file(PLANS / "deficit_carry_forward.yml")
    first = calculate(book, [credit("D-1", "2026-01-15", "2500")], balances=False)
    credits = [
        credit("D-1", "2026-01-15", "2500", reversed_on=date(2026, 2, 10)),
        credit("D-2", "2026-03-05", "1000"),
    ]
    ledger = build_ledger(book, credits, {}, {}, first, {M[1]}, run_date=date(2026, 3, 31))
    assert totals(ledger) == {M[1]: D("250.00"), M[2]: D("0.00"), M[3]: D("0.00")}
    assert [ln for ln in ledger if ln.period_month == M[1]] == first  # the closed month as closed


# --- draws -------------------------------------------------------------------------------------------


def test_recoverable_draw_pays_the_xactly_figures():
    # [XACTLY]: draw 1,500; Aug earns 500 (5,000 x 10 %) -> paid 1,500.00, balance 1,000.00;
    # Sep earns 3,000 (30,000 x 10 %) -> 3,000 - 1,000 recovered = paid 2,000.00, balance 0.00.
    book = plan(extra="    draw: {amount: 1500.00, recoverable: true}\n")
    lines = calculate(book, [credit("a", "2026-08-12", "5000"), credit("b", "2026-09-14", "30000")])
    assert totals(lines) == {M[8]: D("1500.00"), M[9]: D("2000.00")}


def test_draw_start_end_and_recovery_start():
    # The [XACTLY] draw paid from March to April only (end 2026-05-01), recovered from May on.
    # Mar earns 500 -> 1,500.00 (balance 1,000); Apr earns 3,000: not recovered before May -> 3,000.00;
    # May (no draw any more) earns 3,000 -> 1,000 recovered -> 2,000.00; Jun earns 500 -> 500.00.
    book = plan(
        extra="    draw: {amount: 1500.00, recoverable: true, start: 2026-03-01, end: 2026-05-01, "
        "recovery_start: 2026-05-01}\n"
    )
    credits = [
        credit("f", "2026-02-10", "1000"),  # before the draw starts: 100.00, no top-up
        credit("a", "2026-03-10", "5000"),
        credit("b", "2026-04-10", "30000"),
        credit("c", "2026-05-10", "30000"),
        credit("d", "2026-06-10", "5000"),
    ]
    lines = calculate(book, credits)
    assert totals(lines) == {
        M[2]: D("100.00"),
        M[3]: D("1500.00"),
        M[4]: D("3000.00"),
        M[5]: D("2000.00"),
        M[6]: D("500.00"),
    }
    with pytest.raises(PlanError, match="must be the first day of a month"):
        plan(extra="    draw: {amount: 1500.00, recoverable: true, start: 2026-03-15}\n")


def test_a_new_version_without_the_draw_carries_the_balance_and_warns():
    # config/plans/draw_periods.yml + examples/draw_credits.csv: Aug earns 500 -> draw top-up 1,000
    # (paid 1,500.00, balance 1,000); Sep earns 1,000 -> top-up 500 (paid 1,500.00, balance 1,500);
    # version 2 (Oct) has no draw: Oct earns 3,000 -> the 1,500 balance is recovered, paid 1,500.00,
    # and the warning says the balance was carried, not forgiven.
    result = estimate_json("draw_periods.yml", "draw_credits.csv")
    assert json_totals(result) == {"2026-08": "1500.00", "2026-09": "1500.00", "2026-10": "1500.00"}
    assert [b["balance"] for b in result["draw_balances"]] == ["1000.00", "1500.00", "0.00"]
    assert [w["code"] for w in result["warnings"]] == ["draw_balance_carried"]


# --- payout schedules -----------------------------------------------------------------------------------


def test_half_on_booking_half_on_collection():
    # [ORA5050]: 10,000 order x 10 % = 1,000.00 earned; 500.00 paid on the order (March); each half
    # of the order collected releases 250.00 (April, May). Pending after each month: 500, 250, 0.
    result = estimate_json("payout_schedule.yml", "payout_credits.csv")
    assert json_totals(result) == {"2026-03": "500.00", "2026-04": "250.00", "2026-05": "250.00"}
    assert [b["balance"] for b in result["pending_balances"]] == ["500.00", "250.00", "0.00"]


def test_a_clawback_reverses_paid_instalments_and_cancels_pending_ones():
    # [ORA5050] figures; the deal is cancelled on 2026-05-05, after April's 250.00 release. Paid so far
    # 500.00 + 250.00 = 750.00 -> clawed back -750.00 ([TOLT]: the paid commission is reversed by a
    # negative one) as lines -1,000.00 (commission) + 500.00 (the deferral) - 250.00 (the release);
    # the 250.00 still pending is cancelled, never paid ([TOLT]: "so it never pays").
    book = load_plan_file(PLANS / "payout_schedule.yml")
    credits = [
        Credit("P-1", "P-1", "ann", date(2026, 3, 10), D("10000"), reversed_on=date(2026, 5, 5)),
        Credit("P-1:inv1", "P-1", "ann", date(2026, 4, 15), D("5000"), basis="collection"),
    ]
    lines = calculate(book, credits, balances=False)
    may = {ln.commission_line_id: ln.commission_amount for ln in lines if ln.period_month == M[5]}
    assert may == {
        "clawback:P-1:AE-INSTALMENTS:v1:bookings:0": D("-1000.00"),
        "clawback:defer:P-1:AE-INSTALMENTS:v1:bookings:2": D("500.00"),
        "clawback:release:2026-04:defer:P-1:AE-INSTALMENTS:v1:bookings:2": D("-250.00"),
        "cancel:2026-05:defer:P-1:AE-INSTALMENTS:v1:bookings:2": D("0.00"),
    }
    assert sum(may.values()) == D("-750.00")
    assert pending_balances(lines)[("ann", M[5])] == D("0.00")
    assert sum(ln.commission_amount for ln in lines) == D("0.00")  # nothing kept for a cancelled deal


def test_seventy_percent_now_thirty_after_ninety_days():
    # [ZEPYS] 70 % at the sale, 30 % after the window: 90 days. 10,000 x 10 % = 1,000.00 on 2026-03-10:
    # March pays 700.00; 2026-03-10 + 90 days = 2026-06-08 -> June pays 300.00 (April, May: nothing).
    comp = FLAT_10.replace(
        "rate: 0.10}", "rate: 0.10, payout: [{percent: 70, on: booking}, {percent: 30, after_days: 90}]}"
    )
    lines = calculate(plan(comp), [credit("a", "2026-03-10", "10000")])
    assert totals(lines) == {M[3]: D("700.00"), M[6]: D("300.00")}


@pytest.mark.parametrize(
    ("payout", "message"),
    [
        (
            "[{percent: 50, on: booking}, {percent: 40, on: collection}]",
            "total 90; they must total exactly 100",
        ),
        ("[{percent: 100, on: booking, after_days: 3}]", "exactly one of on"),
        ("[{percent: 100, on: invoice}]", "on"),
    ],
)
def test_a_bad_payout_schedule_is_rejected(payout, message):
    with pytest.raises(PlanError, match=message):
        plan(FLAT_10.replace("rate: 0.10}", f"rate: 0.10, payout: {payout}}}"))
    with pytest.raises(PlanError, match="payout schedules are for credit lines"):
        plan("      - {component: x, type: bonus, milestones: [{attainment: 1, amount: 1}], "
             "payout: [{percent: 100, on: booking}]}")  # fmt: skip


def test_warnings_list_carried_balances_only_when_they_happen():
    book = plan(extra="    draw: {amount: 1500.00, recoverable: true}\n")
    credits = [credit("a", "2026-08-12", "5000")]
    lines = calculate(book, credits, {"ann": Rep("ann")})
    assert [w.warning_code for w in pay_warnings(book, credits, {}, {}, lines)] == []
