"""The EC2 path end to end on the twin: setup, create, run, scale, destroy, through the CLI.

One cluster (controller, one master, two workers) for the module, made with an
AWS profile that ``clusterous setup`` saves against the twin; the tests run in
order against it. Every node boots its own user-data under cloud-init, gets
its role's credentials from IMDS, the controller formats and mounts the EBS
volume, the registry stores the example's image in moto's S3, and the CLI
reaches the controller only at its public (loopback stand-in) address. At the
end, ``destroy`` must leave nothing tagged in moto and nothing in the twin.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.twin.twin_cli import (
    REGION,
    TwinCli,
    busybox_web,
    clean_up,
    free_port,
    http_get,
    nodes_by_name,
    registry_objects,
    stop_tunnels,
    tagged,
    unique_name,
    wait_for,
)
from twin.core import Twin


@dataclass(frozen=True)
class Cluster:
    name: str
    cli: TwinCli
    env_file: Path
    port: int

    def on(self, node: str, script: str) -> str:
        return self.cli.on(self.name, node, script)


@pytest.fixture(scope="module")
def cluster(ec2_twin: Twin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    cli = TwinCli(tmp_path_factory.mktemp("home"), ec2_twin)
    port = free_port()
    env_file = busybox_web(tmp_path_factory.mktemp("apps") / "busybox-web", port)
    live = Cluster(unique_name(), cli, env_file, port)
    try:
        yield live
    finally:
        clean_up(cli, live.name)


def test_setup_then_create_brings_a_controller_a_master_and_two_workers_to_ready(
    cluster: Cluster,
) -> None:
    assert "✓ saved profile: aws" in cluster.cli.setup().stdout
    result = cluster.cli.ok("create", "--name", cluster.name, "--workers", "2", "--yes")
    assert f"Cluster {cluster.name} is ready with 4 nodes" in result.stdout

    nodes = nodes_by_name(cluster.cli.status(cluster.name))
    assert sorted(nodes) == ["controller", "master-1", "worker-1", "worker-2"]
    assert {n["swarm"] for n in nodes.values()} == {"ready"}
    ledger = json.loads((cluster.cli.home / "clusters" / cluster.name / "state.json").read_text())
    controller = next(n for n in ledger["nodes"] if n["name"] == "controller")
    assert controller["ssh_host"].startswith("127.77.")  # moto's public address, stood in for


def test_every_node_booted_its_own_user_data_and_knows_its_instance_id(cluster: Cluster) -> None:
    out = cluster.on(
        "worker-2", "cloud-init query v1.instance_id; tail -n 1 /var/log/clusterous-bootstrap.log"
    )
    instance_id, last = out.split()[0], out.strip().splitlines()[-1]
    assert instance_id.startswith("i-")
    assert last == "clusterous-bootstrap: ready"
    assert nodes_by_name(cluster.cli.status(cluster.name))["worker-2"]["instance_id"] == instance_id


def test_the_controller_mounts_the_ebs_volume_and_every_node_shares_it(cluster: Cluster) -> None:
    source = cluster.on("controller", "findmnt -n -o SOURCE,FSTYPE /data")
    assert "twin-vol-" in source and "ext4" in source
    cluster.on("worker-1", "echo written-by-worker-1 > /data/shared-check")
    assert cluster.on("controller", "cat /data/shared-check").strip() == "written-by-worker-1"
    assert cluster.on("master-1", "cat /home/data/shared-check").strip() == "written-by-worker-1"


def test_the_controller_gets_its_role_credentials_from_imds(cluster: Cluster) -> None:
    role = cluster.on(
        "controller",
        'T=$(curl -s -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" '
        "http://169.254.169.254/latest/api/token); "
        'curl -s -H "X-aws-ec2-metadata-token: $T" '
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    )
    assert role.strip() == f"clusterous-eu-west-1-{cluster.name}"


def test_run_builds_into_the_registry_on_s3_and_the_tunnel_answers(cluster: Cluster) -> None:
    result = cluster.cli.ok("run", str(cluster.env_file), "--cluster", cluster.name)
    assert "Environment busybox-web is running" in result.stdout
    page = wait_for(lambda: "ip-" in http_get(cluster.port) and http_get(cluster.port))
    assert page.count("<li>worker on ") == 2
    objects = registry_objects(cluster.cli.twin, cluster.name)
    assert any("/docker/registry/v2/repositories/busybox-web/" in o for o in objects), objects


def test_add_nodes_runs_the_auto_component_on_the_new_node(cluster: Cluster) -> None:
    added = cluster.cli.ok("add-nodes", "1", "--cluster", cluster.name)
    assert "worker-3" in added.stdout
    nodes = nodes_by_name(cluster.cli.status(cluster.name))
    assert nodes["worker-3"]["swarm"] == "ready"
    # Swarm knows a node by its host name, which on EC2 is ip-<private address>.
    hostname = "ip-" + nodes["worker-3"]["private_addr"].replace(".", "-")

    def worker_3_serves() -> bool:
        tasks = cluster.on(
            "controller",
            "docker service ps worker --filter desired-state=running "
            '--format "{{.Node}} {{.CurrentState}}"',
        )
        return any(line.startswith(f"{hostname} Running") for line in tasks.splitlines())

    assert wait_for(worker_3_serves), "the 'count: auto' worker never ran on worker-3"


def test_rm_nodes_then_status_shows_the_cluster_without_it(cluster: Cluster) -> None:
    removed = cluster.cli.ok("rm-nodes", "1", "--cluster", cluster.name)
    assert "worker-3" in removed.stdout
    nodes = nodes_by_name(cluster.cli.status(cluster.name))
    assert sorted(nodes) == ["controller", "master-1", "worker-1", "worker-2"]
    human = cluster.cli.ok("status", cluster.name).stdout
    assert "worker-3" not in human
    assert len([m for m in cluster.cli.twin.machines() if m.startswith("container")]) == 4


def test_a_stopped_then_started_worker_comes_back_ready(cluster: Cluster) -> None:
    import boto3

    twin = cluster.cli.twin
    ec2 = boto3.session.Session().client(
        "ec2",
        region_name=REGION,
        endpoint_url=twin.api_url,
        aws_access_key_id="twin",
        aws_secret_access_key="twin",
    )
    worker = nodes_by_name(cluster.cli.status(cluster.name))["worker-2"]["instance_id"]
    ec2.stop_instances(InstanceIds=[worker])
    assert nodes_by_name(cluster.cli.status(cluster.name))["worker-2"]["state"] == "down"
    ec2.start_instances(InstanceIds=[worker])
    back = wait_for(
        lambda: nodes_by_name(cluster.cli.status(cluster.name))["worker-2"]["state"] == "up"
    )
    assert back, "worker-2 did not come back Ready in Swarm after a stop and a start"


def test_stop_then_start_brings_the_whole_cluster_and_its_app_back(cluster: Cluster) -> None:
    cluster.on("worker-1", "echo kept-while-stopped > /data/stop-check")
    stopped = cluster.cli.ok("stop", cluster.name)
    assert f"Cluster {cluster.name} is stopped (4 nodes)" in stopped.stdout
    assert "lease paused" in stopped.stderr  # every node, over SSH, before it stopped
    assert "Stopped: it bills for its disks" in stopped.stdout
    assert "public IPv4" not in stopped.stdout and "on demand" not in stopped.stdout
    status = cluster.cli.status(cluster.name)
    assert status["status"] == "stopped" and status["problems"] == []
    assert {n["machine"] for n in status["nodes"]} == {"stopped"}
    started = cluster.cli.ok("start", cluster.name)
    assert f"Cluster {cluster.name} is running again" in started.stdout
    nodes = nodes_by_name(cluster.cli.status(cluster.name))
    assert {(n["state"], n["swarm"]) for n in nodes.values()} == {("up", "ready")}
    assert cluster.on("controller", "cat /data/stop-check").strip() == "kept-while-stopped"
    # The tunnel reopened at the controller's new address; a page a worker killed with its
    # node could not remove may be listed too (the app's, not clusterous's).
    page = wait_for(lambda: "ip-" in http_get(cluster.port) and http_get(cluster.port))
    assert page.count("<li>worker on ") >= 2


def test_destroy_leaves_nothing_tagged_in_moto_and_nothing_in_the_twin(cluster: Cluster) -> None:
    stop_tunnels(cluster.name)
    assert registry_objects(cluster.cli.twin, cluster.name) != []  # the app's image is there
    result = cluster.cli.ok("destroy", cluster.name, "--yes", "--delete-volume")
    assert "nothing billable left" in result.stdout
    assert tagged(cluster.cli.twin, cluster.name) == []  # the registry's S3 objects too
    assert cluster.cli.twin.machines() == []


def test_destroy_also_empties_the_registry_prefix_in_s3(cluster: Cluster) -> None:
    assert registry_objects(cluster.cli.twin, cluster.name) == []
