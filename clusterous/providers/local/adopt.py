"""Taking over a local cluster whose files were lost: the engine is this machine's, and ours.

The login key is put on every node through the engine, and each node's host
key read the same way, to be pinned.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from clusterous.errors import ClusterousError
from clusterous.providers.base import Adoption
from clusterous.providers.local.node_container import tar_of
from clusterous.providers.local.ownership import ID_LABEL
from clusterous.records import ClusterState, NodeRecord, ResourceRecord
from clusterous.remote.keys import KeyPair

if TYPE_CHECKING:
    from docker.models.containers import Container

HOST_KEY_FILE = "/etc/ssh/ssh_host_ed25519_key.pub"


class LocalAdopter:
    def __init__(
        self,
        cluster: str,
        network_name: str,
        shared_dir: Path,
        containers: Callable[[], list[Container]],
        network_subnet: Callable[[], tuple[str, str]],
    ) -> None:
        self.cluster = cluster
        self.network_name = network_name
        self.shared_dir = shared_dir
        self.containers = containers
        self.network_subnet = network_subnet  # () -> (network id, subnet)

    def adopt(self, login_key: KeyPair) -> Adoption:
        """Rebuild the ledger of a local cluster from its running containers."""
        containers = [c for c in self.containers() if c.status == "running"]
        if not containers:
            raise ClusterousError(
                f"no running node of cluster {self.cluster!r} on this Docker engine",
                None,
                "see 'clusterous ls-clusters'",
            )
        state = ClusterState(name=self.cluster, provider="local", profile="", status="ready")
        state.cluster_id = containers[0].labels.get(ID_LABEL, "")
        authorized = {"authorized_keys": ((login_key.public_openssh + "\n").encode(), 0o600)}
        host_keys = {}
        for container in containers:
            container.exec_run(["install", "-d", "-m", "0700", "/root/.ssh"])
            container.put_archive("/root/.ssh", tar_of(authorized))
            node = self.node_record(container)
            state.nodes.append(node)
            host_keys[node.name] = host_public_key(container, node.name)
        network_id, state.private_cidr = self.network_subnet()
        state.resources.append(ResourceRecord("network", network_id, self.network_name))
        state.resources.append(ResourceRecord("shared-dir", str(self.shared_dir), "shared volume"))
        return Adoption(state, host_keys)

    def node_record(self, container: Container) -> NodeRecord:
        labels = container.labels
        address = (
            container.attrs["NetworkSettings"]["Networks"]
            .get(self.network_name, {})
            .get("IPAddress", "")
        )
        bindings = container.attrs["NetworkSettings"]["Ports"].get("22/tcp") or []
        port = int(bindings[0]["HostPort"]) if bindings else 0
        return NodeRecord(
            name=labels.get("clusterous.node", ""),
            group=labels.get("clusterous.group", ""),
            instance_type=labels.get("clusterous.type", ""),
            instance_id=container.id[:12],
            private_addr=address,
            ssh_host="127.0.0.1" if port else "",
            ssh_port=port,
        )


def host_public_key(container: Container, node: str) -> str:
    """The host key a node presents, read through the engine."""
    code, output = container.exec_run(["cat", HOST_KEY_FILE])
    if code != 0:
        raise ClusterousError(f"cannot read the host key of node {node}", output.decode()[:200])
    return str(output.decode().strip())
