"""``jobs wait --autoscale MAX``: wait for a job, growing its group while tasks queue.

The policy is ``jobs.autoscale``; this module gives it the cluster: the job's
progress through one engine connection held for the whole wait, and nodes
added and removed through the very add-nodes and rm-nodes use cases (under
the cluster's lock, the count: auto components re-planned), each addition
announced with what it adds per hour.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING

from clusterous import cancel
from clusterous.errors import InputError
from clusterous.jobs.autoscale import Autoscaler, ScaleView
from clusterous.jobs.progress import JobSummary
from clusterous.manager.report import Reporter
from clusterous.operations import clusters
from clusterous.operations.environments import engine
from clusterous.operations.handle import ClusterHandle
from clusterous.operations.jobs import detail_on

if TYPE_CHECKING:
    import docker

    from clusterous.providers.base import InstanceType
    from clusterous.records import NodeRecord
    from clusterous.remote.ssh import Session


class ClusterForJob:
    """The JobCluster the autoscaler drives: one job, its group, this cluster."""

    def __init__(
        self,
        handle: ClusterHandle,
        job: str,
        link: tuple[Session, docker.DockerClient],
        reporter: Reporter,
        timeout: float,
    ) -> None:
        self.handle, self.job, self.link = handle, job, link
        self.reporter, self.timeout = reporter, timeout
        self.group = ""

    def view(self, added: Sequence[str]) -> ScaleView:
        detail = detail_on(*self.link, self.job)
        self.group = detail.summary.group
        busy = frozenset(r.node for r in detail.rows if r.state == "running")
        per_node = max(1, math.floor(self._type_cpus() / (detail.summary.cpus or 1.0) + 1e-9))
        return ScaleView(detail.summary, len(self._members()), per_node, tuple(added), busy)

    def _members(self) -> list[NodeRecord]:
        return self.handle.state().node_groups().get(self.group, [])

    def _type(self) -> InstanceType | None:
        members = self._members()
        types = self.handle.provider.catalog.instance_types()
        return types.get(members[0].instance_type) if members else None

    def _type_cpus(self) -> float:
        known = self._type()
        return known.cpus if known else 1.0

    def add(self, count: int) -> list[str]:
        self.reporter.step(f"autoscale: {count} node(s) to group {self.group}, {self._cost(count)}")
        added = clusters.grow(self.handle, self.reporter, count, self.group, None, self.timeout)
        return [n.name for n in added]

    def _cost(self, count: int) -> str:
        known = self._type()
        if known is None or known.hourly_price is None:
            return "price unknown"
        return f"type {known.name}, +${known.hourly_price * count:.2f}/h"

    def remove(self, nodes: Sequence[str]) -> None:
        newest = sorted(self._members(), key=lambda n: _number(n.name), reverse=True)
        if {n.name for n in newest[: len(nodes)]} != set(nodes):
            self.reporter.warn(
                f"autoscale: not removing {', '.join(nodes)}: nodes were added to group "
                f"{self.group} since; remove them with 'clusterous rm-nodes'"
            )
            return
        self.reporter.step(f"autoscale: removing the idle node(s) it added: {', '.join(nodes)}")
        clusters.shrink(self.handle, self.reporter, len(nodes), self.group, self.timeout)


def _number(name: str) -> int:
    suffix = name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def wait_autoscaled(
    handle: ClusterHandle,
    job: str,
    most: int,
    reporter: Reporter,
    on_progress: Callable[[JobSummary], None],
    timeout: float = 600.0,
) -> JobSummary:
    """``jobs wait`` that adds nodes to the job's group (up to ``most`` in it) while tasks
    are pending, and removes those it added once the job is over and they are idle."""
    if most < 1:
        raise InputError(f"--autoscale must be at least 1 node, got {most}")
    with ExitStack() as stack:
        link = stack.enter_context(engine(handle))
        cluster = ClusterForJob(handle, job, link, reporter, timeout)
        return Autoscaler(cluster, most, on_progress, sleep=cancel.sleep).run()
