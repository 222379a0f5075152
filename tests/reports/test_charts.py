"""The attainment chart in Chinese: names drawn with a CJK font (glyphs, not boxes), words translated.

``make`` installs Debian's fonts-wqy-microhei (the `fonts` target); without a CJK font these tests fail.
"""

from __future__ import annotations

import warnings

import pytest
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont
from matplotlib.ft2font import FT2Font
from matplotlib.text import Text

from flows.reports import charts
from flows.reports.charts import chart_fmt, chart_label, cjk_families, font_families, render_attainment_chart
from flows.reports.formatting import Fmt

NAMES = "李娜王伟团队合计月目标达成率无"


def draw(labels: list[str], fmt: Fmt | None = None) -> tuple[bytes, list[str]]:
    """The PNG, and the missing-glyph warnings matplotlib gave while drawing it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render_attainment_chart(
            labels, [0.75, None, 0.8], expected=[0.5, None, 0.5], fmt=fmt or Fmt("zh-CN")
        )
    return png, [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_a_cjk_font_is_installed_and_first_after_the_default():
    assert cjk_families(), "no CJK font for matplotlib: run `make test` (its `fonts` target installs one)"
    assert font_families()[1] == cjk_families()[0]


def test_every_chinese_character_has_a_glyph_in_the_cjk_fallback_not_in_the_default():
    default, cjk = (
        FT2Font(findfont(FontProperties(family=f), fallback_to_default=False)) for f in font_families()[:2]
    )
    for char in NAMES:
        assert default.get_char_index(ord(char)) == 0  # the default font would draw a box
        assert cjk.get_char_index(ord(char)) != 0, f"{char} missing from {font_families()[1]}"


def test_chinese_names_are_drawn_as_glyphs_not_boxes(monkeypatch):
    li, li_missing = draw(["李娜", "王伟", "团队合计"])
    zhao, zhao_missing = draw(["赵敏", "王伟", "团队合计"])
    assert li_missing == zhao_missing == []  # matplotlib found every glyph
    assert li != zhao  # two names, two drawings
    # the same with the fonts found but not used (the bug): every character is the same box
    monkeypatch.setattr(charts, "cjk_families", lambda: ())
    li_boxes, missing = draw(["李娜", "王伟", "团队合计"])
    zhao_boxes, _ = draw(["赵敏", "王伟", "团队合计"])
    assert missing and li_boxes == zhao_boxes and li_boxes != li


def test_chart_words_are_in_the_readers_language(monkeypatch):
    texts: list[str] = []
    save = Figure.savefig

    def spy(fig, *args, **kwargs):
        texts.extend(t.get_text() for t in fig.findobj(Text) if t.get_text())
        return save(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    draw(["李娜", "王伟", "团队合计"])
    assert {"李娜", "团队合计", "月目标达成率 %", "无目标", "75.0%", "截至当日应达成"} <= set(texts)
    texts.clear()
    draw(["Liam", "Emma", "Team total"], Fmt("en"))
    assert {"attainment % of the month's target", "no target", "target due by now"} <= set(texts)


def test_chart_label_keeps_chinese_names_with_a_cjk_font(monkeypatch):
    assert chart_label("李娜", "li.na@example.com") == "李娜"
    monkeypatch.setattr(charts, "cjk_families", lambda: ())
    assert chart_label("李娜", "li.na@example.com") == "li.na"  # no font: the e-mail's handle, not boxes
    assert chart_label("Liam", "liam@example.com") == "Liam"
    assert chart_fmt(Fmt("zh-CN")).language == "en"  # the chart's words too


def test_chart_words_stay_chinese_with_a_cjk_font():
    assert chart_fmt(Fmt("zh-CN", "CNY")) == Fmt("zh-CN", "CNY")


@pytest.mark.parametrize("labels", [["a", "b", "c"]])
def test_chart_without_pace_marks(labels):
    png = render_attainment_chart(labels, [None, 2.5, 0.1])
    assert png.startswith(b"\x89PNG")
