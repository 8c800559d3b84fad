"""The node bootstrap, booted for real the way an EC2 instance boots it.

DESIGN section 3: every node runs systemd as PID 1 and cloud-init, whose
NoCloud seed holds the very user-data EC2 would get (``user_data(params,
names)``: gzipped bootstrap.sh with the launch preamble). The tests start
node containers as the local provider does, follow the bootstrap log through
the engine until it says ready or error, and then check the node from inside
(``docker exec``), from the test network, and over SSH with the pinned host
key only. Parameters are what the manager renders: no address, no instance
id; each node finds those itself in cloud-init's instance data.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import docker
import paramiko
import pytest

from clusterous.node import BOOTSTRAP_READY_MARKER, BootstrapParams
from clusterous.node.userdata import render_launch_script, user_data
from clusterous.providers.local.host import host_nameservers
from clusterous.providers.local.node_container import Bind
from clusterous.providers.local.provider import SWARM_ADDR_POOL
from clusterous.remote.keys import KeyPair, generate_ed25519
from tests.e2e.helpers import (
    TEST_LABEL,
    USER_SCRIPT,
    Boot,
    Launch,
    Network,
    Node,
    cloud_init_result,
    connect,
    create_network,
    exec_in,
    host_address,
    network_subnet,
    offered_host_key_types,
    output_of,
    remove_labelled,
    run,
    settled_unit_state,
    start_node,
    tcp_port_open,
    wait_for_bootstrap,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# What a re-run must leave exactly as it was: daemons, configuration, packages, Swarm.
SNAPSHOT = r"""
systemctl show -p Id -p MainPID docker docker-registry ssh containerd
stat -c '%n %y %i' /etc/docker/daemon.json /etc/hosts /etc/ssh/ssh_host_ed25519_key \
    /etc/ssh/ssh_host_ed25519_key.pub /etc/ssh/sshd_config.d/00-clusterous.conf \
    /root/.ssh/authorized_keys /var/lib/dpkg/status /etc/fstab \
    /usr/local/sbin/clusterous-registry-name /etc/systemd/system/clusterous-registry-name.service \
    /etc/systemd/system/docker.service.d/clusterous.conf
[ ! -e /etc/clusterous/registry.yml ] || stat -c '%n %y %i' /etc/clusterous/registry.yml \
    /etc/systemd/system/docker-registry.service.d/clusterous.conf
stat -c '%n %y' /var/log/apt/history.log 2>/dev/null || echo 'no apt history'
ls -l --time-style=full-iso /var/lib/apt/lists
docker info --format '{{.Swarm.NodeID}} {{.Swarm.LocalNodeState}}'
"""
# Every host key type paramiko can ask for: sshd must prove only the pinned ed25519 one.
HOST_KEY_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
)


@dataclass
class Site:
    """One test's network, labels, keys and shared /data; node containers made on it."""

    client: docker.DockerClient
    network: Network
    labels: dict[str, str]
    login_key: KeyPair
    data_dir: Path
    started: int = 0

    @property
    def cluster(self) -> str:
        return f"t{self.labels[TEST_LABEL][:8]}"

    def params(self, role: str, group: str, **overrides: str) -> BootstrapParams:
        """A group's parameters as the manager renders them: no address, no instance id."""
        settings = {
            "cluster": self.cluster,
            "node": group if role == "controller" else f"{group}-1",
            "role": role,
            "group": group,
            "private_cidr": network_subnet(self.network),
            "swarm_addr_pool": SWARM_ADDR_POOL,
            "dns": " ".join(host_nameservers()),
            "docker_storage_driver": "overlay2",
            "registry_storage": "filesystem",
            "authorized_key": self.login_key.public_openssh,
        }
        settings.update(overrides)
        return BootstrapParams(**settings)

    def launch(
        self,
        image: str,
        params: BootstrapParams,
        names: Sequence[str],
        *,
        data: bytes | None = None,
        publish_ssh: bool = False,
        indexes: Sequence[int] | None = None,
    ) -> list[Node]:
        """Start one launch: a node per name, all with the same user-data (``data`` overrides)."""
        host_key = generate_ed25519(params.group)
        params = replace(params, host_key=host_key.private_openssh)
        launch = Launch(
            data if data is not None else user_data(params, names),
            host_key,
            image,
            self.network,
            self.labels,
            (Bind(str(self.data_dir), "/data"),),
        )
        nodes = []
        for index, name in zip(indexes or range(len(names)), names, strict=True):
            nodes.append(
                start_node(
                    self.client,
                    launch,
                    container_name=f"clusterous-test-{self.labels[TEST_LABEL][:12]}-{name}",
                    node_name=name,
                    address=host_address(self.network, self.started),
                    instance_id=f"i-0{self.labels[TEST_LABEL][:8]}{self.started:08x}",
                    launch_index=index,
                    publish_ssh=publish_ssh,
                )
            )
            self.started += 1
        return nodes


