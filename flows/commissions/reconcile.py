"""The per-run reconciliation of credits, commission lines and statements."""

from __future__ import annotations

from flows.commissions.tables import LINES, PERIODS, ensure_ledger, find_table


class ReconciliationError(RuntimeError):
    """The per-run reconciliation found credits, lines or statements that do not add up."""


def reconcile(conn) -> list[str]:
    """Failures of the per-period reconciliation (empty = reconciled):

    1. per period and credit basis: Σ credited direct amounts = won (booking) or collected
       (collection) revenue x split shares - revenue splits add up to the sale, overlay credits
       are Σ revenue x overlay share (``intermediate.int_credit_reconciliation``, which dbt builds
       with the credits; without it, bookings are checked against ``fct_deals`` directly);
    2. per open period, plan and tiered/flat component: Σ base_amount of the commission lines =
       Σ credited amounts of the credits on that plan (every credited unit is paid in exactly one
       band; true-up lines, ``trueup:<month>:<line id>``, re-price credits of earlier months of
       the measurement period and are left out: their credits were counted in their own month);
    3. Σ statement lines = Σ statement totals per period (``fct_commission_statements``).
    """
    failures: list[str] = []
    credits = find_table(conn, "intermediate", "int_credit_lines")
    recon = find_table(conn, "intermediate", "int_credit_reconciliation")
    deals = find_table(conn, "marts", "fct_deals")
    if recon:
        for period, basis, credited, expected, revenue, overlay in conn.execute(f"""
            select period_month, credit_basis, credited_amount, expected_amount, won_amount,
                   overlay_expected
            from {recon} where difference <> 0 order by 1, 2
        """).fetchall():
            what = "won" if basis == "booking" else "collected"
            failures.append(
                f"{period:%Y-%m} {basis}: credited {credited} <> {what} revenue x split shares {expected} "
                f"(revenue {revenue} + overlay {overlay})"
            )
    elif credits and deals:
        for period, credited, won in conn.execute(f"""
            with c as (select period_month, sum(credit_amount) as credited from {credits}
                       where credit_kind = 'direct' and credit_basis = 'booking' group by 1),
                 d as (select cast(date_trunc('month', close_date) as date) as period_month,
                              sum(amount_reporting) as won
                       from {deals} where is_won and close_date is not null group by 1)
            select coalesce(c.period_month, d.period_month), coalesce(credited, 0), coalesce(won, 0)
            from c full outer join d on c.period_month = d.period_month
            where coalesce(credited, 0) <> coalesce(won, 0) order by 1
        """).fetchall():
            failures.append(f"{period:%Y-%m}: credited {credited} <> won revenue x split shares {won}")
    ensure_ledger(conn)
    if credits:
        for period, plan_id, component, base, credited in conn.execute(f"""
            with l as (
                select period_month, plan_id, component, credit_id, sum(base_amount) as base,
                       max(credit_amount) as credited
                from {LINES}
                where line_type = 'commission' and credit_kind = 'direct'
                  and commission_line_id not like 'trueup:%'
                  and period_month not in (select period_month from {PERIODS})
                group by 1, 2, 3, 4
            )
            select period_month, plan_id, component, sum(base), sum(credited) from l
            group by 1, 2, 3 having sum(base) <> sum(credited) order by 1, 2, 3
        """).fetchall():
            failures.append(
                f"{period:%Y-%m} {plan_id} {component}: lines' base {base} <> credited {credited}"
            )
    statements = find_table(conn, "marts", "fct_commission_statements")
    lines = find_table(conn, "marts", "fct_commissions")
    if statements and lines:
        for period, a, b in conn.execute(f"""
            with l as (select period_month, sum(commission_amount) as s from {lines} group by 1),
                 t as (select period_month, sum(total_amount) as s from {statements} group by 1)
            select coalesce(l.period_month, t.period_month), l.s, t.s
            from l full outer join t on l.period_month = t.period_month
            where l.s is distinct from t.s
        """).fetchall():
            failures.append(f"{period:%Y-%m}: Σ lines {a} <> Σ statement totals {b}")
    return failures
