"""Batch jobs on a local cluster: arrays, CPU reservations, failures, retries, rm-nodes.

One cluster for the module: a master and two workers of type ``medium`` (2
CPUs each, or the host's if fewer), and a busybox image built into the cluster
registry. Each task notes on the shared volume when it starts and ends (the
node containers share the host's /proc/uptime, one clock for all), so the
test computes how many tasks ran at once on each node. Only the test's own
containers and 127.0.0.1 are contacted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from clusterous.jobs.swarm_jobs import QUEUE_WINDOW
from tests.e2e.cluster_helpers import CliOnHome, remove_cluster_resources, unique_cluster_name
from tests.e2e.test_count_auto import on_controller, worker_cpus

REPO = Path(__file__).resolve().parents[2]
IMAGE_DIR = REPO / "environments" / "busybox-web" / "image"
# Start and end of each task on the shared volume: "index node uptime".
NOTE = 'read t _ </proc/uptime; echo "{i} $CLUSTEROUS_NODE $t" >> /data/times/{what}'


@dataclass(frozen=True)
class Cluster:
    cli: CliOnHome
    name: str
    client: docker.DockerClient

    def on_cluster(self, args: tuple[str, ...]) -> list[str]:
        """The arguments with --cluster NAME, before any '--' (what follows is the command)."""
        cut = args.index("--") if "--" in args else len(args)
        return [*args[:cut], "--cluster", self.name, *args[cut:]]

    def run(self, *args: str) -> Any:
        return self.cli(*self.on_cluster(args))

    def ok(self, *args: str) -> Any:
        return self.cli.ok(*self.on_cluster(args))

    def submit(self, *args: str) -> str:
        return str(self.ok("submit", "--image", "bb", *args).stdout.strip())

    def show(self, job: str) -> dict[str, Any]:
        return dict(json.loads(self.ok("jobs", "show", job, "--json").stdout))

    def shell(self, command: str) -> str:
        return on_controller(self.client, self.name, command)


@pytest.fixture(scope="module")
def cluster(
    docker_client: docker.DockerClient, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    cli = CliOnHome(tmp_path_factory.mktemp("home"))
    work = tmp_path_factory.mktemp("jobs")
    name = unique_cluster_name("jobs")
    profile = work / "profile.yml"
    profile.write_text(
        f"name: {name}\nnode_groups:\n"
        "  master: {type: small, count: 1}\n"
        "  worker: {type: medium, count: 2}\n"
    )
    image = work / "image"
    shutil.copytree(IMAGE_DIR, image, ignore=shutil.ignore_patterns("busybox"))
    script = REPO / "scripts" / "busybox-for-examples.sh"
    subprocess.run([str(script), str(image)], check=True, capture_output=True)
    try:
        cli.ok("create", str(profile), "--yes")
        cli.ok("build-image", str(image), "bb", "--cluster", name)
        found = Cluster(cli, name, docker_client)
        found.shell("mkdir -p /data/out /data/times")
        yield found
    finally:
        cli("destroy", name, "--yes", "--delete-volume")
        remove_cluster_resources(docker_client, name)


def overlap_per_node(lines: list[str]) -> dict[str, int]:
    """The most tasks that ran at once on each node, from 'index node uptime' notes."""
    events: dict[str, list[tuple[float, int]]] = {}
    for what, delta in (("start", 1), ("end", -1)):
        for line in lines:
            kind, _, node, when = line.split()
            if kind == what:
                events.setdefault(node, []).append((float(when), delta))
    most = {}
    for node, found in events.items():
        running = peak = 0
        for _, delta in sorted(found, key=lambda e: (e[0], e[1])):  # ends first at a tie
            running += delta
            peak = max(peak, running)
        most[node] = peak
    return most


def test_a_200_task_array_writes_200_files_and_never_exceeds_the_reserved_cpus(
    cluster: Cluster,
) -> None:
    start, end = NOTE.format(i="{i}", what="start"), NOTE.format(i="{i}", what="end")
    work = f"{start}; echo {{i}} > /data/out/{{i}}.txt; sleep 0.3; {end}"
    job = cluster.submit("--array", "1-200", "--cpus", "1", "--name", "two-hundred", "--", work)
    assert job.startswith("j-")
    # Swarm holds what the two workers run at once plus a bounded queue, in a raft log
    # snapshotted every 500 entries: a big job cannot take the controller's memory.
    per_node = int(worker_cpus(cluster.client))
    held = cluster.shell(
        f"docker service inspect --format '{{{{.Spec.Mode.ReplicatedJob.MaxConcurrent}}}}' {job}; "
        "docker info --format '{{.Swarm.Cluster.Spec.Raft.SnapshotInterval}}'"
    ).split()
    assert held == [str(2 * per_node + QUEUE_WINDOW), "500"]
    waited = cluster.run("jobs", "wait", job)
    assert waited.returncode == 0, waited.output
    assert "all 200 task(s) done" in waited.stdout
    files = cluster.shell("ls /data/out").split()
    assert sorted(files, key=lambda f: int(f.split(".")[0])) == [f"{i}.txt" for i in range(1, 201)]
    assert cluster.shell("cat /data/out/137.txt").strip() == "137"
    notes = cluster.shell(
        "sed 's/^/start /' /data/times/start; sed 's/^/end /' /data/times/end"
    ).splitlines()
    assert len(notes) == 400
    peaks = overlap_per_node(notes)
    assert set(peaks) == {"worker-1", "worker-2"}
    assert all(peak <= per_node for peak in peaks.values()), peaks
    listed = {j["id"]: j for j in json.loads(cluster.ok("jobs", "--json").stdout)}
    assert (listed[job]["done"], listed[job]["name"], listed[job]["finished"]) == (
        200, "two-hundred", True,
    )  # fmt: skip


def test_a_failing_index_is_reported_with_its_exit_code_and_retried_when_asked(
    cluster: Cluster,
) -> None:
    job = cluster.submit("--array", "1-4", "--", "[ {i} != 3 ] || [ -f /data/fixed ] || exit 7")
    failed = cluster.run("jobs", "wait", job)
    assert failed.returncode == 1, failed.output
    assert "1 of 4 task(s) failed" in failed.stdout
    tasks = {t["index"]: t for t in cluster.show(job)["task_list"]}
    assert (tasks[3]["state"], tasks[3]["exit_code"], tasks[3]["attempts"]) == ("failed", 7, 1)
    assert all(tasks[i]["state"] == "done" for i in (1, 2, 4))

    cluster.shell("touch /data/fixed")
    retried = cluster.ok("jobs", "retry", job, "--failed")
    assert f"Retrying 1 task(s) of {job}: 3" in retried.stdout
    assert cluster.run("jobs", "wait", job).returncode == 0
    shown = cluster.show(job)
    assert (shown["done"], shown["failed"], shown["rounds"]) == (4, 0, 2)


def test_retries_rerun_a_failing_task_and_logs_show_each_attempt(cluster: Cluster) -> None:
    job = cluster.submit("--retries", "2", "--", "echo attempt on $CLUSTEROUS_NODE; exit 4")
    assert cluster.run("jobs", "wait", job).returncode == 1
    (task,) = cluster.show(job)["task_list"]
    assert (task["index"], task["exit_code"], task["attempts"]) == (0, 4, 3)
    lines = cluster.ok("jobs", "logs", job, "--task", "0").stdout.splitlines()
    assert len([line for line in lines if line.startswith("attempt on worker-")]) == 3


def test_bad_input_on_the_cluster_is_refused_before_anything_is_made(cluster: Cluster) -> None:
    before = cluster.ok("jobs", "--json").stdout
    cases = [
        (["--group", "gpu"], "has no node group 'gpu'"),
        (["--cpus", "3"], "types that would fit: large (4 CPUs), xlarge (8 CPUs)"),
        (["--cpus", "64"], "no instance type has that many CPUs"),
        (["--image", "no-such-image"], "image no-such-image is neither in the cluster registry"),
    ]
    for args, words in cases:
        refused = cluster.run("submit", *args, "--", "true")
        assert refused.returncode == 2, refused.output
        assert words in refused.stderr
    assert cluster.ok("jobs", "--json").stdout == before


def test_cancel_stops_a_job_and_takes_it_off_the_list(cluster: Cluster) -> None:
    job = cluster.submit("--array", "1-6", "--cpus", "1", "--", "sleep 60")
    cluster.shell(  # until tasks run (Swarm leaves a removed job's tasks running)
        f"for n in $(seq 60); do docker service ps --format '{{{{.CurrentState}}}}' {job} "
        "| grep -q ^Running && exit 0; sleep 0.5; done; exit 1"
    )
    cancelled = cluster.ok("jobs", "cancel", job)
    assert f"Cancelled {job}" in cancelled.stdout
    for node in ("worker-1", "worker-2"):
        (container,) = cluster.client.containers.list(
            filters={"label": [f"clusterous.cluster={cluster.name}", f"clusterous.node={node}"]}
        )
        _, found = container.exec_run(
            ["docker", "ps", "-q", "--filter", f"label=clusterous.job.id={job}"]
        )
        assert found.decode().strip() == "", f"tasks of {job} still run on {node}"
    assert job not in cluster.ok("jobs", "--json").stdout
    assert cluster.run("jobs", "show", job).returncode == 2


def test_a_job_file_submits_each_of_its_jobs(cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "jobs.yml"
    path.write_text(
        "jobs:\n"
        "  one: {command: 'echo one {i} > /data/out/file-{i}.txt', array: 1-2, image: bb}\n"
        "  two: {command: [sh, -c, 'exit 0'], image: bb}\n"
    )
    ids = cluster.ok("submit", "--file", str(path)).stdout.split()
    assert len(ids) == 2
    for job in ids:
        assert cluster.run("jobs", "wait", job).returncode == 0
    assert cluster.shell("cat /data/out/file-2.txt").strip() == "one 2"
    names = {j["id"]: j["name"] for j in json.loads(cluster.ok("jobs", "--json").stdout)}
    assert [names[job] for job in ids] == ["one", "two"]


def test_rm_nodes_during_a_job_warns_and_loses_no_task(cluster: Cluster) -> None:
    start = NOTE.format(i="{i}", what="rm-start")
    job = cluster.submit("--array", "1-8", "--cpus", "1", "--", f"{start}; sleep 8")
    cluster.shell(  # until tasks run on worker-2, the node rm-nodes takes
        "for n in $(seq 60); do grep -q worker-2 /data/times/rm-start 2>/dev/null && exit 0; "
        "sleep 0.5; done; exit 1"
    )
    removed = cluster.ok("rm-nodes", "1")
    assert f"of job {job}" in removed.stderr and "are on the nodes being removed" in removed.stderr
    assert cluster.run("jobs", "wait", job).returncode == 0
    tasks = cluster.show(job)["task_list"]
    assert [t["index"] for t in tasks if t["state"] == "done"] == list(range(1, 9))


def test_submit_without_an_image_copies_debian_into_the_registry_once(cluster: Cluster) -> None:
    try:
        cluster.client.images.get("debian:bookworm-slim")
    except docker.errors.ImageNotFound:
        pytest.skip("this Docker engine has no debian:bookworm-slim to copy")
    first = cluster.run(
        "submit", "--array", "1-2", "--", "cat /etc/debian_version > /data/out/debian-{i}"
    )
    assert first.returncode == 0, first.output
    assert "copying debian:bookworm-slim into the cluster registry" in first.stderr
    assert "of registry:5000/debian:bookworm-slim queued" in first.stderr
    assert cluster.run("jobs", "wait", first.stdout.strip()).returncode == 0
    assert cluster.shell("cat /data/out/debian-2").strip().split(".")[0].isdigit()
    again = cluster.ok("submit", "--", "true")
    assert "copying" not in again.stderr
    assert cluster.run("jobs", "wait", again.stdout.strip()).returncode == 0


def test_wait_with_autoscale_adds_a_node_while_tasks_queue_and_removes_it_after(
    cluster: Cluster,
) -> None:
    """Tasks that each take all of a worker's CPUs queue; --autoscale allows one node more."""

    def nodes() -> dict[str, str]:
        seen = json.loads(cluster.cli.ok("status", cluster.name, "--json").stdout)["nodes"]
        return {n["name"]: n["group"] for n in seen}

    before = nodes()
    workers = [name for name, group in before.items() if group == "worker"]
    per_task = str(worker_cpus(cluster.client))
    start = NOTE.format(i="{i}", what="scaled-start")
    job = cluster.submit("--array", "1-6", "--cpus", per_task, "--", f"{start}; sleep 3")
    waited = cluster.run("jobs", "wait", job, "--autoscale", str(len(workers) + 1))
    assert waited.returncode == 0, waited.output
    assert "autoscale: 1 node(s) to group worker" in waited.stderr
    assert "removing the idle node(s) it added" in waited.stderr
    assert nodes() == before
    ran_on = {
        line.split()[1] for line in cluster.shell("cat /data/times/scaled-start").splitlines()
    }
    assert len(ran_on - set(before)) == 1, f"no task ran on the added node: {ran_on}"
    assert cluster.show(job)["done"] == 6
