"""Node containers and pinned-key SSH for the end-to-end tests.

A test node is made the way the local provider makes one: a labelled container
of the node image on a labelled network, sshd published on 127.0.0.1 only, its
host key and the login key placed before it starts. The tests then reach it
only with paramiko holding exactly that host key (RejectPolicy), and run the
bootstrap script over that connection as the provider does.
"""

from __future__ import annotations

import base64
import io
import socket
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.models.containers
import docker.models.networks
import paramiko

from clusterous.providers.local.node_container import node_container_security
from clusterous.remote.keys import KeyPair, generate_ed25519

TEST_LABEL = "clusterous.test"


@dataclass(frozen=True)
class Node:
    name: str
    container: docker.models.containers.Container
    address: str  # on the test network
    ssh_port: int  # on 127.0.0.1
    host_key: KeyPair


@dataclass(frozen=True)
class Result:
    status: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        return f"exit {self.status}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def key_files_archive(host_key: KeyPair, authorized_key: str) -> bytes:
    """A tar of the node's host key and root's authorized_keys, for put_archive at /."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add(tar, "root/.ssh", None, 0o700)
        _add(tar, "root/.ssh/authorized_keys", authorized_key + "\n", 0o600)
        _add(tar, "etc/ssh/ssh_host_ed25519_key", host_key.private_openssh, 0o600)
        _add(tar, "etc/ssh/ssh_host_ed25519_key.pub", host_key.public_openssh + "\n", 0o644)
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, text: str | None, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.mode = mode
    if text is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        return
    data = text.encode()
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def start_node(
    client: docker.DockerClient,
    *,
    image: str,
    name: str,
    hostname: str,
    network: docker.models.networks.Network,
    labels: dict[str, str],
    login_key: KeyPair,
    data_dir: Path,
) -> Node:
    """Create a node container with its keys in place, start it, and find its ports."""
    volume = client.volumes.create(name=f"{name}-docker", labels=labels)
    container = client.containers.create(
        image,
        name=name,
        hostname=hostname,
        labels=labels,
        detach=True,
        network=network.name,
        ports={"22/tcp": ("127.0.0.1", None)},
        volumes={
            volume.name: {"bind": "/var/lib/docker", "mode": "rw"},
            str(data_dir): {"bind": "/data", "mode": "rw"},
        },
        **node_container_security(),
    )
    host_key = generate_ed25519(comment=name)
    container.put_archive("/", key_files_archive(host_key, login_key.public_openssh))
    container.start()
    container.reload()
    address = container.attrs["NetworkSettings"]["Networks"][network.name]["IPAddress"]
    port = int(container.ports["22/tcp"][0]["HostPort"])
    return Node(name, container, address, port, host_key)


def host_key_object(public_openssh: str) -> paramiko.PKey:
    key_type, blob = public_openssh.split()[:2]
    assert key_type == "ssh-ed25519"
    return paramiko.Ed25519Key(data=base64.b64decode(blob))


def connect(node: Node, login_key: KeyPair, timeout: float = 30.0) -> paramiko.SSHClient:
    """SSH as root to the node, trusting exactly its pinned host key; wait for sshd."""
    deadline = time.monotonic() + timeout
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
            if isinstance(error, paramiko.BadHostKeyException) or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def run(ssh: paramiko.SSHClient, command: str, stdin: str = "", timeout: float = 600) -> Result:
    """Run a command on the node, feeding ``stdin``; read both streams to the end."""
    transport = ssh.get_transport()
    assert transport is not None
    channel = transport.open_session(timeout=10)
    channel.settimeout(timeout)
    channel.exec_command(command)
    if stdin:
        channel.sendall(stdin.encode())
    channel.shutdown_write()
    out, err = _read_all(channel, time.monotonic() + timeout)
    status = channel.recv_exit_status()
    channel.close()
    return Result(status, out, err)


def _read_all(channel: paramiko.Channel, deadline: float) -> tuple[str, str]:
    out: list[bytes] = []
    err: list[bytes] = []
    while not _finished(channel):
        if time.monotonic() > deadline:
            raise TimeoutError("the command on the node did not finish in time")
        busy = False
        if channel.recv_ready():
            out.append(channel.recv(65536))
            busy = True
        if channel.recv_stderr_ready():
            err.append(channel.recv_stderr(65536))
            busy = True
        if not busy:
            time.sleep(0.05)
    return b"".join(out).decode(errors="replace"), b"".join(err).decode(errors="replace")


def _finished(channel: paramiko.Channel) -> bool:
    drained = not channel.recv_ready() and not channel.recv_stderr_ready()
    return drained and bool(channel.eof_received) and channel.exit_status_ready()


def tcp_port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def network_subnet(network: docker.models.networks.Network) -> str:
    network.reload()
    config: list[dict[str, Any]] = network.attrs["IPAM"]["Config"]
    return str(config[0]["Subnet"])
