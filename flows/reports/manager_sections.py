"""The manager report's optional sections: funnel bottleneck, stalled deals, at-risk and top customers.

A section is shown when its mart exists (``fct_funnel``, ``fct_stalled_deals`` or, without it,
``fct_deals``, ``fct_customer_risk``, ``fct_deals`` with ``dim_customers`` for names). The columns
read are the marts' dbt contracts (``contract: enforced``), so they are named directly: a mart
without one fails the report with the database's error naming the column, instead of the section
quietly disappearing. The funnel's days per stage are the *usual* days of
:mod:`flows.reports.stage_timing`, the figure stalled deals are measured against, so the two
sections agree; at-risk reasons are translated by :mod:`flows.reports.risk_reasons`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from flows.quality.tables import find_table
from flows.reports.common import dicts
from flows.reports.formatting import Fmt
from flows.reports.risk_reasons import translate_reasons
from flows.reports.stage_timing import funnel_days, usual_days_by_stage

STALE_DAYS = 30  # an open deal not updated for this long (or past its close date) is "stalled"


@dataclass
class SectionSources:
    """Which of the optional marts behind the manager report's sections exist."""

    deals: str | None = None
    funnel: str | None = None
    stalled: str | None = None
    risk: str | None = None
    customers: str | None = None
    transitions: str | None = None

    @classmethod
    def discover(cls, conn: duckdb.DuckDBPyConnection) -> SectionSources:
        return cls(
            deals=find_table(conn, "marts.fct_deals"),
            funnel=find_table(conn, "marts.fct_funnel"),
            stalled=find_table(conn, "marts.fct_stalled_deals"),
            risk=find_table(conn, "marts.fct_customer_risk"),
            customers=find_table(conn, "marts.dim_customers"),
            transitions=find_table(conn, "marts.fct_deal_stage_transitions"),
        )

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
            out[name] = builder(conn, rep_ids, run_date, fmt, manager)
        return out

    def _stalled(self, conn, rep_ids, run_date, fmt, manager) -> dict | None:
        if self.stalled:
            rows = dicts(
                conn,
                f"""
                select deal_name, stage, amount_reporting as amount, close_date,
                       days_in_stage as days_idle, usual_days_in_stage as usual
                from {self.stalled} where list_contains(?, rep_id)
                order by amount_reporting desc nulls last, deal_name limit 10
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
                    "usual": "" if r["usual"] is None else f" / {fmt.number(r['usual'], 1)}",
                }
                for r in rows
            ],
        }

    def _stalled_from_deals(self, conn, rep_ids, run_date) -> list[dict] | None:
        if not self.deals:
            return None
        rows = dicts(
            conn,
            f"""
            select deal_name, stage, amount_reporting as amount, close_date, rep_id,
                   date_diff('day', cast(modified_at as date), ?::date) as days_idle, null as usual
            from {self.deals}
            where is_open and list_contains(?, rep_id)
              and (close_date < ?::date or cast(modified_at as date) < ?::date - interval {STALE_DAYS} day)
            order by amount_reporting desc nulls last, deal_name
            limit 10
            """,
            [run_date, rep_ids, run_date, run_date],
        )
        return rows

    def _funnel(self, conn, rep_ids, run_date, fmt, manager) -> dict | None:
        if not self.funnel:
            return None
        # the team's rows of the latest month up to the report date (fct_funnel also has quarter/year
        # and all-teams rows)
        scope = "period_grain = 'month' and funnel_level = 'team' and team_name = ?"
        sql = f"""
            select stage, source, conversion_rate as conversion, deals_entered as entered,
                   median_days_in_stage as median_days, is_bottleneck
            from {self.funnel}
            where {scope} and period_start = (
                select max(period_start) from {self.funnel} where {scope} and period_start <= ?
            )
            order by stage_order, stage
            """
        params = [manager["team_name"], manager["team_name"], run_date]
        rows = dicts(conn, sql, params)
        if not rows:
            return None
        bottleneck = next((r for r in rows if r["is_bottleneck"]), None)
        if bottleneck is None:
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
        rows = dicts(
            conn,
            f"""
            select account_name as name, risk_reasons as reasons from {self.risk}
            where is_high_risk and list_contains(?, owner_rep_id) order by 1 limit 10
            """,
            [rep_ids],
        )
        return [{"name": r["name"], "reasons": translate_reasons(r["reasons"], fmt)} for r in rows]

    def _top_customers(self, conn, rep_ids, run_date, fmt, manager) -> list[dict] | None:
        if not self.deals:
            return None
        name_join, name_expr = "", "d.account_id"
        if self.customers:
            name_join = f"left join {self.customers} as c on c.account_id = d.account_id"
            name_expr = "coalesce(c.account_name, d.account_id)"
        rows = dicts(
            conn,
            f"""
            select {name_expr} as name, sum(d.amount_reporting) as won, count(*) as deals
            from {self.deals} as d {name_join}
            where d.is_won and d.account_id is not null and list_contains(?, d.rep_id)
              and d.close_date > ?::date - interval 12 month and d.close_date <= ?::date
            group by 1 order by 2 desc nulls last, 1 limit 5
            """,
            [rep_ids, run_date, run_date],
        )
        return [{"name": r["name"], "won": fmt.number(r["won"]), "deals": int(r["deals"])} for r in rows]
