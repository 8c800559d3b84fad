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
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterous import cancel
from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.providers.base import (
    BootFailure,
    BootstrapSettings,
    NetworkInfo,
    NodeRequest,
    NodeSlot,
    NodeView,
    Recorder,
    Say,
    SweepResult,
    launches,
    slot_of,
)
from clusterous.providers.local import boot, power
from clusterous.providers.local.adopt import LocalAdopter
from clusterous.providers.local.catalog import INSTANCE_TYPES, LocalCatalog, LocalMeter
from clusterous.providers.local.host import connect_docker, free_local_port, host_nameservers
from clusterous.providers.local.images import HostImages
from clusterous.providers.local.node_container import (
    RUNNING_CPU_SHARES,
    WAITING_CPU_SHARES,
    Bind,
    NodeContainerSpec,
    create_node_container,
    nocloud_seed,
    tar_of,
)
from clusterous.providers.local.ownership import CLUSTER_LABEL, id_labels, owner_ids
from clusterous.providers.local.sweep import LocalSweep
from clusterous.providers.local.volumes import LocalVolumes
from clusterous.records import ClusterState, NodeRecord, ResourceRecord

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

SWARM_ADDR_POOL = "10.201.0.0/16"
FIRST_HOST = 10  # node addresses start at .10 of the cluster's subnet


