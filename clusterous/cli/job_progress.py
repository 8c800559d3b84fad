"""The progress bar of ``clusterous jobs wait``: tasks finished out of all, with the counts."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from clusterous.operations.jobs import JobSummary


PLAIN_EVERY = 10.0


class ProgressBar:
    """A rich progress bar on stderr (plain lines when it is not a terminal)."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            console=console,
            transient=False,
        )
        self.task: Any = None
        self.last = ""
        self.printed = -PLAIN_EVERY

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.progress.stop()

    def update(self, summary: JobSummary) -> None:
        counts = summary.counts
        finished = counts["done"] + counts["failed"] + counts["lost"]
        words = (
            f"{counts['pending']} pending, {counts['running']} running, "
            f"{counts['done']} done, {counts['failed'] + counts['lost']} failed"
        )
        if self.task is None:
            self.task = self.progress.add_task(summary.job_id, total=summary.total, counts=words)
        self.progress.update(self.task, completed=finished, total=summary.total, counts=words)
        if not self.console.is_terminal and self._due(words, summary.finished):
            self.console.print(f"{summary.job_id}: {words}")

    def _due(self, words: str, finished: bool) -> bool:
        """Off a terminal, a line when the counts changed, at most every PLAIN_EVERY seconds."""
        now = time.monotonic()
        if words == self.last or (now - self.printed < PLAIN_EVERY and not finished):
            return False
        self.last, self.printed = words, now
        return True
