"""The commission engine, mechanic by mechanic. Every expected value is computed by hand in the
comments next to it - never copied from the engine's output."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from flows.commissions.engine import calculate
from flows.commissions.lines import Credit, Rep, statement_totals
from flows.commissions.money import money, prorate
from flows.config.commission_plan import parse_plan_text

OCT = date(2026, 10, 1)
THREE_BANDS = """
        tiers:
          - {band_lower: 0.00, band_upper: 0.50, rate: 0.02}
          - {band_lower: 0.50, band_upper: 1.00, rate: 0.05}
          - {band_lower: 1.00, band_upper: null, rate: 0.10}
"""


def book(component: str, *, plan_extra: str = "", assignments: str = "") -> object:
    text = f"""
plans:
  - plan_id: P
    version: 1
    effective_from: 2026-01-01
    currency: USD
{plan_extra}
    components:
{component}
{assignments}
"""
    return parse_plan_text(text, "test.yml")


def tiered(kind: str, position: str = "running", extra: str = "") -> str:
    return f"""      - component: bookings
        type: {kind}
        tier_position: {position}
{extra}{THREE_BANDS}"""


def credit(cid: str, day: str, amount: str, rep: str = "r1", **kw) -> Credit:
    return Credit(cid, cid, rep, date.fromisoformat(day), D(amount), **kw)


def amounts(lines) -> dict[str, D]:
    return {ln.commission_line_id: ln.commission_amount for ln in lines}


def test_money_rounds_half_up_to_the_cent():
    assert money(D("0.005")) == D("0.01")
    assert money(D("2.675")) == D("2.68")  # binary floating point would give 2.67
    assert money(D("-0.005")) == D("-0.01")  # half away from zero
    assert money(D("200.0549")) == D("200.05")


def test_band_boundaries_are_half_open_and_a_straddling_deal_splits():
    lines = calculate(
        book(tiered("tiered_marginal")),
        [
            credit("d3", "2026-10-09", "4000.55"),
            credit("d1", "2026-10-02", "5000.00"),
            credit("d2", "2026-10-05", "3000.00"),
        ],
        targets={("r1", OCT): D("10000.00")},
    )
    # boundaries in money: 0.5 x 10,000 = 5,000.00 and 1.0 x 10,000 = 10,000.00
    # d1 0 -> 5,000 ends exactly on the boundary: all in band 1: 5,000 x 2 % = 100.00
    # d2 5,000 -> 8,000 starts exactly on the boundary: all in band 2: 3,000 x 5 % = 150.00
    # d3 8,000 -> 12,000.55: 2,000.00 x 5 % = 100.00 and 2,000.55 x 10 % = 200.055 -> 200.06
    assert amounts(lines) == {
        "d1:P:v1:bookings:1": D("100.00"),
        "d2:P:v1:bookings:2": D("150.00"),
        "d3:P:v1:bookings:2": D("100.00"),
        "d3:P:v1:bookings:3": D("200.06"),
    }
    d3 = [ln for ln in lines if ln.deal_id == "d3"]
    assert [(ln.running_before, ln.running_after) for ln in d3] == [(D("8000.00"), D("12000.55"))] * 2
    assert [ln.base_amount for ln in d3] == [D("2000.00"), D("2000.55")]


def test_band_boundary_in_money_is_rounded_half_up():
    # target 3,333.33: boundary 0.5 x 3,333.33 = 1,666.665 -> 1,666.67. A 1,666.67 deal ends exactly
    # on it (band 1 only: 33.3334 -> 33.33); the next cent is band 2 (0.01 x 5 % = 0.0005 -> 0.00).
    lines = calculate(
        book(tiered("tiered_marginal")),
        [credit("a", "2026-10-01", "1666.67"), credit("b", "2026-10-02", "0.01")],
        targets={("r1", OCT): D("3333.33")},
    )
    assert amounts(lines) == {"a:P:v1:bookings:1": D("33.33"), "b:P:v1:bookings:2": D("0.00")}


# the same data under four tiering rules: target 10,000, A 4,000 (Oct 3) then B 7,000 (Oct 9)
SAME_DATA = [credit("A", "2026-10-03", "4000.00"), credit("B", "2026-10-09", "7000.00")]
TARGETS = {("r1", OCT): D("10000.00")}


@pytest.mark.parametrize(
    ("kind", "position", "expected"),
    [
        # marginal, running: A 0->4,000 x 2 % = 80.00; B 4,000->11,000: 1,000 x 2 % = 20.00,
        # 5,000 x 5 % = 250.00, 1,000 x 10 % = 100.00. Total 450.00
        (
            "tiered_marginal",
            "running",
            {
                "A:P:v1:bookings:1": D("80.00"),
                "B:P:v1:bookings:1": D("20.00"),
                "B:P:v1:bookings:2": D("250.00"),
                "B:P:v1:bookings:3": D("100.00"),
            },
        ),
        # retroactive, running: the period ends at 11,000 = 110 % -> band 3 (10 %) on everything:
        # A 400.00, B 700.00. Total 1,100.00
        (
            "tiered_retroactive",
            "running",
            {"A:P:v1:bookings:3": D("400.00"), "B:P:v1:bookings:3": D("700.00")},
        ),
        # retroactive, per transaction: A alone 40 % -> 2 % = 80.00; B alone 70 % -> 5 % = 350.00
        (
            "tiered_retroactive",
            "per_transaction",
            {"A:P:v1:bookings:1": D("80.00"), "B:P:v1:bookings:2": D("350.00")},
        ),
        # marginal, per transaction: A 4,000 x 2 % = 80.00; B 0->7,000: 5,000 x 2 % = 100.00 and
        # 2,000 x 5 % = 100.00
        (
            "tiered_marginal",
            "per_transaction",
            {
                "A:P:v1:bookings:1": D("80.00"),
                "B:P:v1:bookings:1": D("100.00"),
                "B:P:v1:bookings:2": D("100.00"),
            },
        ),
    ],
)
def test_retroactive_vs_marginal_on_the_same_data(kind, position, expected):
    lines = calculate(book(tiered(kind, position)), SAME_DATA, targets=TARGETS)
    assert amounts(lines) == expected


def test_totals_of_retroactive_and_marginal_differ_as_computed_by_hand():
    marginal = calculate(book(tiered("tiered_marginal")), SAME_DATA, targets=TARGETS)
    retro = calculate(book(tiered("tiered_retroactive")), SAME_DATA, targets=TARGETS)
    assert statement_totals(marginal) == {("r1", OCT): D("450.00")}
    assert statement_totals(retro) == {("r1", OCT): D("1100.00")}


def test_no_target_pays_the_first_band_on_everything():
    # 1,234.56 x 2 % = 24.6912 -> 24.69
    lines = calculate(book(tiered("tiered_marginal")), [credit("x", "2026-10-05", "1234.56")])
    assert amounts(lines) == {"x:P:v1:bookings:1": D("24.69")}


def test_proration_of_target_and_draw_for_a_mid_month_hire():
    comp = """      - component: bookings
        type: tiered_marginal
        tiers:
          - {band_lower: 0.00, band_upper: 0.50, rate: 0.02}
          - {band_lower: 0.50, band_upper: null, rate: 0.05}
