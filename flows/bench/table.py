"""The benchmark's result table: one row per measurement, written as Markdown and JSON.

A row holds the pipeline's side and its baseline's side (wall, CPU, peak RSS each), one figure
in words, and a ratio with what it means. A measurement that failed keeps its row with the
error, so one failure never hides the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.bench.isolation import Side


@dataclass
class Row:
    measurement: str
    pipeline: Side | None = None
    baseline: Side | None = None
    figure: str = ""
    ratio: float | None = None
    ratio_means: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "measurement": self.measurement,
            "pipeline": self.pipeline.as_dict() if self.pipeline else None,
            "baseline": self.baseline.as_dict() if self.baseline else None,
            "figure": self.figure,
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "ratio_means": self.ratio_means,
            "details": self.details,
            "error": self.error,
        }


def _cost(side: Side | None) -> str:
    if side is None or side.wall_s is None:
        return "—"
    rss = f", {side.peak_rss_mib:,.0f} MiB" if side.peak_rss_mib is not None else ""
    return f"{side.label}: {side.wall_s:,.1f} s wall / {side.cpu_s:,.1f} s CPU{rss}"


def markdown(title: str, facts: dict[str, Any], rows: list[Row]) -> str:
    lines = [f"# {title}", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines += [
        "",
        "| measurement | pipeline | baseline | figure | ratio |",
        "|---|---|---|---|---:|",
    ]
    for r in rows:
        if r.error:
            lines.append(f"| {r.measurement} | FAILED | — | {_escape(r.error)[:300]} | — |")
            continue
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}× ({r.ratio_means})"
        lines.append(
            f"| {r.measurement} | {_cost(r.pipeline)} | {_cost(r.baseline)} | {_escape(r.figure)} | {ratio} |"
        )
    calls = next((r.details.get("api_calls") for r in rows if r.details.get("api_calls")), None)
    if calls:
        lines += ["", "API calls per object (first load) vs the minimum (one call per full page):", ""]
        lines += [
            "| source | object | records received | calls | minimum | calls ÷ minimum |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for c in calls:
            lines.append(
                f"| {c['source']} | {c['object']} | {c['records']:,} | {c['calls']:,} | {c['minimum']:,} | "
                f"{c['calls'] / c['minimum']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write(
    directory: Path, stamp: str, title: str, facts: dict[str, Any], rows: list[Row]
) -> tuple[Path, Path]:
    """``bench-<stamp>.md`` and ``.json`` under ``directory``; both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    md = directory / f"bench-{stamp}.md"
    js = directory / f"bench-{stamp}.json"
    md.write_text(markdown(title, facts, rows))
    js.write_text(
        json.dumps(
            {"title": title, "facts": facts, "rows": [r.as_dict() for r in rows]}, indent=2, default=str
        )
    )
    return md, js
