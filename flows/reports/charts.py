"""The manager report's attainment chart: a PNG drawn with matplotlib's Agg canvas.

No display and no pyplot global state, so charts can be drawn from any thread; the e-mail references
the PNG by Content-ID. Every text of the chart is drawn with :func:`font_families`: matplotlib's
default font first and the CJK fonts found on the machine as fallbacks (``make`` installs Debian's
``fonts-wqy-microhei``), so Chinese rep names show as glyphs, not boxes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache

from flows.reports.formatting import Fmt, attainment_color

#: CJK families matplotlib can fall back to, in order of preference (Linux, then macOS / Windows).
CJK_FAMILIES = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans CJK JP",
    "WenQuanYi Zen Hei",
    "PingFang SC",
    "Microsoft YaHei",
    "SimHei",
)
PACE_MARK_COLOR = "#111827"


def render_attainment_chart(
    labels: list[str],
    attainments: list[float | None],
    *,
    expected: Sequence[float | None] | None = None,
    colors: Sequence[str] | None = None,
    fmt: Fmt | None = None,
) -> bytes:
    """Horizontal bars of attainment % per rep (and the team) with the 100% line; PNG bytes.

    ``expected`` is the share of each bar's target due by the report date: a black tick marks it, so
    a bar past its tick is ahead of pace. ``colors`` default to the attainment colours.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fmt = fmt or Fmt()
    font = {"family": list(font_families())}
    values = [0.0 if a is None else a * 100 for a in attainments]
    fig = Figure(figsize=(6.0, 0.38 * len(labels) + 1.1), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    positions = list(range(len(labels)))[::-1]  # first rep on top
    bar_colors = list(colors) if colors else [attainment_color(a) for a in attainments]
    ax.barh(positions, values, color=bar_colors, height=0.6)
    ax.axvline(100, color="#374151", linewidth=1, linestyle="--")
    marks = [(p, e * 100) for p, e in zip(positions, expected or [], strict=False) if e is not None]
    if marks:
        ax.scatter([m[1] for m in marks], [m[0] for m in marks], marker="|", s=260, linewidths=2.5,
                   color=PACE_MARK_COLOR, zorder=3, label=fmt.t("chart_pace"))  # fmt: skip
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, prop={**font, "size": 8})
    ax.set_yticks(positions, labels, fontsize=9, **font)
    ax.set_xlabel(fmt.t("chart_xlabel"), fontsize=9, **font)
    ax.set_xlim(0, max([*values, *(m[1] for m in marks), 100.0]) * 1.15)
    for pos, value, raw in zip(positions, values, attainments, strict=True):
        text = fmt.t("chart_na") if raw is None else fmt.pct(raw)
        ax.text(value + 1, pos, text, va="center", fontsize=8, **font)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def chart_label(name: str | None, email: str | None) -> str:
    """The rep's name; a name that needs CJK glyphs falls back to the e-mail's local part when the
    machine has no CJK font (a box per character would say nothing)."""
    if name and (name.isascii() or cjk_families()):
        return name
    return (email or "").split("@")[0] or (name or "?")


def chart_fmt(fmt: Fmt) -> Fmt:
    """The words of the chart: the reader's, or English when they need CJK glyphs and no CJK font is
    installed (English words rather than boxes)."""
    if fmt.t("chart_xlabel").isascii() or cjk_families():
        return fmt
    return Fmt("en", fmt.currency)


def font_families() -> tuple[str, ...]:
    """matplotlib's default sans-serif font, then the CJK fallbacks found."""
    from matplotlib import rcParams

    return (rcParams["font.sans-serif"][0], *cjk_families())


@cache
def cjk_families() -> tuple[str, ...]:
    """The :data:`CJK_FAMILIES` matplotlib can use here, best first (empty without a CJK font).

    matplotlib caches its font list once per version, so a font installed later (``make`` on a
    machine that has drawn charts before) is missing from it: the system's font files that are not
    in the list are then added to it.
    """
    from matplotlib import font_manager

    manager = font_manager.fontManager
    if not {f.name for f in manager.ttflist} & set(CJK_FAMILIES):
        known = {f.fname for f in manager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # a file FreeType cannot read
                    continue
    names = {f.name for f in manager.ttflist}
    return tuple(name for name in CJK_FAMILIES if name in names)
