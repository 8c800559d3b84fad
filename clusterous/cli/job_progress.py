"""The progress bar of ``clusterous jobs wait``: tasks finished out of all, with the counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from clusterous.operations.jobs import JobSummary


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
        if not self.console.is_terminal and words != self.last:
            self.console.print(f"{summary.job_id}: {words}")
        self.last = words
