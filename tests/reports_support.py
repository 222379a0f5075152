"""Hand-built marts (reps, scorecard, deals, commissions) that the report tests render from, and an SMTP
handler that bounces one mailbox."""

from __future__ import annotations

import re
from datetime import date, timedelta

import duckdb

from flows.sandbox.smtp_outbox import OutboxHandler

#: ``marts.fct_commissions`` with the columns the payroll export and the finance summary read.
FCT_COMMISSIONS_DDL = (
    "create schema marts; create table marts.fct_commissions (commission_line_id varchar, "
    "line_type varchar, rep_id varchar, period_month date, commission_amount decimal(18, 2), "
    "currency varchar, component_type varchar)"
)

RUN_DATE = date(2026, 11, 28)
NOV, OCT = date(2026, 11, 1), date(2026, 10, 1)

REPS = [
    # rep_id, name, email, role, team, manager_id, is_active
    ("d1", "Dana Director", "dana@example.com", "director", "North America", None, True),
    ("m1", "Mia Manager", "mia@example.com", "manager", "NA East", "d1", True),
    ("r1", "Liam Rossi", "liam@example.com", "rep", "NA East", "m1", True),
    ("r2", "Emma Novak", "emma@example.com", "rep", "NA East", "m1", True),
    ("r3", "Noah New", "noah@example.com", "rep", "NA East", "m1", True),  # no numbers this month yet
    ("r4", "Olga Gone", "olga@example.com", "rep", "NA East", "m1", False),  # left, nothing this month
    ("m2", "王伟", "wang.wei@example.com", "manager", "华东一组", "d1", True),
    ("r5", "李娜", "li.na@example.com", "rep", "华东一组", "m2", True),
    ("m3", "Eve Empty", "eve@example.com", "manager", "Empty team", "d1", True),  # no reps: no report
]
SCORECARD = [
    # rep_id, month, won, deals_won, deals_lost, win_rate, open, weighted, target, attainment
    ("r1", NOV, "50000.00", 2, 1, 2 / 3, "80000.00", "40000.00", "100000.00", 0.5),
    ("r2", NOV, "120000.00", 3, 0, 1.0, "10000.00", "9000.00", "100000.00", 1.2),
    ("r1", OCT, "999999.00", 9, 0, 1.0, "0", "0", "100000.00", 9.99),  # another month: ignored
    ("r4", OCT, "1000.00", 1, 0, 1.0, "0", "0", "100000.00", 0.01),
    ("r5", NOV, "30000.00", 1, 1, 0.5, "5000.00", "1000.00", "40000.00", 0.75),
]


def build_marts(c: duckdb.DuckDBPyConnection) -> None:
    """dim_sales_reps + fct_rep_scorecard as dbt builds them, with the REPS and SCORECARD rows."""
    c.execute("create schema marts")
    c.execute(
        """
        create table marts.dim_sales_reps (
            rep_id varchar, source varchar, source_user_id varchar, rep_name varchar, email varchar,
            role varchar, team_name varchar, region_name varchar, manager_id varchar, manager_name varchar,
            manager_email varchar, hired_on date, left_on date, is_active boolean
        )"""
    )
    for rep_id, name, email, role, team, manager_id, active in REPS:
        c.execute(
            "insert into marts.dim_sales_reps values (?, 'zoho', ?, ?, ?, ?, ?, 'Region', ?, null, null, "
            "date '2024-01-01', null, ?)",
            [rep_id, rep_id, name, email, role, team, manager_id, active],
        )
    c.execute(
        """
        create table marts.fct_rep_scorecard (
            rep_id varchar, rep_name varchar, email varchar, team_name varchar, region_name varchar,
            manager_name varchar, manager_email varchar, period_month date, won_amount decimal(18, 2),
            deals_won integer, deals_lost integer, win_rate double, avg_deal_size decimal(18, 2),
            open_pipeline_amount decimal(18, 2), weighted_pipeline_amount decimal(18, 2),
            target_amount decimal(18, 2), attainment double
        )"""
    )
    for rep, month, won, dw, dl, wr, openp, weighted, target, att in SCORECARD:
        c.execute(
            "insert into marts.fct_rep_scorecard values "
            "(?, null, null, null, null, null, null, ?, ?, ?, ?, ?, null, ?, ?, ?, ?)",
            [rep, month, won, dw, dl, wr, openp, weighted, target, att],
        )


def cells(html: str, label: str) -> list[str]:
    """The text of every cell of the table row that starts with ``label``."""
    row = re.search(r"<tr[^>]*>\s*<td[^>]*>" + re.escape(label) + r"</td>(.*?)</tr>", html, re.S)
    assert row, f"no row {label!r}"
    return [re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def text_cells(html: str, label: str) -> list[str]:
    """:func:`cells` as read, tags dropped: ``120,000<br><span>(3)</span>`` → ``120,000 (3)``."""
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip() for c in cells(html, label)]