def make_site(client: docker.DockerClient, label: str, data_dir: Path) -> Site:
    labels = {TEST_LABEL: label}
    network = create_network(client, f"clusterous-test-{label[:12]}", labels)
    return Site(client, network, labels, generate_ed25519("clusterous-e2e"), data_dir)


@pytest.fixture
def site(docker_client: docker.DockerClient, test_label: str, tmp_path: Path) -> Site:
    (tmp_path / "data").mkdir()
    return make_site(docker_client, test_label, tmp_path / "data")


def assert_ready(boot: Boot, node: Node) -> None:
    assert boot.ready and not boot.errors, (
        f"bootstrap of {node.name} did not end ready:\n{boot.log}"
    )
    assert boot.log.rstrip().splitlines()[-1] == BOOTSTRAP_READY_MARKER, boot.log
    verdict = cloud_init_result(node)
    assert verdict["errors"] == [], verdict
    assert "NoCloud" in verdict["datasource"], verdict


def rerun_user_script(node: Node) -> str:
    """Run cloud-init's copy of the user-data again, as an operator would; it must succeed."""
    result = exec_in(node.container, USER_SCRIPT)
    assert result.status == 0, result.explain()
    assert result.stdout.rstrip().splitlines()[-1] == BOOTSTRAP_READY_MARKER, result.explain()
    assert "clusterous-bootstrap: error" not in result.stderr, result.explain()
    return result.stdout


def assert_controller_configured(node: Node, params: BootstrapParams) -> None:
    container = node.container
    swarm = "docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'"
    assert output_of(container, swarm) == "active true"
    assert exec_in(container, f"curl -sf http://{node.address}:5000/v2/").status == 0
    hosts = output_of(container, "cat /etc/hosts").splitlines()
    assert [line for line in hosts if re.search(r"\sregistry(\s|$)", line)] == [
        f"{node.address} registry"
    ]
    # The engine listens on its unix socket only: the CLI reaches it with dial-stdio over SSH.
    assert output_of(container, "ss -Hltn 'sport = :2375 or sport = :2376'") == ""
    labels = json.loads(output_of(container, "docker info --format '{{json .Labels}}'"))
    assert f"clusterous.cluster={params.cluster}" in labels
    assert f"clusterous.instance={node.instance_id}" in labels
    assert output_of(container, "docker info --format '{{.Driver}}'") == "overlay2"
    assert output_of(container, "readlink /home/data") == "/data"
    key = params.authorized_key
    assert output_of(container, f"grep -cxF '{key}' /root/.ssh/authorized_keys") == "1"
    for unit in ("docker", "docker-registry", "ssh", "clusterous-registry-name"):
        assert output_of(container, f"systemctl is-enabled {unit}") == "enabled", unit
    # Seen from the test network: no engine on TCP, the registry is there.
    assert not tcp_port_open(node.address, 2375)
    assert tcp_port_open(node.address, 5000)


# Central logging (on unless the profile says 0): service containers log to the journal.
JOURNALD_LOG_DRIVER = {
    "log-driver": "journald",
    "log-opts": {
        "tag": "{{.Name}}",
        "labels": "com.docker.swarm.service.name,com.docker.swarm.task.name",
    },
}


def assert_daemon_json(node: Node, params: BootstrapParams) -> None:
    daemon = json.loads(output_of(node.container, "cat /etc/docker/daemon.json"))
    assert daemon == {
        "insecure-registries": ["registry:5000", params.private_cidr],
        "labels": [
            f"clusterous.cluster={params.cluster}",
            f"clusterous.node={node.name}",
            f"clusterous.group={params.group}",
            f"clusterous.instance={node.instance_id}",
        ],
        **({"dns": params.dns.split()} if params.dns else {}),
        "storage-driver": "overlay2",
        **({} if params.logging == "0" else JOURNALD_LOG_DRIVER),
    }


