"""The local provider: a real multi-node cluster as containers on the user's Docker engine.

Each node is a container of the node image (Debian with systemd, cloud-init,
sshd, Docker Engine, registry) that boots the way an EC2 instance does: its
user-data, the very bytes AWS would get, comes in a NoCloud seed and
configures the node (``node_container``). The nodes sit on one bridge network
per cluster at fixed addresses that are never given out twice, with a host
directory bind-mounted at /data as the shared volume. Only the controller's
SSH is published, on 127.0.0.1; the other nodes are reached through it.
Everything carries the label ``clusterous.cluster=<name>`` so a sweep finds it
all again.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import shutil
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterous import cancel
from clusterous.errors import ClusterousError, InputError
from clusterous.home import Home
from clusterous.providers.base import (
    InstanceType,
    Leftover,
    NetworkInfo,
    NodeRequest,
    NodeSlot,
    NodeView,
    Recorder,
    Report,
    Role,
    SweepReport,
    launches,
    slot_of,
)
from clusterous.providers.local.node_container import (
    Bind,
    NodeContainerSpec,
    create_node_container,
    nocloud_seed,
    tar_of,
)
from clusterous.providers.local.ownership import ID_LABEL, id_labels, owner_ids
from clusterous.records import ClusterState, NodeRecord, ResourceRecord
from clusterous.remote.keys import KeyPair

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

CLUSTER_LABEL = "clusterous.cluster"
INSTANCE_TYPES = {
    "small": InstanceType("small", cpus=1, memory_mib=1024, hourly_price=0.0),
    "medium": InstanceType("medium", cpus=2, memory_mib=2048, hourly_price=0.0),
    "large": InstanceType("large", cpus=4, memory_mib=4096, hourly_price=0.0),
    "xlarge": InstanceType("xlarge", cpus=8, memory_mib=8192, hourly_price=0.0),
}
DEFAULT_TYPES: dict[Role, str] = {"controller": "medium", "node": "small"}
SWARM_ADDR_POOL = "10.201.0.0/16"
FIRST_HOST = 10  # node addresses start at .10 of the cluster's subnet


def connect_docker() -> docker.DockerClient:
    """The user's Docker engine, or an error that says how to get one running."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except docker.errors.DockerException as problem:
        raise docker_unavailable(str(problem)) from problem


def docker_unavailable(detail: str) -> ClusterousError:
    if shutil.which("docker") is None and shutil.which("dockerd") is None:
        return ClusterousError(
            "Docker is not installed on this machine",
            "the local provider runs the cluster's nodes as Docker containers",
            "install Docker Engine (Debian/Ubuntu: sudo apt-get install docker.io; macOS or "
            "Windows: Docker Desktop), start it, and run the command again",
        )
    return ClusterousError(
        "cannot reach the Docker engine",
        detail.splitlines()[0][:200] if detail else "it does not answer",
        "start it (Linux: sudo systemctl start docker, or 'make docker' in a clusterous "
        "checkout; Docker Desktop: open it), and check that you may use it ('docker info')",
    )


def host_nameservers(resolv_conf: Path = Path("/etc/resolv.conf")) -> list[str]:
    """Upstream resolvers for the nodes' inner dockerd (a loopback one is useless there)."""
    candidates = [resolv_conf, Path("/run/systemd/resolve/resolv.conf")]
    for path in candidates:
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        servers = [
            line.split()[1]
            for line in lines
            if line.startswith("nameserver") and len(line.split()) > 1
        ]
        usable = [s for s in servers if not s.startswith("127.") and s != "::1"]
        if usable:
            return usable
    return []


def free_local_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the controller's SSH)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class _Started:
    """A node container running ahead of its launch, waiting for its seed."""

    container: Container
    record: NodeRecord