def add_deals(c) -> None:
    c.execute(
        """
        create table marts.fct_deals (
            deal_id varchar, deal_name varchar, rep_id varchar, account_id varchar, stage varchar,
            amount_reporting decimal(18, 2), close_date date, modified_at timestamptz,
            is_won boolean, is_lost boolean, is_open boolean
        )"""
    )
    deals = [
        ("z1", "Acme renewal", "r1", "zoho:a1", "Won", "50000", "2026-11-05", "2026-11-05"),
        ("z2", "Acme upsell", "r2", "zoho:a1", "Won", "70000", "2026-11-09", "2026-11-09"),
        ("z3", "Globex pilot", "r2", "zoho:a2", "Won", "50000", "2026-10-09", "2026-10-09"),
        ("z4", "Old stuck deal", "r1", "zoho:a2", "Proposal", "80000", "2026-12-20", "2026-09-01"),
        ("z5", "Fresh deal", "r2", "zoho:a2", "Qualify", "10000", "2026-12-20", "2026-11-27"),
        ("z6", "Other team", "r5", "fx:b1", "Proposal", "99999", "2026-11-01", "2026-08-01"),
    ]
    for deal in deals:
        won = deal[4] == "Won"
        c.execute(
            "insert into marts.fct_deals values (?, ?, ?, ?, ?, ?, ?, ?, ?, false, ?)", [*deal, won, not won]
        )


def add_commissions(c) -> None:
    add_deals(c)
    c.execute(
        """
        create table marts.fct_commissions (
            commission_line_id varchar, line_type varchar, rep_id varchar, deal_id varchar,
            period_month date, close_date date, plan_id varchar, plan_version integer, component varchar,
            component_type varchar, tier_number integer,
            band_lower decimal(9, 4), band_upper decimal(9, 4), rate decimal(9, 6), weight decimal(9, 4),
            deal_amount decimal(18, 2), target_amount decimal(18, 2), running_before decimal(18, 2),
            running_after decimal(18, 2), base_amount decimal(18, 2), commission_amount decimal(18, 2),
            currency varchar, explanation varchar
        )"""
    )
    rows = [
        # line, rep, deal, tier, lower, upper, rate, base, commission
        ("l1", "r1", "z1", 1, "0", "0.5", "0.02", "50000", "1000.00"),
        ("l2", "r2", "z2", 1, "0", "0.5", "0.02", "50000", "1000.00"),
        ("l3", "r2", "z2", 2, "0.5", None, "0.05", "20000", "1000.00"),
        ("l4", "r5", None, 1, "0", "0.5", "0.02", "30000", "600.00"),
    ]
    for line, rep, deal, tier, lower, upper, rate, base, amount in rows:
        c.execute(
            "insert into marts.fct_commissions values (?, 'commission', ?, ?, date '2026-11-01', "
            "date '2026-11-09', 'AE', 1, 'bookings', 'tiered', ?, ?, ?, ?, 1, ?, 100000, 0, 0, ?, ?, 'USD', "
            "'tier rate x base')",
            [line, rep, deal or "fx:d9", tier, lower, upper, rate, base, base, amount],
        )
    c.execute("update marts.dim_sales_reps set manager_email = 'mia@example.com' where manager_id = 'm1'")
    c.execute(
        "create table marts.fct_commission_adjustments as select * from (values "
        "('r2', date '2026-11-01', -150.00, 'clawback: Globex pilot cancelled')) "
        "t(rep_id, period_month, adjustment_amount, reason)"
    )


def add_day_targets(c, per_working_day: dict[str, str], first: date, last: date) -> None:
    """marts.fct_sales_targets (day grain, scope ``rep``) as dbt builds it: each rep's amount on every
    Monday–Friday from ``first`` to ``last``, 0 on weekends."""
    c.execute(
        """
        create table if not exists marts.fct_sales_targets (
            scope_type varchar, scope_key varchar, rep_id varchar, calendar_date date, period_month date,
            is_working_day boolean, target_amount decimal(18, 2), actual_amount decimal(18, 2)
        )"""
    )
    day = first
    while day <= last:
        working = day.isoweekday() <= 5
        for rep_id, amount in per_working_day.items():
            target = amount if working else "0"
            c.execute(
                "insert into marts.fct_sales_targets values ('rep', ?, ?, ?, ?, ?, ?, 0)",
                [f"{rep_id}@example.com", rep_id, day, day.replace(day=1), working, target],
            )
        day += timedelta(days=1)