"""
    plans = book(comp, plan_extra="    draw: {amount: 3100.00, recoverable: false}")
    rep = Rep("r1", hired_on=date(2026, 10, 16))
    # October has 31 days; employed 16th..31st = 16 days. Target 31,000 x 16/31 = 16,000.00,
    # boundary 0.5 x 16,000 = 8,000.00. Draw 3,100 x 16/31 = 1,600.00.
    # 10,000 credited: 8,000 x 2 % = 160.00 + 2,000 x 5 % = 100.00 = 260.00 < 1,600 -> top-up 1,340.00
    lines = calculate(
        plans, [credit("d", "2026-10-20", "10000.00")], {"r1": rep}, {("r1", OCT): D("31000.00")}
    )
    assert amounts(lines) == {
        "d:P:v1:bookings:1": D("160.00"),
        "d:P:v1:bookings:2": D("100.00"),
        "draw:r1:2026-10:P": D("1340.00"),
    }
    assert {ln.target_amount for ln in lines if ln.line_type == "commission"} == {D("16000.00")}
    assert statement_totals(lines) == {("r1", OCT): D("1600.00")}


def test_prorate_rounds_half_up_and_counts_the_leaving_day():
    # hired Oct 11: 21 of 31 days. 10,000 x 21 / 31 = 6,774.1935... -> 6,774.19
    assert prorate(D("10000.00"), OCT, date(2026, 10, 11), None) == D("6774.19")
    # left Oct 10 (last day employed): 10 of 31 days: 10,000 x 10 / 31 = 3,225.806... -> 3,225.81
    assert prorate(D("10000.00"), OCT, None, date(2026, 10, 10)) == D("3225.81")
    assert prorate(D("10000.00"), OCT, date(2026, 9, 1), None) == D("10000.00")
    assert prorate(D("10000.00"), OCT, None, date(2026, 9, 30)) == D("0.00")


FLAT_10 = """      - component: bookings
        type: flat
        rate: 0.10
