"""Node containers that boot their user-data, bounded waits, and pinned-key SSH, for e2e tests.

A test node is made the way the local provider makes one (``node_container``):
a labelled container of the node image at a fixed address on a labelled
network with a subnet of its own, systemd as PID 1, and cloud-init's NoCloud
seed holding the launch's user-data. The node configures itself, as an EC2
instance does; tests follow its bootstrap log through the engine, and reach
it over SSH only with paramiko holding exactly the host key its user-data
pinned (RejectPolicy). Every wait is bounded polling on an injected clock and
fails saying what it expected and what it saw last.
"""

from __future__ import annotations

import base64
import contextlib
import io
import ipaddress
import json
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import docker
import docker.errors
import paramiko
from docker.models.containers import Container
from docker.models.networks import Network
from docker.types import IPAMConfig, IPAMPool

from clusterous.node import BOOTSTRAP_ERROR_PREFIX, BOOTSTRAP_READY_MARKER
from clusterous.providers.local.host import free_local_port
from clusterous.providers.local.node_container import (
    Bind,
    NodeContainerSpec,
    create_node_container,
    nocloud_seed,
    tar_of,
)
from clusterous.remote.keys import KeyPair

TEST_LABEL = "clusterous.test"
BOOTSTRAP_LOG = "/var/log/clusterous-bootstrap.log"
# Where cloud-init keeps the user-data script of this instance (scripts-user runs it).
USER_SCRIPT = "/var/lib/cloud/instance/scripts/part-001"
FIRST_HOST = 10

T = TypeVar("T")


# --- waiting -----------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """Time as the waits see it: real by default, a fake one in tests of the waits."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


REAL_CLOCK = Clock()


def poll(
    check: Callable[[], tuple[bool, T]],
    *,
    expected: str,
    timeout: float,
    clock: Clock = REAL_CLOCK,
    interval: float = 0.5,
) -> tuple[T, float]:
    """Call ``check`` until it says done; return what it saw and the seconds it took.

    ``check`` returns (done, seen); on timeout the failure names ``expected``
    and the last ``seen``.
    """
    started = clock.now()
    while True:
        done, seen = check()
        elapsed = clock.now() - started
        if done:
            return seen, elapsed
        if elapsed >= timeout:
            raise AssertionError(
                f"expected {expected} within {timeout:.0f} s; after {elapsed:.1f} s, "
                f"last seen:\n{seen}"
            )
        clock.sleep(interval)


# --- commands through the engine -----------------------------------------------


