"""The template context the daily and the weekly manager report share.

Both reports greet the same manager, show the same month-to-date table and the same data-gate
footnote (templates/_sections.html and _sections.txt), so the names those parts read are built here
once; each report adds only its own sections (pipeline and chart for the daily, the week's closes and
pipeline movement for the weekly).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flows.reports.formatting import Fmt
from flows.reports.manager_figures import pipeline_total, team_label, total_row


def manager_context(
    fmt: Fmt,
    manager: dict,
    as_of: date,
    *,
    subject_key: str,
    rows: list[dict],
    team_figs: dict,
    checks: dict | None,
    **extra_words: Any,
) -> dict[str, Any]:
    """The shared context of one manager's report as of ``as_of``: greeting words and subject (from
    the ``subject_key`` text, with ``extra_words`` such as the week's number), the rep rows, the team
    total and pipeline total from ``team_figs``, and the gate's ``checks``."""
    team = team_label(manager)
    month_label = fmt.month(as_of)
    words = {"team": team, "month": month_label, "as_of": fmt.full_date(as_of), **extra_words}
    subject = fmt.t(subject_key, **words)
    return {
        "t": fmt.t,
        "lang": fmt.language,
        "subject": subject,
        "manager_name": manager["rep_name"],
        "team_name": team,
        "month_label": month_label,
        "as_of": words["as_of"],
        "words": words,
        "currency": fmt.currency,
        "rows": rows,
        "total": total_row(team_figs, fmt),
        "pipeline_total": pipeline_total(team_figs, fmt),
        "checks": checks,
    }