"""


def test_recoverable_draw_over_three_periods():
    plans = book(FLAT_10, plan_extra="    draw: {amount: 1000.00, recoverable: true}")
    credits = [
        credit("jan", "2026-01-15", "4000.00"),  # earns 400.00
        credit("feb", "2026-02-15", "13000.00"),  # earns 1,300.00
        credit("mar", "2026-03-15", "20000.00"),  # earns 2,000.00
    ]
    lines = calculate(plans, credits)
    got = amounts(lines)
    # Jan: 400 < 1,000 -> draw 600.00, balance 600. Pays 1,000.00
    assert got["draw:r1:2026-01:P"] == D("600.00")
    # Feb: 1,300 - 1,000 = 300 above the draw -> recovers 300.00, balance 300. Pays 1,000.00
    assert got["draw-recovery:r1:2026-02:P"] == D("-300.00")
    # Mar: 2,000 - 1,000 = 1,000 above the draw -> recovers the remaining 300.00. Pays 1,700.00
    assert got["draw-recovery:r1:2026-03:P"] == D("-300.00")
    assert statement_totals(lines) == {
        ("r1", date(2026, 1, 1)): D("1000.00"),
        ("r1", date(2026, 2, 1)): D("1000.00"),
        ("r1", date(2026, 3, 1)): D("1700.00"),
    }


def test_non_recoverable_draw_is_never_recovered():
    plans = book(FLAT_10, plan_extra="    draw: {amount: 1000.00, recoverable: false}")
    credits = [credit("jan", "2026-01-15", "4000.00"), credit("feb", "2026-02-15", "13000.00")]
    assert statement_totals(calculate(plans, credits)) == {
        ("r1", date(2026, 1, 1)): D("1000.00"),  # 400 + 600 draw
        ("r1", date(2026, 2, 1)): D("1300.00"),  # no recovery
    }


def test_caps_per_deal_period_and_year():
    comp = FLAT_10 + "        caps: {per_deal: 500.00, per_period: 1000.00, per_year: 1500.00}\n"
    credits = [
        credit("a", "2026-01-05", "8000.00"),  # 800 -> deal cap: -300.00 -> 500
        credit("b", "2026-01-06", "7000.00"),  # 700 -> deal cap: -200.00 -> 500; Jan = 1,000 = period cap
        credit("c", "2026-02-05", "4000.00"),  # 400; Feb = 400
        credit("d", "2026-03-05", "3000.00"),  # 300; year so far 1,400 -> only 100 allowed: -200.00
    ]
    got = amounts(calculate(book(comp), credits))
    assert got["cap:deal:a:P:v1:bookings"] == D("-300.00")
    assert got["cap:deal:b:P:v1:bookings"] == D("-200.00")
    assert not any(k.startswith("cap:period") for k in got)  # exactly on the cap: nothing to cut
    assert got["cap:year:r1:2026-03:P:v1:bookings"] == D("-200.00")
    assert sum(got.values()) == D("1500.00")


def test_gate_accelerator_and_bonus_on_attainment():
    comp = """      - component: bookings
        type: flat
        rate: 0.05
        gate: {min_attainment: 0.50}
        accelerators:
          - {attainment_from: 1.00, attainment_to: null, multiplier: 1.5}
      - component: attainment_bonus
        type: bonus
        milestones:
          - {attainment: 1.00, amount: 500.00}
          - {attainment: 1.20, percent_of_target: 0.01}