class LocalProvider:
    name = "local"

    def __init__(
        self,
        cluster: str,
        home: Home,
        base_image: str = "debian:bookworm-slim",
        node_type: str | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        self.cluster = cluster
        self.cluster_id = ""  # the ownership id labelled on everything made; set from the ledger
        self.node_type = node_type
        self.home = home
        self.base_image = base_image
        self._client = client
        self._lock = threading.Lock()
        self._ahead: dict[str, _Started] = {}

    # -- plumbing -----------------------------------------------------------

    @property
    def client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = connect_docker()
            return self._client

    def _name(self, suffix: str) -> str:
        return f"clusterous-{self.cluster}-{suffix}"

    @property
    def network_name(self) -> str:
        return f"clusterous-{self.cluster}"

    @property
    def shared_dir(self) -> Path:
        return self.home.root / "volumes" / self.cluster

    def _labels(self, role: str, **extra: str) -> dict[str, str]:
        return {
            CLUSTER_LABEL: self.cluster,
            "clusterous.role": role,
            **id_labels(self.cluster_id),
            **extra,
        }

    def owner_ids(self) -> dict[str, list[str]]:
        return owner_ids(self.client, self.cluster)

    def _label_filter(self) -> dict[str, Any]:
        return {"label": f"{CLUSTER_LABEL}={self.cluster}"}

    # -- checks ---------------------------------------------------------------

    def preflight(self) -> None:
        self.client.ping()

    def instance_types(self) -> dict[str, InstanceType]:
        return dict(INSTANCE_TYPES)

    def default_instance_type(self, role: Role) -> str:
        if role == "node" and self.node_type:
            return self.node_type
        return DEFAULT_TYPES[role]

    def image_of(self, instance_type: str) -> str:
        return self.base_image

    def describe_resources(self, size_gib: int | None, volume_id: str | None) -> list[str]:
        where = f"your directory {volume_id}" if volume_id else f"the directory {self.shared_dir}"
        return [
            f"network: Docker bridge network {self.network_name}; only the controller's SSH is "
            "published, on 127.0.0.1",
            f"shared volume: {where}, mounted at /data on every node",
        ]

    def check_instance_types(self, names: Sequence[str]) -> None:
        for name in names:
            if name not in INSTANCE_TYPES:
                valid = ", ".join(
                    f"{t.name} ({t.cpus:g} CPU, {t.memory_mib // 1024} GiB)"
                    for t in INSTANCE_TYPES.values()
                )
                raise InputError(
                    f"unknown local instance type {name!r}",
                    f"the local provider offers: {valid}",
                    "use one of those in the profile, or create on EC2 with --provider aws",
                )

    def find_existing(self) -> list[str]:
        found = [f"container {c.name}" for c in self._containers()]
        found += [
            f"network {n.name}" for n in self.client.networks.list(filters=self._label_filter())
        ]
        return found

    # -- network and shared volume ---------------------------------------------

    def create_network(self, recorder: Recorder) -> NetworkInfo:
        existing = self.client.networks.list(
            names=[self.network_name], filters=self._label_filter()
        )
        network = existing[0] if existing else self._new_network()
        network.reload()
        resource = ResourceRecord("network", network.id, self.network_name)
        recorder.record_resource(resource)
        return NetworkInfo(resource, network.attrs["IPAM"]["Config"][0]["Subnet"])

    def _new_network(self) -> Any:
        """A bridge network with a subnet of its own, so nodes can keep fixed addresses.

        The engine knows which subnets are free of the host's routes and of its
        other networks: let it pick one for a moment, then claim that subnet.
        """
        from docker.types import IPAMConfig, IPAMPool

        probe = self.client.networks.create(
            self._name("subnet-probe"), driver="bridge", labels=self._labels("network-probe")
        )
        try:
            probe.reload()
            config = probe.attrs["IPAM"]["Config"][0]
        finally:
            probe.remove()
        pool = IPAMPool(subnet=config["Subnet"], gateway=config.get("Gateway"))
        return self.client.networks.create(
            self.network_name,
            driver="bridge",
            ipam=IPAMConfig(pool_configs=[pool]),
            labels=self._labels("network"),
        )

    def create_shared_volume(
        self, recorder: Recorder, size_gib: int | None, volume_id: str | None
    ) -> ResourceRecord:
        """The shared volume is a host directory; one the user brings is linked, never owned."""
        self.shared_dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if volume_id:
            brought = Path(volume_id).expanduser().absolute()
            if not brought.is_dir():
                raise InputError(
                    f"shared volume {volume_id!r} is not a directory",
                    "on the local provider a shared_volume_id is a directory you bring",
                    "create it first, or leave shared_volume_id out",
                )
            if not self.shared_dir.is_symlink():
                self.shared_dir.symlink_to(brought, target_is_directory=True)
            resource = ResourceRecord("shared-dir", str(brought), "shared volume", keep=True)
        elif self.shared_dir.exists():
            # left by 'destroy --keep-volume': its files are the user's, so nothing may delete it
            resource = ResourceRecord(
                "shared-dir", str(self.shared_dir), "shared volume (kept from before)", keep=True
            )
        else:
            self.shared_dir.mkdir(mode=0o755)
            resource = ResourceRecord("shared-dir", str(self.shared_dir), "shared volume")
        recorder.record_resource(resource)
        return resource

    # -- nodes -----------------------------------------------------------------

    def launch_nodes(
        self, requests: Sequence[NodeRequest], recorder: Recorder, report: Report
    ) -> list[NodeRecord]:
        """Hand each launch's nodes its one user-data; they configure themselves.

        A node started ahead (``prestart``) gets its seed now; any other is
        started with it.
        """
        from clusterous.node.userdata import user_data

        fresh = [r for r in requests if r.name not in self._ahead]
        self.prestart([slot_of(r) for r in fresh], recorder, report)
        jobs = []
        for batch in launches(requests):
            data = user_data(batch[0].bootstrap, [r.name for r in batch])
            jobs += [(self._ahead.pop(r.name), index, data) for index, r in enumerate(batch)]
        return cancel.in_parallel([partial(self._deliver, job) for job in jobs])

    def prestart(self, slots: Sequence[NodeSlot], recorder: Recorder, report: Report) -> None:
        """Start node containers that wait for their seed: they boot while the controller does."""
        if not slots:
            return
        image = self._node_image(report)
        shared = self.shared_dir.resolve()
        addresses = self._next_addresses(len(slots))
        started = cancel.in_parallel(
            [
                partial(self._start, slot, address, image, shared, recorder)
                for slot, address in zip(slots, addresses, strict=True)
            ]
        )
        for slot, node in zip(slots, started, strict=True):
            self._ahead[slot.name] = node

    def _deliver(self, job: tuple[_Started, int, bytes]) -> NodeRecord:
        started, index, data = job
        seed = nocloud_seed(started.record.instance_id, started.record.name, index, data)
        started.container.put_archive("/", tar_of(seed))
        return started.record

    def _node_image(self, report: Report) -> str:
        """The node image, built on first use; a build is announced, its lines are not."""
        import time

        from clusterous.providers.local.images import ensure_node_image

        started = time.monotonic()
        building: list[bool] = []

        def announce(_line: str) -> None:
            if not building:
                building.append(True)
                report(f"building the node image from {self.base_image} (first use only)")

        tag = ensure_node_image(self.client, self.base_image, "full", progress=announce)
        if building:
            report(f"built the node image {tag} in {time.monotonic() - started:.0f} s")
        return tag

    def _start(
        self, slot: NodeSlot, address: str, image: str, shared: Path, recorder: Recorder
    ) -> _Started:
        volume = self._node_volume(slot.name, recorder)
        itype = INSTANCE_TYPES[slot.instance_type]
        port = free_local_port() if slot.role == "controller" else 0
        spec = NodeContainerSpec(
            name=self._name(slot.name),
            hostname=slot.name,
            image=image,
            network=self.network_name,
            address=address,
            labels=self._labels(
                slot.role,
                **{
                    "clusterous.node": slot.name,
                    "clusterous.group": slot.group,
                    "clusterous.type": slot.instance_type,
                },
            ),
            mounts=(Bind(str(shared), "/data"), Bind(volume, "/var/lib/docker", "volume")),
            ssh_port=port,
            cpus=min(itype.cpus, self._host_cpus()),
            memory_mib=itype.memory_mib,
        )
        container = create_node_container(self.client, spec)
        record = NodeRecord(
            slot.name,
            slot.group,
            slot.instance_type,
            container.id[:12],
            private_addr=address,
            ssh_host="127.0.0.1" if port else "",
            ssh_port=port,
        )
        recorder.record_node(record)
        container.start()
        return _Started(container, record)

    def _node_volume(self, node: str, recorder: Recorder) -> str:
        name = self._name(f"{node}-docker")
        self.client.volumes.create(
            name, labels=self._labels("node-volume", **{"clusterous.node": node})
        )
        recorder.record_resource(ResourceRecord("node-volume", name, name))
        return name

    def _host_cpus(self) -> float:
        return float(self.client.info().get("NCPU", 1))

    def _next_addresses(self, count: int) -> list[str]:
        """Addresses never given to a node of this cluster before.

        A newcomer that took a removed node's address would wait while Swarm's
        gossip still suspects the old member; so the highest host number ever
        used is kept in the cluster's directory, and checked against the
        addresses in use now.
        """
        network = self.client.networks.get(self.network_name)
        subnet = ipaddress.ip_network(network.attrs["IPAM"]["Config"][0]["Subnet"])
        mark = self.home.cluster_dir(self.cluster) / "local-addresses.json"
        used = [FIRST_HOST - 1] + [
            int(ipaddress.ip_address(v["IPv4Address"].split("/")[0])) - int(subnet.network_address)
            for v in (network.attrs.get("Containers") or {}).values()
        ]
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            used.append(int(json.loads(mark.read_text())["highest"]))
        first = max(used) + 1
        if first + count >= subnet.num_addresses - 1:
            raise ClusterousError(
                f"the network of cluster {self.cluster!r} has no free addresses left",
                f"{subnet} holds {subnet.num_addresses - 2} hosts and every one was used",
                f"destroy the cluster and create it again ('clusterous destroy {self.cluster}')",
            )
        mark.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        mark.write_text(json.dumps({"highest": first + count - 1}) + "\n")
        return [str(subnet.network_address + n) for n in range(first, first + count)]

    def _node_record(self, container: Container) -> NodeRecord:
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

    def terminate_nodes(self, nodes: Sequence[NodeRecord], report: Report) -> None:
        import docker

        for node in nodes:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.containers.get(self._name(node.name)).remove(force=True)
            self._remove_volume(self._name(f"{node.name}-docker"))
            report(f"removed node {node.name}")

    def _remove_volume(self, name: str) -> None:
        import docker

        with contextlib.suppress(docker.errors.NotFound):
            self.client.volumes.get(name).remove(force=True)

    def _containers(self) -> list[Container]:
        return list(self.client.containers.list(all=True, filters=self._label_filter()))

    def describe_nodes(self) -> list[NodeView]:
        views = []
        for container in self._containers():
            labels = container.labels
            views.append(
                NodeView(
                    name=labels.get("clusterous.node", container.name),
                    group=labels.get("clusterous.group", ""),
                    instance_type=labels.get("clusterous.type", ""),
                    instance_id=container.id[:12],
                    state={"running": "running", "created": "pending"}.get(
                        container.status, "stopped"
                    ),
                    private_addr=container.attrs["NetworkSettings"]["Networks"]
                    .get(self.network_name, {})
                    .get("IPAddress", ""),
                )
            )
        return views

    def bootstrap_settings(self, private_cidr: str) -> dict[str, str]:
        return {
            "dns": " ".join(host_nameservers()),
            "docker_storage_driver": "overlay2",
            "registry_storage": "filesystem",
            "swarm_addr_pool": SWARM_ADDR_POOL,
            "nfs": "",
            "shared_device": "",
        }

    # -- teardown ---------------------------------------------------------------

    def sweep(self, state: ClusterState | None, keep_volume: bool, report: Report) -> SweepReport:
        result = SweepReport()
        containers = self._containers()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda c: c.remove(force=True, v=True), containers))
        result.removed += [f"container {c.name}" for c in containers]
        if containers:
            report(f"removed {len(containers)} node container(s)")
        for volume in self.client.volumes.list(filters=self._label_filter()):
            volume.remove(force=True)
            result.removed.append(f"volume {volume.name}")
        for network in self.client.networks.list(filters=self._label_filter()):
            network.remove()
            result.removed.append(f"network {network.name}")
            report(f"removed network {network.name}")
        self._sweep_shared(state, keep_volume, result, report)
        result.leftovers = self.leftovers()
        return result

    def _sweep_shared(
        self, state: ClusterState | None, keep_volume: bool, result: SweepReport, report: Report
    ) -> None:
        if self.shared_dir.is_symlink():
            brought = self.shared_dir.resolve()
            self.shared_dir.unlink()
            result.kept.append(f"shared directory {brought} (brought by you: never deleted)")
            return
        if not self.shared_dir.exists():
            return
        if self._kept_before(state):
            result.kept.append(
                f"shared volume {self.shared_dir} (kept from before: never deleted; "
                "remove the directory yourself when you no longer need its files)"
            )
            report(f"kept the shared volume {self.shared_dir}")
            return
        if keep_volume:
            result.kept.append(
                f"shared volume {self.shared_dir} (a new cluster named {self.cluster!r} uses it "
                "again; delete the directory when you no longer need its files)"
            )
            report(f"kept the shared volume {self.shared_dir}")
            return
        self._remove_tree(self.shared_dir)
        result.removed.append(f"shared volume {self.shared_dir}")
        report(f"removed the shared volume {self.shared_dir}")

    def _kept_before(self, state: ClusterState | None) -> bool:
        resources = state.resources if state else []
        return any(r.keep and r.id == str(self.shared_dir) for r in resources)

    def shared_volume_question(self, state: ClusterState | None) -> str | None:
        """The shared directory a destroy would delete, when it holds files worth asking about."""
        if self.shared_dir.is_symlink() or not self.shared_dir.is_dir():
            return None
        if self._kept_before(state):
            return None
        try:
            empty = next(self.shared_dir.iterdir(), None) is None
        except OSError:
            empty = False  # unreadable: assume it holds files
        return None if empty else str(self.shared_dir)

    def _remove_tree(self, path: Path) -> None:
        """Files made by root in the nodes may not be ours to delete: ask the engine."""
        try:
            shutil.rmtree(path)
        except PermissionError:
            self.client.containers.run(
                self.base_image,
                ["sh", "-c", "rm -rf /target/* /target/.[!.]* /target/..?*"],
                mounts=[self._bind(path, "/target")],
                remove=True,
                labels=self._labels("cleanup"),
            )
            shutil.rmtree(path)

    @staticmethod
    def _bind(path: Path, target: str) -> Any:
        from docker.types import Mount

        return Mount(target, str(path), type="bind")

    def leftovers(self) -> list[Leftover]:
        left = [Leftover("container", c.name, c.status) for c in self._containers()]
        left += [
            Leftover("network", n.name)
            for n in self.client.networks.list(filters=self._label_filter())
        ]
        left += [
            Leftover("volume", v.name)
            for v in self.client.volumes.list(filters=self._label_filter())
        ]
        return left

    # -- finding clusters again ---------------------------------------------------

    def list_clusters(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for container in self.client.containers.list(all=True, filters={"label": CLUSTER_LABEL}):
            name = container.labels.get(CLUSTER_LABEL, "")
            counts[name] = counts.get(name, 0) + 1
        for network in self.client.networks.list(filters={"label": CLUSTER_LABEL}):
            counts.setdefault(network.attrs.get("Labels", {}).get(CLUSTER_LABEL, ""), 0)
        counts.pop("", None)
        return counts

    def adopt(self, login_key: KeyPair) -> ClusterState:
        """Rebuild the ledger of a local cluster whose files were lost: the engine is ours."""
        containers = [c for c in self._containers() if c.status == "running"]
        if not containers:
            raise ClusterousError(
                f"no running node of cluster {self.cluster!r} on this Docker engine",
                None,
                "see 'clusterous ls-clusters'",
            )
        state = ClusterState(name=self.cluster, provider=self.name, profile="", status="ready")
        state.cluster_id = containers[0].labels.get(ID_LABEL, "")
        authorized = {"authorized_keys": ((login_key.public_openssh + "\n").encode(), 0o600)}
        for container in containers:
            container.exec_run(["install", "-d", "-m", "0700", "/root/.ssh"])
            container.put_archive("/root/.ssh", tar_of(authorized))
            state.nodes.append(self._node_record(container))
        network = self.client.networks.get(self.network_name)
        state.private_cidr = network.attrs["IPAM"]["Config"][0]["Subnet"]
        state.resources.append(ResourceRecord("network", network.id, self.network_name))
        state.resources.append(ResourceRecord("shared-dir", str(self.shared_dir), "shared volume"))
        return state

    def host_public_key(self, node: str) -> str:
        """The host key a node presents, read through the engine (adoption only)."""
        container = self.client.containers.get(self._name(node))
        code, output = container.exec_run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])
        if code != 0:
            raise ClusterousError(f"cannot read the host key of node {node}", output.decode()[:200])
        return str(output.decode().strip())
