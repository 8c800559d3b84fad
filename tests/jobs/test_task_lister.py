"""The script ``jobs wait`` runs on the controller, against an engine API on a unix socket."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from clusterous.jobs.listing import records_of
from clusterous.jobs.task_lister import listing

WRAPPER_SIZED = "x" * 3000  # what makes Swarm's tasks heavy: the spec each one carries


def swarm_task(slot: int, state: str, code: int | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"State": state, "Message": "finished", "Timestamp": "2026"}
    if code is not None:
        status["ContainerStatus"] = {"ExitCode": code, "ContainerID": "c" * 64}
    return {
        "ID": f"t{slot}", "Slot": slot, "NodeID": "n1", "Version": {"Index": 10 + slot},
        "Spec": {"ContainerSpec": {"Args": ["/bin/sh", "-c", WRAPPER_SIZED]}},
        "Status": status, "DesiredState": "complete", "ServiceID": "s1",
    }  # fmt: skip


class Engine(BaseHTTPRequestHandler):
    tasks: ClassVar[dict[str, list[dict[str, Any]]]] = {}
    drops: ClassVar[list[int]] = [0]  # connections still to close without an answer

    def do_GET(self) -> None:
        if self.drops[0] > 0:
            self.drops[0] -= 1
            self.close_connection = True
            return
        url = urlparse(self.path)
        (service,) = json.loads(parse_qs(url.query)["filters"][0])["service"]
        body = json.dumps(self.tasks.get(service, [])).encode()
        self.send_response(200 if url.path == "/tasks" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def engine_socket(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "docker.sock")
    server = socketserver.ThreadingUnixStreamServer(path, Engine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()


def test_tasks_keep_only_what_the_summary_reads_and_records_come_along(
    engine_socket: str, tmp_path: Path
) -> None:
    Engine.tasks = {"j-1": [swarm_task(0, "complete", 0), swarm_task(1, "failed", 4)]}
    (tmp_path / "records" / "j-1").mkdir(parents=True)
    (tmp_path / "records" / "j-1" / "1").write_text("100 105 4 2\n")
    (tmp_path / "records" / "j-1" / "0.part").write_text("100")
    found = listing(str(tmp_path / "records"), ["j-1", "j-1-r1"], engine_socket)
    assert found["tasks"]["j-1"][1] == {
        "ID": "t1", "Slot": 1, "NodeID": "n1", "Version": {"Index": 11},
        "Status": {"State": "failed", "ContainerStatus": {"ExitCode": 4}},
    }  # fmt: skip
    assert found["tasks"]["j-1-r1"] == []
    assert found["records"] == {"j-1": {"1": "100 105 4 2"}, "j-1-r1": {}}
    assert records_of(found["records"])["j-1"][1].attempts == 2


def test_a_thousand_tasks_come_back_in_a_fortieth_of_swarms_bytes(
    engine_socket: str, tmp_path: Path
) -> None:
    Engine.tasks = {"j-1": [swarm_task(slot, "complete", 0) for slot in range(1000)]}
    compact = json.dumps(listing(str(tmp_path), ["j-1"], engine_socket), separators=(",", ":"))
    assert len(compact) * 20 < len(json.dumps(Engine.tasks["j-1"]))


def test_an_engine_that_drops_a_connection_is_asked_again(
    engine_socket: str, tmp_path: Path
) -> None:
    Engine.tasks = {"j-1": [swarm_task(0, "running")]}
    Engine.drops[0] = 2
    found = listing(str(tmp_path), ["j-1"], engine_socket)
    assert [t["Status"]["State"] for t in found["tasks"]["j-1"]] == ["running"]
    assert Engine.drops[0] == 0
