"""The progress display of the long commands (``run nightly``, ``run ingest``, ``demo``, ``backfill``).

One mechanism for all of them: the steps emit :class:`~flows.pipeline.progress.ProgressEvent`\\ s and
:func:`showing_progress` turns them into rich progress lines while the command runs: one line per
step (spinner, then done or failed), one per CRM object with its rows landed so far, dbt's nodes
done, the checks each gate ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from flows.pipeline import progress as events


class _Display:
    """Keeps one progress line per (step, item) and updates it from the events."""

    def __init__(self, bars: Progress):
        self.bars = bars
        self.lines: dict[tuple[str, str], int] = {}

    def _line(self, event: events.ProgressEvent, description: str) -> int:
        key = (event.step, event.item)
        if key not in self.lines:
            self.lines[key] = self.bars.add_task(description, total=None)
        return self.lines[key]

    def __call__(self, event: events.ProgressEvent) -> None:
        label = event.item if event.item.startswith(event.step) else f"{event.step} {event.item}".strip()
        if event.kind == "started":  # (again, for the next day of a backfill)
            self.bars.reset(self._line(event, label), total=None, description=label)
        elif event.kind == "advanced":
            description = f"{event.item}: {event.detail or event.done}"
            if event.step == "data checks":  # the step's own line: "data checks raw: 320 run, 0 failed"
                description = f"{label}: {event.done} run, {event.detail}"
            self.bars.update(self._line(event, description), description=description)
        elif event.kind == "finished":
            line = self._line(event, label)
            style = "red" if event.detail == "failed" else "green"
            done = self.bars.tasks[line].description if event.step == "data checks" else label
            self.bars.update(line, description=f"{done}: [{style}]{event.detail}[/]", total=1, completed=1)
            # the lines of the step's items (rows per object, dbt nodes) end with it
            for (step, _item), other in self.lines.items():
                if step == event.step and other != line:
                    self.bars.update(other, total=1, completed=1)


@contextmanager
def showing_progress(console: Console) -> Iterator[None]:
    """Show the run's progress events on ``console`` while the block runs."""
    with (
        Progress(
            SpinnerColumn(finished_text="·"),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        ) as bars,
        events.listening(_Display(bars)),
    ):
        yield
