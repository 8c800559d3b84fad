"""Stopping and starting a cluster's instances (``clusterous stop`` / ``start``).

A stopped instance keeps its root disk and its private address; its public
IPv4 address is given up and a new one comes with the start, so the
controller's SSH endpoint is read again. One-time spot instances cannot be
stopped at all: a cluster with any is refused before anything stops. Each
wait polls the instances' states with the provider's injected clock and sleep
(so Ctrl-C cancels it) and says every change of state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from clusterous.aws.ec2 import Ec2, Instance
from clusterous.errors import ClusterousError
from clusterous.providers.aws.launch import LAUNCH_TIMEOUT, node_name_of
from clusterous.providers.base import Say
from clusterous.records import NodeRecord


class AwsPower:
    def __init__(self, ec2: Callable[[], Ec2], cluster: str, clock: Callable[[], float]) -> None:
        self._ec2 = ec2
        self.cluster = cluster
        self.clock = clock

    def stop(self, nodes: Sequence[NodeRecord], say: Say) -> None:
        """StopInstances on every node, then wait until all are stopped."""
        ids = [n.instance_id for n in nodes if n.instance_id]
        self._refuse_spot(ids)
        self._ec2().stop_instances(ids)
        self._wait(nodes, "stopped", say)

    def start(self, nodes: Sequence[NodeRecord], say: Say) -> list[NodeRecord]:
        """StartInstances, wait until running; the records with today's public address."""
        ids = [n.instance_id for n in nodes if n.instance_id]
        states = self._ec2().instance_states(ids)
        stopping = [n for n in nodes if states.get(n.instance_id) == "stopping"]
        if stopping:  # an instance still stopping cannot be started yet
            self._wait(stopping, "stopped", say)
        self._ec2().start_instances(ids)
        self._wait(nodes, "running", say)
        found = {i.id: i for i in self._ec2().describe_instances(ids)}
        return [started_record(node, found.get(node.instance_id)) for node in nodes]

    def _refuse_spot(self, ids: list[str]) -> None:
        spot = [i for i in self._ec2().describe_instances(ids) if i.spot]
        if spot:
            raise ClusterousError(
                f"cluster {self.cluster!r} has spot instances, which AWS cannot stop: "
                + ", ".join(f"{node_name_of(i)} ({i.id})" for i in spot),
                "a one-time spot instance can only be terminated; nothing was stopped",
                f"remove them with 'clusterous rm-nodes', or 'clusterous destroy {self.cluster}'",
            )

    def _wait(self, nodes: Sequence[NodeRecord], wanted: str, say: Say) -> None:
        names = {n.instance_id: n.name for n in nodes if n.instance_id}
        told: dict[str, str] = {}

        def progress(states: dict[str, str]) -> None:
            for instance, state in states.items():
                if told.get(instance) != state:
                    told[instance] = state
                    say(f"{names.get(instance, instance)}: {state}")

        ec2 = self._ec2()
        left = ec2.wait_state(list(names), wanted, self.clock() + LAUNCH_TIMEOUT, progress)
        if left:
            raise ClusterousError(
                f"instances did not reach the {wanted} state in time",
                ", ".join(f"{names.get(i, i)} ({i}): {s}" for i, s in left.items()),
                "run the command again, or look at them in the EC2 console",
            )


def started_record(node: NodeRecord, instance: Instance | None) -> NodeRecord:
    """A started node's record: the controller's SSH host is its new public address."""
    if instance is None or not node.ssh_port or not instance.public_ip:
        return node
    return replace(node, ssh_host=instance.public_ip)
