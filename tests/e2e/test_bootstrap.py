"""The node bootstrap script, run for real over SSH inside node containers.

These are the AWS bootstrap path on the local engine (DESIGN section 3): the
very script EC2 gets as user-data, rendered by render_bootstrap and fed to
`bash -s` as root, with the node reached only through its pinned host key.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.models.networks
import paramiko
import pytest
from helpers import (
    TEST_LABEL,
    Node,
    Result,
    connect,
    network_subnet,
    run,
    start_node,
    tcp_port_open,
)

from clusterous.node import BOOTSTRAP_READY_MARKER, BootstrapParams, render_bootstrap
from clusterous.remote.keys import KeyPair, generate_ed25519

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SWARM_POOL = "10.201.0.0/16"

# What a re-run must leave exactly as it was: daemons, configuration, packages.
SNAPSHOT = r"""
echo "dockerd $(cat /run/docker.pid)"
echo "registry $(cat /run/clusterous-registry.pid 2>/dev/null || echo none)"
echo "sshd $(cat /run/sshd.pid)"
stat -c '%n %y %i' /etc/docker/daemon.json /etc/hosts /etc/ssh/ssh_host_ed25519_key \
    /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/sshd_config.d/00-clusterous.conf \
    /root/.ssh/authorized_keys /var/lib/dpkg/status
