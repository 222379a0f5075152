"""Rendering the e-mailed reports: manager report (daily/weekly), rep commission statement, finance
summary, and the data engineers' alerts.

Why the shape: a report is plain data (:class:`Report`) built from the marts and rendered with
Jinja2 templates in ``flows/reports/templates/``, so building, saving and sending are separate steps that
can each be tested. The HTML is e-mail safe (tables, inline styles, no scripts, no external
assets); charts are PNGs rendered with matplotlib's Agg canvas (no display, no pyplot global
state) and referenced by Content-ID, which :func:`flows.reports.emailer.send_report` attaches.
Amounts are read from DuckDB as ``Decimal`` and totals are summed as ``Decimal``.

Sections are built only from marts that exist: the manager report shows the funnel bottleneck,
at-risk customers and top customers when the marts that hold them are in the warehouse, and
leaves the section out (logged) otherwise. Who gets what, and in which language, comes from
``config/recipients.yml`` (:class:`RecipientsConfig`); amounts are formatted per language
(:class:`Fmt`: ``en`` → ``$1,234.56``/``CN¥``, ``zh-CN`` → ``US$1,234.56``/``¥``).
"""

from __future__ import annotations

import base64
import csv
import io
import logging
import re
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import duckdb
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from flows.config.settings import Settings
from flows.quality.quarantine import quarantine_summary
from flows.quality.results import GateResult
from flows.quality.tables import find_table

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
MANAGER_REPORT_KIND = "manager_daily"
MANAGER_WEEKLY_KIND = "manager_weekly"
STATEMENT_KIND = "commission_statement"
FINANCE_KIND = "finance_summary"
ALERT_KIND = "dq_alert"
RUN_FAILED_KIND = "run_failed"
CHART_CID = "attainment_chart"
ON_TRACK, BEHIND, FAR_BEHIND = "#15803d", "#b45309", "#b91c1c"
LANGUAGES = ("en", "zh-CN")
STALE_DAYS = 30  # an open deal not updated for this long (or past its close date) is "stalled"


@dataclass
class Report:
    """One rendered report, ready for :func:`flows.reports.emailer.send_report`."""

    kind: str
    period_key: str
    recipients: list[str]
    subject: str
    html: str
    text: str
    inline_images: dict[str, bytes] = field(default_factory=dict)
    attachments: list[tuple[str, bytes, str]] = field(default_factory=list)
    language: str = "en"


# --- recipients and languages --------------------------------------------------------------------


@dataclass
class RecipientsConfig:
    """``config/recipients.yml``: distribution lists and language per recipient (see the file)."""

    default_language: str = "en"
    language_by_source: dict[str, str] = field(default_factory=dict)
    people: dict[str, dict] = field(default_factory=dict)  # lower-case e-mail -> {language}
    lists: dict[str, list[str]] = field(default_factory=dict)
    statements_cc_manager: bool = False

    def language_for(self, email: str | None, source: str | None = None) -> str:
        person = self.people.get((email or "").lower(), {})
        lang = person.get("language") or self.language_by_source.get(source or "") or self.default_language
        return lang if lang in LANGUAGES else "en"

    def distribution(self, name: str) -> list[str]:
        return list(self.lists.get(name, []))


def load_recipients(settings: Settings) -> RecipientsConfig:
    """Read recipients.yml; a missing file means defaults (language from settings, no lists)."""
    path = settings.recipients_path
    if not path.exists():
        return RecipientsConfig(default_language=settings.report_language)
    raw = yaml.safe_load(path.read_text("utf-8")) or {}
    known = {"defaults", "language_by_source", "people", "lists", "statements"}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)} (expected {sorted(known)})")
    defaults = raw.get("defaults") or {}
    cfg = RecipientsConfig(
        default_language=defaults.get("language", settings.report_language),
        language_by_source=dict(raw.get("language_by_source") or {}),
        people={str(k).lower(): dict(v or {}) for k, v in (raw.get("people") or {}).items()},
        lists={
            str(name): [str(a).strip() for a in (addresses or []) if str(a).strip()]
            for name, addresses in (raw.get("lists") or {}).items()
        },
        statements_cc_manager=bool((raw.get("statements") or {}).get("cc_manager", False)),
    )
    for where, lang in [
        ("defaults.language", cfg.default_language),
        *((f"language_by_source.{k}", v) for k, v in cfg.language_by_source.items()),
        *((f"people.{k}.language", v.get("language")) for k, v in cfg.people.items() if v.get("language")),
    ]:
        if lang not in LANGUAGES:
            raise ValueError(f"{path}: {where}: {lang!r} is not one of {', '.join(LANGUAGES)}")
    return cfg


def alert_recipients(settings: Settings, recipients: RecipientsConfig | None = None) -> list[str]:
    """The data engineers: recipients.yml list ``data_engineers``, else SALESOPS_ALERT_RECIPIENTS."""
    try:
        listed = (recipients or load_recipients(settings)).distribution("data_engineers")
    except (OSError, ValueError, yaml.YAMLError) as exc:  # a broken file must not swallow the alert
        log.error("recipients.yml unreadable, alerting SALESOPS_ALERT_RECIPIENTS: %s", exc)
        listed = []
    return listed or settings.alert_recipient_list


_SYMBOLS = {
    "en": {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "CN¥", "JPY": "¥"},
    "zh-CN": {"USD": "US$", "EUR": "€", "GBP": "£", "CNY": "¥", "JPY": "JP¥"},
}

