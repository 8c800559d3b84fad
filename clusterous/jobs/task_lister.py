"""Run on the controller (``python3 - RECORDS ROUND...``): a job's tasks in a few bytes each.

``jobs wait`` asks every 2 s. Swarm's task objects weigh 2-4 KB each (each
carries the whole spec: the wrapper, the environment), several MB for a
1,000-task round, while a summary needs only each task's slot, state, node and
exit code. This script asks the controller's engine on its own socket, keeps
those fields, adds what the wrapper recorded under RECORDS, and prints one
JSON document, 10 to 20 times smaller: ``{"tasks": {ROUND: [task...]},
"records": {ROUND: {INDEX: "start end exit attempts"}}}``. Standard library
only: the nodes have python3 and nothing more is installed for it.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
from typing import Any
from urllib.parse import quote

ENGINE_SOCKET = "/var/run/docker.sock"
ATTEMPTS = 3  # a loaded engine closed a connection without an answer once in 800 polls


class _EngineConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=60)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.socket_path)


def engine_tasks(service: str, path: str = ENGINE_SOCKET) -> list[dict[str, Any]]:
    """The round's tasks; a busy engine that drops the connection is asked again."""
    for _ in range(ATTEMPTS - 1):
        try:
            return _ask(service, path)
        except (OSError, http.client.HTTPException):
            continue
    return _ask(service, path)


def _ask(service: str, path: str) -> list[dict[str, Any]]:
    connection = _EngineConnection(path)
    try:
        query = quote(json.dumps({"service": [service]}))
        connection.request("GET", f"/tasks?filters={query}")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise SystemExit(f"the engine refused the task list of {service}: {body[:300]!r}")
    return list(json.loads(body))


def compact(task: dict[str, Any]) -> dict[str, Any]:
    """The fields ``jobs.progress`` reads, in the shape Swarm gives them."""
    status = task.get("Status") or {}
    kept: dict[str, Any] = {"State": status.get("State", "")}
    if status.get("Err"):
        kept["Err"] = status["Err"]
    code = (status.get("ContainerStatus") or {}).get("ExitCode")
    if code is not None:
        kept["ContainerStatus"] = {"ExitCode": code}
    return {
        "ID": task.get("ID", ""),
        "Slot": task.get("Slot", 0),
        "NodeID": task.get("NodeID", ""),
        "Version": {"Index": (task.get("Version") or {}).get("Index", 0)},
        "Status": kept,
    }


def records(root: str, service: str) -> dict[str, str]:
    """INDEX -> the wrapper's line, for the finished tasks of one round."""
    found = {}
    directory = os.path.join(root, service)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return {}
    for name in names:
        if name.isdigit():
            try:
                with open(os.path.join(directory, name)) as record:
                    found[name] = record.readline().strip()
            except FileNotFoundError:  # the job was cancelled meanwhile
                continue
    return found


def listing(root: str, services: list[str], path: str = ENGINE_SOCKET) -> dict[str, Any]:
    return {
        "tasks": {s: [compact(t) for t in engine_tasks(s, path)] for s in services},
        "records": {s: records(root, s) for s in services},
    }


def main(argv: list[str]) -> None:
    root, *services = argv
    try:
        found = listing(root, services)
    except (OSError, http.client.HTTPException, ValueError) as problem:
        why = f"{type(problem).__name__}: {problem}"
        raise SystemExit(f"the engine did not list the tasks: {why}") from None
    json.dump(found, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1:])
