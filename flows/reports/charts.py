"""The manager report's attainment chart: a PNG drawn with matplotlib's Agg canvas.

No display and no pyplot global state, so charts can be drawn from any thread; the e-mail references
the PNG by Content-ID.
"""

from __future__ import annotations

import io
import warnings

from flows.reports.formatting import attainment_color


def render_attainment_chart(labels: list[str], attainments: list[float | None]) -> bytes:
    """Horizontal bars of attainment % per rep (and the team) with the 100% line; PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = [0.0 if a is None else a * 100 for a in attainments]
    fig = Figure(figsize=(6.0, 0.38 * len(labels) + 1.1), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    positions = list(range(len(labels)))[::-1]  # first rep on top
    colors = [attainment_color(None if a is None else a) for a in attainments]
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


def chart_label(name: str | None, email: str | None) -> str:
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
