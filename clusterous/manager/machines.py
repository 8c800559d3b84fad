"""Watching the machines of nodes the manager waits for: a dead one ends the wait at once.

While create, add-nodes or start wait for a node (its SSH, its bootstrap log,
Swarm Ready), nothing the node says can tell that its machine is gone: a
stopped or terminated instance, a node container that exits or restarts in a
loop. The wait would sit until its timeout. ``MachineWatch`` asks the provider
every ``CHECK_SECONDS`` (the cadence of the other checks of those waits) and
raises, naming the node, its machine's state, the provider's reason and what to
do; the caller's rollback then runs as for any failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from clusterous.errors import ClusterousError
from clusterous.providers.base import BootFailure, Provider, boot_failures
from clusterous.records import NodeRecord

CHECK_SECONDS = 10.0


class MachineDied(ClusterousError):
    """A node's machine stopped, ended or restarts in a loop while the node booted."""


@dataclass(frozen=True)
class MachineWatch:
    provider: Provider
    clock: Callable[[], float]
    every: float = CHECK_SECONDS

    def check(self, nodes: Sequence[NodeRecord]) -> None:
        """Raise MachineDied when one of these nodes' machines died; a failed look is no news."""
        try:
            failures = boot_failures(self.provider, nodes)
        except Exception:  # the provider could not answer now: the next check asks again
            return
        if failures:
            raise machine_died(failures)

    def every_so_often(self, nodes: Sequence[NodeRecord]) -> Callable[[], None]:
        """``check`` for loops that poll faster: it asks at most once every ``every`` seconds."""
        next_at = self.clock() + self.every

        def check() -> None:
            nonlocal next_at
            if self.clock() >= next_at:
                next_at = self.clock() + self.every
                self.check(nodes)

        return check


def machine_died(failures: dict[str, BootFailure]) -> MachineDied:
    names = sorted(failures)
    first = failures[names[0]]
    states = ", ".join(f"{name} ({failures[name].state})" for name in names)
    fix = next((failures[n].fix for n in names if failures[n].fix), "") or (
        "find out why the machine died (the provider's reason above), fix that, then run "
        "the command again"
    )
    what = (
        f"the machine of node {states} died while it booted"
        if len(names) == 1
        else f"the machines of nodes {states} died while they booted"
    )
    return MachineDied(what, first.reason, fix)
