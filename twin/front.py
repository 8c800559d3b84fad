"""The twin's AWS endpoint: every call forwarded to moto, the ones that move machines observed.

The CLI's ``AWS_ENDPOINT_URL`` points here (127.0.0.1), and the registry in
the nodes reaches S3 here too (the same server listens on the gateway of the
twin's own service network, where nodes can reach it). Each request goes to
moto unchanged; the answer comes back with public addresses rewritten to
their loopback stand-ins, and the calls the materialiser cares about are
handed to it as they happen, after moto accepted them (no polling).
"""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from twin.awsquery import Call, read_call, rewrite_public_addresses

log = logging.getLogger("twin.front")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "expect",
        "content-length",
    }
)
Observer = Callable[[Call, bytes], None]


class FrontServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        moto_url: str,
        loopback_for: Callable[[str], str],
        before: Callable[[Call], None],
        after: Observer,
    ) -> None:
        target = urlsplit(moto_url)
        self.moto = (target.hostname or "127.0.0.1", target.port or 80)
        self.loopback_for = loopback_for
        self.before = before
        self.after = after
        super().__init__(address, FrontHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class FrontHandler(BaseHTTPRequestHandler):
    server: FrontServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per AWS call
        return

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _chunked_body(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _forward(self) -> None:
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        call = read_call(headers, body)
        self.server.before(call)
        status, reason, answer_headers, answer = self._ask_moto(body, headers)
        if call.service == "ec2" and answer:
            answer = rewrite_public_addresses(answer, self.server.loopback_for)
        if call.action and 200 <= status < 300:
            log.info("%s %s", call.region, call.action)
            self._observe(call, answer)
        self.send_response(status, reason)
        length = str(len(answer))
        for key, value in answer_headers:
            if key.lower() == "content-length" and self.command == "HEAD":
                length = value  # the size of what a GET would answer
            elif key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    def _ask_moto(
        self, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self.server.moto, timeout=300)
        try:
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        finally:
            connection.close()

    def _observe(self, call: Call, answer: bytes) -> None:
        try:
            self.server.after(call, answer)
        except Exception:  # the CLI's call succeeded in moto: never fail it here
            log.exception("handling %s failed", call.action)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward


def serve(server: ThreadingHTTPServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread
