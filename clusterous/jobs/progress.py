"""What a job's tasks are doing, from Swarm's tasks and the wrapper's records: pure.

Each array index has one row: the latest round that runs it wins (a retry
replaces the failed attempt), and within a round the newest task of its slot.
A task Swarm shut down or orphaned (its node left) and did not replace is
"lost": ``jobs retry --failed`` runs it again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from clusterous.jobs.swarm_jobs import RoundView

STATES = ("pending", "running", "done", "failed", "lost")
_SWARM_STATES = {
    **dict.fromkeys(("new", "allocated", "pending", "assigned"), "pending"),
    **dict.fromkeys(("accepted", "preparing", "ready", "starting", "running"), "running"),
    "complete": "done",
    **dict.fromkeys(("failed", "rejected"), "failed"),
    **dict.fromkeys(("shutdown", "orphaned", "remove"), "lost"),
}


@dataclass(frozen=True)
class Record:
    """What the wrapper wrote when a task ended: ``start end exit attempts``."""

    start: float
    end: float
    exit_code: int
    attempts: int

    @classmethod
    def parse(cls, line: str) -> Record | None:
        parts = line.split()
        if len(parts) != 4 or not all(p.lstrip("-").isdigit() for p in parts):
            return None
        start, end, code, attempts = (int(p) for p in parts)
        return cls(start, end, code, attempts)


@dataclass(frozen=True)
class TaskRow:
    index: int
    state: str
    node: str = ""
    exit_code: int | None = None
    duration: float | None = None
    attempts: int = 0
    round: int = 0
    task_ids: tuple[str, ...] = ()
    error: str = ""
    ended_at: float | None = None


@dataclass(frozen=True)
class JobSummary:
    job_id: str
    name: str
    command: str
    image: str
    group: str
    submitted_at: float
    rounds: int
    counts: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    cpus: float | None = None  # reserved per task

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> bool:
        return self.counts.get("pending", 0) + self.counts.get("running", 0) == 0

    @property
    def succeeded(self) -> bool:
        return self.finished and self.counts.get("done", 0) == self.total


def _newest_by_slot(tasks: Sequence[Mapping[str, Any]]) -> dict[int, list[Mapping[str, Any]]]:
    """slot -> its tasks, newest first."""
    by_slot: dict[int, list[Mapping[str, Any]]] = {}
    for task in tasks:
        by_slot.setdefault(int(task.get("Slot", 0)), []).append(task)
    for found in by_slot.values():
        found.sort(key=lambda t: t.get("Version", {}).get("Index", 0), reverse=True)
    return by_slot


def round_rows(
    view: RoundView,
    tasks: Sequence[Mapping[str, Any]],
    records: Mapping[int, Record],
    names: Mapping[str, str],
) -> dict[int, TaskRow]:
    by_slot = _newest_by_slot(tasks)
    rows = {}
    for slot, index in enumerate(view.indices):
        found = by_slot.get(slot, [])
        rows[index] = _row(view, index, found, records.get(index), names)
    return rows


def _row(
    view: RoundView,
    index: int,
    tasks: Sequence[Mapping[str, Any]],
    record: Record | None,
    names: Mapping[str, str],
) -> TaskRow:
    ids = tuple(str(t.get("ID", "")) for t in tasks)
    if not tasks:
        return TaskRow(index, "pending", round=view.number)
    latest = tasks[0]
    status = latest.get("Status", {})
    state = _SWARM_STATES.get(status.get("State", ""), "pending")
    node_id = latest.get("NodeID", "")
    node = names.get(node_id, node_id[:12])
    code = status.get("ContainerStatus", {}).get("ExitCode")
    if record is not None and state in ("done", "failed"):
        state = "done" if record.exit_code == 0 else "failed"
        return TaskRow(
            index, state, node, record.exit_code, record.end - record.start,
            record.attempts, view.number, ids, "", record.end,
        )  # fmt: skip
    if state in ("done", "failed") and code is not None:
        state = "done" if code == 0 else "failed"
    return TaskRow(index, state, node, code if state in ("done", "failed") else None,
                   None, 0, view.number, ids, status.get("Err", ""))  # fmt: skip


def job_rows(
    views: Sequence[RoundView],
    tasks: Mapping[str, Sequence[Mapping[str, Any]]],
    records: Mapping[str, Mapping[int, Record]],
    names: Mapping[str, str],
) -> list[TaskRow]:
    """One row per index; later rounds replace earlier ones."""
    rows: dict[int, TaskRow] = {}
    for view in sorted(views, key=lambda v: v.number):
        found = round_rows(view, tasks.get(view.service, []), records.get(view.service, {}), names)
        rows.update(found)
    return [rows[i] for i in sorted(rows)]


def summarize(views: Sequence[RoundView], rows: Sequence[TaskRow], now: float) -> JobSummary:
    first = min(views, key=lambda v: v.number)
    counts = Counter({state: 0 for state in STATES})
    counts.update(row.state for row in rows)
    summary = JobSummary(
        first.job_id, first.name, first.command, first.image, first.group,
        first.submitted_at, len(views), dict(counts), 0.0, first.cpus,
    )  # fmt: skip
    ends = [row.ended_at for row in rows if row.ended_at is not None]
    until = max(ends) if summary.finished and ends else now
    return replace(summary, elapsed=max(0.0, until - first.submitted_at))
