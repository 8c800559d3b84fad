"""``jobs wait --autoscale MAX``: the laptop that waits grows the job's group while tasks queue.

No controller on the cluster and no credentials there: the command that
waits decides, and acts through the same add-nodes and rm-nodes a person
would run. :func:`decide` is the whole policy, pure: add nodes while tasks
are pending (enough for the queue, never more than MAX in the group, not
again until the last nodes had time to take tasks); once the job has
finished, remove the nodes it added that run no job task. :class:`Autoscaler`
runs it against a :class:`JobCluster`, with the clock and the pause injected.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from clusterous.jobs.progress import JobSummary

SETTLE_SECONDS = 30.0  # after adding nodes, let them take tasks before adding more


@dataclass(frozen=True)
class ScaleView:
    """What the policy looks at, once per poll."""

    summary: JobSummary
    group_nodes: int
    per_node: int  # tasks one node of the group runs at once
    added: tuple[str, ...] = ()  # the nodes this wait added, oldest first
    busy: frozenset[str] = frozenset()  # nodes running a job task


@dataclass(frozen=True)
class Decision:
    add: int = 0
    remove: tuple[str, ...] = ()


def decide(view: ScaleView, most: int, since_change: float) -> Decision:
    counts = view.summary.counts
    if view.summary.finished:
        idle = tuple(n for n in view.added if n not in view.busy)
        return Decision(remove=idle)
    pending = counts.get("pending", 0)
    if pending == 0 or view.group_nodes >= most or since_change < SETTLE_SECONDS:
        return Decision()
    wanted = math.ceil(pending / max(1, view.per_node))
    return Decision(add=min(wanted, most - view.group_nodes))


class JobCluster(Protocol):
    """What the autoscaler needs of the cluster and the job."""

    def view(self, added: Sequence[str]) -> ScaleView: ...

    def add(self, count: int) -> list[str]: ...

    def remove(self, nodes: Sequence[str]) -> None: ...


@dataclass
class Autoscaler:
    cluster: JobCluster
    most: int
    on_progress: Callable[[JobSummary], None]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    every: float = 2.0
    added: list[str] = field(default_factory=list)

    def run(self) -> JobSummary:
        """Until the job is finished and the added nodes are gone (or busy with other jobs)."""
        changed = -math.inf
        while True:
            view = self.cluster.view(self.added)
            self.on_progress(view.summary)
            decision = decide(view, self.most, self.clock() - changed)
            if decision.add:
                self.added.extend(self.cluster.add(decision.add))
                changed = self.clock()
            if decision.remove:
                self.cluster.remove(decision.remove)
                self.added = [n for n in self.added if n not in decision.remove]
            if view.summary.finished:
                return view.summary
            self.sleep(self.every)