[ ! -e /etc/docker/registry/config.yml ] || stat -c '%n %y %i' /etc/docker/registry/config.yml
stat -c '%n %y' /var/log/apt/history.log 2>/dev/null || echo 'no apt history'
echo "apt lists $(ls /var/lib/apt/lists | wc -l)"
"""


@pytest.fixture
def login_key() -> KeyPair:
    return generate_ed25519("clusterous-e2e")


@pytest.fixture
def labels(test_label: str) -> dict[str, str]:
    return {TEST_LABEL: test_label}


@pytest.fixture
def network(
    docker_client: docker.DockerClient, test_label: str, labels: dict[str, str]
) -> docker.models.networks.Network:
    return docker_client.networks.create(
        f"clusterous-test-{test_label[:12]}", driver="bridge", labels=labels
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


class Cluster:
    """Node containers of one test, all on its network, sharing one /data directory."""

    def __init__(
        self,
        client: docker.DockerClient,
        network: docker.models.networks.Network,
        labels: dict[str, str],
        login_key: KeyPair,
        data_dir: Path,
    ) -> None:
        self.client = client
        self.network = network
        self.labels = labels
        self.login_key = login_key
        self.data_dir = data_dir
        self.name = f"t{labels[TEST_LABEL][:8]}"
        self.connections: list[paramiko.SSHClient] = []

    def start(self, image: str, node_name: str) -> tuple[Node, paramiko.SSHClient]:
        node = start_node(
            self.client,
            image=image,
            name=f"clusterous-test-{self.labels[TEST_LABEL][:12]}-{node_name}",
            hostname=node_name,
            network=self.network,
            labels=self.labels,
            login_key=self.login_key,
            data_dir=self.data_dir,
        )
        ssh = connect(node, self.login_key)
        self.connections.append(ssh)
        return node, ssh

    def params(self, node: Node, node_name: str, **overrides: str) -> BootstrapParams:
        settings = {
            "cluster": self.name,
            "node": node_name,
            "role": "controller",
            "instance_id": node_name,
            "advertise_addr": node.address,
            "controller_addr": node.address,
            "private_cidr": network_subnet(self.network),
            "swarm_addr_pool": SWARM_POOL,
            "docker_storage_driver": "overlay2",
            "registry_storage": "filesystem",
            "host_key": node.host_key.private_openssh,
            "authorized_key": self.login_key.public_openssh,
        }
        settings.update(overrides)
        return BootstrapParams(**settings)

    def close(self) -> None:
        for ssh in self.connections:
            ssh.close()


@pytest.fixture
def cluster(
    docker_client: docker.DockerClient,
    network: docker.models.networks.Network,
    labels: dict[str, str],
    login_key: KeyPair,
    data_dir: Path,
) -> Iterator[Cluster]:
    made = Cluster(docker_client, network, labels, login_key, data_dir)
    try:
        yield made
    finally:
        made.close()


def bootstrap(ssh: paramiko.SSHClient, params: BootstrapParams) -> tuple[Result, float]:
    started = time.monotonic()
    result = run(ssh, "bash -s", stdin=render_bootstrap(params))
    elapsed = time.monotonic() - started
    print(f"bootstrap of {params.node} ({params.role}): {elapsed:.1f} s")
    return result, elapsed


def assert_ready(result: Result) -> None:
    assert result.status == 0, result.explain()
    assert result.stdout.rstrip().splitlines()[-1] == BOOTSTRAP_READY_MARKER, result.explain()
    assert "clusterous-bootstrap: error" not in result.stderr, result.explain()


def output(ssh: paramiko.SSHClient, command: str) -> str:
    result = run(ssh, command, timeout=60)
    assert result.status == 0, f"{command}: {result.explain()}"
    return result.stdout.strip()


def host_nameservers() -> str:
    text = Path("/etc/resolv.conf").read_text()
    servers = re.findall(r"^nameserver\s+(\S+)", text, flags=re.MULTILINE)
    return " ".join(s for s in servers if not s.startswith("127."))


def assert_controller_configured(
    ssh: paramiko.SSHClient, node: Node, params: BootstrapParams
) -> None:
    swarm = "docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'"
    assert output(ssh, swarm) == "active true"
    assert run(ssh, "curl -sf http://127.0.0.1:5000/v2/").status == 0
    hosts = output(ssh, "cat /etc/hosts").splitlines()
    assert [line for line in hosts if re.search(r"\sregistry(\s|$)", line)] == [
        f"{node.address} registry"
    ]
    listening = output(ssh, "ss -Hltn 'sport = :2375' | awk '{print $4}'").split()
    assert listening == ["127.0.0.1:2375"]
    labels = output(ssh, "docker info --format '{{json .Labels}}'")
    assert f"clusterous.cluster={params.cluster}" in json.loads(labels)
    assert f"clusterous.instance={params.instance_id}" in json.loads(labels)
    assert output(ssh, "docker info --format '{{.Driver}}'") == "overlay2"
    assert output(ssh, "readlink /home/data") == "/data"
    assert output(ssh, f"grep -cxF '{params.authorized_key}' /root/.ssh/authorized_keys") == "1"
    # Seen from outside the node: the engine is not on the network, the registry is.
    assert not tcp_port_open(node.address, 2375)
    assert tcp_port_open(node.address, 5000)


def test_bootstrap_configures_a_controller_and_a_rerun_changes_nothing(
    cluster: Cluster, node_image: str
) -> None:
    node, ssh = cluster.start(node_image, "controller")
    params = cluster.params(node, "controller", dns=host_nameservers())

    first, _ = bootstrap(ssh, params)

    assert_ready(first)
    assert "packages: all present" in first.stdout
    assert_controller_configured(ssh, node, params)
    daemon = json.loads(output(ssh, "cat /etc/docker/daemon.json"))
    assert daemon["hosts"] == ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"]
    assert daemon["insecure-registries"] == ["registry:5000", params.private_cidr]
    assert daemon["dns"] == params.dns.split()
    before = output(ssh, SNAPSHOT)

    second, _ = bootstrap(ssh, params)

    assert_ready(second)
    assert "nothing changed" in second.stdout, second.explain()
    assert output(ssh, SNAPSHOT) == before
    assert_controller_configured(ssh, node, params)


def test_bootstrap_installs_its_packages_on_a_bare_node(
    cluster: Cluster, bare_node_image: str
) -> None:
    node, ssh = cluster.start(bare_node_image, "controller")
    assert run(ssh, "command -v dockerd").status != 0  # really bare
    params = cluster.params(node, "controller")

    first, _ = bootstrap(ssh, params)

    assert_ready(first)
    assert "packages: installing docker.io" in first.stdout
    assert_controller_configured(ssh, node, params)
    assert run(ssh, "test -e /usr/sbin/policy-rc.d").status != 0
    second, _ = bootstrap(ssh, params)
    assert_ready(second)
    assert "packages: all present" in second.stdout
    assert "nothing changed" in second.stdout, second.explain()


def test_a_node_joins_the_controller_swarm_and_pulls_from_its_registry(
    cluster: Cluster, node_image: str
) -> None:
    controller, controller_ssh = cluster.start(node_image, "controller")
    assert_ready(bootstrap(controller_ssh, cluster.params(controller, "controller"))[0])
    token = output(controller_ssh, "docker swarm join-token -q worker")
    worker, worker_ssh = cluster.start(node_image, "worker-1")
    params = cluster.params(
        worker,
        "worker-1",
        role="node",
        group="worker",
        controller_addr=controller.address,
        join_token=token,
    )

    assert_ready(bootstrap(worker_ssh, params)[0])

    hostname = output(worker_ssh, "docker info --format '{{.Name}}'")
    assert wait_for_ready(controller_ssh, hostname)
    engine_labels = output(
        controller_ssh,
        f"docker node inspect {hostname} --format '{{{{json .Description.Engine.Labels}}}}'",
    )
    assert json.loads(engine_labels) == {
        "clusterous.cluster": cluster.name,
        "clusterous.node": "worker-1",
        "clusterous.group": "worker",
        "clusterous.instance": "worker-1",
    }
    # An image pushed on the controller is pulled by the worker through `registry`.
    output(controller_ssh, "tar -C /etc -c hostname | docker import - registry:5000/probe:1")
    output(controller_ssh, "docker push -q registry:5000/probe:1")
    output(worker_ssh, "docker pull -q registry:5000/probe:1")
    rerun, _ = bootstrap(worker_ssh, params)
    assert_ready(rerun)
    assert "swarm: already joined" in rerun.stdout
    assert "nothing changed" in rerun.stdout, rerun.explain()


def test_bootstrap_installs_the_given_host_key_and_sshd_serves_only_it(
    cluster: Cluster, node_image: str
) -> None:
    node, ssh = cluster.start(node_image, "controller")
    new_key = generate_ed25519("controller")
    params = cluster.params(node, "controller", host_key=new_key.private_openssh)

    result, _ = bootstrap(ssh, params)

    assert_ready(result)
    assert "ssh: host key installed, sshd reloaded" in result.stdout
    repinned = dataclasses.replace(node, host_key=new_key)
    connect(repinned, cluster.login_key).close()
    with pytest.raises(paramiko.BadHostKeyException):
        connect(node, cluster.login_key)
    assert output(ssh, "cat /etc/ssh/ssh_host_ed25519_key.pub") == " ".join(
        new_key.public_openssh.split()[:2]
    )


def test_bootstrap_finds_address_and_instance_id_itself_as_on_ec2(
    cluster: Cluster, node_image: str
) -> None:
    """EC2 user-data is rendered before the instance exists: no address, no id."""
    node, ssh = cluster.start(node_image, "controller")
    output(
        ssh,
        "mkdir -p /var/lib/cloud/data && echo i-0123456789abcdef0 >/var/lib/cloud/data/instance-id",
    )
    params = cluster.params(
        node, "controller", advertise_addr="", controller_addr="", instance_id=""
    )

    result, _ = bootstrap(ssh, params)

    assert_ready(result)
    assert f"swarm: created, manager at {node.address}:2377" in result.stdout
    labels = json.loads(output(ssh, "docker info --format '{{json .Labels}}'"))
    assert "clusterous.instance=i-0123456789abcdef0" in labels
    assert f"{node.address} registry" in output(ssh, "cat /etc/hosts").splitlines()


def test_bootstrap_failures_say_what_failed_on_stderr(cluster: Cluster, node_image: str) -> None:
    node, ssh = cluster.start(node_image, "controller")

    bad_network, _ = bootstrap(ssh, cluster.params(node, "controller", private_cidr="10.0.0.0"))

    assert bad_network.status != 0
    assert bad_network.stderr.startswith(
        "clusterous-bootstrap: error: CLUSTEROUS_PRIVATE_CIDR must be an IPv4 network"
    ), bad_network.explain()
    assert BOOTSTRAP_READY_MARKER not in bad_network.stdout
    params = cluster.params(node, "controller", docker_storage_driver="no-such-driver")

    bad_driver, elapsed = bootstrap(ssh, params)

    assert bad_driver.status != 0
    assert "clusterous-bootstrap: error: the Docker engine stopped right after starting" in (
        bad_driver.stderr
    ), bad_driver.explain()
    assert "no-such-driver" in bad_driver.stderr  # the tail of dockerd's own log
    assert elapsed < 30
    assert BOOTSTRAP_READY_MARKER not in bad_driver.stdout


def wait_for_ready(ssh: paramiko.SSHClient, hostname: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = output(ssh, "docker node ls --format '{{.Hostname}} {{.Status}}'").splitlines()
        if f"{hostname} Ready" in nodes:
            return True
        time.sleep(1)
    return False
