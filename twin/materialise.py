"""Every instance moto launches, made real: a node container that boots its own user-data.

The front endpoint hands over each call that changes machines once moto has
accepted it. RunInstances starts each instance's node in the background (the
CLI gets moto's answer at once, as from EC2); every later call on that
instance first waits for its node to exist. Termination, detaching and
deleting are done before the CLI gets its answer, so whatever it does next
finds them done. A node that shuts itself down (``shutdown``) is what EC2
makes of it: its instance terminated or stopped in moto, as its
InstanceInitiatedShutdownBehavior says, with its volumes as EC2 leaves them.

A node is created the way the local provider creates one
(``node_container``), with the instance's private address on a Docker
``internal`` network made for its subnet (same CIDR, gateway at the
subnet's first address, which AWS reserves for its router), plus:
- a NoCloud seed with the instance id, host name, launch index and the
  user-data moto holds;
- ``/etc/clusterous/data-from-host``: this kernel has no NFS, so /data of
  the other nodes is the controller's volume, mounted on the host and bound
  into them (the bootstrap then leaves NFS out: the one branch not run here);
- drop-ins that, before cloud-init's first stage, DNAT 169.254.169.254:80
  to the twin's metadata service.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twin import loopdev
from twin.awsquery import Call, launched_instances
from twin.forward import PortForward
from twin.imds import InstanceMetadata, MetadataServer, hostname_of
from twin.motoapi import Moto
from twin.shutdown import ShutdownWatcher

if TYPE_CHECKING:
    import docker

log = logging.getLogger("twin.materialise")

TWIN_LABEL = "clusterous.twin"
VOLUME_ID = re.compile(r"<volumeId>(vol-[0-9a-f]+)</volumeId>")
NETWORK_SCRIPT = "usr/local/sbin/clusterous-twin-network"
# Before cloud-init's first stage that runs (the node image may mask the local one).
NETWORK_DROP_INS = tuple(
    f"etc/systemd/system/{unit}.service.d/clusterous-twin.conf"
    for unit in ("cloud-init-local", "cloud-init")
)
DATA_FROM_HOST = "etc/clusterous/data-from-host"


@dataclass
class Node:
    """A materialised instance."""

    instance_id: str
    region: str
    vpc: str
    subnet: str
    private_ip: str
    container: str
    volume: str  # the Docker volume at /var/lib/docker
    forward: PortForward | None = None


@dataclass
class Disk:
    """An EBS volume: a sparse file, a loop device while attached."""

    volume_id: str
    path: Path
    device: str = ""
    attached_to: str = ""
    host_mount: Path | None = None


@dataclass
class Places:
    """Where the twin's nodes reach it, and where it keeps its files."""

    workdir: Path
    imds: tuple[str, int]  # the metadata service, on the service network's gateway
    image: str


