"""``jobs wait --autoscale``: the policy and its loop, on a fake cluster and a fake clock.

The fake cluster runs a queue: each poll, every node finishes ``per_node``
tasks and the pending ones take their place; nodes come and go when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from clusterous.jobs.autoscale import SETTLE_SECONDS, Autoscaler, Decision, ScaleView, decide
from clusterous.jobs.progress import JobSummary


def summary(pending: int, running: int, done: int = 0) -> JobSummary:
    counts = {"pending": pending, "running": running, "done": done, "failed": 0, "lost": 0}
    return JobSummary("j-1", "", "true", "bb", "worker", 0.0, 1, counts)


def view(pending: int, running: int, nodes: int, **extra: object) -> ScaleView:
    return ScaleView(summary(pending, running), nodes, 2, **extra)  # type: ignore[arg-type]


def test_pending_tasks_add_enough_nodes_for_the_queue_up_to_max() -> None:
    assert decide(view(5, 4, 2), most=10, since_change=1e9) == Decision(add=3)
    assert decide(view(50, 4, 2), most=4, since_change=1e9) == Decision(add=2)


def test_nothing_is_added_at_max_or_while_new_nodes_settle_or_without_a_queue() -> None:
    assert decide(view(5, 4, 4), most=4, since_change=1e9) == Decision()
    assert decide(view(5, 4, 2), most=9, since_change=SETTLE_SECONDS - 1) == Decision()
    assert decide(view(0, 4, 2), most=9, since_change=1e9) == Decision()


def test_after_the_job_only_the_idle_added_nodes_go() -> None:
    finished = ScaleView(summary(0, 0, 10), 4, 2, ("worker-3", "worker-4"), frozenset({"worker-4"}))
    assert decide(finished, most=4, since_change=0) == Decision(remove=("worker-3",))


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class QueueCluster:
    """Tasks that take one poll each; ``per_node`` at once on each node."""

    pending: int
    nodes: list[str] = field(default_factory=lambda: ["worker-1"])
    done: int = 0
    running: int = 0
    log: list[str] = field(default_factory=list)

    def view(self, added: Sequence[str]) -> ScaleView:
        self.done += self.running
        self.running = min(self.pending, 2 * len(self.nodes))
        self.pending -= self.running
        on = frozenset(self.nodes[: (self.running + 1) // 2])
        state = summary(self.pending, self.running, self.done)
        return ScaleView(state, len(self.nodes), 2, tuple(added), on)

    def add(self, count: int) -> list[str]:
        new = [f"worker-{len(self.nodes) + i + 1}" for i in range(count)]
        self.nodes += new
        self.log.append(f"add {count}")
        return new

    def remove(self, nodes: Sequence[str]) -> None:
        self.nodes = [n for n in self.nodes if n not in nodes]
        self.log.append(f"remove {len(nodes)}")


def test_a_queue_grows_the_group_to_max_then_the_added_nodes_are_removed() -> None:
    clock = Clock()
    cluster = QueueCluster(pending=40)
    seen: list[JobSummary] = []
    scaler = Autoscaler(cluster, 3, seen.append, clock=clock, sleep=clock.sleep, every=5.0)
    final = scaler.run()
    assert final.counts["done"] == 40 and final.finished
    assert cluster.log == ["add 2", "remove 2"]
    assert cluster.nodes == ["worker-1"]
    assert len(seen) < 20  # the added nodes shortened the queue: 40 tasks, 6 at a time
