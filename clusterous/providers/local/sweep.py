"""Teardown on the local engine: the phases of the sweep (``providers.sweep``), in order.

Node containers first (all at once, with their anonymous volumes), then the
nodes' Docker volumes, the cluster's network, and the shared directory
(removed, or kept and said so). Each is found by the cluster's label, and the
ledger adds what it records; a removal the engine refuses becomes a leftover
with the engine's reason, and the sweep goes on. The re-listing is by label.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from clusterous import cancel
from clusterous.errors import ClusterousError
from clusterous.providers.base import Leftover, Say, SweepResult
from clusterous.providers.local.ownership import CLUSTER_LABEL
from clusterous.providers.local.volumes import LocalVolumes
from clusterous.providers.sweep import AllAtOnce, Phase, Sweep, recorded_resources
from clusterous.records import ClusterState

if TYPE_CHECKING:
    import docker


@contextlib.contextmanager
def engine_refusal(kind: str, ident: str) -> Iterator[None]:
    """A thing already gone is removed; any other refusal of the engine, a ClusterousError."""
    import docker

    try:
        yield
    except docker.errors.NotFound:
        return
    except docker.errors.DockerException as problem:
        raise ClusterousError(
            f"the Docker engine did not remove {kind} {ident}",
            str(problem).splitlines()[0][:300] if str(problem) else None,
            "run 'clusterous destroy' again; if it persists, see 'docker ps -a' and "
            "'docker network ls'",
        ) from problem


class LocalSweep:
    def __init__(
        self,
        client: docker.DockerClient,
        cluster: str,
        container_name: Callable[[str], str],
        volumes: LocalVolumes,
        say: Say,
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.container_name = container_name  # node name -> container name
        self.volumes = volumes
        self.say = say

    def run(self, state: ClusterState | None, keep_volume: bool) -> SweepResult:
        result = SweepResult()
        phases: list[Phase | AllAtOnce] = [
            AllAtOnce(
                "container",
                lambda: [c.name for c in self.containers()],
                self._remove_containers,
                recorded=lambda s: [self.container_name(n.name) for n in s.nodes],
            ),
            Phase(
                "volume",
                lambda: [v.name for v in self.client.volumes.list(filters=self._ours())],
                self._remove_volume,
                recorded=recorded_resources("node-volume"),
            ),
            Phase(
                "network",
                lambda: [n.name for n in self.client.networks.list(filters=self._ours())],
                self._remove_network,
                recorded=lambda s: [r.name for r in s.resources if r.kind == "network" and r.name],
            ),
            Phase(
                "shared volume",
                lambda: self.volumes.doomed(state, keep_volume, result, self.say),
                self._remove_shared,
                recorded=lambda s: [],  # kept or not is decided above, from the ledger too
            ),
        ]
        return Sweep(state, self.say, result).run(phases, self.leftovers)

    def _ours(self) -> dict[str, str]:
        return {"label": f"{CLUSTER_LABEL}={self.cluster}"}

    def containers(self) -> list[docker.models.containers.Container]:
        return list(self.client.containers.list(all=True, filters=self._ours()))

    def _remove_containers(self, names: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        def remove(name: str) -> str:
            try:
                with engine_refusal("container", name):
                    self.client.containers.get(name).remove(force=True, v=True)
            except ClusterousError as problem:
                return problem.render()
            return ""

        why = dict(zip(names, cancel.in_parallel([partial(remove, n) for n in names]), strict=True))
        removed = [n for n in names if not why[n]]
        if removed:
            self.say(f"removed {len(removed)} node container(s)")
        return removed, {n: w for n, w in why.items() if w}

    def _remove_volume(self, name: str) -> None:
        with engine_refusal("volume", name):
            self.client.volumes.get(name).remove(force=True)

    def _remove_network(self, name: str) -> None:
        with engine_refusal("network", name):
            self.client.networks.get(name).remove()
        self.say(f"removed network {name}")

    def _remove_shared(self, path: str) -> None:
        try:
            self.volumes.remove_tree(Path(path))
        except OSError as problem:
            raise ClusterousError(
                f"cannot delete the shared volume {path}", str(problem), "delete it yourself"
            ) from problem
        self.say(f"removed the shared volume {path}")

    def leftovers(self) -> list[Leftover]:
        left = [Leftover("container", c.name, c.status) for c in self.containers()]
        left += [
            Leftover("network", n.name) for n in self.client.networks.list(filters=self._ours())
        ]
        left += [Leftover("volume", v.name) for v in self.client.volumes.list(filters=self._ours())]
        return left