@dataclass(frozen=True)
class Result:
    status: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        return f"exit {self.status}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def exec_in(container: Container, command: str) -> Result:
    """Run a bash command in the container as root (``docker exec``), both streams kept."""
    status, (out, err) = container.exec_run(["bash", "-c", command], demux=True)
    return Result(
        status, (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")
    )


def output_of(container: Container, command: str) -> str:
    """The stripped stdout of a command that must succeed."""
    result = exec_in(container, command)
    assert result.status == 0, f"{command}: {result.explain()}"
    return result.stdout.strip()


# --- networks and nodes ----------------------------------------------------------


def remove_labelled(client: docker.DockerClient, value: str) -> None:
    """Remove what carries ``clusterous.test=<value>``: containers, then networks, volumes."""
    selector = {"label": f"{TEST_LABEL}={value}"}
    for container in client.containers.list(all=True, filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    for network in client.networks.list(filters=selector):
        network.remove()
    for volume in client.volumes.list(filters=selector):
        volume.remove(force=True)


def create_network(client: docker.DockerClient, name: str, labels: dict[str, str]) -> Network:
    """A labelled bridge network with an explicit subnet, so nodes can have fixed addresses.

    The engine knows which subnets are free: let it pick one for a labelled
    probe network, then claim that subnet (the local provider does the same).
    """
    probe = client.networks.create(f"{name}-probe", driver="bridge", labels=labels)
    try:
        probe.reload()
        config = probe.attrs["IPAM"]["Config"][0]
    finally:
        probe.remove()
    pool = IPAMPool(subnet=config["Subnet"], gateway=config.get("Gateway"))
    return client.networks.create(
        name, driver="bridge", ipam=IPAMConfig(pool_configs=[pool]), labels=labels
    )


def network_subnet(network: Network) -> str:
    network.reload()
    config: list[dict[str, Any]] = network.attrs["IPAM"]["Config"]
    return str(config[0]["Subnet"])


def host_address(network: Network, number: int) -> str:
    """The address of host ``number`` (from .10 on) of the network's subnet."""
    subnet = ipaddress.ip_network(network_subnet(network))
    return str(subnet.network_address + FIRST_HOST + number)


@dataclass(frozen=True)
class Node:
    name: str  # the node's name, as its user-data should pick it
    container: Container
    address: str  # fixed, on the test network
    instance_id: str  # as cloud-init's meta-data says it
    host_key: KeyPair  # the key its user-data pins
    ssh_port: int = 0  # on 127.0.0.1, 0 when not published


@dataclass(frozen=True)
class Launch:
    """One launch of nodes sharing one user-data, as RunInstances starts them on EC2."""

    user_data: bytes
    host_key: KeyPair
    image: str
    network: Network
    labels: dict[str, str]
    mounts: Sequence[Bind] = field(default_factory=tuple)


def start_node(
    client: docker.DockerClient,
    launch: Launch,
    *,
    container_name: str,
    node_name: str,
    address: str,
    instance_id: str,
    launch_index: int,
    publish_ssh: bool = False,
) -> Node:
    """Create a node container with its NoCloud seed in place, then start it."""
    volume = client.volumes.create(f"{container_name}-docker", labels=launch.labels)
    port = free_local_port() if publish_ssh else 0
    spec = NodeContainerSpec(
        name=container_name,
        hostname=node_name,
        image=launch.image,
        network=launch.network.name,
        address=address,
        labels=launch.labels,
        mounts=(*launch.mounts, Bind(volume.name, "/var/lib/docker", "volume")),
        ssh_port=port,
    )
    container = create_node_container(client, spec)
    seed = nocloud_seed(instance_id, node_name, launch_index, launch.user_data)
    container.put_archive("/", tar_of(seed))
    container.start()
    return Node(node_name, container, address, instance_id, launch.host_key, port)


# --- the bootstrap, seen from outside ---------------------------------------------


@dataclass(frozen=True)
class Boot:
    log: str
    seconds: float

    @property
    def ready(self) -> bool:
        return BOOTSTRAP_READY_MARKER in self.log.splitlines()

    @property
    def errors(self) -> list[str]:
        return [line for line in self.log.splitlines() if line.startswith(BOOTSTRAP_ERROR_PREFIX)]


def bootstrap_log(container: Container) -> str:
    return exec_in(container, f"cat {BOOTSTRAP_LOG} 2>/dev/null").stdout


def _finished_log(container: Container) -> tuple[bool, str]:
    container.reload()
    if container.status != "running":
        logs = container.logs(tail=30).decode(errors="replace")
        raise AssertionError(f"node {container.name} is {container.status}:\n{logs}")
    log = bootstrap_log(container)
    lines = log.splitlines()
    done = BOOTSTRAP_READY_MARKER in lines or any(
        line.startswith(BOOTSTRAP_ERROR_PREFIX) for line in lines
    )
    return done, log


def wait_for_bootstrap(node: Node, timeout: float = 240, clock: Clock = REAL_CLOCK) -> Boot:
    """Wait until the node's bootstrap log says ready or error; print how long it took."""
    log, seconds = poll(
        lambda: _finished_log(node.container),
        expected=f"{BOOTSTRAP_READY_MARKER!r} or an error line in {BOOTSTRAP_LOG} of {node.name}",
        timeout=timeout,
        clock=clock,
    )
    boot = Boot(log, seconds)
    print(f"bootstrap of {node.name}: {'ready' if boot.ready else 'error'} after {seconds:.1f} s")
    return boot


def cloud_init_result(
    node: Node, timeout: float = 120, clock: Clock = REAL_CLOCK
) -> dict[str, Any]:
    """cloud-init's verdict on this boot (/run/cloud-init/result.json, written when it is done)."""

    def check() -> tuple[bool, str]:
        result = exec_in(node.container, "cat /run/cloud-init/result.json")
        return result.status == 0, result.stdout or result.stderr

    text, _ = poll(
        check,
        expected=f"cloud-init to finish on {node.name} (/run/cloud-init/result.json)",
        timeout=timeout,
        clock=clock,
    )
    return dict(json.loads(text)["v1"])


def settled_unit_state(
    node: Node, unit: str, timeout: float = 60, clock: Clock = REAL_CLOCK
) -> str:
    """A systemd unit's active state once it is no longer starting or stopping."""

    def check() -> tuple[bool, str]:
        state = exec_in(node.container, f"systemctl show -p ActiveState --value {unit}").stdout
        return state.strip() not in ("activating", "deactivating", "reloading"), state.strip()

    state, _ = poll(
        check, expected=f"{unit} on {node.name} to settle", timeout=timeout, clock=clock
    )
    return state


# --- SSH with the pinned host key --------------------------------------------------


def host_key_object(public_openssh: str) -> paramiko.PKey:
    key_type, blob = public_openssh.split()[:2]
    assert key_type == "ssh-ed25519"
    return paramiko.Ed25519Key(data=base64.b64decode(blob))


def connect(
    node: Node, login_key: KeyPair, timeout: float = 30.0, clock: Clock = REAL_CLOCK
) -> paramiko.SSHClient:
    """SSH as root to the node, trusting exactly its pinned host key; wait for sshd.

    A host key other than the pinned one fails at once (BadHostKeyException).
    """
    deadline = clock.now() + timeout
    while True:
        ssh = paramiko.SSHClient()
        ssh.get_host_keys().add(
            f"[127.0.0.1]:{node.ssh_port}",
            "ssh-ed25519",
            host_key_object(node.host_key.public_openssh),
        )
        ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            ssh.connect(
                "127.0.0.1",
                port=node.ssh_port,
                username="root",
                pkey=paramiko.Ed25519Key.from_private_key(io.StringIO(login_key.private_openssh)),
                allow_agent=False,
                look_for_keys=False,
                timeout=5,
                banner_timeout=5,
            )
            return ssh
        except (OSError, paramiko.SSHException) as error:
            ssh.close()
            if isinstance(error, paramiko.BadHostKeyException) or clock.now() > deadline:
                raise
            clock.sleep(0.3)


def offered_host_key_types(port: int, key_types: Sequence[str]) -> list[str]:
    """Which of ``key_types`` sshd on 127.0.0.1:port will prove it holds, one try each."""
    offered = []
    for key_type in key_types:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            transport = paramiko.Transport(sock)
            transport.get_security_options().key_types = (key_type,)
            try:
                transport.start_client(timeout=10)
                offered.append(transport.get_remote_server_key().get_name())
            except paramiko.SSHException:
                pass
            finally:
                transport.close()
    return offered


def run(ssh: paramiko.SSHClient, command: str, timeout: float = 120) -> Result:
    """Run a command on the node over SSH; read both streams to the end."""
    _, stdout, stderr = ssh.exec_command(command, timeout=timeout)
    out = stdout.read().decode(errors="replace")
    err = stderr.read().decode(errors="replace")
    return Result(stdout.channel.recv_exit_status(), out, err)


def tcp_port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False