"""
    plans = book(comp)
    targets = {("r1", OCT): D("10000.00"), ("r1", date(2026, 11, 1)): D("10000.00")}
    credits = [
        credit("oct", "2026-10-10", "4000.00"),  # 40 % < 50 % gate: paid 0
        credit("nov", "2026-11-10", "12000.00"),  # 120 %: 600 x 1.5 = 900.00; both milestones
    ]
    got = amounts(calculate(plans, credits, targets=targets))
    assert got["oct:P:v1:bookings:0"] == D("0.00")
    assert got["nov:P:v1:bookings:0"] == D("900.00")
    # 120 % is exactly on the second milestone: reached (boundaries belong to the higher band)
    assert got["bonus:r1:2026-11:P:v1:attainment_bonus:1"] == D("500.00")
    assert got["bonus:r1:2026-11:P:v1:attainment_bonus:2"] == D("100.00")  # 1 % of 10,000
    assert "bonus:r1:2026-10:P:v1:attainment_bonus:1" not in got


def test_manager_override_on_rollup_credits_and_assignments():
    text = """
plans:
  - plan_id: AE
    version: 1
    effective_from: 2026-01-01
    currency: USD
    components:
      - {component: bookings, type: flat, rate: 0.10}
  - plan_id: MGR
    version: 1
    effective_from: 2026-01-01
    currency: USD
    components:
      - {component: override, type: override, rate: 0.01}
assignments:
  - {plan_id: AE, role: rep, valid_from: 2026-01-01}
  - {plan_id: MGR, role: manager, valid_from: 2026-01-01}
"""
    reps = {"r1": Rep("r1", role="rep"), "m1": Rep("m1", role="manager")}
    credits = [
        credit("d1", "2026-10-01", "10000.00"),
        Credit("d1>m1", "d1", "m1", date(2026, 10, 1), D("10000.00"), kind="rollup"),
        Credit("d2>m1", "d2", "m1", date(2026, 10, 2), D("5555.55"), kind="rollup"),
    ]
    got = amounts(calculate(parse_plan_text(text), credits, reps))
    # rep: 10 % of 10,000 = 1,000.00; manager: 1 % of 10,000 = 100.00 and of 5,555.55 = 55.5555 -> 55.56
    assert got == {
        "d1:AE:v1:bookings:0": D("1000.00"),
        "d1>m1:MGR:v1:override:0": D("100.00"),
        "d2>m1:MGR:v1:override:0": D("55.56"),
    }


def test_rep_email_assignment_wins_over_role_and_version_by_credit_date():
    text = """
plans:
  - {plan_id: STD, version: 1, effective_from: 2026-01-01, effective_to: 2026-07-01, currency: USD,
     components: [{component: c, type: flat, rate: 0.01}]}
  - {plan_id: STD, version: 2, effective_from: 2026-07-01, currency: USD,
     components: [{component: c, type: flat, rate: 0.02}]}
  - {plan_id: VIP, version: 1, effective_from: 2026-01-01, currency: USD,
     components: [{component: c, type: flat, rate: 0.05}]}
assignments:
  - {plan_id: STD, role: rep, valid_from: 2026-01-01}
  - {plan_id: VIP, rep_email: Star@Example.com, valid_from: 2026-09-01}
