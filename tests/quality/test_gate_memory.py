"""The gate lets go of the frames it validated (flows/quality/gx_runtime.py ``_forget_frames``).

Why: GX's pandas engine keeps the batch it last loaded and GX keeps the context after the gate
returns, so every suite's last chunk stayed alive through the gate and into the nightly's later
steps (550 MiB at 300k bench deals, issue 14). A frame is checked through a weak reference:
alive while anything still holds it, dead once nothing does.
"""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from flows.config.settings import Settings
from flows.quality.gx_runtime import runtime_context, validate

NOT_NULL = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}


def test_no_frame_outlives_its_suite(tmp_path: Path) -> None:
    context = runtime_context(Settings(home=tmp_path / "home"))
    held: list[weakref.ref] = []

    def frames():
        for ids in (["a", "b", "c"], ["d", None]):
            frame = pd.DataFrame({"id": ids})
            held.append(weakref.ref(frame))
            yield frame

    checked_at = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
    results = validate(context, "memory", {}, [NOT_NULL], frames(), ["id"], {}, "run-1", checked_at, "memory")
    gc.collect()
    assert [r.unexpected_count for r in results] == [1]  # both chunks were validated and merged
    assert len(held) == 2
    assert [ref() for ref in held] == [None, None]
