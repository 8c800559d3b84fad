"""Per-index rows and counts from Swarm's tasks (as the API returns them) and the records."""

from __future__ import annotations

from typing import Any

from clusterous.jobs.listing import records_of
from clusterous.jobs.progress import Record, job_rows, summarize
from clusterous.jobs.swarm_jobs import RoundView

NAMES = {"n1": "worker-1", "n2": "worker-2"}


def view(number: int, indices: tuple[int, ...]) -> RoundView:
    service = "j-1" if number == 0 else f"j-1-r{number}"
    return RoundView(
        "j-1", "sweep", number, service, indices, "true", 100.0, 0, "worker", 1.0, "bb"
    )


def task(slot: int, state: str, version: int = 1, node: str = "n1", code: int | None = None) -> Any:
    status: dict[str, Any] = {"State": state}
    if code is not None:
        status["ContainerStatus"] = {"ExitCode": code}
    return {"ID": f"t{slot}{version}", "Slot": slot, "NodeID": node, "Status": status,
            "Version": {"Index": version}}  # fmt: skip


def test_each_index_shows_its_newest_task_with_node_and_exit_code() -> None:
    tasks = {"j-1": [task(0, "complete", code=0), task(1, "failed", 1, "n2", 3),
                     task(2, "running"), task(3, "pending", node="")]}  # fmt: skip
    rows = job_rows([view(0, (1, 2, 3, 4))], tasks, {}, NAMES)
    assert [(r.index, r.state, r.node, r.exit_code) for r in rows] == [
        (1, "done", "worker-1", 0),
        (2, "failed", "worker-2", 3),
        (3, "running", "worker-1", None),
        (4, "pending", "", None),
    ]


def test_a_task_swarm_ran_again_counts_by_its_newest_attempt() -> None:
    tasks = {"j-1": [task(0, "failed", 1, code=1), task(0, "running", 2)]}
    (row,) = job_rows([view(0, (5,))], tasks, {}, NAMES)
    assert row.state == "running"


def test_a_retry_round_replaces_the_failed_indices_only() -> None:
    tasks = {
        "j-1": [task(0, "complete", code=0), task(1, "failed", code=2)],
        "j-1-r1": [task(0, "complete", code=0, node="n2")],
    }
    rows = job_rows([view(0, (1, 2)), view(1, (2,))], tasks, {}, NAMES)
    assert [(r.index, r.state, r.round, r.node) for r in rows] == [
        (1, "done", 0, "worker-1"),
        (2, "done", 1, "worker-2"),
    ]


def test_an_orphaned_task_that_was_not_replaced_is_lost() -> None:
    (row,) = job_rows([view(0, (1,))], {"j-1": [task(0, "orphaned")]}, {}, NAMES)
    assert row.state == "lost"


def test_records_give_durations_attempts_and_the_true_exit_code() -> None:
    records = records_of(
        {"j-1": {"1": "1000 1030 0 1", "2": "1000 1005 4 3", "x": "9 9 9 9", "3": "junk"}}
    )
    assert records == {"j-1": {1: Record(1000, 1030, 0, 1), 2: Record(1000, 1005, 4, 3)}}
    tasks = {"j-1": [task(0, "complete", code=0), task(1, "failed", code=4)]}
    rows = job_rows([view(0, (1, 2))], tasks, records, NAMES)
    assert [(r.duration, r.attempts, r.exit_code) for r in rows] == [(30, 1, 0), (5, 3, 4)]


def test_the_summary_counts_states_and_stops_the_clock_at_the_last_end() -> None:
    records = records_of({"j-1": {"1": "100 130 0 1", "2": "100 160 1 1"}})
    tasks = {"j-1": [task(0, "complete", code=0), task(1, "failed", code=1)]}
    views = [view(0, (1, 2))]
    summary = summarize(views, job_rows(views, tasks, records, NAMES), now=999.0)
    assert summary.counts == {"pending": 0, "running": 0, "done": 1, "failed": 1, "lost": 0}
    assert summary.finished and not summary.succeeded
    assert summary.elapsed == 60.0