def assert_sshd_serves_only_the_pinned_key(node: Node, login_key: KeyPair) -> None:
    ssh = connect(node, login_key)
    try:
        assert run(ssh, "hostname").stdout.strip() == node.name
    finally:
        ssh.close()
    with pytest.raises(paramiko.BadHostKeyException):
        connect(replace(node, host_key=generate_ed25519("impostor")), login_key)
    assert offered_host_key_types(node.ssh_port, HOST_KEY_TYPES) == ["ssh-ed25519"]
    assert output_of(node.container, "cat /etc/ssh/ssh_host_ed25519_key.pub") == " ".join(
        node.host_key.public_openssh.split()[:2]
    )


def test_a_controller_configures_itself_from_its_user_data_and_a_rerun_changes_nothing(
    site: Site, node_image: str
) -> None:
    params = site.params("controller", "controller")
    (node,) = site.launch(node_image, params, ["controller"], publish_ssh=True)

    boot = wait_for_bootstrap(node)

    assert_ready(boot, node)
    assert "clusterous-bootstrap: packages: all present" in boot.log
    assert_controller_configured(node, params)
    assert_daemon_json(node, params)
    assert_sshd_serves_only_the_pinned_key(node, site.login_key)
    before = output_of(node.container, SNAPSHOT)

    again = rerun_user_script(node)

    assert "clusterous-bootstrap: nothing changed" in again, again
    assert output_of(node.container, SNAPSHOT) == before
    assert_controller_configured(node, params)


def test_a_bare_node_installs_docker_and_the_registry_from_the_debian_mirror(
    site: Site, bare_node_image: str
) -> None:
    """The EC2 AMI path: a fresh Debian with systemd, cloud-init and sshd only."""
    params = site.params("controller", "controller")
    (node,) = site.launch(bare_node_image, params, ["controller"])

    boot = wait_for_bootstrap(node, timeout=900)

    assert_ready(boot, node)
    assert "clusterous-bootstrap: packages: installing docker.io" in boot.log, boot.log
    assert_controller_configured(node, params)
    assert exec_in(node.container, "test -e /usr/sbin/policy-rc.d").status != 0
    before = output_of(node.container, SNAPSHOT)
    again = rerun_user_script(node)
    assert "clusterous-bootstrap: packages: all present" in again
    assert "clusterous-bootstrap: nothing changed" in again, again
    assert output_of(node.container, SNAPSHOT) == before


# --- a controller and one launch of two workers, shared by the next tests ---------


@dataclass(frozen=True)
class SmallSwarm:
    site: Site
    controller: Node
    workers: list[Node]
    worker_params: BootstrapParams
    worker_boots: list[Boot]


@pytest.fixture(scope="module")
def small_swarm(
    docker_client: docker.DockerClient, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SmallSwarm]:
    import uuid

    label = uuid.uuid4().hex
    try:
        site = make_site(docker_client, label, tmp_path_factory.mktemp("data"))
        (controller,) = site.launch(
            node_image, site.params("controller", "controller"), ["controller"]
        )
        assert_ready(wait_for_bootstrap(controller), controller)
        token = output_of(controller.container, "docker swarm join-token -q worker")
        params = site.params("node", "worker", controller_addr=controller.address, join_token=token)
        workers = site.launch(node_image, params, ["worker-1", "worker-2"])
        boots = [wait_for_bootstrap(worker) for worker in workers]
        yield SmallSwarm(site, controller, workers, params, boots)
    finally:
        remove_labelled(docker_client, label)


def swarm_nodes(controller: Node) -> dict[str, dict[str, Any]]:
    """Each Swarm node as the controller sees it, by host name."""
    ids = output_of(controller.container, "docker node ls -q").split()
    described = json.loads(output_of(controller.container, f"docker node inspect {' '.join(ids)}"))
    return {d["Description"]["Hostname"]: d for d in described}


def test_workers_of_one_launch_join_the_controllers_swarm_and_pull_from_its_registry(
    small_swarm: SmallSwarm,
) -> None:
    controller, workers = small_swarm.controller, small_swarm.workers
    for worker, boot in zip(workers, small_swarm.worker_boots, strict=True):
        assert_ready(boot, worker)
        assert "clusterous-bootstrap: swarm: joined the manager" in boot.log, boot.log
    seen = swarm_nodes(controller)
    assert {name: node["Status"]["State"] for name, node in seen.items()} == {
        "controller": "ready",
        "worker-1": "ready",
        "worker-2": "ready",
    }
    busybox = shutil.which("busybox")
    assert busybox, "busybox is needed on the host (Debian: apt-get install busybox-static)"
    context = small_swarm.site.data_dir / "bb"
    context.mkdir(exist_ok=True)
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    output_of(
        controller.container,
        "cd /data/bb && docker build -q -t registry:5000/bb . && docker push -q registry:5000/bb",
    )
    for worker in workers:
        output_of(worker.container, "docker pull -q registry:5000/bb")
        said = output_of(worker.container, "docker run --rm registry:5000/bb echo pulled-and-ran")
        assert said == "pulled-and-ran"


