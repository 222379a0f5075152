"""Rendering the e-mailed reports: the daily manager attainment report and the data-quality alert.

Why the shape: a report is plain data (:class:`Report`) built from the marts and rendered with
Jinja2 templates in ``flows/templates/``, so building, saving and sending are separate steps that
can each be tested. The HTML is e-mail safe (tables, inline styles, no scripts, no external
assets); the chart is a PNG rendered with matplotlib's Agg canvas (no display, no pyplot global
state) and referenced by Content-ID, which :func:`flows.emailer.send_report` attaches.
Amounts are read from DuckDB as ``Decimal`` and totals are summed as ``Decimal``.
"""

from __future__ import annotations

import base64
import io
import logging
import re
import warnings
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import duckdb
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from flows.checks import GateResult, find_table
from flows.settings import Settings

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
MANAGER_REPORT_KIND = "manager_daily"
ALERT_KIND = "dq_alert"
CHART_CID = "attainment_chart"
ON_TRACK, BEHIND, FAR_BEHIND = "#15803d", "#b45309", "#b91c1c"


@dataclass
class Report:
    """One rendered report, ready for :func:`flows.emailer.send_report`."""

    kind: str
    period_key: str
    recipients: list[str]
    subject: str
    html: str
    text: str
    inline_images: dict[str, bytes] = field(default_factory=dict)


# --- manager report ------------------------------------------------------------------------------


def build_manager_reports(
    conn: duckdb.DuckDBPyConnection, settings: Settings, *, run_date: date
) -> list[Report]:
    """One report per active manager with an e-mail: their reps' month to date for run_date's month.

    A rep is in the team when ``dim_sales_reps.manager_id`` is the manager; reps who left are still
    shown if they have numbers that month. Managers without reps are skipped (logged).
    """
    dim = find_table(conn, "marts.dim_sales_reps")
    scorecard = find_table(conn, "marts.fct_rep_scorecard")
    if dim is None or scorecard is None:
        raise LookupError(
            "marts.dim_sales_reps and marts.fct_rep_scorecard must exist to build manager reports"
        )
    month = run_date.replace(day=1)
    managers = _dicts(
        conn,
        f"""
        select rep_id, rep_name, email, team_name
        from {dim}
        where lower(role) = 'manager' and coalesce(is_active, true)
        order by team_name, rep_name
        """,
    )
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
                   s.open_pipeline_amount
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
        reports.append(_manager_report(settings, manager, reps, run_date))
    return reports


def _manager_report(settings: Settings, manager: dict, reps: list[dict], run_date: date) -> Report:
    rows = [_rep_row(r) for r in reps]
    total = _total_row(reps)
    team = manager["team_name"] or f"{manager['rep_name']}'s team"
    month_label = run_date.strftime("%B %Y")
    context = {
        "manager_name": manager["rep_name"],
        "team_name": team,
        "month_label": month_label,
        "as_of": run_date.isoformat(),
        "currency": settings.reporting_currency,
        "rows": rows,
        "total": total,
        "chart_cid": CHART_CID,
    }
    subject = f"{team}: sales attainment {month_label}, month to date ({run_date.isoformat()})"
    context["subject"] = subject
    chart = render_attainment_chart(
        [_chart_label(r["rep_name"], r["email"]) for r in reps], [_float(r["attainment"]) for r in reps]
    )
    return Report(
        kind=MANAGER_REPORT_KIND,
        period_key=run_date.isoformat(),
        recipients=[manager["email"]],
        subject=subject,
        html=_env().get_template("manager_report.html").render(**context),
        text=_env().get_template("manager_report.txt").render(**context),
        inline_images={CHART_CID: chart},
    )


def _rep_row(r: dict) -> dict:
    return {
        "rep_name": r["rep_name"] or r["rep_id"],
        "won": _money(r["won_amount"]),
        "target": _money(r["target_amount"]),
        "attainment": _pct(r["attainment"]),
        "color": _color(r["attainment"]),
        "deals_won": int(r["deals_won"] or 0),
        "deals_lost": int(r["deals_lost"] or 0),
        "win_rate": _pct(r["win_rate"]),
        "open_pipeline": _money(r["open_pipeline_amount"]),
    }


def _total_row(reps: list[dict]) -> dict:
    """Team figures recomputed from sums (not averages of the reps' ratios)."""
    won = sum((_dec(r["won_amount"]) for r in reps), Decimal(0))
    target = sum((_dec(r["target_amount"]) for r in reps), Decimal(0))
    deals_won = sum(int(r["deals_won"] or 0) for r in reps)
    deals_lost = sum(int(r["deals_lost"] or 0) for r in reps)
    attainment = won / target if target else None
    return {
        "won": _money(won),
        "target": _money(target),
        "attainment": _pct(attainment),
        "color": _color(attainment),
        "deals_won": deals_won,
        "deals_lost": deals_lost,
        "win_rate": _pct(Decimal(deals_won) / (deals_won + deals_lost) if deals_won + deals_lost else None),
        "open_pipeline": _money(sum((_dec(r["open_pipeline_amount"]) for r in reps), Decimal(0))),
    }


def render_attainment_chart(labels: list[str], attainments: list[float | None]) -> bytes:
    """Horizontal bars of attainment % per rep with the 100% line; PNG bytes."""
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
    Without ``recipients`` it goes to the pipeline's own address (``settings.mail_from``): there is
    no alert-recipient setting yet. ``conn`` is accepted for symmetry with the other builders.
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


# --- saving --------------------------------------------------------------------------------------


def write_report_html(report: Report, settings: Settings) -> Path:
    """Save the HTML under ``reports_dir`` as ``<kind>_<period>_<recipient>.html``.

    Inline images are embedded as data URIs so the saved file shows the chart in a browser.
    """
    html = report.html
    for cid, data in report.inline_images.items():
        uri = f"data:image/png;base64,{base64.b64encode(data).decode()}"
        html = html.replace(f"cid:{cid}", uri)
    who = report.recipients[0] if len(report.recipients) == 1 else f"{len(report.recipients)}-recipients"
    name = "_".join(re.sub(r"[^A-Za-z0-9@.+_-]", "-", part) for part in (report.kind, report.period_key, who))
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    path = settings.reports_dir / f"{name}.html"
    path.write_text(html, encoding="utf-8")
    return path


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


def _dec(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _money(value: Any) -> str:
    return "–" if value is None else f"{_dec(value):,.0f}"


def _pct(value: Any) -> str:
    return "–" if value is None else f"{_dec(value) * 100:.1f}%"


def _color(attainment: Any) -> str:
    if attainment is None:
        return "#6b7280"
    value = float(attainment)
    return ON_TRACK if value >= 1 else BEHIND if value >= 0.7 else FAR_BEHIND


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
