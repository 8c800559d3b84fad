"""One tunnel, in its own process: 127.0.0.1:<local port> -> <host>:<port> via the controller.

Started by ``tunnels.start`` and left running after the CLI exits. It logs in
to the controller with the cluster's key and accepts only the controller's
pinned host key (sshtunnel hands it to paramiko's ``Transport.connect``, which
refuses any other key). If the SSH connection drops it is opened again.
SIGTERM ends it.
"""

from __future__ import annotations

import argparse
import base64
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.ledger import Ledger
from clusterous.remote.ssh import load_private_key

WATCH_INTERVAL = 2.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clusterous-tunnel")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--local-port", required=True, type=int)
    parser.add_argument("--remote", required=True, help="host:port seen from the controller")
    return parser.parse_args(argv)


def pinned_host_key(access: ClusterAccess, alias: str) -> Any:
    import paramiko

    pinned = access.known_hosts.pinned(alias)
    if pinned is None:
        raise ClusterousError(f"no pinned host key for {alias}", str(access.known_hosts.path))
    key_type, key_b64 = pinned.split()
    return paramiko.PKey.from_type_string(key_type, base64.b64decode(key_b64))


def forwarder(args: argparse.Namespace) -> Any:
    from sshtunnel import SSHTunnelForwarder

    home = Home(args.home)
    access = ClusterAccess.of(home, args.cluster)
    endpoint = access.controller_endpoint(Ledger(home, args.cluster).load())
    host, port = args.remote.rsplit(":", 1)
    return SSHTunnelForwarder(
        (endpoint.host, endpoint.port),
        ssh_username=endpoint.user,
        ssh_pkey=load_private_key(access.key_path),
        ssh_host_key=pinned_host_key(access, endpoint.alias),
        allow_agent=False,
        host_pkey_directories=[],
        ssh_config_file=None,
        remote_bind_address=(host, int(port)),
        local_bind_address=("127.0.0.1", args.local_port),
        set_keepalive=15.0,
        mute_exceptions=True,
    )


def serve(server: Any, stopping: threading.Event, remote: str) -> None:
    server.start()
    print(f"tunnel open: {server.local_bind_address} -> {remote}", flush=True)
    while not stopping.wait(WATCH_INTERVAL):
        if not server.is_active:
            print("the SSH connection dropped; opening it again", flush=True)
            server.restart()
    server.stop(force=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        serve(forwarder(args), stopping, args.remote)
    except ClusterousError as problem:
        print(problem.render(), flush=True)
        return 1
    except Exception as problem:
        print(f"{type(problem).__name__}: {problem}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
