"""The cluster dashboard in a real browser, through its tunnel, on a real local cluster.

One cluster (controller, a master, a worker) runs the offline busybox-web
example plus a component that sends Clusterous 1.0 central-logging-sample's
syslog line ("TESTING" to central_logging:5514 every 10 s). Debian's headless
Chromium opens the page that ``clusterous dashboard`` prints: every node shows
its CPU, memory, disk and network, and a text search finds a line a worker
printed and the syslog line. A screenshot is left in tests/artifacts/. Only
127.0.0.1 and the test's own containers are contacted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from clusterous.environments.tunnels import is_tunnel_process
from tests.e2e.cluster_helpers import CliOnHome, remove_cluster_resources, unique_cluster_name
from tests.e2e.test_environments import EXAMPLE, free_port, with_busybox

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
METRICS = ("cpu", "memory", "disk", "network")
NODES = {"controller", "master-1", "worker-1"}
WORKER_LINE = "worker on worker-1: started"
SYSLOG_LINE = "TESTING"
# Clusterous 1.0's central-logging-sample, on our busybox image: syslog over TCP.
LOGGER = f"""#!/bin/sh
# Like Clusterous 1.0's central-logging-sample: {SYSLOG_LINE} to central_logging every 10 s.
while true; do
    echo "<14>test_logging: {SYSLOG_LINE}" | timeout 3 nc central_logging 5514
    sleep 10
done
"""
LOGGER_COMPONENT = """    logger:
      machine: master
      depends: master
      cpu: auto
      image: registry:5000/busybox-web
      cmd: "/bin/sh /data/app/test_logging.sh"
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "Debian's chromium is needed for the browser test: run `make tools`"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def browser(url: str, *extra: str) -> str:
    """The page's DOM once its scripts are done (Chromium's virtual time waits for fetches)."""
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",  # tests run as root in CI
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,1400",
            "--virtual-time-budget=20000",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return json.load(reply)


def wait_for(what: str, check: Any, timeout: float = 180) -> None:
    """Poll ``check`` (the cluster gathers on its own schedule) until it is true."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(2)


@dataclass
class Dashboard:
    name: str
    cli: CliOnHome
    url: str


@pytest.fixture(scope="module")
def dashboard(
    docker_client: docker.DockerClient, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    cli = CliOnHome(tmp_path_factory.mktemp("home"))
    work = tmp_path_factory.mktemp("apps")
    env_file = with_busybox(EXAMPLE, work / "busybox-web", "8080:", free_port())
    (work / "busybox-web" / "app" / "test_logging.sh").write_text(LOGGER)
    text = env_file.read_text()
    env_file.write_text(text.replace("  expose_tunnel:", LOGGER_COMPONENT + "  expose_tunnel:"))
    name = unique_cluster_name("dash")
    try:
        cli.ok("create", "--name", name, "--workers", "1")
        cli.ok("run", str(env_file), "--cluster", name)
        printed = cli.ok("dashboard", "--cluster", name).stdout
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", printed)
        assert match, printed
        yield Dashboard(name, cli, match.group(0))
    finally:
        cli("destroy", name, "--yes", "--delete-volume")
        remove_cluster_resources(docker_client, name)


def nodes_with_metrics(url: str) -> set[str]:
    nodes = get_json(url + "api/nodes")["nodes"]
    return {n["name"] for n in nodes if all(n["metrics"][m] for m in METRICS)}


def found(url: str, text: str) -> bool:
    """Whether the logs view's search for ``text`` finds a line that holds it."""
    query = urllib.parse.urlencode({"q": text})
    return any(text in line["message"] for line in get_json(f"{url}api/logs?{query}")["lines"])


