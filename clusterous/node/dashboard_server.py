"""The cluster dashboard's web server: it runs on the controller, on 127.0.0.1 only.

``clusterous dashboard`` copies this file and ``dashboard.html`` to the
controller, starts it as a transient systemd unit, and opens an SSH tunnel to
it. Python's standard library only (the controller has python3 for
cloud-init). It writes nothing: it answers the page's questions from the
components that hold the data (see docs/dashboard.md):

- ``/api/nodes``: the Swarm's nodes (``docker node ls``) and each one's CPU,
  memory, disk and network over the last hour from Prometheus (127.0.0.1:9090);
- ``/api/services``: every service and its tasks (``docker service ps``);
- ``/api/logs``: the central journal store (``journalctl -D``), filtered by
  text, component, node and time range;
- ``/api/cost``: the cost file ``status`` and ``dashboard`` write, when one exists.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PROMETHEUS = "http://127.0.0.1:9090"
JOURNAL_DIR = "/var/log/journal/remote"
COST_FILE = Path("/etc/clusterous/cost.json")
PAGE = Path(__file__).with_name("dashboard.html")
HOUR = 3600
STEP = 30
LOG_LIMIT = 500
# A journalctl time: an absolute "YYYY-MM-DD[ HH:MM[:SS]]" or a relative "-2h", "-30min".
TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\d( \d\d:\d\d(:\d\d)?)?|-\d+(s|min|h|d)|now|today)$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

METRICS = {
    "cpu": '100 * (1 - avg by (node) (rate(node_cpu_seconds_total{mode="idle"}[1m])))',
    "memory": "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
    "disk": (
        "max by (node) (100 * (1 - node_filesystem_avail_bytes"
        '{fstype!~"tmpfs|ramfs|nsfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|ramfs|nsfs"}))'
    ),
    "network": (
        'sum by (node) (rate(node_network_receive_bytes_total{device!="lo"}[1m])'
        ' + rate(node_network_transmit_bytes_total{device!="lo"}[1m]))'
    ),
}


class BadQuery(ValueError):
    """A query parameter the page should not have sent: answered with 400."""


def run(argv: list[str]) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- nodes ---------------------------------------------------------------------------


def swarm_nodes() -> list[dict[str, Any]]:
    """Each Swarm node: clusterous's name for it (the engine label), hostname, address, state."""
    ids = run(["docker", "node", "ls", "-q"]).split()
    if not ids:
        return []
    nodes = []
    for node in json.loads(run(["docker", "node", "inspect", *ids])):
        description = node.get("Description", {})
        labels = description.get("Engine", {}).get("Labels", {}) or {}
        hostname = description.get("Hostname", "")
        nodes.append(
            {
                "name": labels.get("clusterous.node", hostname),
                "group": labels.get("clusterous.group", ""),
                "hostname": hostname,
                "address": node.get("Status", {}).get("Addr", ""),
                "state": node.get("Status", {}).get("State", ""),
                "role": node.get("Spec", {}).get("Role", ""),
            }
        )
    return sorted(nodes, key=lambda n: (n["role"] != "manager", n["name"]))


def query_range(query: str, now: float) -> dict[str, list[list[float]]]:
    """One PromQL query over the last hour: node hostname -> [[time, value], ...]."""
    params = urllib.parse.urlencode({"query": query, "start": now - HOUR, "end": now, "step": STEP})
    with urllib.request.urlopen(f"{PROMETHEUS}/api/v1/query_range?{params}", timeout=10) as r:
        answer = json.load(r)
    series: dict[str, list[list[float]]] = {}
    for result in answer.get("data", {}).get("result", []):
        node = result.get("metric", {}).get("node", "")
        series[node] = [[float(t), float(v)] for t, v in result.get("values", [])]
    return series


def nodes(now: float) -> dict[str, Any]:
    found = swarm_nodes()
    problem = None
    metrics: dict[str, dict[str, list[list[float]]]] = {}
    try:
        metrics = {name: query_range(query, now) for name, query in METRICS.items()}
    except OSError as error:
        problem = f"Prometheus on the controller does not answer: {error}"
    for node in found:
        host = node["hostname"]
        node["metrics"] = {name: by_node.get(host, []) for name, by_node in metrics.items()}
    return {"nodes": found, "problem": problem, "window": HOUR}


# -- services --------------------------------------------------------------------------


def services() -> dict[str, Any]:
    names = {n["hostname"]: n["name"] for n in swarm_nodes()}
    listed = json_lines(run(["docker", "service", "ls", "--format", "{{json .}}"]))
    result = []
    for service in sorted(listed, key=lambda s: s.get("Name", "")):
        tasks = json_lines(
            run(
                ["docker", "service", "ps", "--no-trunc", "--format", "{{json .}}", service["Name"]]
            )
        )
        result.append(
            {
                "name": service["Name"],
                "image": service.get("Image", ""),
                "replicas": service.get("Replicas", ""),
                "tasks": task_rows(tasks, names),
            }
        )
    return {"services": result}


