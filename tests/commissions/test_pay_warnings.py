"""No silent wrong pay (issue 12 item 6): rep ids and e-mails match case-insensitively, and every
credit, target and assignment that matches nothing, every rate above 1, every month paid without
a target and every negative payable is a warning. Expected amounts are computed by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from flows.commissions.engine import calculate
from flows.commissions.lines import Credit, Rep, statement_totals
from flows.commissions.pay_warnings import pay_warnings
from flows.config.commission_plan import parse_plan_text

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
TIERED = """
plans:
  - plan_id: AE
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


def credit(cid: str, day: str, amount: str, rep: str = "ann", **kw) -> Credit:
    return Credit(cid, cid, rep, date.fromisoformat(day), D(amount), **kw)


def codes(found) -> list[tuple[str, str]]:
    return [(w.warning_code, w.subject) for w in found]


def test_rep_ids_match_case_insensitively_between_targets_and_credits():
    # the case: credits say 'Ann', the targets 'ann '. Target 10,000 -> band boundary
    # 5,000.00. A 4,000 (0 -> 4,000) x 2 % = 80.00; B 2,000 (4,000 -> 6,000): 1,000 x 2 % = 20.00
    # and 1,000 x 5 % = 50.00. Total 150.00 (exact matching found no target: 6,000 x 2 % = 120.00)
    book = parse_plan_text(TIERED)
    credits = [credit("A", "2026-10-03", "4000.00", "Ann"), credit("B", "2026-10-09", "2000.00", "ANN")]
    lines = calculate(book, credits, {}, {("ann ", OCT): D("10000.00")})
    assert statement_totals(lines) == {("Ann", OCT): D("150.00")}
    assert {ln.target_amount for ln in lines} == {D("10000.00")}
    assert pay_warnings(book, credits, {}, {("ann ", OCT): D("10000.00")}, lines) == []


def test_rep_id_and_email_assignments_match_case_insensitively():
    book = parse_plan_text(
        TIERED
        + """
assignments:
  - {plan_id: AE, rep_id: Ann, valid_from: 2026-01-01}
  - {plan_id: AE, rep_email: Bob@Example.com, valid_from: 2026-01-01}
"""
    )
    reps = {"ann": Rep("ann"), "bob": Rep("bob", email=" BOB@example.COM ")}
    credits = [credit("A", "2026-10-03", "1000.00", "ann"), credit("B", "2026-10-03", "1000.00", "bob")]
    # no target: the first band's 2 % on everything, 20.00 each
    assert statement_totals(calculate(book, credits, reps)) == {
        ("ann", OCT): D("20.00"),
        ("bob", OCT): D("20.00"),
    }


def test_credits_outside_every_plan_version_or_assignment_are_warned_not_dropped_silently():
    book = parse_plan_text(
        TIERED
        + """
assignments:
  - {plan_id: AE, rep_id: ann, valid_from: 2025-01-01, valid_to: 2026-11-01}
"""
    )
    credits = [
        credit("OLD", "2025-12-15", "500.00"),  # before version 1 (effective 2026-01-01)
        credit("OK", "2026-10-15", "500.00"),  # paid: 500 x 2 % = 10.00
        credit("LATE", "2026-11-02", "500.00"),  # after the assignment (valid_to 2026-11-01)
    ]
    targets = {("ann", OCT): D("10000.00")}
    lines = calculate(book, credits, {}, targets)
    assert {ln.credit_id: ln.commission_amount for ln in lines} == {"OK": D("10.00")}
    found = pay_warnings(book, credits, {}, targets, lines)
    assert codes(found) == [("unmatched_credit", "OLD"), ("unmatched_credit", "LATE")]
    assert "no version of the assigned plan is effective" in found[0].message
    assert "no assignment covers the rep" in found[1].message


def test_targets_and_assignments_that_match_nothing():
    book = parse_plan_text(
        TIERED
        + """
assignments:
  - {plan_id: AE, role: rep, valid_from: 2026-01-01}
  - {plan_id: AE, rep_email: nobody@example.com, valid_from: 2026-01-01}
  - {plan_id: AE, role: director, valid_from: 2026-01-01}
"""
    )
    credits = [credit("A", "2026-10-03", "1000.00")]
    reps = {"ann": Rep("ann", role="rep")}
    targets = {("ann", OCT): D("1000.00"), ("anne", OCT): D("5000.00")}  # a typo: no credit for anne
    lines = calculate(book, credits, reps, targets)
    found = pay_warnings(book, credits, reps, targets, lines, targets_need_credits=True)
    assert codes(found) == [
        ("unmatched_assignment", "assignments[1]"),
        ("unmatched_assignment", "assignments[2]"),
        ("unmatched_target", "target anne 2026-10"),
    ]