def test_the_browser_shows_every_node_with_metrics_and_finds_a_workers_line(
    dashboard: Dashboard,
) -> None:
    wait_for("metrics of every node", lambda: nodes_with_metrics(dashboard.url) >= NODES)
    wait_for("worker line", lambda: found(dashboard.url, WORKER_LINE))
    query = urllib.parse.urlencode({"q": WORKER_LINE})

    dom = browser(f"{dashboard.url}?{query}", "--dump-dom")

    assert 'data-loaded="yes"' in dom
    for node in NODES:
        card = re.search(rf'<div class="node" data-node="{node}">(.*?)</div></div>', dom, re.S)
        assert card, f"{node} is not on the page"
        for metric in METRICS:
            points = re.search(rf'data-metric="{metric}" data-points="(\d+)"', card.group(1))
            assert points and int(points.group(1)) > 0, f"{node} shows no {metric}"
    rows = re.findall(r'<tr class="log-line">(.*?)</tr>', dom, re.S)
    assert any(WORKER_LINE in row and "worker-1" in row for row in rows), rows
    assert "<td>master</td>" in dom and "<td>worker.1</td>" in dom  # services and tasks
    assert "Cost so far: 0.0000 USD, 0.0000 USD per hour" in dom  # what 'dashboard' wrote

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    browser(f"{dashboard.url}?{query}", f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000


def test_a_syslog_line_sent_to_central_logging_is_found_in_the_page(dashboard: Dashboard) -> None:
    wait_for("syslog line", lambda: found(dashboard.url, SYSLOG_LINE))

    dom = browser(f"{dashboard.url}?q={SYSLOG_LINE}&component=test_logging", "--dump-dom")

    rows = re.findall(r'<tr class="log-line">(.*?)</tr>', dom, re.S)
    assert rows, "the page's search found no syslog line"
    for row in rows:  # sent from the master's node, which the controller names by its address
        assert SYSLOG_LINE in row and "<td>test_logging</td>" in row and "<td>master-1</td>" in row


def test_the_cost_dashboard_wrote_is_served_and_status_renews_it(dashboard: Dashboard) -> None:
    first = get_json(f"{dashboard.url}api/cost")
    assert first["available"] and (first["total"], first["currency"]) == (0.0, "USD")
    dashboard.cli.ok("status", dashboard.name)
    assert get_json(f"{dashboard.url}api/cost")["at"] >= first["at"]


def test_logs_filter_by_component_and_node_and_refuse_a_bad_time(dashboard: Dashboard) -> None:
    query = urllib.parse.urlencode({"component": "worker", "node": "worker-1", "since": "-1h"})
    lines = get_json(f"{dashboard.url}api/logs?{query}")["lines"]

    assert lines and {(line["component"], line["node"]) for line in lines} == {
        ("worker", "worker-1")
    }
    with pytest.raises(urllib.error.HTTPError) as refused:
        get_json(f"{dashboard.url}api/logs?since=yesterday-ish")
    assert refused.value.code == 400


def test_the_server_answers_only_on_the_controllers_loopback(
    dashboard: Dashboard, docker_client: docker.DockerClient
) -> None:
    (master,) = docker_client.containers.list(
        filters={"label": [f"clusterous.cluster={dashboard.name}", "clusterous.node=master-1"]}
    )
    status = json.loads(
        (dashboard.cli.home / "clusters" / dashboard.name / "state.json").read_text()
    )
    controller = next(n for n in status["nodes"] if n["name"] == "controller")
    for port in (8470, 9090):
        code, _ = master.exec_run(
            ["curl", "-s", "--max-time", "3", f"http://{controller['private_addr']}:{port}/"]
        )
        assert code != 0, f"port {port} of the controller answers from another node"


def test_logging_is_1_0s_name_for_the_same_dashboard(dashboard: Dashboard) -> None:
    again = dashboard.cli.ok("logging", "--cluster", dashboard.name).stdout

    assert dashboard.url in again


def test_destroy_stops_the_dashboard_tunnel(dashboard: Dashboard) -> None:
    state = json.loads(
        (dashboard.cli.home / "clusters" / dashboard.name / "state.json").read_text()
    )
    pid = state["dashboard"]["pid"]
    assert is_tunnel_process(pid)

    dashboard.cli.ok("destroy", dashboard.name, "--yes", "--delete-volume")

    assert not is_tunnel_process(pid)