T = {
    "en": {
        "attainment_title": "{team} — attainment {month}",
        "hello": "Hello {name}, here is your team's month to date as of {as_of} (amounts in {currency}).",
        "hello_weekly": "Hello {name}, here is your team's week ending {as_of}, month to date "
        "(amounts in {currency}).",
        "rep": "Rep",
        "won": "Won",
        "target": "Target",
        "attainment": "Attainment",
        "won_lost": "Won / lost",
        "win_rate": "Win rate",
        "open_pipeline": "Open pipeline",
        "team_total": "Team total",
        "pipeline_title": "Pipeline and coverage",
        "weighted": "Weighted",
        "gap": "Gap to target",
        "coverage": "Coverage",
        "funnel_title": "Funnel — bottleneck: {stage}",
        "stage": "Stage",
        "entered": "Entered",
        "conversion": "Conversion",
        "median_days": "Median days",
        "stalled_title": "Stalled deals",
        "stalled_note": "Open deals past their close date or not updated for {days}+ days.",
        "stalled_note_mart": "Open deals in their stage longer than usual for that stage "
        "(days in stage / usual).",
        "deal": "Deal",
        "amount": "Amount",
        "close_date": "Close date",
        "days_idle": "Days idle",
        "risk_title": "At-risk customers",
        "customer": "Customer",
        "reasons": "Reasons",
        "top_title": "Top customers (won, last 12 months)",
        "deals": "Deals",
        "checks": "Data checks of run {run_id}: {passed} passed, {failed} failed ({critical} critical).",
        "no_checks": "No data-check results recorded.",
        "quarantined": "Held back by data checks and not in these figures ({count}): {items}.",
        "footnote": "Attainment = won amount / target for {month}; win rate = deals won / (won + lost); "
        "coverage = open pipeline / gap to target. Generated by salesops from the nightly load of {as_of}.",
        "subject_daily": "{team}: sales attainment {month}, month to date ({as_of})",
        "subject_weekly": "[weekly] {team}: sales attainment {month}, week ending {as_of}",
        "statement_subject": "Your commission statement {month}",
        "statement_title": "Commission statement — {month}",
        "statement_hello": "Hello {name}, these are your commission lines for {month} "
        "(amounts in {currency}).",
        "tiers_title": "Tiers reached",
        "tier": "Tier",
        "band": "Band",
        "rate": "Rate",
        "base": "Base",
        "commission": "Commission",
        "lines_title": "Lines",
        "adjustments_title": "Adjustments",
        "reason": "Reason",
        "lines_total": "Commission lines",
        "adjustments_total": "Adjustments",
        "payable": "Total payable",
        "statement_footnote": "Questions about a line? Reply to your manager or sales operations. "
        "Each line is base × rate × weight, rounded to the cent.",
        "finance_subject": "Commission summary {month} (payroll export attached)",
        "finance_title": "Commission summary — {month}",
        "finance_hello": "Commissions for {month}, {reps} reps, in {currency}. "
        "The payroll export is attached as CSV and XLSX.",
        "team": "Team",
        "lines": "Lines",
        "by_team": "Totals by team",
        "by_rep": "Totals by rep",
        "grand_total": "Total",
        "none": "none",
    },
    "zh-CN": {
        "attainment_title": "{team} — {month}业绩达成",
        "hello": "{name}，您好：以下是截至 {as_of} 团队本月累计业绩（金额单位 {currency}）。",
        "hello_weekly": "{name}，您好：以下是截至 {as_of} 的周报，本月累计（金额单位 {currency}）。",
        "rep": "销售",
        "won": "赢单金额",
        "target": "目标",
        "attainment": "达成率",
        "won_lost": "赢 / 输",
        "win_rate": "赢单率",
        "open_pipeline": "在途商机",
        "team_total": "团队合计",
        "pipeline_title": "商机与覆盖率",
        "weighted": "加权商机",
        "gap": "距目标差额",
        "coverage": "覆盖倍数",
        "funnel_title": "销售漏斗 — 瓶颈阶段：{stage}",
        "stage": "阶段",
        "entered": "进入数",
        "conversion": "转化率",
        "median_days": "停留天数中位数",
        "stalled_title": "停滞商机",
        "stalled_note": "已过预计成交日或 {days} 天以上未更新的在途商机。",
        "stalled_note_mart": "在当前阶段停留时间超过该阶段通常时长的在途商机（停留天数 / 通常天数）。",
        "deal": "商机",
        "amount": "金额",
        "close_date": "预计成交日",
        "days_idle": "未更新天数",
        "risk_title": "高风险客户",
        "customer": "客户",
        "reasons": "原因",
        "top_title": "重点客户（近 12 个月赢单）",
        "deals": "单数",
        "checks": "运行 {run_id} 的数据校验：通过 {passed} 项，失败 {failed} 项（严重 {critical} 项）。",
        "no_checks": "暂无数据校验结果。",
        "quarantined": "以下 {count} 条记录未通过数据校验，未计入上述数字：{items}。",
        "footnote": "达成率 = {month}赢单金额 / 目标；赢单率 = 赢单数 / (赢单数 + 输单数)；"
        "覆盖倍数 = 在途商机 / 距目标差额。由 salesops 根据 {as_of} 的夜间数据生成。",
        "subject_daily": "{team}：{month}销售达成（截至 {as_of}）",
        "subject_weekly": "[weekly] {team}：{month}销售达成（周报，截至 {as_of}）",
        "statement_subject": "您的 {month} 提成明细",
        "statement_title": "提成明细 — {month}",
        "statement_hello": "{name}，您好：以下是您 {month} 的提成明细（金额单位 {currency}）。",
        "tiers_title": "达到的档位",
        "tier": "档位",
        "band": "区间",
        "rate": "比例",
        "base": "基数",
        "commission": "提成",
        "lines_title": "明细",
        "adjustments_title": "调整",
        "reason": "原因",
        "lines_total": "提成合计",
        "adjustments_total": "调整合计",
        "payable": "应发合计",
        "statement_footnote": "如对明细有疑问，请联系您的经理或销售运营。"
        "每行提成 = 基数 × 比例 × 权重，四舍五入到分。",
        "finance_subject": "{month} 提成汇总（附工资导出文件）",
        "finance_title": "提成汇总 — {month}",
        "finance_hello": "{month} 提成，共 {reps} 名销售，金额单位 {currency}。"
        "工资导出文件以 CSV 和 XLSX 附上。",
        "team": "团队",
        "lines": "行数",
        "by_team": "按团队汇总",
        "by_rep": "按销售汇总",
        "grand_total": "合计",
        "none": "无",
    },
}