"""
    reps = {"r1": Rep("r1", email="star@example.com", role="rep")}
    credits = [
        credit("jun", "2026-06-30", "1000.00"),  # STD v1: 1 % = 10.00
        credit("jul", "2026-07-01", "1000.00"),  # STD v2 from Jul 1 (half-open): 2 % = 20.00
        credit("sep", "2026-09-01", "1000.00"),  # VIP by email from Sep 1: 5 % = 50.00
    ]
    got = amounts(calculate(parse_plan_text(text), credits, reps))
    assert got == {"jun:STD:v1:c:0": D("10.00"), "jul:STD:v2:c:0": D("20.00"), "sep:VIP:v1:c:0": D("50.00")}


def test_clawback_reverses_paid_lines_without_reducing_attainment():
    # Oct: target 10,000; d1 6,000 then d2 6,000 (marginal, three bands).
    # d1 0->6,000: 5,000 x 2 % = 100.00 + 1,000 x 5 % = 50.00; d2 6,000->12,000: 4,000 x 5 % = 200.00
    # + 2,000 x 10 % = 200.00. d1 is cancelled on Nov 10: -100.00 and -50.00 in November; d2 keeps
    # its position (attainment is not reduced).
    credits = [
        credit("d1", "2026-10-05", "6000.00", reversed_on=date(2026, 11, 10)),
        credit("d2", "2026-10-20", "6000.00"),
    ]
    lines = calculate(book(tiered("tiered_marginal")), credits, targets=TARGETS)
    got = amounts(lines)
    assert got["d2:P:v1:bookings:2"] == D("200.00")
    assert got["d2:P:v1:bookings:3"] == D("200.00")
    claw = [ln for ln in lines if ln.line_type == "clawback"]
    assert {(ln.related_line_id, ln.period_month, ln.commission_amount) for ln in claw} == {
        ("d1:P:v1:bookings:1", date(2026, 11, 1), D("-100.00")),
        ("d1:P:v1:bookings:2", date(2026, 11, 1), D("-50.00")),
    }
    # November nets -150.00: never a negative payroll row by default (no `balances` in the plan), so
    # a deficit_carry line of +150.00 brings it to 0.00 and 150.00 is carried forward.
    assert statement_totals(lines) == {("r1", OCT): D("550.00"), ("r1", date(2026, 11, 1)): D("0.00")}
    assert amounts(lines)["deficit-carry:r1:2026-11"] == D("150.00")


def test_pay_on_collection_ignores_booking_credits():
    plans = book(FLAT_10, plan_extra="    credit_on: collection")
    credits = [
        credit("booked", "2026-10-01", "1000.00"),
        Credit("paid-1", "d", "r1", date(2026, 10, 15), D("400.00"), basis="collection"),
    ]
    assert amounts(calculate(plans, credits)) == {"paid-1:P:v1:bookings:0": D("40.00")}


def test_every_line_carries_what_explains_it():
    lines = calculate(
        book(tiered("tiered_marginal")),
        [
            Credit(
                "d",
                "d",
                "r1",
                date(2026, 10, 9),
                D("1090.00"),
                original_amount=D("1000.00"),
                original_currency="EUR",
                fx_rate=D("1.09"),
            )
        ],
        targets=TARGETS,
    )
    (ln,) = lines
    assert (ln.deal_id, ln.rep_id, ln.plan_id, ln.plan_version, ln.component) == (
        "d",
        "r1",
        "P",
        1,
        "bookings",
    )
    assert (ln.tier_number, ln.band_lower, ln.band_upper, ln.rate) == (1, D("0.00"), D("0.50"), D("0.02"))
    assert (ln.base_amount, ln.credit_date, ln.currency, ln.fx_rate) == (
        D("1090.00"),
        date(2026, 10, 9),
        "USD",
        D("1.09"),
    )
    assert ln.commission_amount == D("21.80")  # 1,090 x 2 %
    assert "band 1" in ln.explanation and "1090.00 x 0.02" in ln.explanation


# ---------------------------------------------------------------------------------------------
# fiscal-year caps, caps and clawbacks, pay on collection
# ---------------------------------------------------------------------------------------------


def test_yearly_cap_runs_on_the_fiscal_year_not_the_calendar_year():
    # flat 10 %, per_year 1,000.00. Credits: Dec 2026 6,000 (600.00), Feb 2027 6,000 (600.00),
    # Apr 2027 5,000 (500.00).
    comp = FLAT_10 + "        caps: {per_year: 1000.00}\n"
    credits = [
        credit("dec", "2026-12-10", "6000.00"),
        credit("feb", "2027-02-10", "6000.00"),
        credit("apr", "2027-04-05", "5000.00"),
    ]
    # fiscal year from April: FY2026 = 2026-04-01 .. 2027-03-31 holds Dec and Feb: 600 + 600 =
    # 1,200 -> Feb is cut by 200.00; April starts FY2027: 500.00 uncut.
    fiscal = amounts(calculate(book(comp), credits, fiscal_year_start_month=4))
    assert {k: v for k, v in fiscal.items() if k.startswith("cap:")} == {
        "cap:year:r1:2027-02:P:v1:bookings": D("-200.00")
    }
    assert sum(fiscal.values()) == D("1500.00")  # 600 + 400 + 500
    # calendar year (start month 1): 2026 = 600; 2027 = Feb 600 + Apr 500 = 1,100 -> Apr cut by 100
    calendar_year = amounts(calculate(book(comp), credits))
    assert {k: v for k, v in calendar_year.items() if k.startswith("cap:")} == {
        "cap:year:r1:2027-04:P:v1:bookings": D("-100.00")
    }
    assert sum(calendar_year.values()) == D("1600.00")  # 600 + 600 + 400


def test_clawback_of_a_capped_deal_reverses_only_what_was_paid():
    # flat 10 %, per_period 1,000.00. October: a (Oct 5) earns 800.00, b (Oct 20) 600.00 = 1,400.00
    # -> period cap -400.00. The cap is attributed in credit-date order: a is paid 800.00 in full,
    # b only 200.00 (400.00 of its 600.00 withheld). b is cancelled on Nov 10: its line is reversed
    # (-600.00) and its part of the cap line given back (+400.00): -200.00 = what b was paid.
    comp = FLAT_10 + "        caps: {per_period: 1000.00}\n"
    credits = [
        credit("a", "2026-10-05", "8000.00"),
        credit("b", "2026-10-20", "6000.00", reversed_on=date(2026, 11, 10)),
    ]
    lines = calculate(book(comp), credits)
    got = amounts(lines)
    assert got["cap:period:r1:2026-10:P:v1:bookings"] == D("-400.00")
    claws = {
        ln.commission_line_id: (ln.related_line_id, ln.commission_amount)
        for ln in lines
        if ln.line_type == "clawback"
    }
    assert claws == {
        "clawback:b:P:v1:bookings:0": ("b:P:v1:bookings:0", D("-600.00")),
        "clawback:cap:period:r1:2026-10:P:v1:bookings:b": (
            "cap:period:r1:2026-10:P:v1:bookings",
            D("400.00"),
        ),
    }
    # November's -200.00 is carried forward as a deficit (paid 0.00), the plan not allowing negative pay
    assert statement_totals(lines) == {("r1", OCT): D("1000.00"), ("r1", date(2026, 11, 1)): D("0.00")}
    assert amounts(lines)["deficit-carry:r1:2026-11"] == D("200.00")

    # the same month with a cancelled instead: a was paid in full (800.00), so -800.00 and nothing
    # of the cap comes back; b keeps what it was paid (200.00)
    credits = [
        credit("a", "2026-10-05", "8000.00", reversed_on=date(2026, 11, 10)),
        credit("b", "2026-10-20", "6000.00"),
    ]
    lines = calculate(book(comp), credits)
    assert [(ln.commission_line_id, ln.commission_amount) for ln in lines if ln.line_type == "clawback"] == [
        ("clawback:a:P:v1:bookings:0", D("-800.00"))
    ]


def test_a_clawback_in_the_same_fiscal_year_gives_room_back_to_the_yearly_cap():
    # flat 10 %, per_year 1,000.00 (calendar fiscal year). Jan: a 600.00. Feb: b 600.00, only 400.00
    # allowed -> cap -200.00 (all of it b's). Mar 5: b cancelled -> -600.00 + 200.00 = -400.00 (what
    # b was paid); the year has paid 600 + 400 - 400 = 600.00. Apr: c 300.00 fits under the cap
    # (room 400.00): no cap line.
    comp = FLAT_10 + "        caps: {per_year: 1000.00}\n"
    credits = [
        credit("a", "2026-01-10", "6000.00"),
        credit("b", "2026-02-10", "6000.00", reversed_on=date(2026, 3, 5)),
        credit("c", "2026-04-10", "3000.00"),
    ]
    lines = calculate(book(comp), credits)
    got = amounts(lines)
    assert got["cap:year:r1:2026-02:P:v1:bookings"] == D("-200.00")
    assert got["clawback:b:P:v1:bookings:0"] == D("-600.00")
    assert got["clawback:cap:year:r1:2026-02:P:v1:bookings:b"] == D("200.00")
    assert got["c:P:v1:bookings:0"] == D("300.00")
    assert not any(k.startswith("cap:year:r1:2026-04") for k in got)
    # March nets -400.00: carried forward as a deficit (paid 0.00); April's 300.00 recovers 300.00 of
    # it (paid 0.00), 100.00 stays carried.
    assert statement_totals(lines) == {
        ("r1", date(2026, 1, 1)): D("600.00"),
        ("r1", date(2026, 2, 1)): D("400.00"),
        ("r1", date(2026, 3, 1)): D("0.00"),
        ("r1", date(2026, 4, 1)): D("0.00"),
    }
    assert got["deficit-recovery:r1:2026-04"] == D("-300.00")


def test_a_collection_component_pays_on_payments_over_two_periods():
    # A booking plan with a 5 % bookings component and a 1 % pay-on-collection component.
    # Deal d1 (10,000 EUR) won Oct 2 at 1.08 = 10,800.00 -> 540.00 in October. Paid 4,000 EUR on
    # Oct 20 at 1.08 = 4,320.00 -> 43.20 in October; the remaining 6,000 EUR on Nov 5 at 1.10 =
    # 6,600.00 -> 66.00 in November. Attainment counts bookings only: 10,800 / 20,000 = 0.54.
    comp = FLAT_10.replace("0.10", "0.05") + (
        "      - component: collections\n"
        "        type: flat\n"
        "        credit_on: collection\n"
        "        measure: monthly_credited_amount\n"
        "        rate: 0.01\n"
    )
    credits = [
        credit("d1", "2026-10-02", "10800.00"),
        Credit("pay1", "d1", "r1", date(2026, 10, 20), D("4320.00"), basis="collection"),
        Credit("pay2", "d1", "r1", date(2026, 11, 5), D("6600.00"), basis="collection"),
    ]
    targets = {("r1", OCT): D("20000.00"), ("r1", date(2026, 11, 1)): D("20000.00")}
    lines = calculate(book(comp), credits, targets=targets)
    assert amounts(lines) == {
        "d1:P:v1:bookings:0": D("540.00"),
        "pay1:P:v1:collections:0": D("43.20"),
        "pay2:P:v1:collections:0": D("66.00"),
    }
    assert {ln.attainment for ln in lines if ln.period_month == OCT} == {D("0.54")}
    assert {ln.credit_basis for ln in lines if ln.component == "collections"} == {"collection"}


def test_cash_collected_after_the_rep_left_earns_nothing():
    # r1's last day is 2026-08-30. Collections (flat 1 %): 1,000.00 on Aug 30 (still employed) ->
    # 10.00; 96,771.37 on Sep 15 (after leaving) -> no line.
    plans = book(FLAT_10.replace("0.10", "0.01"), plan_extra="    credit_on: collection")
    reps = {"r1": Rep("r1", left_on=date(2026, 8, 30))}
    credits = [
        Credit("p1", "d", "r1", date(2026, 8, 30), D("1000.00"), basis="collection"),
        Credit("p2", "d", "r1", date(2026, 9, 15), D("96771.37"), basis="collection"),
    ]
    assert amounts(calculate(plans, credits, reps)) == {"p1:P:v1:bookings:0": D("10.00")}