def task_rows(tasks: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    """One row per task slot: its current task, and how often the slot was restarted."""
    slots: dict[str, list[dict[str, Any]]] = {}
    current = ""
    for task in tasks:  # `docker service ps` lists each slot's newest task first
        name = task.get("Name", "")
        if name.startswith("\\_"):
            slots.setdefault(current, []).append(task)
        else:
            current = name
            slots.setdefault(name, []).append(task)
    rows = []
    for slot, history in slots.items():
        newest = history[0]
        rows.append(
            {
                "task": slot,
                "node": names.get(newest.get("Node", ""), newest.get("Node", "")),
                "state": newest.get("CurrentState", ""),
                "desired": newest.get("DesiredState", ""),
                "error": newest.get("Error", ""),
                "restarts": len(history) - 1,
            }
        )
    return rows


# -- logs ------------------------------------------------------------------------------


def log_command(query: dict[str, str], nodes: dict[str, tuple[str, str]]) -> list[str]:
    """journalctl's command line for the page's filters (each checked: BadQuery).

    ``nodes``: each node's name -> (hostname, address). A component's line
    carries its node's hostname; a syslog line the address it came from.
    """
    argv = ["journalctl", "-D", JOURNAL_DIR, "-o", "json", "--no-pager", "-n", str(LOG_LIMIT)]
    for key in ("since", "until"):
        value = query.get(key, "").strip()
        if value:
            if not TIME_RE.match(value):
                raise BadQuery(
                    f"{key}: expected a time like 2026-01-31 12:00 or -1h, got {value!r}"
                )
            argv.append(f"--{key}={value}")
    text = query.get("q", "").strip()
    if text:
        argv += ["--case-sensitive=false", f"--grep={re.escape(text)}"]
    node = query.get("node", "").strip()
    component = query.get("component", "").strip()
    for key, value in (("node", node), ("component", component)):
        if value and not NAME_RE.match(value):
            raise BadQuery(f"{key}: not a node or component name: {value!r}")
    hostname, address = nodes.get(node, (node, node))
    # Components' lines only: what service containers printed (Docker's journald
    # driver, in dockerd's name) and the syslog lines rsyslog took in.
    printed = ["_TRANSPORT=journal", "_COMM=dockerd"]
    syslog = ["_COMM=rsyslogd"]
    if component:
        printed = [f"COM_DOCKER_SWARM_SERVICE_NAME={component}"]
        syslog.append(f"SYSLOG_IDENTIFIER={component}")
    if node:
        printed.append(f"_HOSTNAME={hostname}")
        syslog.append(f"SYSLOG_SOURCE={address}")
    return [*argv, *printed, "+", *syslog]


def log_entry(raw: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    message = raw.get("MESSAGE", "")
    if isinstance(message, list):  # journald's JSON gives non-UTF-8 text as bytes
        message = bytes(message).decode("utf-8", "replace")
    hostname = raw.get("SYSLOG_SOURCE") or raw.get("_HOSTNAME", "")
    container = raw.get("CONTAINER_NAME", "")
    component = raw.get("COM_DOCKER_SWARM_SERVICE_NAME") or raw.get("SYSLOG_IDENTIFIER", "")
    if not container and message.startswith(" "):  # syslog's space after "tag:"
        message = message[1:]
    task = raw.get("COM_DOCKER_SWARM_TASK_NAME") or container
    return {
        "time": int(raw.get("__REALTIME_TIMESTAMP", "0")) / 1e6,
        "node": names.get(hostname, hostname),
        "component": component,
        "task": ".".join(task.split(".")[:2]) if task else "syslog",
        "message": message,
    }


def logs(query: dict[str, str]) -> dict[str, Any]:
    found = swarm_nodes()
    by_name = {n["name"]: (n["hostname"], n["address"]) for n in found}
    names = {n["hostname"]: n["name"] for n in found} | {n["address"]: n["name"] for n in found}
    if not Path(JOURNAL_DIR).is_dir():
        return {"lines": [], "problem": "central logging is off on this cluster"}
    completed = subprocess.run(
        log_command(query, by_name), capture_output=True, text=True, timeout=60
    )
    # journalctl exits 1 when nothing matches; any other words on stderr are a problem.
    problem = completed.stderr.strip() if completed.returncode not in (0, 1) else None
    lines = sorted(
        (log_entry(raw, names) for raw in json_lines(completed.stdout)), key=lambda e: e["time"]
    )
    return {"lines": lines, "problem": problem, "limit": LOG_LIMIT}


def cost() -> dict[str, Any]:
    """The cluster's cost so far, when ``status`` or ``dashboard`` has written it."""
    if not COST_FILE.is_file():
        return {"available": False}
    return {"available": True, **json.loads(COST_FILE.read_text())}


# -- HTTP ------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    server_version = "clusterous-dashboard"

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        try:
            if url.path in ("/", "/index.html"):
                self.reply(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            elif url.path == "/api/nodes":
                self.reply_json(200, nodes(time.time()))
            elif url.path == "/api/services":
                self.reply_json(200, services())
            elif url.path == "/api/logs":
                self.reply_json(200, logs(query))
            elif url.path == "/api/cost":
                self.reply_json(200, cost())
            else:
                self.reply_json(404, {"problem": f"no such page: {url.path}"})
        except BadQuery as problem:
            self.reply_json(400, {"problem": str(problem)})
        except (OSError, subprocess.SubprocessError, ValueError) as problem:
            self.reply_json(500, {"problem": f"{type(problem).__name__}: {problem}"})

    def reply_json(self, status: int, body: dict[str, Any]) -> None:
        self.reply(status, json.dumps(body).encode(), "application/json")

    def reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the journal would fill with the page's polling


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="clusterous-dashboard")
    parser.add_argument("--listen", default="127.0.0.1:8470", help="address:port")
    args = parser.parse_args(argv)
    host, port = args.listen.rsplit(":", 1)
    ThreadingHTTPServer((host, int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