@dataclass(frozen=True)
class Fmt:
    """Amounts, percentages, dates and words in one recipient's language."""

    language: str = "en"
    currency: str = "USD"

    def t(self, key: str, **kw: Any) -> str:
        text = T.get(self.language, T["en"]).get(key) or T["en"][key]
        return text.format(**kw) if kw else text

    def number(self, value: Any, decimals: int = 0) -> str:
        """``120,000`` (both languages group by thousands with commas); ``–`` for missing."""
        if value is None:
            return "–"
        quantum = Decimal(1).scaleb(-decimals)
        return f"{_dec(value).quantize(quantum, rounding=ROUND_HALF_UP):,.{decimals}f}"

    def money(self, value: Any, decimals: int = 2) -> str:
        """``$1,234.56`` (en) / ``US$1,234.56`` (zh-CN); ``¥`` is CNY in zh-CN, ``CN¥`` in en."""
        if value is None:
            return "–"
        amount = _dec(value)
        symbol = _SYMBOLS.get(self.language, _SYMBOLS["en"]).get(self.currency, f"{self.currency} ")
        sign = "-" if amount < 0 else ""
        return f"{sign}{symbol}{self.number(abs(amount), decimals)}"

    def pct(self, value: Any) -> str:
        return "–" if value is None else f"{_dec(value) * 100:.1f}%"

    def month(self, d: date) -> str:
        return f"{d.year}年{d.month}月" if self.language == "zh-CN" else d.strftime("%B %Y")


# --- manager report ------------------------------------------------------------------------------


def build_manager_reports(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    run_date: date,
    weekly: bool = False,
    recipients: RecipientsConfig | None = None,
) -> list[Report]:
    """One report per active manager with an e-mail: their reps' month to date for run_date's month.

    A rep is in the team when ``dim_sales_reps.manager_id`` is the manager; reps who left are still
    shown if they have numbers that month. Managers without reps are skipped (logged). ``weekly``
    makes the Monday edition (its own kind and ISO-week period, so it never collides with a daily).
    """
    dim = find_table(conn, "marts.dim_sales_reps")
    scorecard = find_table(conn, "marts.fct_rep_scorecard")
    if dim is None or scorecard is None:
        raise LookupError(
            "marts.dim_sales_reps and marts.fct_rep_scorecard must exist to build manager reports"
        )
    recipients = recipients or load_recipients(settings)
    month = run_date.replace(day=1)
    dim_cols = _columns(conn, dim)
    sc_cols = _columns(conn, scorecard)
    managers = _dicts(
        conn,
        f"""
        select rep_id, rep_name, email, team_name, {_c(dim_cols, "source")} as source
        from {dim}
        where lower(role) = 'manager' and coalesce(is_active, true)
        order by team_name, rep_name
        """,
    )
    context_tables = _SectionSources.discover(conn)
    checks = _checks_footnote(conn)
    held_back = quarantine_summary(conn)  # raw rows the gate keeps out of the marts
    reports = []
    for manager in managers:
        if not manager["email"]:
            log.warning("manager %s (%s) has no e-mail: no report", manager["rep_name"], manager["rep_id"])
            continue
        reps = _dicts(
            conn,
            f"""
            select r.rep_id, r.rep_name, r.email,
                   s.won_amount, s.target_amount, s.attainment, s.deals_won, s.deals_lost, s.win_rate,
                   s.open_pipeline_amount,
                   {_c(sc_cols, "weighted_pipeline_amount", "s")} as weighted_pipeline_amount
            from {dim} as r
            left join {scorecard} as s on s.rep_id = r.rep_id and s.period_month = ?
            where r.manager_id = ? and r.rep_id <> ?
              and (coalesce(r.is_active, true) or s.rep_id is not null)
            order by s.attainment desc nulls last, r.rep_name
            """,
            [month, manager["rep_id"], manager["rep_id"]],
        )
        if not reps:
            log.info("manager %s has no reps: no report", manager["rep_name"])
            continue
        fmt = Fmt(recipients.language_for(manager["email"], manager["source"]), settings.reporting_currency)
        sections = context_tables.sections(conn, [r["rep_id"] for r in reps], run_date, fmt, manager)
        team_ids = {r["rep_id"] for r in reps}
        sections["quarantined"] = [q for q in held_back if q["rep_id"] in team_ids]
        reports.append(_manager_report(fmt, manager, reps, run_date, weekly, sections, checks))
    return reports


def _manager_report(
    fmt: Fmt,
    manager: dict,
    reps: list[dict],
    run_date: date,
    weekly: bool,
    sections: dict,
    checks: dict | None,
) -> Report:
    rows = [_rep_row(r, fmt) for r in reps]
    total = _total_row(reps, fmt)
    team = manager["team_name"] or f"{manager['rep_name']}'s team"
    month_label = fmt.month(run_date)
    as_of = run_date.isoformat()
    subject = fmt.t(
        "subject_weekly" if weekly else "subject_daily", team=team, month=month_label, as_of=as_of
    )
    context = {
        "t": fmt.t,
        "lang": fmt.language,
        "subject": subject,
        "manager_name": manager["rep_name"],
        "team_name": team,
        "month_label": month_label,
        "as_of": as_of,
        "currency": fmt.currency,
        "weekly": weekly,
        "rows": rows,
        "total": total,
        "chart_cid": CHART_CID,
        "checks": checks,
        "stale_days": STALE_DAYS,
        **sections,
    }
    chart = render_attainment_chart(
        [*(_chart_label(r["rep_name"], r["email"]) for r in reps), "Team total"],
        [*(_float(r["attainment"]) for r in reps), _float(total["attainment_raw"])],
    )
    if weekly:
        year, week, _ = run_date.isocalendar()
        kind, period = MANAGER_WEEKLY_KIND, f"{year}-W{week:02d}"
    else:
        kind, period = MANAGER_REPORT_KIND, as_of
    return Report(
        kind=kind,
        period_key=period,
        recipients=[manager["email"]],
        subject=subject,
        html=_env().get_template("manager_report.html").render(**context),
        text=_env().get_template("manager_report.txt").render(**context),
        inline_images={CHART_CID: chart},
        language=fmt.language,
    )


