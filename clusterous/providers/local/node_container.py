"""A node container that boots like an EC2 instance: systemd, cloud-init, a NoCloud seed.

The local provider and the EC2 twin (tests) both start their nodes here. A
node container is created from the node image with what systemd and the
node's own dockerd need where ``--privileged`` may be refused, a fixed address
on its cluster network (so a restart of the container or of the engine gives
it back the address Swarm knows it by), and a NoCloud seed in
/var/lib/cloud/seed/nocloud: ``meta-data`` with the instance id, host name and
place in the launch, and ``user-data`` as EC2 would hand it over. The seed is
copied into the container (a remote engine works too), before it starts or,
for a node started ahead of its launch, later: its cloud-init waits for it.
A node with a CPU count is pinned to that many of the host's CPUs, so its
own dockerd, and Swarm through it, sees exactly its instance type's CPUs;
consecutive nodes start on different CPUs.
"""

from __future__ import annotations

import io
import ipaddress
import math
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

SEED_DIR = "var/lib/cloud/seed/nocloud"
LAUNCHED = "etc/clusterous/launched"  # see node_image/cloud-init-preload
RESTART_POLICY = {"Name": "on-failure"}  # see create_node_container
# A node started ahead of its launch boots, loads cloud-init and waits at an
# eighth of a launched node's CPU weight: it takes the CPU the controller (which
# everyone waits for) leaves idle, not the controller's. Its launch restores the
# engine's default (RUNNING_CPU_SHARES).
WAITING_CPU_SHARES = 128
RUNNING_CPU_SHARES = 1024


@dataclass(frozen=True)
class Bind:
    """A host directory or named volume mounted into the node."""

    source: str
    target: str
    kind: str = "bind"  # bind | volume


@dataclass(frozen=True)
class NodeContainerSpec:
    name: str  # the container's name
    hostname: str
    image: str
    network: str
    address: str  # fixed IPv4 address on ``network``
    labels: Mapping[str, str]
    mounts: Sequence[Bind] = ()
    ssh_port: int = 0  # published on 127.0.0.1 when not 0
    cpus: float = 0.0  # 0: no limit; else also pinned to that many host CPUs
    cpu_shares: int = 0  # 0: the engine's default weight (1024); see WAITING_CPU_SHARES
    host_cpus: int = 0  # the engine's CPU count, for pinning; 0: ask the engine
    memory_mib: int = 0  # 0: no limit
    files: Mapping[str, tuple[bytes, int]] = field(default_factory=dict)  # path -> (data, mode)


def nocloud_seed(
    instance_id: str, hostname: str, launch_index: int, user_data: bytes
) -> dict[str, tuple[bytes, int]]:
    """The seed files cloud-init's NoCloud datasource reads, as EC2's metadata would say it."""
    meta = (
        f"instance-id: {instance_id}\n"
        f"local-hostname: {hostname}\n"
        f"ami-launch-index: {launch_index}\n"
    )
    return {
        f"{SEED_DIR}/user-data": (user_data, 0o600),
        f"{SEED_DIR}/meta-data": (meta.encode(), 0o644),
        # Last in the archive: a node started ahead of its launch waits for it.
        LAUNCHED: (b"", 0o644),
    }


def cpuset_for(cpus: float, host_cpus: int, address: str) -> str:
    """``cpus`` of the host's CPUs (all of them at most), e.g. "1,2" for 2 CPUs.

    Pinning is what makes the node's ``docker info`` (and Swarm's node
    resources) report the node's own CPU count: a CFS quota alone leaves it
    the host's. A node starts at the CPU its address picks: nodes of a cluster
    have consecutive addresses, so consecutive nodes start on different CPUs
    and a launch's boots share the machine evenly. (A hash of the name put
    worker-1, -2 and -3 of every cluster on one CPU of two.)
    """
    count = min(host_cpus, max(1, math.ceil(cpus)))
    first = int(ipaddress.IPv4Address(address)) % host_cpus
    return ",".join(str((first + i) % host_cpus) for i in range(count))


def node_container_security() -> dict[str, Any]:
    """What systemd and a node's own dockerd need, where ``--privileged`` is refused.

    Some engines refuse ``--privileged`` (CAP_SYS_RESOURCE missing from their
    bounding set). Every capability but that one, unconfined seccomp and
    AppArmor and all devices work there; the node's entrypoint remounts /sys,
    /proc/sys and the cgroup hierarchies read-write before it starts systemd.
    """
    return {
        "cap_add": ["ALL"],
        "cap_drop": ["SYS_RESOURCE"],
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
        "device_cgroup_rules": ["a *:* rwm"],
    }


def create_node_container(client: docker.DockerClient, spec: NodeContainerSpec) -> Container:
    """Create (not start) the node; the low-level API sets what the SDK's run() cannot."""
    from docker.types import Mount

    api = client.api
    host_config = api.create_host_config(
        mounts=[Mount(m.target, m.source, type=m.kind) for m in spec.mounts],
        port_bindings={22: ("127.0.0.1", spec.ssh_port)} if spec.ssh_port else {},
        nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
        cpuset_cpus=(
            cpuset_for(spec.cpus, spec.host_cpus or _host_cpus(client), spec.address)
            if spec.cpus
            else None
        ),
        cpu_shares=spec.cpu_shares or None,
        mem_limit=f"{spec.memory_mib}m" if spec.memory_mib else None,
        tmpfs={"/run": "rw,exec,mode=755", "/run/lock": "rw,mode=1777"},
        # The node comes back after a restart of the engine (systemd stopped by the engine
        # exits 130), as an instance does; a node whose lease ended exits 0 and stays down.
        restart_policy=RESTART_POLICY,
        **node_container_security(),
    )
    # What `docker run --security-opt systempaths=unconfined --cgroupns private` send.
    host_config["MaskedPaths"] = []
    host_config["ReadonlyPaths"] = []
    host_config["CgroupnsMode"] = "private"
    networking = api.create_networking_config(
        {spec.network: api.create_endpoint_config(ipv4_address=spec.address)}
    )
    created = api.create_container(
        spec.image,
        name=spec.name,
        hostname=spec.hostname,
        labels=dict(spec.labels),
        ports=[22] if spec.ssh_port else None,
        host_config=host_config,
        networking_config=networking,
        detach=True,
    )
    container = client.containers.get(created["Id"])
    if spec.files:
        container.put_archive("/", tar_of(spec.files))
    return container


def _host_cpus(client: docker.DockerClient) -> int:
    return max(1, int(client.info().get("NCPU", 1)))


def tar_of(files: Mapping[str, tuple[bytes, int]]) -> bytes:
    """A tar archive of files with their modes, parent directories made 0755."""
    buffer = io.BytesIO()
    made: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, (data, mode) in files.items():
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directory = "/".join(parts[:depth])
                if directory not in made:
                    made.add(directory)
                    info = tarfile.TarInfo(directory)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    archive.addfile(info)
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = mode
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
