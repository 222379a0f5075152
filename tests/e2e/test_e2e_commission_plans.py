"""End to end: the example plans of config/plans/ through the nightly and ``commissions close``.

A small sandbox company (tests/commission_plans_support.py) serves hand-made won deals over HTTP;
the nightly lands them, dbt builds the credits (roll-up to every level, as of the credit date),
the engine pays them by the example plans, the reconciliation gate passes. Then January and
February are closed with ``salesops commissions close``, a February deal's amount changes in the
CRM, and a second nightly must leave the closed months exactly as they were while the change
lands as a prior-period adjustment in March, the first open month.

Each plan is one :class:`PlanCase` with its own people, deals and hand-computed totals; the cases
share the two nightly runs: the quarterly plan with monthly advances, the three-level override
cascade, recompute-on-reversal with the 90/180-day clawback window (a January deal lost between the
runs, 91 days after its close), the 50/50 booking/collection payout schedule (two Zoho invoices paid
in February and March) and the deficit carried forward (a January deal lost in March).

Sources of the hand-computed figures (the same the unit tests cite,
tests/commissions/test_commissions_periods.py):

* [SPIFF] Salesforce Trailhead, "Use Marginal Payout Rule Functions" (Salesforce Spiff): range
  table 0-150,000 at 4 %, 150,000-250,000 at 6 %, 250,000+ at 8 %; the ``mpercent`` reference:
  progress "toward a quarterly quota where commissions are calculated monthly"; ``amount_from``:
  "A commission plan that pays year-to-date totals and subtracts previous earnings" (the true-up).
* [CORE] CoreCommissions, "Management Overrides: A Commission Within a Commission": 12 % of a sale
  paid in commission, 6 % to the rep and the other half split among the chain of leadership.
* [PROWI] Prowi glossary, "Override Commission": a 3 % manager override on Rep A's $75,000 is
  $2,250.
* [IDYN] iDynamics, "Direct Commissions Example": team manager 2 %, sub-manager 1 % on the same sale.

and, as in tests/commissions/test_reversals_and_clawback_windows.py and
tests/commissions/test_balances_draws_payouts.py:

* [CORE8] Core8 docs, "Commission plan patterns: Clawbacks and early exit": "Earned commission:
  $10,000 - Early termination triggers 50% clawback - Post a CLAWBACK adjustment of -5,000".
* [GANGLY] Gangly, "Sales Clawback: How It Works and When It Triggers": clawbacks are "most
  commonly triggered within 90-180 days of contract execution".
* [SCOOKIE] Sales Cookie, "Retroactive sales data and true-ups": "The rep who got paid an
  accelerator in March no longer qualifies because the deal no longer belongs to March".
* [ORAPP] Oracle Customer Connect, "Payment plan makes adjustment to all Plan Elements": a
  recoverable payment plan pays "$0 and over ... recovered at a later date when there is positive
  commission" (PE1 = -10 -> the worksheet is at $0).
* [ORA5050] Oracle Customer Connect, "How to pay 50/50 on order/on payment collection?": a 10K
  order at 10 % earns $1000, "paid 50% or $500 on order and the remaining as receivable invoices are
  collected", $250 per collected half.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from commission_plans_support import (
    CaseDeal,
    PlanCase,
    cancel_deal,
    change_deal_amount,
    plan_sandbox,
    statement_balances,
    statement_totals,
)
from typer.testing import CliRunner

from flows.cli.main import app
from flows.nightly import nightly

# Two nightly runs (about a minute each: dbt builds every model) and two closes.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(900)]

FIRST_RUN, SECOND_RUN = date(2026, 4, 2), date(2026, 4, 3)
CLOSED = ("2026-01", "2026-02")
#: The deal whose amount changes between the runs: February, in a closed month.
CHANGED_DEAL, CHANGED_AMOUNT = "E2E-Q-2", D("30000")

QUARTERLY = PlanCase(
    case_id="quarterly_advances",
    plan_file="config/plans/quarterly_advances.yml",
    assign={"a1": "AE-QUARTERLY"},
    managers={"a1": None},  # nobody above: no roll-up credit leaves the case
    deals=[
        CaseDeal("E2E-Q-1", "a1", D("145000"), date(2026, 1, 20)),
        CaseDeal(CHANGED_DEAL, "a1", D("20000"), date(2026, 2, 12)),
        CaseDeal("E2E-Q-3", "a1", D("100000"), date(2026, 3, 25)),
    ],
    expected={
        # [SPIFF] bands, the band reached applies to the quarter to date; pay = result - paid.
        # Jan: 145,000 in band 1: 145,000 x 4 % = 5,800.00.
        # Feb: 165,000 in band 2: 165,000 x 6 % = 9,900.00 - 5,800.00 paid = 4,100.00.
        # Mar: 265,000 in band 3: 265,000 x 8 % = 21,200.00 - 9,900.00 paid = 11,300.00.
        1: {
            ("a1", "2026-01"): D("5800.00"),
            ("a1", "2026-02"): D("4100.00"),
            ("a1", "2026-03"): D("11300.00"),
        },
        # February's deal becomes 30,000 after January and February were closed: they stay
        # 5,800.00 and 4,100.00. Recomputed, February would be 175,000 x 6 % = 10,500.00 - 5,800.00
        # = 4,700.00: +600.00, posted in March as a prior-period adjustment. March's own result:
        # 275,000 x 8 % = 22,000.00 - (5,800.00 + 4,700.00) = 11,500.00. March pays
        # 11,500.00 + 600.00 = 12,100.00; the quarter 5,800 + 4,100 + 12,100 = 22,000.00
        # = 275,000 x 8 %.
        2: {
            ("a1", "2026-01"): D("5800.00"),
            ("a1", "2026-02"): D("4100.00"),
            ("a1", "2026-03"): D("12100.00"),
        },
    },
)

CASCADE = PlanCase(
    case_id="override_cascade",
    plan_file="config/plans/override_cascade.yml",
    # b2 is the team lead (the CRMs know no team-lead role: assigned by name, as in the plan file)
    assign={"b1": "AE-6", "b2": "TEAM-LEAD-3", "m2": "MANAGER-2", "dir": "DIRECTOR-1"},
    managers={"b1": "b2", "b2": "m2", "m2": "dir", "dir": None},
    deals=[CaseDeal("E2E-C-1", "b1", D("75000"), date(2026, 3, 10))],
    expected={
        # [CORE] 12 % in total: the rep 6 %, the chain 6 %: team lead 3 % ([PROWI] 3 % of $75,000 =
        # $2,250), manager 2 %, director 1 % ([IDYN]). 75,000 x 6 % = 4,500.00; x 3 % = 2,250.00;
        # x 2 % = 1,500.00; x 1 % = 750.00; total 9,000.00. Nothing changes in the second run.
        run: {
            ("b1", "2026-03"): D("4500.00"),
            ("b2", "2026-03"): D("2250.00"),
            ("m2", "2026-03"): D("1500.00"),
            ("dir", "2026-03"): D("750.00"),
        }
        for run in (1, 2)
    },
)

RECOMPUTE = PlanCase(
    case_id="recompute_clawback_windows",
    plan_file="config/plans/recompute_clawback_windows.yml",
    assign={"x1": "AE-RECOMPUTE"},
    managers={},  # x1 reports to nobody
    deals=[
        CaseDeal("E2E-R-1", "x1", D("145000"), date(2026, 1, 20)),
        CaseDeal("E2E-R-2", "x1", D("20000"), date(2026, 1, 1)),
        CaseDeal("E2E-R-3", "x1", D("120000"), date(2026, 3, 10)),
        CaseDeal("E2E-R-4", "x1", D("60000"), date(2026, 4, 1)),
    ],
    # R-2 lost on 2 April: 91 days after its close on 1 January (31 + 28 + 31 + 1), past the
    # 90-day window, inside the 180-day one: 50 % clawed back ([CORE8] 50 %, [GANGLY] 90-180 days)
    cancel={"E2E-R-2": date(2026, 4, 2)},
    expected={
        # [SPIFF] table, retroactive on the month. Jan: 145,000 + 20,000 = 165,000, band 2:
        # 145,000 x 6 % = 8,700.00 + 20,000 x 6 % = 1,200.00 = 9,900.00. Mar: 120,000, band 1:
        # 4,800.00. Apr: 60,000, band 1: 2,400.00.
        1: {
            ("x1", "2026-01"): D("9900.00"),
            ("x1", "2026-03"): D("4800.00"),
            ("x1", "2026-04"): D("2400.00"),
        },
        # January (closed) stays 9,900.00. Recomputed without R-2 ([SCOOKIE]) January is 145,000,
        # band 1: R-1 earns 145,000 x 4 % = 5,800.00, 2,900.00 less than the 8,700.00 paid. At the
        # 50 % window April, the month of the cancellation, posts 50 % x -2,900.00 = -1,450.00
        # and the clawback 50 % x -1,200.00 = -600.00: 2,400.00 - 1,450.00 - 600.00 = 350.00.
        2: {
            ("x1", "2026-01"): D("9900.00"),
            ("x1", "2026-03"): D("4800.00"),
            ("x1", "2026-04"): D("350.00"),
        },
    },
)

PAYOUT = PlanCase(
    case_id="payout_schedule",
    plan_file="config/plans/payout_schedule.yml",
    assign={"x2": "AE-INSTALMENTS"},
    managers={},
    # [ORA5050]: a 10,000 order at 10 %, invoiced in two halves, collected in February and March
    deals=[
        CaseDeal(
            "E2E-P-1",
            "x2",
            D("10000"),
            date(2026, 1, 15),
            collections=((date(2026, 2, 10), D("5000")), (date(2026, 3, 12), D("5000"))),
        )
    ],
    expected={
        # 10,000 x 10 % = 1,000.00 earned in January; 50 % on booking: January pays 1,000.00 -
        # 500.00 held back = 500.00. Each collected half releases 50 % x 1,000.00 x 5,000 / 10,000
        # = 250.00: February 250.00, March 250.00 ([ORA5050] $500 + $250 + $250). Nothing changes
        # in the second run.
        run: {
            ("x2", "2026-01"): D("500.00"),
            ("x2", "2026-02"): D("250.00"),
            ("x2", "2026-03"): D("250.00"),
        }
        for run in (1, 2)
    },
    # pending (earned, not yet paid): 1,000.00 - 500.00 = 500.00 after January, - 250.00 = 250.00
    # after February, 0.00 once both halves are collected
    balances={
        ("x2", "2026-01"): (D("500.00"), D("0.00")),
        ("x2", "2026-02"): (D("250.00"), D("0.00")),
        ("x2", "2026-03"): (D("0.00"), D("0.00")),
    },
)

DEFICIT = PlanCase(
    case_id="deficit_carry_forward",
    plan_file="config/plans/deficit_carry_forward.yml",
    assign={"x3": "AE-DEFICIT"},
    managers={},
    deals=[
        CaseDeal("E2E-D-1", "x3", D("2500"), date(2026, 1, 15)),
        CaseDeal("E2E-D-2", "x3", D("1000"), date(2026, 3, 20)),
        CaseDeal("E2E-D-3", "x3", D("1500"), date(2026, 4, 1)),
    ],
    # D-1, paid in closed January, is lost on 5 March (no clawback window: 100 %)
    cancel={"E2E-D-1": date(2026, 3, 5)},
    expected={
        # flat 10 %: Jan 2,500 -> 250.00; Mar 1,000 -> 100.00; Apr 1,500 -> 150.00
        1: {
            ("x3", "2026-01"): D("250.00"),
            ("x3", "2026-03"): D("100.00"),
            ("x3", "2026-04"): D("150.00"),
        },
        # January (closed) stays 250.00. March: 100.00 - 250.00 clawed back = -150.00: paid 0.00
        # ([ORAPP] -10 -> $0), deficit 150.00. April earns 150.00, recovers at most 100.00 (the
        # plan's max_recovery_per_period): paid 50.00, deficit 50.00 left (the docs' worked example:
        # March paid 0.00, April 50.00).
        2: {
            ("x3", "2026-01"): D("250.00"),
            ("x3", "2026-03"): D("0.00"),
            ("x3", "2026-04"): D("50.00"),
        },
    },
    # deficit left: 150.00 after March, 150.00 - 100.00 recovered = 50.00 after April
    balances={
        ("x3", "2026-01"): (D("0.00"), D("0.00")),
        ("x3", "2026-03"): (D("0.00"), D("150.00")),
        ("x3", "2026-04"): (D("0.00"), D("50.00")),
    },
)

CASES = [QUARTERLY, CASCADE, RECOMPUTE, PAYOUT, DEFICIT]


def _of_case(case: PlanCase, totals: dict) -> dict:
    return {k: v for k, v in totals.items() if k[0] in case.assign}


@pytest.fixture(scope="module")
def runs(prefect_harness, tmp_path_factory):
    """The two nightlies around the close; returns what each case is asserted on."""
    home = tmp_path_factory.mktemp("plans") / "home"
    out: dict = {}
    with plan_sandbox(home, CASES) as (cluster, emails):
        out["first"] = nightly(run_date=FIRST_RUN)
        out["totals_1"] = statement_totals(home, emails, "marts.fct_commissions")
        out["close"] = [CliRunner().invoke(app, ["commissions", "close", "--period", p]) for p in CLOSED]
        out["closed_1"] = statement_totals(home, emails, "finance.closed_statement_lines")
        change_deal_amount(cluster, CHANGED_DEAL, CHANGED_AMOUNT)
        for case in CASES:
            for name, on in case.cancel.items():
                cancel_deal(cluster, name, on)
        out["second"] = nightly(run_date=SECOND_RUN)
        out["totals_2"] = statement_totals(home, emails, "marts.fct_commissions")
        out["closed_2"] = statement_totals(home, emails, "finance.closed_statement_lines")
        out["balances_2"] = statement_balances(home, emails)
    return out


def test_both_runs_pass_the_reconciliation_gate_and_the_closes_succeed(runs) -> None:
    # a failed reconciliation test (credits = revenue x shares, lines add up to statements, no
    # closed statement changed) stops the run: status "completed" means the gate passed
    assert runs["first"].status == "completed"
    assert runs["second"].status == "completed"
    assert [r.exit_code for r in runs["close"]] == [0, 0], [r.output for r in runs["close"]]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.case_id)
def test_nightly_pays_the_hand_computed_statements(runs, case: PlanCase) -> None:
    assert _of_case(case, runs["totals_1"]) == case.expected[1]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.case_id)
def test_closed_months_never_change_and_changes_land_in_the_first_open_month(runs, case) -> None:
    closed_first = {k: v for k, v in case.expected[1].items() if k[1] in CLOSED}
    assert _of_case(case, runs["closed_1"]) == closed_first
    assert _of_case(case, runs["closed_2"]) == closed_first  # the snapshot is insert-only
    assert _of_case(case, runs["totals_2"]) == case.expected[2]


@pytest.mark.parametrize("case", [c for c in CASES if c.balances], ids=lambda c: c.case_id)
def test_statements_show_what_is_pending_and_what_is_left_to_recover(runs, case: PlanCase) -> None:
    assert _of_case(case, runs["balances_2"]) == case.balances