def _rep_row(r: dict, fmt: Fmt) -> dict:
    gap = _gap(r)
    return {
        "rep_name": r["rep_name"] or r["rep_id"],
        "won": fmt.number(r["won_amount"]),
        "target": fmt.number(r["target_amount"]),
        "attainment": fmt.pct(r["attainment"]),
        "color": _color(r["attainment"]),
        "deals_won": int(r["deals_won"] or 0),
        "deals_lost": int(r["deals_lost"] or 0),
        "win_rate": fmt.pct(r["win_rate"]),
        "open_pipeline": fmt.number(r["open_pipeline_amount"]),
        "weighted": fmt.number(r.get("weighted_pipeline_amount")),
        "gap": fmt.number(gap),
        "coverage": _coverage(r["open_pipeline_amount"], gap),
    }


def _gap(r: dict) -> Decimal | None:
    if r["target_amount"] is None:
        return None
    return max(_dec(r["target_amount"]) - _dec(r["won_amount"]), Decimal(0))


def _coverage(open_pipeline: Any, gap: Decimal | None) -> str:
    if gap is None:
        return "–"
    if gap == 0:
        return "✓"
    return f"{_dec(open_pipeline) / gap:.1f}×"


def _total_row(reps: list[dict], fmt: Fmt) -> dict:
    """Team figures recomputed from sums (not averages of the reps' ratios)."""
    won = sum((_dec(r["won_amount"]) for r in reps), Decimal(0))
    target = sum((_dec(r["target_amount"]) for r in reps), Decimal(0))
    deals_won = sum(int(r["deals_won"] or 0) for r in reps)
    deals_lost = sum(int(r["deals_lost"] or 0) for r in reps)
    attainment = won / target if target else None
    open_pipeline = sum((_dec(r["open_pipeline_amount"]) for r in reps), Decimal(0))
    gap = max(target - won, Decimal(0)) if target else None
    return {
        "won": fmt.number(won),
        "target": fmt.number(target),
        "attainment": fmt.pct(attainment),
        "attainment_raw": attainment,
        "color": _color(attainment),
        "deals_won": deals_won,
        "deals_lost": deals_lost,
        "win_rate": fmt.pct(
            Decimal(deals_won) / (deals_won + deals_lost) if deals_won + deals_lost else None
        ),
        "open_pipeline": fmt.number(open_pipeline),
        "weighted": fmt.number(sum((_dec(r.get("weighted_pipeline_amount")) for r in reps), Decimal(0))),
        "gap": fmt.number(gap),
        "coverage": _coverage(open_pipeline, gap),
    }