def set_scorecard(c, month: date, rows: dict[str, tuple[str, str | None, str]]) -> None:
    """Scorecard rows of ``month``: rep_id → (won, target, open pipeline); attainment = won / target."""
    for rep_id, (won, target, open_pipeline) in rows.items():
        att = float(won) / float(target) if target and float(target) else None
        c.execute(
            "insert into marts.fct_rep_scorecard (rep_id, period_month, won_amount, deals_won, deals_lost, "
            "open_pipeline_amount, weighted_pipeline_amount, target_amount, attainment) "
            "values (?, ?, ?, 1, 0, ?, ?, ?, ?)",
            [rep_id, month, won, open_pipeline, open_pipeline, target, att],
        )


def row_html(html: str, label: str) -> str:
    """The HTML of the table row whose first cell is ``label``."""
    row = re.search(r"<tr[^>]*>\s*<td[^>]*>" + re.escape(label) + r"</td>.*?</tr>", html, re.S)
    assert row, f"no row {label!r}"
    return row.group(0)


class RejectingHandler(OutboxHandler):
    """Refuses one mailbox for good (5xx), like a server with an unknown user."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce@"):
            return "550 5.1.1 <bounce@example.com>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


#: Week 48 of 2026 (Nov 23 – 29) in the pipeline-history marts, as dbt builds them; the identity
#: opening + new - won - lost - removed + amount_change = closing holds on every row (hand-checked).
MOVEMENT_W48 = [
    # rep, opening, new, advanced, moved_back, slipped, won, lost, removed (count, amount each),
    # amount_change, closing (count, amount), next week (count, amount)
    ("r1", (3, 90000), (1, 20000), (1, 30000), (0, 0), (1, 25000), (1, 25000), (0, 0), (0, 0), 5000,
     (3, 90000), (1, 40000)),
    ("r2", (2, 17000), (0, 0), (0, 0), (1, 10000), (0, 0), (0, 0), (1, 7000), (0, 0), 0, (1, 10000), (0, 0)),
    ("r4", (1, 5000), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), 0, (1, 5000), (1, 5000)),
    ("r5", (1, 8000), (1, 2000), (1, 2000), (0, 0), (0, 0), (0, 0), (0, 0), (1, 8000), 0,
     (1, 2000), (1, 2000)),
]  # fmt: skip
SNAPSHOTS_NOV29 = [
    # deal_id, deal_name, rep_id, stage, amount, close_date
    ("z10", "Acme expansion", "r1", "Proposal", "40000", "2026-12-02"),  # next week: listed
    ("z11", "Later deal", "r1", "Qualify", "50000", "2026-12-15"),  # the week after: not listed
    ("z12", "Emma's deal", "r2", "Proposal", "10000", "2026-11-29"),  # due in the report week itself
    ("z13", "Olga's leftover", "r4", "Proposal", "5000", "2026-12-01"),  # Olga left: not listed
    ("f1", "华东项目", "r5", "方案/报价", "2000", "2026-12-04"),
]


def add_pipeline_history(c) -> None:
    """marts.fct_pipeline_movement (week 48) and marts.fct_pipeline_snapshots (its closing, Nov 29)."""
    moves = ["opening", "new", "advanced", "moved_back", "slipped", "won", "lost", "removed"]
    c.execute(
        "create table marts.fct_pipeline_movement (week_start date, week_end date, "
        "opening_snapshot_date date, closing_snapshot_date date, is_week_complete boolean, "
        "rep_id varchar, rep_name varchar, team_name varchar, manager_id varchar, "
        + ", ".join(f"{m}_count bigint, {m}_amount decimal(18, 2)" for m in moves)
        + ", amount_change decimal(18, 2), closing_count bigint, closing_amount decimal(18, 2), "
        "next_week_close_count bigint, next_week_close_amount decimal(18, 2))"
    )
    for rep_id, *figures in MOVEMENT_W48:
        *pairs, change, closing, next_week = figures
        values = [v for pair in pairs for v in pair] + [change, *closing, *next_week]
        c.execute(
            "insert into marts.fct_pipeline_movement values ('2026-11-23', '2026-11-29', '2026-11-22', "
            f"'2026-11-29', true, ?, null, null, null{', ?' * len(values)})",
            [rep_id, *values],
        )
    c.execute(
        "create table marts.fct_pipeline_snapshots (snapshot_date date, deal_id varchar, source varchar, "
        "deal_name varchar, rep_id varchar, stage varchar, stage_order bigint, probability decimal(5, 2), "
        "amount_reporting decimal(18, 2), close_date date, is_reconstructed boolean)"
    )
    for deal_id, name, rep_id, stage, amount, close in SNAPSHOTS_NOV29:
        c.execute(
            "insert into marts.fct_pipeline_snapshots values "
            "('2026-11-29', ?, 'zoho', ?, ?, ?, 1, 50, ?, ?, false)",
            [deal_id, name, rep_id, stage, amount, close],
        )
