"""Environments on a real local cluster, driven through the CLI like a user would.

One cluster (controller, one master, two workers) for the module. The offline
example (busybox-web) runs, answers through its tunnel with pages written by
the workers, grows onto an added node by itself, shows every node in its
logs, survives a dead tunnel, refuses bad input clearly, quits leaving no
service and no tunnel process, and runs again; then a Clusterous 1.0-shaped
environment runs; destroy leaves nothing. Only 127.0.0.1 and the test's own
containers are contacted.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from clusterous.environments.tunnels import is_tunnel_process
from tests.e2e.cluster_helpers import (
    CliOnHome,
    labelled,
    remove_cluster_resources,
    unique_cluster_name,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "environments" / "busybox-web"
SHAPE_1_0 = Path(__file__).parent / "envs" / "basic-python-shape"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_get(port: int, timeout: float = 20) -> tuple[int, str]:
    """GET / on 127.0.0.1:port, retried until it answers 200 or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                return reply.status, reply.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def with_busybox(source: Path, target: Path, port_from: str, port_to: int) -> Path:
    """A copy of an example with a static busybox beside its Dockerfile, on a free port."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("busybox"))
    script = REPO / "scripts" / "busybox-for-examples.sh"
    subprocess.run([str(script), str(target / "image")], check=True, capture_output=True)
    env_file = target / "env.yml"
    env_file.write_text(env_file.read_text().replace(port_from, f"{port_to}:"))
    return env_file


@dataclass
class App:
    name: str
    cli: CliOnHome
    env_file: Path
    port: int
    work: Path

    def state_tunnels(self) -> list[dict[str, object]]:
        import json

        state = json.loads((self.cli.home / "clusters" / self.name / "state.json").read_text())
        return list(state.get("tunnels", []))

    def services(self) -> dict[str, dict[str, object]]:
        return {s["name"]: s for s in self.cli.status(self.name)["services"]}

    def tunnel_processes(self) -> list[str]:
        ps = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout
        return [line for line in ps.splitlines() if "tunnel_process" in line and self.name in line]


@pytest.fixture(scope="module")
def app(
    docker_client: docker.DockerClient, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    cli = CliOnHome(tmp_path_factory.mktemp("home"))
    work = tmp_path_factory.mktemp("apps")
    port = free_port()
    env_file = with_busybox(EXAMPLE, work / "busybox-web", "8080:", port)
    live = App(unique_cluster_name("env"), cli, env_file, port, work)
    try:
        yield live
    finally:
        for line in live.tunnel_processes():
            pid = int(line.split()[0])
            if is_tunnel_process(pid):
                os.kill(pid, 15)
        remove_cluster_resources(docker_client, live.name)


def test_run_without_a_cluster_says_how_to_create_one(app: App, tmp_path: Path) -> None:
    lonely = CliOnHome(tmp_path / "empty-home")
    result = lonely("run", str(app.env_file))
    assert result.returncode == 2, result.output
    assert "no cluster" in result.stderr and "clusterous create" in result.stderr
    assert "Traceback" not in result.output


def test_the_offline_example_answers_through_its_tunnel_with_the_workers_pages(app: App) -> None:
    app.cli.ok("create", "--name", app.name, "--workers", "2")
    result = app.cli.ok("run", str(app.env_file), "--cluster", app.name)
    assert f"http://localhost:{app.port}" in result.stdout
    assert "worker: 2/2 running" in result.stderr

    status, body = http_get(app.port)
    assert status == 200
    deadline = time.monotonic() + 15
    while "worker-2" not in body or "worker-1" not in body:
        assert time.monotonic() < deadline, body
        time.sleep(0.5)
        body = http_get(app.port)[1]
    assert "worker on worker-1" in body and "worker on worker-2" in body


def test_status_lists_each_service_with_desired_and_running(app: App) -> None:
    services = app.services()
    assert services["master"]["mode"] == "replicated"
    assert (services["master"]["desired"], services["master"]["running"]) == (1, 1)
    assert services["worker"]["mode"] == "replicated"  # count: auto, at most one per node
    assert (services["worker"]["desired"], services["worker"]["running"]) == (2, 2)


def test_logs_show_output_from_every_node_prefixed_with_it(app: App) -> None:
    workers = app.cli.ok("logs", "worker", "--cluster", app.name).stdout
    assert "worker-1 | worker on worker-1: started" in workers
    assert "worker-2 | worker on worker-2: started" in workers
    master = app.cli.ok("logs", "master", "--tail", "5", "--cluster", app.name).stdout
    assert master.startswith("master-1 | ")


def test_an_auto_component_grows_onto_an_added_node_and_leaves_a_removed_one(app: App) -> None:
    app.cli.ok("add-nodes", "1", "--cluster", app.name)
    # Usually 2-3 s; Swarm's manager sometimes holds a new node's first task for
    # about 30 s while it reaps a removed node (seen on Docker 20.10): wait past that.
    deadline = time.monotonic() + 90
    while "worker on worker-3" not in http_get(app.port)[1]:
        assert time.monotonic() < deadline, app.services()
        time.sleep(0.5)
    assert app.services()["worker"]["running"] == 3

    app.cli.ok("rm-nodes", "1", "--cluster", app.name)
    assert app.services()["worker"]["desired"] == 2


def test_a_dead_tunnel_is_reopened_by_the_tunnel_command(app: App) -> None:
    (record,) = app.state_tunnels()
    os.kill(int(str(record["pid"])), 9)
    time.sleep(0.3)
    result = app.cli.ok("tunnel", "--cluster", app.name)
    assert "reopened" in result.stdout
    assert http_get(app.port)[0] == 200


def test_a_busy_local_port_is_named_with_a_free_one(app: App) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        busy = squatter.getsockname()[1]
        env_file = app.work / "busy.yml"
        env_file.write_text(app.env_file.read_text().replace(f"{app.port}:", f"{busy}:"))
        shutil.copytree(app.env_file.parent / "app", app.work / "app", dirs_exist_ok=True)
        shutil.copytree(app.env_file.parent / "image", app.work / "image", dirs_exist_ok=True)
        result = app.cli("run", str(env_file), "--yes", "--cluster", app.name)
    assert result.returncode == 2, result.output
    assert f"local port {busy}" in result.stderr and "is free" in result.stderr
    assert http_get(app.port)[0] == 200, "the running environment was left alone"


def test_a_port_taken_by_another_program_is_named_by_its_process(app: App) -> None:
    script = (
        "import socket, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
        "print(s.getsockname()[1], flush=True); time.sleep(120)\n"
    )
    squatter = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert squatter.stdout is not None
        busy = int(squatter.stdout.readline())
        env_file = app.work / "taken.yml"
        env_file.write_text(app.env_file.read_text().replace(f"{app.port}:", f"{busy}:"))
        shutil.copytree(app.env_file.parent / "app", app.work / "app", dirs_exist_ok=True)
        shutil.copytree(app.env_file.parent / "image", app.work / "image", dirs_exist_ok=True)
        result = app.cli("run", str(env_file), "--yes", "--cluster", app.name)
        name = Path(f"/proc/{squatter.pid}/comm").read_text().strip()
    finally:
        squatter.kill()
        squatter.wait()
    assert result.returncode == 2, result.output
    assert f"{name} (pid {squatter.pid}) listens on it" in result.stderr, result.stderr
    assert f"stop {name} (pid {squatter.pid})" in result.stderr, result.stderr
    assert http_get(app.port)[0] == 200, "the running environment was left alone"


def write_env(app: App, name: str, body: str) -> Path:
    path = app.work / f"{name}.yml"
    path.write_text(f"name: {name}\nenvironment:\n{body}")
    return path


def test_a_missing_dockerfile_directory_is_refused(app: App) -> None:
    path = write_env(
        app,
        "nodir",
        "  image:\n    - dockerfile: nowhere/\n      image_name: x\n"
        "  components:\n    a: {machine: master, image: registry:5000/x}\n",
    )
    result = app.cli("run", str(path), "--yes", "--cluster", app.name)
    assert result.returncode == 2, result.output
    assert "nowhere" in result.stderr and "does not exist" in result.stderr


def test_a_failed_build_shows_the_tail_of_its_log(app: App) -> None:
    broken = app.work / "broken-image"
    broken.mkdir()
    shutil.copy(app.env_file.parent / "image" / "busybox", broken / "busybox")
    (broken / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "sh", "-c", '
        '"echo step-output-here; exit 3"]\n'
    )
    path = write_env(
        app,
        "broken",
        "  image:\n    - dockerfile: broken-image/\n      image_name: broken\n"
        "  components:\n    a: {machine: master, image: registry:5000/broken}\n",
    )
    result = app.cli("run", str(path), "--yes", "--cluster", app.name)
    assert result.returncode == 1, result.output
    assert "building registry:5000/broken" in result.stderr
    assert "step-output-here" in result.stderr


def test_an_image_neither_in_the_registry_nor_pullable_is_named(app: App) -> None:
    path = write_env(
        app, "noimage", "  components:\n    a: {machine: master, image: registry:5000/ghost}\n"
    )
    result = app.cli("run", str(path), "--yes", "--cluster", app.name)
    assert result.returncode == 1, result.output
    assert "registry:5000/ghost is neither in the cluster registry nor pullable" in result.stderr
    assert http_get(app.port)[0] == 200, "the running environment was left alone"


def test_quit_leaves_no_service_and_no_tunnel_process(app: App) -> None:
    pids = [int(str(t["pid"])) for t in app.state_tunnels()]
    result = app.cli.ok("quit", "--yes", "--cluster", app.name)
    assert "master" in result.stdout and str(app.port) in result.stdout
    assert app.services() == {}
    assert not any(is_tunnel_process(pid) for pid in pids)
    assert app.tunnel_processes() == []
    assert app.state_tunnels() == []


def test_a_rerun_works_skipping_the_unchanged_build_and_files(app: App) -> None:
    result = app.cli.ok("run", str(app.env_file), "--cluster", app.name)
    assert "build skipped" in result.stderr and "0 sent" in result.stderr
    assert http_get(app.port)[0] == 200

    app.cli.ok("quit", "--tunnel-only", "--cluster", app.name)
    assert app.tunnel_processes() == []
    assert set(app.services()) == {"master", "worker"}


def test_a_component_that_crashes_is_reported_at_once_with_its_last_lines(app: App) -> None:
    path = write_env(
        app,
        "crash",
        "  components:\n    boom:\n      machine: worker\n      image: registry:5000/busybox-web\n"
        '      cmd: "echo about-to-fail; exit 4"\n',
    )
    started = time.monotonic()
    result = app.cli("run", str(path), "--yes", "--timeout", "300", "--cluster", app.name)
    assert result.returncode == 1, result.output
    assert time.monotonic() - started < 60
    assert "component 'boom' failed to start" in result.stderr
    assert "about-to-fail" in result.stderr


def test_an_environment_shaped_like_clusterous_1_0_basic_python_runs(app: App) -> None:
    port = free_port()
    env_file = with_busybox(SHAPE_1_0, app.work / "shape", "8888:", port)
    result = app.cli.ok("run", str(env_file), "--yes", "--cluster", app.name)
    assert f"To access the master, use this URL: http://localhost:{port}" in result.stdout
    status, body = http_get(port)
    assert status == 200 and "basic-python master on master-1" in body
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/worker-2.txt") as page:
                assert page.read().decode().strip() == "engine on worker-2"
                break
        except OSError:
            assert time.monotonic() < deadline, "engine on worker-2 wrote nothing"
            time.sleep(0.5)
    app.cli.ok("quit", "--yes", "--cluster", app.name)


def test_destroy_stops_the_tunnels_and_leaves_nothing(
    app: App, docker_client: docker.DockerClient
) -> None:
    app.cli.ok("run", str(app.env_file), "--yes", "--cluster", app.name)
    assert app.tunnel_processes()
    app.cli.ok("destroy", app.name, "--yes")
    assert app.tunnel_processes() == []
    assert labelled(docker_client, app.name) == []