@dataclass
class _SectionSources:
    """Which optional marts exist (and with which columns) for the manager report's sections."""

    deals: str | None = None
    deal_cols: set[str] = field(default_factory=set)
    funnel: tuple[str, set[str]] | None = None
    stalled: tuple[str, set[str]] | None = None
    risk: tuple[str, set[str]] | None = None
    customers: tuple[str, set[str]] | None = None

    @classmethod
    def discover(cls, conn: duckdb.DuckDBPyConnection) -> _SectionSources:
        src = cls()
        src.deals = find_table(conn, "marts.fct_deals")
        if src.deals:
            src.deal_cols = _columns(conn, src.deals)
        stalled = find_table(conn, "marts.fct_stalled_deals")
        if stalled:
            cols = _columns(conn, stalled)
            if {"deal_name", "rep_id", "stage"} <= cols:
                src.stalled = (stalled, cols)
        funnel = find_table(conn, "marts.fct_funnel")
        if funnel:
            cols = _columns(conn, funnel)
            if _pick(cols, "stage", "stage_name") and _pick(
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
            cols = _columns(conn, table)
            if src.customers is None and _pick(cols, "customer_id", "account_id") and _customer_name(cols):
                src.customers = (table, cols)
            if (
                src.risk is None
                and _pick(cols, "is_high_risk", "is_at_risk", "high_risk")
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
            days = _pick(cols, "days_in_stage", "days_idle")
            usual = _pick(cols, "usual_days_in_stage")
            rows = _dicts(
                conn,
                f"""
                select deal_name, stage, {_c(cols, "amount_reporting")} as amount, close_date,
                       {days or "null"} as days_idle, {usual or "null"} as usual
                from {table} where list_contains(?, rep_id)
                order by {_c(cols, "amount_reporting")} desc nulls last, deal_name limit 10
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
                    "close_date": str(r["close_date"] or "–"),
                    "days_idle": "–" if r["days_idle"] is None else int(r["days_idle"]),
                    "usual": "" if r.get("usual") is None else f" / {fmt.number(r['usual'])}",
                }
                for r in rows
            ],
        }

    def _stalled_from_deals(self, conn, rep_ids, run_date) -> list[dict] | None:
        if not self.deals or not {"is_open", "close_date", "rep_id"} <= self.deal_cols:
            return None
        amount = _c(self.deal_cols, "amount_reporting")
        modified = "cast(modified_at as date)" if "modified_at" in self.deal_cols else "null"
        rows = _dicts(
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
        stage = _pick(cols, "stage", "stage_name")
        conv = _pick(cols, "conversion_rate", "stage_conversion_rate", "conversion")
        entered = _pick(cols, "entered", "deals_entered", "entered_count")
        median = _pick(cols, "median_days_in_stage", "median_days")
        flag = _pick(cols, "is_bottleneck")
        order = _pick(cols, "stage_order", "stage_sort_order", "sort_order")
        period = _pick(cols, "period_month", "period_start", "month")
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
            f"select {stage} as stage, {conv or 'null'} as conversion, {entered or 'null'} as entered, "
            f"{median or 'null'} as median_days, {flag or 'false'} as is_bottleneck from {table}"
            + (f" where {' and '.join(where)}" if where else "")
            + f" order by {order or stage}"
        )
        rows = _dicts(conn, sql, params)
        if not rows:
            return None
        bottleneck = next((r for r in rows if r["is_bottleneck"]), None)
        if bottleneck is None and conv:
            scored = [r for r in rows if r["conversion"] is not None]
            bottleneck = min(scored, key=lambda r: r["conversion"]) if scored else None
        return {
            "bottleneck": bottleneck["stage"] if bottleneck else "–",
            "rows": [
                {
                    "stage": r["stage"],
                    "entered": "–" if r["entered"] is None else fmt.number(r["entered"]),
                    "conversion": fmt.pct(r["conversion"]),
                    "median_days": "–" if r["median_days"] is None else fmt.number(r["median_days"], 1),
                    "is_bottleneck": bottleneck is not None and r["stage"] == bottleneck["stage"],
                }
                for r in rows
            ],
        }

    def _at_risk(self, conn, rep_ids, run_date, fmt, manager) -> list[dict] | None:
        if not self.risk:
            return None
        table, cols = self.risk
        flag = _pick(cols, "is_high_risk", "is_at_risk", "high_risk")
        name = _customer_name(cols)
        reasons = _pick(cols, "risk_reasons", "risk_reason", "reasons")
        owner = _pick(cols, "owner_rep_id", "rep_id", "owner_id")
        where = f"where {flag}" + (f" and list_contains(?, {owner})" if owner else "")
        rows = _dicts(
            conn,
            f"select {name} as name, {reasons or 'null'} as reasons from {table} {where} order by 1 limit 10",
            [rep_ids] if owner else [],
        )
        return [
            {
                "name": r["name"],
                "reasons": ", ".join(r["reasons"])
                if isinstance(r["reasons"], list)
                else (r["reasons"] or ""),
            }
            for r in rows
        ]

    def _top_customers(self, conn, rep_ids, run_date, fmt, manager) -> list[dict] | None:
        if not self.deals or not {"is_won", "account_id", "close_date", "rep_id"} <= self.deal_cols:
            return None
        name_join, name_expr = "", "d.account_id"
        if self.customers:
            table, cols = self.customers
            key, cname = _pick(cols, "customer_id", "account_id"), _customer_name(cols)
            name_join = f"left join {table} as c on c.{key} = d.account_id"
            name_expr = f"coalesce(c.{cname}, d.account_id)"
        rows = _dicts(
            conn,
            f"""
            select {name_expr} as name, sum(d.{_c(self.deal_cols, "amount_reporting")}) as won,
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
    return _pick(cols, "customer_name", "account_name")


def _checks_footnote(conn: duckdb.DuckDBPyConnection) -> dict | None:
    """The last gate run's counts, for the footnote (None when no results are recorded)."""
    if find_table(conn, "ops.validation_results") is None:
        return None
    row = conn.execute(
        """
        with last as (select run_id from ops.validation_results order by checked_at desc limit 1)
        select v.run_id, count(*) filter (where success), count(*) filter (where not success),
               count(*) filter (where not success and severity = 'critical')
        from ops.validation_results v join last using (run_id) group by v.run_id
        """
    ).fetchone()
    if row is None:
        return None
    return {"run_id": row[0], "passed": row[1], "failed": row[2], "critical": row[3]}


def render_attainment_chart(labels: list[str], attainments: list[float | None]) -> bytes:
    """Horizontal bars of attainment % per rep (and the team) with the 100% line; PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = [0.0 if a is None else a * 100 for a in attainments]
    fig = Figure(figsize=(6.0, 0.38 * len(labels) + 1.1), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    positions = list(range(len(labels)))[::-1]  # first rep on top
    colors = [_color(None if a is None else a) for a in attainments]
    ax.barh(positions, values, color=colors, height=0.6)
    ax.axvline(100, color="#374151", linewidth=1, linestyle="--")
    ax.set_yticks(positions, labels, fontsize=9)
    ax.set_xlabel("attainment %", fontsize=9)
    ax.set_xlim(0, max([*values, 100.0]) * 1.15)
    for pos, value, raw in zip(positions, values, attainments, strict=True):
        ax.text(value + 1, pos, "n/a" if raw is None else f"{value:.0f}%", va="center", fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _chart_label(name: str | None, email: str | None) -> str:
    """Chinese names without a CJK font falls back to the e-mail's local part."""
    if name and (name.isascii() or _has_cjk_font()):
        return name
    return (email or "").split("@")[0] or (name or "?")


def _has_cjk_font() -> bool:
    from matplotlib import font_manager

    return any(
        any(k in f.name for k in ("CJK", "WenQuanYi", "Heiti", "SimHei", "YaHei", "PingFang"))
        for f in font_manager.fontManager.ttflist
    )


# --- commission statements and the finance summary ----------------------------------------------


def _commission_sources(conn: duckdb.DuckDBPyConnection) -> tuple[str, str, str | None, tuple | None]:
    commissions = find_table(conn, "marts.fct_commissions")
    dim = find_table(conn, "marts.dim_sales_reps")
    if commissions is None or dim is None:
        raise LookupError("marts.fct_commissions and marts.dim_sales_reps must exist for commission reports")
    deals = find_table(conn, "marts.fct_deals")
    adjustments = None
    table = find_table(conn, "marts.fct_commission_adjustments")
    if table:
        cols = _columns(conn, table)
        amount = _pick(cols, "adjustment_amount", "amount")
        if {"rep_id", "period_month"} <= cols and amount:
            adjustments = (table, amount, _pick(cols, "reason", "description", "adjustment_reason"))
    return commissions, dim, deals, adjustments


def _adjustments(conn, adjustments: tuple | None, month: date, rep_id: str | None = None) -> list[dict]:
    if not adjustments:
        return []
    table, amount, reason = adjustments
    sql = (
        f"select rep_id, {amount} as amount, {reason or 'null'} as reason from {table} where period_month = ?"
    )
    params: list = [month]
    if rep_id:
        sql += " and rep_id = ?"
        params.append(rep_id)
    return _dicts(conn, sql + " order by rep_id, 2", params)


def build_commission_statements(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    month: date,
    rep: str | None = None,
    recipients: RecipientsConfig | None = None,
) -> list[Report]:
    """One statement per rep with commission lines (or adjustments) in ``month``, only to that rep.

    ``recipients.yml`` ``statements.cc_manager: true`` adds the rep's manager as a second recipient
    of the same statement. ``rep`` (rep id or e-mail) limits it to one rep (preview).
    """
    month = month.replace(day=1)
    recipients = recipients or load_recipients(settings)
    commissions, dim, deals, adjustments = _commission_sources(conn)
    dim_cols = _columns(conn, dim)
    adjusted = (
        f"or r.rep_id in (select rep_id from {adjustments[0]} where period_month = ?)" if adjustments else ""
    )
    reps = _dicts(
        conn,
        f"""
        select r.rep_id, r.rep_name, r.email, r.team_name, r.manager_email,
               {_c(dim_cols, "source", "r")} as source
        from {dim} as r
        where r.rep_id in (select rep_id from {commissions} where period_month = ?)
           {adjusted}
        order by r.team_name, r.rep_name
        """,
        [month, month] if adjustments else [month],
    )
    if rep:
        reps = [r for r in reps if rep.lower() in (r["rep_id"].lower(), (r["email"] or "").lower())]
    commission_cols = _columns(conn, commissions)
    base_line = "c.line_type = 'commission'" if "line_type" in commission_cols else "true"
    deal_name = "coalesce(d.deal_name, c.deal_id)" if deals else "c.deal_id"
    deal_join = f"left join {deals} as d on d.deal_id = c.deal_id" if deals else ""
    out = []
    for r in reps:
        if not r["email"]:
            log.warning("rep %s (%s) has no e-mail: no commission statement", r["rep_name"], r["rep_id"])
            continue
        fmt = Fmt(recipients.language_for(r["email"], r["source"]), settings.reporting_currency)
        lines = _dicts(
            conn,
            f"""
            select c.commission_line_id, {deal_name} as deal, c.close_date, c.component, c.tier_number,
                   c.band_lower, c.band_upper, c.rate, c.base_amount, c.commission_amount
            from {commissions} as c {deal_join}
            where c.rep_id = ? and c.period_month = ? and {base_line}
            order by c.close_date, c.commission_line_id
            """,
            [r["rep_id"], month],
        )
        tiers = _dicts(
            conn,
            f"""
            select component, tier_number, min(band_lower) as band_lower, max(band_upper) as band_upper,
                   max(rate) as rate, sum(base_amount) as base, sum(commission_amount) as commission
            from {commissions} as c where rep_id = ? and period_month = ? and {base_line}
            group by component, tier_number order by component, tier_number
            """,
            [r["rep_id"], month],
        )
        # bonus, cap, clawback, prior-period adjustment and draw lines of the ledger are adjustments
        adj = (
            []
            if base_line == "true"
            else _dicts(
                conn,
                f"""
            select c.commission_amount as amount,
                   c.line_type || coalesce(': ' || {_c(commission_cols, "explanation", "c")}, '') as reason
            from {commissions} as c where c.rep_id = ? and c.period_month = ? and not {base_line}
            order by c.line_type, c.commission_line_id
            """,
                [r["rep_id"], month],
            )
        )
        adj += _adjustments(conn, adjustments, month, r["rep_id"])
        lines_total = sum((_dec(x["commission_amount"]) for x in lines), Decimal(0))
        adj_total = sum((_dec(a["amount"]) for a in adj), Decimal(0))
        month_label = fmt.month(month)
        context = {
            "t": fmt.t,
            "lang": fmt.language,
            "subject": fmt.t("statement_subject", month=month_label),
            "rep_name": r["rep_name"] or r["rep_id"],
            "month_label": month_label,
            "currency": fmt.currency,
            "lines": [
                {
                    "deal": x["deal"],
                    "close_date": str(x["close_date"]),
                    "tier": x["tier_number"],
                    "rate": fmt.pct(x["rate"]),
                    "base": fmt.money(x["base_amount"]),
                    "commission": fmt.money(x["commission_amount"]),
                }
                for x in lines
            ],
            "tiers": [
                {
                    "component": x["component"],
                    "tier": x["tier_number"],
                    "band": _band(fmt, x["band_lower"], x["band_upper"]),
                    "rate": fmt.pct(x["rate"]),
                    "base": fmt.money(x["base"]),
                    "commission": fmt.money(x["commission"]),
                }
                for x in tiers
            ],
            "adjustments": [{"amount": fmt.money(a["amount"]), "reason": a["reason"] or ""} for a in adj],
            "lines_total": fmt.money(lines_total),
            "adjustments_total": fmt.money(adj_total),
            "payable": fmt.money(lines_total + adj_total),
        }
        to = [r["email"]]
        if recipients.statements_cc_manager and r["manager_email"]:
            to.append(r["manager_email"])
        out.append(
            Report(
                kind=STATEMENT_KIND,
                period_key=f"{month:%Y-%m}:{r['rep_id']}",
                recipients=to,
                subject=context["subject"],
                html=_env().get_template("statement.html").render(**context),
                text=_env().get_template("statement.txt").render(**context),
                language=fmt.language,
            )
        )
    return out


def _band(fmt: Fmt, lower: Any, upper: Any) -> str:
    return f"{fmt.pct(lower)} – {fmt.pct(upper) if upper is not None else '∞'}"


PAYROLL_COLUMNS = [
    "period_month", "rep_id", "rep_name", "email", "team_name", "lines", "base_amount",
    "commission_amount", "adjustment_amount", "payable_amount", "currency",
]  # fmt: skip


def payroll_rows(conn: duckdb.DuckDBPyConnection, settings: Settings, month: date) -> list[dict]:
    """One row per rep: what payroll pays for ``month`` (commission lines + adjustments)."""
    month = month.replace(day=1)
    commissions, dim, _, adjustments = _commission_sources(conn)
    base_line = "c.line_type = 'commission'" if "line_type" in _columns(conn, commissions) else "true"
    rows = _dicts(
        conn,
        f"""
        select c.rep_id, r.rep_name, r.email, r.team_name, count(*) as lines,
               sum(c.base_amount) filter (where {base_line}) as base_amount,
               sum(c.commission_amount) filter (where {base_line}) as commission_amount,
               coalesce(sum(c.commission_amount) filter (where not {base_line}), 0) as other_amount
        from {commissions} as c left join {dim} as r using (rep_id)
        where c.period_month = ?
        group by all order by r.team_name, r.rep_name, c.rep_id
        """,
        [month],
    )
    adj: dict[str, Decimal] = {}
    for a in _adjustments(conn, adjustments, month):
        adj[a["rep_id"]] = adj.get(a["rep_id"], Decimal(0)) + _dec(a["amount"])
    out = []
    for r in rows:
        extra = adj.pop(r["rep_id"], Decimal(0)) + _dec(r["other_amount"])
        out.append(
            {
                "period_month": month.isoformat(),
                **{k: r[k] for k in ("rep_id", "rep_name", "email", "team_name")},
                "lines": int(r["lines"]),
                "base_amount": _dec(r["base_amount"]),
                "commission_amount": _dec(r["commission_amount"]),
                "adjustment_amount": extra,
                "payable_amount": _dec(r["commission_amount"]) + extra,
                "currency": settings.reporting_currency,
            }
        )
    for rep_id, extra in adj.items():  # adjustments for reps without lines
        out.append(
            {
                "period_month": month.isoformat(),
                "rep_id": rep_id,
                "rep_name": None,
                "email": None,
                "team_name": None,
                "lines": 0,
                "base_amount": Decimal(0),
                "commission_amount": Decimal(0),
                "adjustment_amount": extra,
                "payable_amount": extra,
                "currency": settings.reporting_currency,
            }
        )
    return out


def payroll_csv(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PAYROLL_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r[k] is None else str(r[k])) for k in PAYROLL_COLUMNS})
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 (Chinese names)


def payroll_xlsx(rows: list[dict], lines: list[dict]) -> bytes:
    """Sheet ``payroll`` (one row per rep) and sheet ``lines`` (every commission line)."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "payroll"
    ws.append(PAYROLL_COLUMNS)
    for r in rows:
        ws.append([r[k] for k in PAYROLL_COLUMNS])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, Decimal):
                cell.number_format = "#,##0.00"
    detail = wb.create_sheet("lines")
    if lines:
        names = list(lines[0])
        detail.append(names)
        for line in lines:
            detail.append([str(v) if isinstance(v, date) else v for v in line.values()])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def build_finance_summary(
    conn: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    month: date,
    recipients: RecipientsConfig | None = None,
    to: list[str] | None = None,
) -> list[Report]:
    """Totals per rep and team for ``month`` with the payroll export attached (CSV + XLSX).

    Goes to the ``finance`` list of recipients.yml (or ``to``); one report per language among them.
    """
    month = month.replace(day=1)
    recipients = recipients or load_recipients(settings)
    addresses = list(to) if to is not None else recipients.distribution("finance")
    if not addresses:
        log.warning("no finance recipients (recipients.yml lists.finance): no finance summary")
        return []
    commissions, *_ = _commission_sources(conn)
    rows = payroll_rows(conn, settings, month)
    lines = _dicts(
        conn,
        f"select * from {commissions} where period_month = ? order by rep_id, commission_line_id",
        [month],
    )
    attachments = [
        (f"payroll_{month:%Y-%m}.csv", payroll_csv(rows), "text/csv"),
        (
            f"payroll_{month:%Y-%m}.xlsx",
            payroll_xlsx(rows, lines),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ]
    teams: dict[str, dict[str, Decimal]] = {}
    for r in rows:
        team = teams.setdefault(
            r["team_name"] or "–",
            {"commission": Decimal(0), "adjustment": Decimal(0), "payable": Decimal(0), "reps": Decimal(0)},
        )
        team["commission"] += r["commission_amount"]
        team["adjustment"] += r["adjustment_amount"]
        team["payable"] += r["payable_amount"]
        team["reps"] += 1
    by_language: dict[str, list[str]] = {}
    for address in addresses:
        by_language.setdefault(recipients.language_for(address), []).append(address)
    out = []
    for language, group in by_language.items():
        fmt = Fmt(language, settings.reporting_currency)
        month_label = fmt.month(month)
        context = {
            "t": fmt.t,
            "lang": language,
            "subject": fmt.t("finance_subject", month=month_label),
            "month_label": month_label,
            "currency": fmt.currency,
            "rep_count": len(rows),
            "reps": [
                {
                    "rep_name": r["rep_name"] or r["rep_id"],
                    "team": r["team_name"] or "–",
                    "lines": r["lines"],
                    "commission": fmt.money(r["commission_amount"]),
                    "adjustment": fmt.money(r["adjustment_amount"]),
                    "payable": fmt.money(r["payable_amount"]),
                }
                for r in rows
            ],
            "teams": [
                {
                    "team": name,
                    "reps": int(v["reps"]),
                    "commission": fmt.money(v["commission"]),
                    "adjustment": fmt.money(v["adjustment"]),
                    "payable": fmt.money(v["payable"]),
                }
                for name, v in sorted(teams.items())
            ],
            "total": {
                "commission": fmt.money(sum((r["commission_amount"] for r in rows), Decimal(0))),
                "adjustment": fmt.money(sum((r["adjustment_amount"] for r in rows), Decimal(0))),
                "payable": fmt.money(sum((r["payable_amount"] for r in rows), Decimal(0))),
            },
        }
        out.append(
            Report(
                kind=FINANCE_KIND,
                period_key=f"{month:%Y-%m}",
                recipients=group,
                subject=context["subject"],
                html=_env().get_template("finance_summary.html").render(**context),
                text=_env().get_template("finance_summary.txt").render(**context),
                attachments=attachments,
                language=language,
            )
        )
    return out


# --- data-quality alert --------------------------------------------------------------------------


def build_alert_report(
    conn: duckdb.DuckDBPyConnection | None,
    settings: Settings,
    *,
    gate: GateResult,
    run_date: date | None = None,
    run_id: str | None = None,
    recipients: list[str] | None = None,
) -> Report:
    """The data engineer's alert: failed checks (critical first) with offending examples.

    ``period_key`` is the run id, so a re-run of the same night alerts again only when forced.
    Without ``recipients`` it goes to the pipeline's own address (``settings.mail_from``).
    ``conn`` is accepted for symmetry with the other builders.
    """
    import json

    def row(r: Any) -> dict:
        return {
            "suite": r.suite,
            "label": r.label,
            "column": r.column,
            "observed": _clip(
                r.observed_value
                if isinstance(r.observed_value, str)
                else json.dumps(r.observed_value, ensure_ascii=False, default=str)
            ),
            "unexpected_count": r.unexpected_count,
            "examples": _clip(json.dumps(r.unexpected_examples, ensure_ascii=False, default=str), 300),
        }

    run_id = run_id or gate.run_id
    status = "FAILED" if not gate.success else "warnings"
    day = f" {run_date.isoformat()}" if run_date else ""
    subject = f"[salesops] data quality gate {status}{day}: run {run_id}"
    context = {
        "subject": subject,
        "run_id": run_id,
        "success": gate.success,
        "total": len(gate.results),
        "critical": [row(r) for r in gate.critical_failures],
        "warnings": [row(r) for r in gate.warnings],
        "data_docs_path": str(gate.data_docs_path) if gate.data_docs_path else None,
        "summary_markdown": gate.summary_markdown(),
    }
    return Report(
        kind=ALERT_KIND,
        period_key=run_id,
        recipients=list(recipients) if recipients else [parseaddr(settings.mail_from)[1]],
        subject=subject,
        html=_env().get_template("alert.html").render(**context),
        text=_env().get_template("alert.txt").render(**context),
    )


def build_run_failed_alert(
    settings: Settings, *, flow: str, run_id: str, run_date: date | None, error: str, recipients: list[str]
) -> Report:
    """The data engineers' alert for a run that failed outside the data gate (ingest, dbt, publish…)."""
    day = f" {run_date.isoformat()}" if run_date else ""
    subject = f"[salesops] {flow} run FAILED{day}: run {run_id}"
    context = {
        "subject": subject,
        "flow": flow,
        "run_id": run_id,
        "run_date": run_date,
        "error": error,
        "published": str(settings.published_warehouse_path),
    }
    return Report(
        kind=RUN_FAILED_KIND,
        period_key=run_id,
        recipients=list(recipients) or [parseaddr(settings.mail_from)[1]],
        subject=subject,
        html=_env().get_template("run_failed.html").render(**context),
        text=_env().get_template("run_failed.txt").render(**context),
    )


# --- saving --------------------------------------------------------------------------------------


def report_html_for_browser(report: Report) -> str:
    """The HTML with ``cid:`` images replaced by data URIs, so a browser shows the charts."""
    html = report.html
    for cid, data in report.inline_images.items():
        uri = f"data:image/png;base64,{base64.b64encode(data).decode()}"
        html = html.replace(f"cid:{cid}", uri)
    return html


def write_report_html(report: Report, settings: Settings, *, prefix: str = "") -> Path:
    """Save the HTML under ``reports_dir`` as ``<kind>_<period>_<recipient>.html``.

    Inline images are embedded as data URIs so the saved file shows the chart in a browser.
    """
    who = report.recipients[0] if len(report.recipients) == 1 else f"{len(report.recipients)}-recipients"
    name = "_".join(re.sub(r"[^A-Za-z0-9@.+_-]", "-", part) for part in (report.kind, report.period_key, who))
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    path = settings.reports_dir / f"{prefix}{name}.html"
    path.write_text(report_html_for_browser(report), encoding="utf-8")
    return path


def previous_month(run_date: date) -> date:
    """The month a monthly run on ``run_date`` closes: the one before run_date's month."""
    return (run_date.replace(day=1) - timedelta(days=1)).replace(day=1)


# --- helpers -------------------------------------------------------------------------------------


def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )


def _dicts(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = conn.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {d[0].lower() for d in conn.execute(f"select * from {table} limit 0").description}


def _pick(cols: set[str], *names: str) -> str | None:
    return next((n for n in names if n in cols), None)


def _c(cols: set[str], name: str, alias: str | None = None) -> str:
    """``alias.name`` when the column exists, else ``null`` (marts are being reshaped in parallel)."""
    return (f"{alias}.{name}" if alias else name) if name in cols else "null"


def _dec(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _money(value: Any) -> str:
    return Fmt().number(value)


def _pct(value: Any) -> str:
    return Fmt().pct(value)


def _color(attainment: Any) -> str:
    if attainment is None:
        return "#6b7280"
    value = float(attainment)
    return ON_TRACK if value >= 1 else BEHIND if value >= 0.7 else FAR_BEHIND


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