@dataclass(frozen=True)
class _Started:
    """A node container running ahead of its launch, waiting for its seed."""

    container: Container
    record: NodeRecord
    waiting: bool  # started ahead of its launch, at WAITING_CPU_SHARES


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
        self.catalog = LocalCatalog(base_image, node_type)
        self.meter = LocalMeter()
        self.image_source = HostImages(lambda: self.client)
        self.kept_volumes = LocalVolumes(home, cluster, lambda: self.client, base_image)
        self.adopter = LocalAdopter(
            cluster, self.network_name, self.shared_dir, self._containers, self._network_subnet
        )

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
        return self.kept_volumes.shared_dir

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

    def check_room(self, new_nodes: int) -> None:
        if boot.engine_on_this_host(self.client):  # else /proc is not the engine's host's
            boot.InotifyRoom(lambda: boot.running_nodes(self.client)).check(new_nodes)

    def describe_resources(self, size_gib: int | None, volume_id: str | None) -> list[str]:
        where = f"your directory {volume_id}" if volume_id else f"the directory {self.shared_dir}"
        return [
            f"network: Docker bridge network {self.network_name}; only the controller's SSH is "
            "published, on 127.0.0.1",
            f"shared volume: {where}, mounted at /data on every node",
        ]

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
        return self.kept_volumes.create(recorder, volume_id)

    # -- nodes -----------------------------------------------------------------

    def launch_nodes(
        self, requests: Sequence[NodeRequest], recorder: Recorder, say: Say
    ) -> list[NodeRecord]:
        """Hand each launch's nodes its one user-data; they configure themselves.

        A node started ahead (``prestart``) gets its seed now; any other is
        started with it.
        """
        from clusterous.node.userdata import user_data

        fresh = [r for r in requests if r.name not in self._ahead]
        self._start_all([slot_of(r) for r in fresh], recorder, say, waiting=False)
        jobs = []
        for batch in launches(requests):
            data = user_data(batch[0].bootstrap, [r.name for r in batch])
            jobs += [(self._ahead.pop(r.name), index, data) for index, r in enumerate(batch)]
        return cancel.in_parallel([partial(self._deliver, job) for job in jobs])

    def prestart(self, slots: Sequence[NodeSlot], recorder: Recorder, say: Say) -> None:
        """Start node containers that wait for their seed: they boot while the controller does."""
        self._start_all(slots, recorder, say, waiting=True)

    def _start_all(
        self, slots: Sequence[NodeSlot], recorder: Recorder, say: Say, waiting: bool
    ) -> None:
        """Start node containers; ``waiting`` ones (ahead of their launch) at a low CPU weight."""
        if not slots:
            return
        image = self._node_image(say)
        shared = self.shared_dir.resolve()
        addresses = self._next_addresses(len(slots))
        started = cancel.in_parallel(
            [
                partial(self._start, slot, address, image, shared, recorder, waiting)
                for slot, address in zip(slots, addresses, strict=True)
            ]
        )
        for slot, node in zip(slots, started, strict=True):
            self._ahead[slot.name] = node

    def _deliver(self, job: tuple[_Started, int, bytes]) -> NodeRecord:
        started, index, data = job
        if started.waiting:
            started.container.update(cpu_shares=RUNNING_CPU_SHARES)
        seed = nocloud_seed(started.record.instance_id, started.record.name, index, data)
        started.container.put_archive("/", tar_of(seed))
        return started.record

    def _node_image(self, say: Say) -> str:
        """The node image, built on first use; a build is announced, its lines are not."""
        import time

        from clusterous.providers.local.images import ensure_node_image

        started = time.monotonic()
        building: list[bool] = []

        def announce(_line: str) -> None:
            if not building:
                building.append(True)
                say(f"building the node image from {self.base_image} (first use only)")

        tag = ensure_node_image(self.client, self.base_image, "full", progress=announce)
        if building:
            say(f"built the node image {tag} in {time.monotonic() - started:.0f} s")
        return tag

    def _start(
        self,
        slot: NodeSlot,
        address: str,
        image: str,
        shared: Path,
        recorder: Recorder,
        waiting: bool,
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
            cpus=min(itype.cpus, self.host_cpus),
            host_cpus=self.host_cpus,
            cpu_shares=WAITING_CPU_SHARES if waiting else 0,
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
        return _Started(container, record, waiting)

    def _node_volume(self, node: str, recorder: Recorder) -> str:
        name = self._name(f"{node}-docker")
        self.client.volumes.create(
            name, labels=self._labels("node-volume", **{"clusterous.node": node})
        )
        recorder.record_resource(ResourceRecord("node-volume", name, name))
        return name

    @cached_property
    def host_cpus(self) -> int:
        """The engine's CPUs, asked once: each ``info`` makes the engine run two programs."""
        return max(1, int(self.client.info().get("NCPU", 1)))

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

    def terminate_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> None:
        import docker

        for node in nodes:
            with contextlib.suppress(docker.errors.NotFound):
                self.client.containers.get(self._name(node.name)).remove(force=True)
            self._remove_volume(self._name(f"{node.name}-docker"))
            say(f"removed node {node.name}")

    def stop_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> None:
        power.stop_nodes(self.client, self._name, nodes, say)

    def start_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> list[NodeRecord]:
        return power.start_nodes(self.client, self._name, nodes, say)

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
                    state=power.machine_state(container),
                    private_addr=container.attrs["NetworkSettings"]["Networks"]
                    .get(self.network_name, {})
                    .get("IPAddress", ""),
                )
            )
        return views

    def boot_failures(self, nodes: Sequence[NodeRecord]) -> dict[str, BootFailure]:
        return boot.node_failures(self.client, {n.name: self._name(n.name) for n in nodes})

    def bootstrap_settings(self, private_cidr: str) -> BootstrapSettings:
        return BootstrapSettings(
            swarm_addr_pool=SWARM_ADDR_POOL,
            registry_storage="filesystem",
            dns=" ".join(host_nameservers()),
            docker_storage_driver="overlay2",
        )

    # -- teardown -----------------------------------------------------------------

    def sweep(
        self, state: ClusterState | None, keep_volume: bool, say: Say, keep_images: bool = False
    ) -> SweepResult:
        # the registry stores its images in the controller container: they go with it
        sweep = LocalSweep(self.client, self.cluster, self._name, self.kept_volumes, say)
        return sweep.run(state, keep_volume)

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

    def _network_subnet(self) -> tuple[str, str]:
        network = self.client.networks.get(self.network_name)
        return str(network.id), str(network.attrs["IPAM"]["Config"][0]["Subnet"])
