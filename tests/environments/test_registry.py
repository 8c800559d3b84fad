"""The cluster registry read through an SSH channel, with nothing listening on this machine.

A small registry double (the v2 API's three calls) on 127.0.0.1 stands for
the controller's private address; the real SSH code reaches it through
paramiko's in-process SSH server, as the CLI reaches the controller.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from clusterous.environments import registry
from clusterous.environments.processes import listening_inodes
from clusterous.errors import ClusterousError, NotFoundError
from clusterous.remote.keys import generate_ed25519, write_private_key
from clusterous.remote.ssh import Endpoint, KnownHosts, Session, connect
from tests.fake_ssh import start_ssh_server

DIGEST = "sha256:" + "ab" * 32


def listening_sockets_of_this_process() -> set[str]:
    """The inodes of every TCP socket this process listens on."""
    ours = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile (by another thread)
            ours.add(os.readlink(f"/proc/self/fd/{fd}"))
    everything: set[str] = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            columns = line.split()
            if columns[3] == "0A":
                everything.add(columns[9])
    return {inode for inode in everything if f"socket:[{inode}]" in ours}


class RegistryDouble(BaseHTTPRequestHandler):
    seen_listeners: ClassVar[list[set[str]]] = []

    def do_GET(self) -> None:
        RegistryDouble.seen_listeners.append(listening_sockets_of_this_process())
        answers = {
            "/v2/busybox-web/tags/list": {"name": "busybox-web", "tags": ["v2", "latest"]},
            "/v2/busybox-web/manifests/latest": {
                "config": {"size": 100, "digest": "sha256:c0"},
                "layers": [{"size": 1000}, {"size": 24}],
            },
            "/v2/busybox-web/blobs/sha256:c0": {"created": "2026-12-03T06:00:00Z"},
        }
        body = answers.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Docker-Content-Digest", DIGEST)
        self.end_headers()
        self.wfile.write(json.dumps(body or {"errors": []}).encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RegistryDouble)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    host, login = generate_ed25519("controller"), generate_ed25519("login")
    write_private_key(tmp_path / "id_ed25519", login)
    listener = start_ssh_server(host.private_openssh, login.private_openssh)
    known = KnownHosts(tmp_path / "known_hosts")
    known.add("controller", host.public_openssh)
    endpoint = Endpoint("controller", "127.0.0.1", listener.getsockname()[1])
    try:
        with connect(endpoint, tmp_path / "id_ed25519", known) as opened:
            yield opened
    finally:
        listener.close()


def test_image_info_is_read_through_an_ssh_channel_with_nothing_listening_here(
    session: Session, registry_port: int
) -> None:
    before = listening_sockets_of_this_process()
    RegistryDouble.seen_listeners.clear()
    reached = registry.Registry(lambda: session.open_channel("127.0.0.1", registry_port))

    info = registry.describe(reached, "registry:5000/busybox-web:latest")

    assert info.name == "registry:5000/busybox-web"
    (tag,) = info.tags
    assert (tag.tag, tag.digest, tag.size, tag.created) == (
        "latest",
        DIGEST,
        1124,
        "2026-12-03T06:00:00Z",
    )
    assert RegistryDouble.seen_listeners and all(
        seen == before for seen in RegistryDouble.seen_listeners
    ), "a request opened a listening socket on this machine"


def test_an_image_the_registry_lacks_says_how_to_build_it(
    session: Session, registry_port: int
) -> None:
    reached = registry.Registry(lambda: session.open_channel("127.0.0.1", registry_port))
    with pytest.raises(NotFoundError, match="has no image registry:5000/nothing"):
        registry.describe(reached, "nothing")


def test_a_registry_that_does_not_answer_is_said_so(session: Session) -> None:
    assert listening_inodes(1) == set()  # port 1: nobody listens there
    reached = registry.Registry(lambda: session.open_channel("127.0.0.1", 1))
    with pytest.raises(ClusterousError, match="the cluster registry does not answer"):
        registry.describe(reached, "busybox-web")