def test_a_rate_above_one_is_a_warning_and_percent_units_read_5_as_5_percent():
    # 'rate: 10' in a fraction plan pays 1,000 %: 1,000.00 x 10 = 10,000.00, and says so
    flat = (
        TIERED.split("    components:")[0]
        + "    components:\n      - {component: c, type: flat, rate: RATE}\n"
    )
    wrong = parse_plan_text(flat.replace("RATE", "10"))
    credits = [credit("A", "2026-10-03", "1000.00")]
    lines = calculate(wrong, credits)
    assert statement_totals(lines) == {("ann", OCT): D("10000.00")}
    (warning,) = pay_warnings(wrong, credits, {}, {}, lines)
    assert warning.warning_code == "rate_above_one" and "pays 1,000 %" in warning.message
    # the same file with rate_unit: percent: 10 means 10 % -> 1,000.00 x 0.10 = 100.00, no warning
    percent = parse_plan_text(
        flat.replace("RATE", "10").replace("currency: USD", "currency: USD\n    rate_unit: percent")
    )
    assert percent.plans[0].components[0].rate == D("0.1")
    lines = calculate(percent, credits)
    assert statement_totals(lines) == {("ann", OCT): D("100.00")}
    assert pay_warnings(percent, credits, {}, {}, lines) == []


def test_percent_units_divide_tier_rates_too():
    percent = parse_plan_text(
        TIERED.replace("rate: 0.02", "rate: 2")
        .replace("rate: 0.05", "rate: 5.5")
        .replace("currency: USD", "currency: USD\n    rate_unit: percent")
    )
    assert [t.rate for t in percent.plans[0].components[0].tiers] == [D("0.02"), D("0.055")]


def test_a_month_paid_without_a_target_and_a_negative_payable_are_warned():
    # a negative payable exists only where the plan allows it (by default it is carried forward)
    book = parse_plan_text(
        TIERED.replace(
            "    currency: USD\n", "    currency: USD\n    balances: {allow_negative_payout: true}\n"
        )
    )
    # October: A 6,000 without a target -> 2 % on everything = 120.00 (warned: no target).
    # November: A cancelled -> clawback -120.00, nothing earned: November totals -120.00
    credits = [credit("A", "2026-10-03", "6000.00", reversed_on=date(2026, 11, 5))]
    lines = calculate(book, credits)
    assert statement_totals(lines) == {("ann", OCT): D("120.00"), ("ann", NOV): D("-120.00")}
    found = pay_warnings(book, credits, {}, {}, lines)
    assert codes(found) == [("no_target", "AE v1 bookings"), ("negative_payable", "ann 2026-11")]
    assert "totals -120.00 USD for 2026-11" in found[1].message


def test_a_file_without_assignments_puts_each_rep_on_the_first_effective_plan_and_says_so():
    # docs/commission_plans.md: without assignments every rep is on the first plan (file order)
    # with a version effective on the credit date - not on every plan
    two = TIERED + TIERED.replace("plans:\n", "").replace("plan_id: AE", "plan_id: SPIF").replace(
        "type: tiered_marginal", "type: tiered_retroactive"
    )
    book = parse_plan_text(two)
    credits = [credit("A", "2026-10-03", "1000.00")]
    lines = calculate(book, credits)
    assert {ln.plan_id for ln in lines} == {"AE"}
    found = pay_warnings(book, credits, {}, {}, lines)
    assert codes(found) == [("unassigned_plans", "SPIF"), ("no_target", "AE v1 bookings")]
    assert "first plan in file order" in found[0].message


def test_rollup_credits_are_summed_per_manager_and_month_and_silent_for_a_manager_never_assigned():
    # roll-up credits are derived for every manager; a file that assigns no manager pays no
    # overrides, so they are not warned. A manager whose assignment ended gets one warning a month.
    book = parse_plan_text(
        TIERED
        + """
assignments:
  - {plan_id: AE, role: rep, valid_from: 2026-01-01}
  - {plan_id: AE, rep_id: mia, valid_from: 2026-01-01, valid_to: 2026-10-01}
"""
    )
    reps = {
        "ann": Rep("ann", role="rep"),
        "mia": Rep("mia", role="manager"),
        "max": Rep("max", role="manager"),
    }
    credits = [
        credit("A>mia", "2026-10-03", "1000.00", "mia", kind="rollup"),
        credit("B>mia", "2026-10-09", "500.00", "mia", kind="rollup"),
        credit("A>max", "2026-10-03", "1000.00", "max", kind="rollup"),
    ]
    found = pay_warnings(book, credits, reps, {}, calculate(book, credits, reps))
    assert codes(found) == [("unmatched_credit", "roll-up mia 2026-10")]
    assert found[0].message == (
        "2 roll-up credit(s) of mia in 2026-10 (1500.00) are not paid: "
        "no assignment covers the rep on that date"
    )
