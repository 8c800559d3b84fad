"""The docker SDK client the CLI talks to the controller's engine with (``engine_client``).

Each connection to the controller's engine is an SSH channel running
``docker system dial-stdio`` there, so the client must reuse one rather than
open a connection for each URL it has not asked before. A real HTTP/1.1 server
on a unix socket stands in for the engine and counts the connections.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import docker
import pytest

from clusterous.engine.swarm import one_connection_pool


class CountingEngine(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path) -> None:
        self.connections = 0
        super().__init__(str(path), Handler)

    def get_request(self) -> tuple[socket.socket, object]:
        self.connections += 1
        return super().get_request()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the engine

    def do_GET(self) -> None:
        self._answer(json.dumps({"ID": self.path}).encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        self._answer(b"")

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[CountingEngine]:
    server = CountingEngine(tmp_path / "engine.sock")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def client_of(engine: CountingEngine) -> docker.DockerClient:
    return docker.DockerClient(base_url=f"unix://{engine.server_address}", version="1.41")


def label_three_nodes(client: docker.DockerClient) -> None:
    for number in range(3):
        node = client.api.inspect_node(f"node-{number}")
        client.api.update_node(node["ID"], number + 7, {"Labels": {"n": str(number)}})


def test_node_updates_share_one_connection_to_the_engine(engine: CountingEngine) -> None:
    client = client_of(engine)
    one_connection_pool(client)
    label_three_nodes(client)
    client.api.nodes()
    assert engine.connections == 1
    client.close()


def test_the_sdk_alone_opens_a_connection_for_every_new_url(engine: CountingEngine) -> None:
    """What one_connection_pool is for: six URLs, six connections (six dial-stdio)."""
    client = client_of(engine)
    label_three_nodes(client)
    assert engine.connections == 6
    client.close()
