"""The manager report's optional sections: funnel bottleneck, stalled deals, at-risk and top customers.

Each section is built only from marts that exist (and only with the columns they have): a section
whose mart is missing, or fails to query while being reshaped, is left out (logged) instead of
stopping the report. The funnel's days per stage are the *usual* days of
:mod:`flows.reports.stage_timing`, the figure stalled deals are measured against, so the two
sections agree; at-risk reasons are translated by :mod:`flows.reports.risk_reasons`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from flows.quality.tables import find_table
from flows.reports.common import column_or_null, columns, dicts, pick
from flows.reports.formatting import Fmt
from flows.reports.risk_reasons import translate_reasons
from flows.reports.stage_timing import funnel_days, usual_days_by_stage

log = logging.getLogger(__name__)

STALE_DAYS = 30  # an open deal not updated for this long (or past its close date) is "stalled"


@dataclass
class SectionSources:
    """Which optional marts exist (and with which columns) for the manager report's sections."""

    deals: str | None = None
    deal_cols: set[str] = field(default_factory=set)
    funnel: tuple[str, set[str]] | None = None
    stalled: tuple[str, set[str]] | None = None
    risk: tuple[str, set[str]] | None = None
    customers: tuple[str, set[str]] | None = None
    transitions: str | None = None

    @classmethod
    def discover(cls, conn: duckdb.DuckDBPyConnection) -> SectionSources:
        src = cls()
        src.deals = find_table(conn, "marts.fct_deals")
        if src.deals:
            src.deal_cols = columns(conn, src.deals)
        transitions = find_table(conn, "marts.fct_deal_stage_transitions")
        if transitions and {"source", "stage", "days_in_stage"} <= columns(conn, transitions):
            src.transitions = transitions
        stalled = find_table(conn, "marts.fct_stalled_deals")
        if stalled:
            cols = columns(conn, stalled)
            if {"deal_name", "rep_id", "stage"} <= cols:
                src.stalled = (stalled, cols)
        funnel = find_table(conn, "marts.fct_funnel")
        if funnel:
            cols = columns(conn, funnel)
            if pick(cols, "stage", "stage_name") and pick(
                cols, "conversion_rate", "stage_conversion_rate", "conversion", "is_bottleneck"
            ):
                src.funnel = (funnel, cols)
        for name in (
            "marts.dim_customers",
            "marts.fct_customer_risk",
            "marts.fct_receivables_ageing",
            "marts.fct_customers",
        ):
            table = find_table(conn, name)
            if not table:
                continue
            cols = columns(conn, table)
            if src.customers is None and pick(cols, "customer_id", "account_id") and _customer_name(cols):
                src.customers = (table, cols)
            if (
                src.risk is None
                and pick(cols, "is_high_risk", "is_at_risk", "high_risk")
                and _customer_name(cols)
            ):
                src.risk = (table, cols)
        return src

    def sections(
        self, conn: duckdb.DuckDBPyConnection, rep_ids: list[str], run_date: date, fmt: Fmt, manager: dict
    ) -> dict:
        out: dict[str, Any] = {"funnel": None, "stalled": None, "at_risk": None, "top_customers": None}
        for name, builder in (
            ("funnel", self._funnel),
            ("stalled", self._stalled),
            ("at_risk", self._at_risk),
            ("top_customers", self._top_customers),
        ):
            try:
                out[name] = builder(conn, rep_ids, run_date, fmt, manager)
            except duckdb.Error as exc:  # a mart being reshaped must not stop the report
                log.warning("manager report section %s left out: %s", name, exc)
        return out

    def _stalled(self, conn, rep_ids, run_date, fmt, manager) -> dict | None:
        if self.stalled:
            table, cols = self.stalled
            days = pick(cols, "days_in_stage", "days_idle")
            usual = pick(cols, "usual_days_in_stage")
            rows = dicts(
                conn,
                f"""
                select deal_name, stage, {column_or_null(cols, "amount_reporting")} as amount, close_date,
                       {days or "null"} as days_idle, {usual or "null"} as usual
                from {table} where list_contains(?, rep_id)
                order by {column_or_null(cols, "amount_reporting")} desc nulls last, deal_name limit 10
                """,
                [rep_ids],
            )
            note = "stalled_note_mart"
        else:
            rows = self._stalled_from_deals(conn, rep_ids, run_date)
            note = "stalled_note"
        if rows is None:
            return None
        return {
            "note": fmt.t(note, days=STALE_DAYS),
            "rows": [
                {
                    "deal": r["deal_name"],
                    "stage": r["stage"],
                    "amount": fmt.number(r["amount"]),
                    "close_date": fmt.full_date(r["close_date"]),
                    "days_idle": "–" if r["days_idle"] is None else int(r["days_idle"]),
                    "usual": "" if r.get("usual") is None else f" / {fmt.number(r['usual'], 1)}",
                }
                for r in rows
            ],
        }

    def _stalled_from_deals(self, conn, rep_ids, run_date) -> list[dict] | None:
        if not self.deals or not {"is_open", "close_date", "rep_id"} <= self.deal_cols:
            return None
        amount = column_or_null(self.deal_cols, "amount_reporting")
        modified = "cast(modified_at as date)" if "modified_at" in self.deal_cols else "null"
        rows = dicts(
            conn,
            f"""
            select deal_name, stage, {amount} as amount, close_date, rep_id,
                   date_diff('day', {modified}, ?::date) as days_idle
            from {self.deals}
            where is_open and list_contains(?, rep_id)
              and (close_date < ?::date or {modified} < ?::date - interval {STALE_DAYS} day)
            order by {amount} desc nulls last, deal_name
            limit 10
            """,
            [run_date, rep_ids, run_date, run_date],
        )
        return rows

    def _funnel(self, conn, rep_ids, run_date, fmt, manager) -> dict | None:
        if not self.funnel:
            return None
        table, cols = self.funnel
        stage = pick(cols, "stage", "stage_name")
        conv = pick(cols, "conversion_rate", "stage_conversion_rate", "conversion")
        entered = pick(cols, "entered", "deals_entered", "entered_count")
        median = pick(cols, "median_days_in_stage", "median_days")
        flag = pick(cols, "is_bottleneck")
        order = pick(cols, "stage_order", "stage_sort_order", "sort_order")
        period = pick(cols, "period_month", "period_start", "month")
        where: list[str] = []
        params: list = []
        if "period_grain" in cols:  # fct_funnel has month/quarter/year rows: the month's
            where.append("period_grain = 'month'")
        if "funnel_level" in cols:
            where.append("funnel_level = 'team'")
        if "team_name" in cols and manager.get("team_name"):
            where.append("team_name = ?")
            params.append(manager["team_name"])
        if period:
            same = " and ".join([*where, f"{period} <= ?"])
            where.append(f"{period} = (select max({period}) from {table} where {same})")
            params += [*params, run_date]
        sql = (
            f"select {stage} as stage, {column_or_null(cols, 'source')} as source, "
            f"{conv or 'null'} as conversion, {entered or 'null'} as entered, "
            f"{median or 'null'} as median_days, {flag or 'false'} as is_bottleneck from {table}"
            + (f" where {' and '.join(where)}" if where else "")
            + f" order by {order or stage}"
        )
        rows = dicts(conn, sql, params)
        if not rows:
            return None
        bottleneck = next((r for r in rows if r["is_bottleneck"]), None)
        if bottleneck is None and conv:
            scored = [r for r in rows if r["conversion"] is not None]
            bottleneck = min(scored, key=lambda r: r["conversion"]) if scored else None
        usual = usual_days_by_stage(conn, self.transitions) if self.transitions else None
        return {
            "bottleneck": bottleneck["stage"] if bottleneck else "–",
            "days_header": fmt.t("usual_days" if usual is not None else "median_days"),
            "note": fmt.t("funnel_note") if usual is not None else "",
            "rows": [
                {
                    "stage": r["stage"],
                    "entered": "–" if r["entered"] is None else fmt.number(r["entered"]),
                    "conversion": fmt.pct(r["conversion"]),
                    "median_days": fmt.number(funnel_days(r, usual), 1),
                    "is_bottleneck": bottleneck is not None and r["stage"] == bottleneck["stage"],
                }
                for r in rows
            ],
        }

    def _at_risk(self, conn, rep_ids, run_date, fmt, manager) -> list[dict] | None:
        if not self.risk:
            return None
        table, cols = self.risk
        flag = pick(cols, "is_high_risk", "is_at_risk", "high_risk")
        name = _customer_name(cols)
        reasons = pick(cols, "risk_reasons", "risk_reason", "reasons")
        owner = pick(cols, "owner_rep_id", "rep_id", "owner_id")
        where = f"where {flag}" + (f" and list_contains(?, {owner})" if owner else "")
        rows = dicts(
            conn,
            f"select {name} as name, {reasons or 'null'} as reasons from {table} {where} order by 1 limit 10",
            [rep_ids] if owner else [],
        )
        return [{"name": r["name"], "reasons": translate_reasons(r["reasons"], fmt)} for r in rows]

    def _top_customers(self, conn, rep_ids, run_date, fmt, manager) -> list[dict] | None:
        if not self.deals or not {"is_won", "account_id", "close_date", "rep_id"} <= self.deal_cols:
            return None
        name_join, name_expr = "", "d.account_id"
        if self.customers:
            table, cols = self.customers
            key, cname = pick(cols, "customer_id", "account_id"), _customer_name(cols)
            name_join = f"left join {table} as c on c.{key} = d.account_id"
            name_expr = f"coalesce(c.{cname}, d.account_id)"
        rows = dicts(
            conn,
            f"""
            select {name_expr} as name, sum(d.{column_or_null(self.deal_cols, "amount_reporting")}) as won,
                   count(*) as deals
            from {self.deals} as d {name_join}
            where d.is_won and d.account_id is not null and list_contains(?, d.rep_id)
              and d.close_date > ?::date - interval 12 month and d.close_date <= ?::date
            group by 1 order by 2 desc nulls last, 1 limit 5
            """,
            [rep_ids, run_date, run_date],
        )
        return [{"name": r["name"], "won": fmt.number(r["won"]), "deals": int(r["deals"])} for r in rows]


def _customer_name(cols: set[str]) -> str | None:
    return pick(cols, "customer_name", "account_name")