def test_the_registry_answers_on_the_controllers_private_address_and_on_no_other(
    small_swarm: SmallSwarm,
) -> None:
    controller = small_swarm.controller
    listening = output_of(controller.container, "ss -Hltn 'sport = :5000'").splitlines()
    assert [line.split()[3] for line in listening] == [f"{controller.address}:5000"]
    others = output_of(
        controller.container,
        "ip -4 -o addr show | awk '{print $4}' | cut -d/ -f1",
    ).split()
    assert "127.0.0.1" in others and controller.address in others
    for address in others:
        reached = exec_in(controller.container, f"curl -sf -m 5 http://{address}:5000/v2/")
        assert (reached.status == 0) == (address == controller.address), address
    for worker in small_swarm.workers:
        assert exec_in(worker.container, "curl -sf -m 5 http://registry:5000/v2/").status == 0


def test_each_node_of_a_launch_finds_its_name_address_and_id_in_cloud_inits_instance_data(
    small_swarm: SmallSwarm,
) -> None:
    seen = swarm_nodes(small_swarm.controller)
    for node in [small_swarm.controller, *small_swarm.workers]:
        described = seen[node.name]
        assert described["Status"]["Addr"] == node.address
        engine_labels = described["Description"]["Engine"]["Labels"]
        assert engine_labels["clusterous.node"] == node.name
        assert engine_labels["clusterous.instance"] == node.instance_id
    for worker in small_swarm.workers:
        assert_daemon_json(worker, small_swarm.worker_params)
        assert (
            f"{small_swarm.controller.address} registry"
            in output_of(worker.container, "cat /etc/hosts").splitlines()
        )
        again = rerun_user_script(worker)
        assert "clusterous-bootstrap: swarm: already joined" in again
        assert "clusterous-bootstrap: nothing changed" in again, again


# --- failures ---------------------------------------------------------------------


def with_role(params: BootstrapParams, names: Sequence[str], role: str) -> bytes:
    """User-data whose rendered role is ``role`` (BootstrapParams itself refuses a bad one)."""
    script = render_launch_script(params, names)
    good = f"CLUSTEROUS_ROLE={params.role}\n"
    assert good in script
    return gzip.compress(script.replace(good, f"CLUSTEROUS_ROLE={role}\n", 1).encode(), mtime=0)


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("bad role", "CLUSTEROUS_ROLE must be controller or node, got 'master'"),
        ("no join token", "CLUSTEROUS_JOIN_TOKEN is needed to join the Swarm"),
        ("launch index beyond the names", "cannot read this node's launch index ('1' of 1)"),
        ("storage driver dockerd refuses", "the Docker engine failed to start"),
    ],
)
def test_a_failed_bootstrap_says_what_failed_and_cloud_init_reports_it(
    site: Site, node_image: str, case: str, error: str
) -> None:
    params = site.params("node", "worker", controller_addr="10.0.0.1", join_token="SWMTKN-1-x")
    data, indexes = None, None
    if case == "bad role":
        data = with_role(params, ["worker-1"], "master")
    elif case == "no join token":
        params = replace(params, join_token="")
    elif case == "launch index beyond the names":
        indexes = [1]
    else:
        params = site.params("controller", "controller", docker_storage_driver="no-such-driver")
    names = [params.node] if params.role == "controller" else ["worker-1"]
    (node,) = site.launch(node_image, params, names, data=data, indexes=indexes)

    boot = wait_for_bootstrap(node)

    assert not boot.ready, boot.log
    assert boot.errors, boot.log
    assert boot.errors[0].startswith(f"clusterous-bootstrap: error: {error}"), boot.log
    verdict = cloud_init_result(node)
    assert any("scripts-user" in problem for problem in verdict["errors"]), verdict
    assert settled_unit_state(node, "cloud-final.service") == "failed"


def test_a_docker_engine_that_will_not_start_is_reported_with_dockerds_reason(
    site: Site, node_image: str
) -> None:
    params = site.params("controller", "controller", docker_storage_driver="no-such-driver")
    (node,) = site.launch(node_image, params, ["controller"])

    boot = wait_for_bootstrap(node)

    assert boot.errors, boot.log
    assert "no-such-driver" in boot.log, boot.log