@dataclass
class Materialiser:
    twin_id: str
    client: docker.DockerClient
    moto: Moto
    metadata: MetadataServer
    places: Places
    loopback_for: Callable[[str], str]
    nodes: dict[str, Node] = field(default_factory=dict)
    disks: dict[str, Disk] = field(default_factory=dict)
    networks: dict[str, str] = field(default_factory=dict)  # subnet id -> Docker network
    stopped: set[str] = field(default_factory=set)  # instances whose node is stopped, not gone
    _watcher: ShutdownWatcher | None = None
    _launching: dict[str, Future[Node | None]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(8, "twin-node"))

    # -- what the front endpoint hands over ----------------------------------------

    def observe(self, call: Call, answer: bytes) -> None:
        handler = getattr(self, f"_on_{call.action}", None)
        if call.service == "ec2" and handler is not None:
            handler(call, answer)

    def _on_RunInstances(self, call: Call, answer: bytes) -> None:
        for instance_id in launched_instances(answer):
            with self._lock:
                self._launching[instance_id] = self._pool.submit(
                    self._materialise, call.region, instance_id
                )

    def _on_TerminateInstances(self, call: Call, answer: bytes) -> None:
        ids = call.values("InstanceId")
        with ThreadPoolExecutor(max(1, min(8, len(ids)))) as pool:
            list(pool.map(self.terminate, ids))

    def _on_StopInstances(self, call: Call, answer: bytes) -> None:
        for instance_id in call.values("InstanceId"):
            node = self.node(instance_id)
            if node is not None:
                with self._lock:
                    self.stopped.add(instance_id)
                log.info("%s: stopping its node", instance_id)
                self.client.containers.get(node.container).stop(timeout=10)

    def _on_StartInstances(self, call: Call, answer: bytes) -> None:
        """A started instance gets a new public address, as on EC2: SSH moves with it."""
        for instance_id in call.values("InstanceId"):
            node = self.node(instance_id)
            if node is None:
                continue
            with self._lock:
                self.stopped.discard(instance_id)
            log.info("%s: starting its node again", instance_id)
            self.client.containers.get(node.container).start()
            self._present_disks(node)
            if node.forward is not None:
                node.forward.close()
            raw = self.moto.instance(node.region, instance_id)
            self._register_metadata(node.region, raw)
            node.forward = self._forward_ssh(node.region, raw, node)

    def _present_disks(self, node: Node) -> None:
        """A started instance finds its volumes attached, as on EC2.

        A node container's /dev starts afresh, so each device is presented
        again; and /data is mounted as its fstab line mounts it at an
        instance's boot (in a container no udev tells systemd the device is there).
        """
        with self._lock:
            disks = [d for d in self.disks.values() if d.attached_to == node.instance_id]
        for disk in (d for d in disks if d.device):
            numbers = loopdev.device_numbers(disk.device)
            self._exec(node, loopdev.node_device_script(disk.volume_id, numbers))
            self._exec(
                node,
                "! grep -q ' /data ' /etc/fstab || mountpoint -q /data || "
                f"mount /dev/twin-{disk.volume_id} /data",
            )

    def _on_CreateVolume(self, call: Call, answer: bytes) -> None:
        found = VOLUME_ID.search(answer.decode("utf-8", "replace"))
        if found is None:
            return
        volume_id = found.group(1)
        disk = Disk(volume_id, self.places.workdir / "volumes" / f"{volume_id}.img")
        loopdev.create_sparse(disk.path, int(call.params.get("Size") or 1))
        with self._lock:
            self.disks[volume_id] = disk
        log.info("%s: sparse file %s", volume_id, disk.path)

    def _on_AttachVolume(self, call: Call, answer: bytes) -> None:
        disk = self.disks.get(call.params.get("VolumeId", ""))
        node = self.node(call.params.get("InstanceId", ""))
        if disk is None or node is None:
            return
        if not disk.device:
            disk.device = loopdev.attach_loop(disk.path)
        disk.attached_to = node.instance_id
        numbers = loopdev.device_numbers(disk.device)
        self._exec(node, loopdev.node_device_script(disk.volume_id, numbers))
        log.info("%s: attached to %s as %s", disk.volume_id, node.instance_id, disk.device)

    def _on_DetachVolume(self, call: Call, answer: bytes) -> None:
        disk = self.disks.get(call.params.get("VolumeId", ""))
        if disk is not None:
            self.detach(disk)

    def _on_DeleteVolume(self, call: Call, answer: bytes) -> None:
        with self._lock:
            disk = self.disks.pop(call.params.get("VolumeId", ""), None)
        if disk is not None:
            self.delete(disk)

    def _on_DeleteSubnet(self, call: Call, answer: bytes) -> None:
        self.remove_network(call.params.get("SubnetId", ""))

    # -- what EC2 does without a call: an instance that shuts itself down -------------

    def watch(self) -> None:
        """Follow the nodes' own shutdowns, until ``close``."""
        self._watcher = ShutdownWatcher(
            self.client, TWIN_LABEL, self.twin_id, self._shut_down_later
        ).start()

    def _shut_down_later(self, instance_id: str) -> None:
        self._pool.submit(self.shut_down, instance_id)  # the watcher reads on meanwhile

    def shut_down(self, instance_id: str) -> None:
        """The node ended itself: EC2 terminates or stops its instance, as the instance says.

        Terminated: the twin removes the node and detaches its EBS volumes (the
        shared one stays, as in EC2), then moto terminates the instance, deleting
        the volumes marked DeleteOnTermination (the root volume). Stopped: the
        exited node stays, its volumes attached, until StartInstances.
        """
        with self._lock:
            node = self.nodes.get(instance_id)
            if node is None or instance_id in self.stopped:
                return  # the twin itself stopped or removed it
        try:
            behavior = self.moto.shutdown_behavior(node.region, instance_id)
            ec2 = self.moto.client("ec2", node.region)
            if behavior == "terminate":
                self.terminate(instance_id)
                ec2.terminate_instances(InstanceIds=[instance_id])
            else:
                with self._lock:
                    self.stopped.add(instance_id)
                ec2.stop_instances(InstanceIds=[instance_id])
        except Exception:
            log.exception("%s: moto was not told of its shutdown", instance_id)
            return
        log.info("%s: shut down from inside: %s (as in EC2)", instance_id, behavior)

    # -- instances ----------------------------------------------------------------------

    def node(self, instance_id: str) -> Node | None:
        """The instance's node, once made (waits for a launch in progress)."""
        with self._lock:
            pending = self._launching.get(instance_id)
            node = self.nodes.get(instance_id)
        if node is None and pending is not None:
            with contextlib.suppress(Exception):
                node = pending.result(timeout=300)
        return node

    def _materialise(self, region: str, instance_id: str) -> Node | None:
        try:
            return self._make_node(region, instance_id)
        except Exception:
            log.exception("%s: its node could not be made", instance_id)
            return None

    def _make_node(self, region: str, instance_id: str) -> Node:
        from clusterous.providers.local.node_container import (
            Bind,
            NodeContainerSpec,
            create_node_container,
        )

        raw = self.moto.instance(region, instance_id)
        private_ip = str(raw["PrivateIpAddress"])
        subnet, vpc = str(raw["SubnetId"]), str(raw["VpcId"])
        network = self.ensure_network(region, subnet)
        gateway = self._gateway(region, subnet)
        name = f"clusterous-twin-{self.twin_id}-{instance_id}"
        volume = f"{name}-docker"
        labels = {TWIN_LABEL: self.twin_id, f"{TWIN_LABEL}.instance": instance_id}
        self.client.volumes.create(volume, labels=labels)
        node = Node(instance_id, region, vpc, subnet, private_ip, name, volume)
        self._register_metadata(region, raw)
        files = {
            **self._seed(raw, self.moto.user_data(region, instance_id)),
            **boot_files(gateway, self.places.imds),
        }
        mounts = [Bind(volume, "/var/lib/docker", "volume")]
        data = self._shared_data_for(node)
        if data is not None:
            mounts.append(Bind(str(data), "/data"))
        spec = NodeContainerSpec(
            name=name,
            hostname=hostname_of(private_ip),
            image=self.places.image,
            network=network,
            address=private_ip,
            labels=labels,
            mounts=tuple(mounts),
            files=files,
        )
        container = create_node_container(self.client, spec)
        with self._lock:
            self.nodes[instance_id] = node
        container.start()
        node.forward = self._forward_ssh(region, raw, node)
        log.info("%s: node %s started at %s", instance_id, name, private_ip)
        return node

    def _seed(self, raw: dict[str, Any], user_data: bytes) -> dict[str, tuple[bytes, int]]:
        from clusterous.providers.local.node_container import nocloud_seed

        hostname = hostname_of(str(raw["PrivateIpAddress"]))
        return nocloud_seed(
            str(raw["InstanceId"]), hostname, int(raw.get("AmiLaunchIndex", 0)), user_data
        )

    def _register_metadata(self, region: str, raw: dict[str, Any]) -> None:
        instance_id = str(raw["InstanceId"])
        role, keys = "", None
        profile = raw.get("IamInstanceProfile", {}).get("Arn", "")
        if profile:
            role, keys = self.moto.role_credentials(str(profile), instance_id)
        public = str(raw.get("PublicIpAddress") or "")
        self.metadata.register(
            InstanceMetadata(
                instance_id=instance_id,
                launch_index=int(raw.get("AmiLaunchIndex", 0)),
                region=region,
                zone=str(raw.get("Placement", {}).get("AvailabilityZone", "")),
                private_ip=str(raw["PrivateIpAddress"]),
                instance_type=str(raw.get("InstanceType", "")),
                public_ip=self.loopback_for(public) if public else "",
                role=role,
                credentials=keys,
            )
        )

    def _forward_ssh(self, region: str, raw: dict[str, Any], node: Node) -> PortForward | None:
        """SSH on the public stand-in, when the instance has a public address and SSH is open."""
        public = str(raw.get("PublicIpAddress") or "")
        if not public:
            return None
        groups = sorted(
            {str(g["GroupId"]) for g in raw.get("SecurityGroups", [])}
            | {
                str(g["GroupId"])
                for n in raw.get("NetworkInterfaces", [])
                for g in n.get("Groups", [])
            }
        )
        sources = self.moto.ssh_sources(region, groups, self.moto.vpc_cidr(region, node.vpc))
        if not sources:
            return None
        loopback = self.loopback_for(public)
        log.info("%s: SSH at %s:22 (from %s)", node.instance_id, loopback, ", ".join(sources))
        return PortForward((loopback, 22), (node.private_ip, 22), sources)

    def _exec(self, node: Node, script: str) -> None:
        container = self.client.containers.get(node.container)
        status, output = container.exec_run(["sh", "-c", script])
        if status != 0:
            log.warning("%s: %s failed: %s", node.instance_id, script, output.decode()[-400:])

    def terminate(self, instance_id: str) -> None:
        node = self.node(instance_id)
        with self._lock:
            self.nodes.pop(instance_id, None)
            self._launching.pop(instance_id, None)
            self.stopped.discard(instance_id)
        if node is None:
            return
        for disk in [d for d in self.disks.values() if d.attached_to == instance_id]:
            self.detach(disk, node_gone=True)
        self.remove_node(node)

    def remove_node(self, node: Node) -> None:
        import docker.errors

        if node.forward is not None:
            node.forward.close()
        self.metadata.forget(node.private_ip)
        with contextlib.suppress(docker.errors.NotFound):
            self.client.containers.get(node.container).remove(force=True, v=True)
        with contextlib.suppress(docker.errors.NotFound):
            self.client.volumes.get(node.volume).remove(force=True)
        log.info("%s: node removed", node.instance_id)

    # -- /data of the nodes that do not own the volume ------------------------------------

    def _shared_data_for(self, node: Node) -> Path | None:
        """The VPC's shared volume as the host mounts it; None for the node that owns it."""
        with self._lock:
            owners = {i: n for i, n in self.nodes.items() if n.vpc == node.vpc}
            disks = [d for d in self.disks.values() if d.attached_to in owners and d.device]
        if not owners:
            return None  # the first node of the VPC: the controller, which mounts it itself
        for disk in disks:
            with self._lock:  # nodes of one launch are made in parallel: mount once
                if disk.host_mount is None and loopdev.has_filesystem(disk.device):
                    disk.host_mount = self.places.workdir / "mnt" / disk.volume_id
                    loopdev.mount(disk.device, disk.host_mount)
                if disk.host_mount is not None:
                    return disk.host_mount
        fallback = self.places.workdir / "data" / node.vpc
        fallback.mkdir(parents=True, exist_ok=True)
        log.warning(
            "%s: no formatted shared volume in %s yet: /data is %s",
            node.instance_id,
            node.vpc,
            fallback,
        )
        return fallback

    # -- volumes --------------------------------------------------------------------------

    def detach(self, disk: Disk, node_gone: bool = False) -> None:
        node = None if node_gone else self.nodes.get(disk.attached_to)
        if node is not None:
            self._exec(node, loopdev.node_device_removal(disk.volume_id))
        with self._lock:
            if disk.host_mount is not None:
                loopdev.unmount(disk.host_mount)
                with contextlib.suppress(OSError):
                    disk.host_mount.rmdir()  # never rmtree: a mount that stayed holds files
                disk.host_mount = None
        if disk.device or disk.attached_to:
            loopdev.detach_loops(disk.path)
            disk.device, disk.attached_to = "", ""
            log.info("%s: detached", disk.volume_id)

    def delete(self, disk: Disk) -> None:
        self.detach(disk, node_gone=True)
        disk.path.unlink(missing_ok=True)
        log.info("%s: deleted", disk.volume_id)

    # -- networks -------------------------------------------------------------------------

    def ensure_network(self, region: str, subnet: str) -> str:
        """The subnet's Docker network: internal, the subnet's CIDR, gateway at its .1."""
        from docker.types import IPAMConfig, IPAMPool

        with self._lock:
            if subnet in self.networks:
                return self.networks[subnet]
            cidr = self.moto.subnet_cidr(region, subnet)
            name = f"clusterous-twin-{self.twin_id}-{subnet}"
            pool = IPAMPool(subnet=cidr, gateway=self._gateway(region, subnet, cidr))
            self.client.networks.create(
                name,
                driver="bridge",
                internal=True,
                ipam=IPAMConfig(pool_configs=[pool]),
                labels={TWIN_LABEL: self.twin_id, f"{TWIN_LABEL}.subnet": subnet},
            )
            self.networks[subnet] = name
            log.info("%s: Docker network %s (%s)", subnet, name, cidr)
            return name

    def _gateway(self, region: str, subnet: str, cidr: str = "") -> str:
        network = ipaddress.ip_network(cidr or self.moto.subnet_cidr(region, subnet))
        return str(network.network_address + 1)

    def remove_network(self, subnet: str) -> None:
        import docker.errors

        with self._lock:
            name = self.networks.pop(subnet, None)
        if name is None:
            return
        with contextlib.suppress(docker.errors.NotFound):
            self.client.networks.get(name).remove()
        log.info("%s: Docker network %s removed", subnet, name)

    # -- the end --------------------------------------------------------------------------

    def close(self) -> None:
        """Remove every node, volume and network this materialiser made."""
        if self._watcher is not None:
            self._watcher.close()
        self._pool.shutdown(wait=True, cancel_futures=False)
        for instance_id in list(self.nodes):
            self.terminate(instance_id)
        for volume_id in list(self.disks):
            self.delete(self.disks.pop(volume_id))
        for subnet in list(self.networks):
            self.remove_network(subnet)


def boot_files(gateway: str, imds: tuple[str, int]) -> dict[str, tuple[bytes, int]]:
    """What a twin node has that an EC2 instance gets from AWS: IMDS, and /data from the host."""
    host, port = imds
    script = f"""#!/bin/sh
# clusterous EC2 twin: this node's metadata service (169.254.169.254) is the
# twin's, on the host; run before cloud-init, which is the first to ask it.
ip -4 route show default | grep -q . || ip -4 route add default via {gateway}
rule="OUTPUT -d 169.254.169.254/32 -p tcp --dport 80 -j DNAT --to-destination {host}:{port}"
iptables -t nat -C $rule 2>/dev/null || iptables -t nat -A $rule
"""
    drop_in = f"""# clusterous EC2 twin: the metadata service first.
[Service]
ExecStartPre=-/{NETWORK_SCRIPT}
"""
    files = {NETWORK_SCRIPT: (script.encode(), 0o755), DATA_FROM_HOST: (b"", 0o644)}
    files.update({path: (drop_in.encode(), 0o644) for path in NETWORK_DROP_INS})
    return files
