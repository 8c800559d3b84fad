"""Learning the caller's public address, against a local HTTP server (no internet here)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from clusterous.aws.caller_address import learn_public_address


def serve(body: bytes) -> Iterator[str]:
    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def address_server() -> Iterator[str]:
    yield from serve(b"93.184.216.34\n")


@pytest.fixture
def garbage_server() -> Iterator[str]:
    yield from serve(b"<html>captive portal</html>")


def test_the_address_in_the_answer_is_learned(address_server: str) -> None:
    assert learn_public_address(address_server, timeout=5) == "93.184.216.34"


def test_an_answer_that_is_not_a_public_address_is_ignored(garbage_server: str) -> None:
    assert learn_public_address(garbage_server, timeout=5) is None


def test_no_answer_means_none() -> None:
    assert learn_public_address("http://127.0.0.1:9/", timeout=1) is None
