"""One tunnel, in its own process: 127.0.0.1:<local port> -> <host>:<port> via the controller.

Started by ``tunnels.start`` and left running after the CLI exits. It logs in
to the controller with the cluster's key, accepting only the controller's
pinned host key, and relays each local connection through its own
``direct-tcpip`` channel. It listens only while that SSH connection is up,
and only after a first connection went through to the remote end: a port
that answers is a tunnel that works. When the connection drops it closes its
port and logs in again, waiting longer each time; after MAX_ATTEMPTS failed
attempts in a row (the controller is gone) it gives up and exits. A host key
that is not the pinned one, a port another program took, or a cluster no
longer on this machine end it at once, as SIGTERM does.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from clusterous.environments.processes import describe, port_owner
from clusterous.errors import ClusterousError, NotFoundError
from clusterous.remote.ssh import HostKeyMismatch

if TYPE_CHECKING:
    import paramiko

    from clusterous.remote.ssh import Session

WATCH_INTERVAL = 2.0  # how often the SSH connection is checked
MAX_ATTEMPTS = 10  # failed logins in a row before the tunnel gives up
FIRST_DELAY = 1.0
MAX_DELAY = 30.0


class PortTaken(ClusterousError):
    """Another program took the local port: nothing to retry."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clusterous-tunnel")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--local-port", required=True, type=int)
    parser.add_argument("--remote", required=True, help="host:port seen from the controller")
    return parser.parse_args(argv)


def backoff(attempt: int) -> float:
    """The wait after the ``attempt``-th failure in a row: 1, 2, 4 ... 30 s."""
    return float(min(FIRST_DELAY * 2 ** (attempt - 1), MAX_DELAY))


class Relay:
    """127.0.0.1:<port> -> remote, each connection through a fresh channel of one session."""

    def __init__(self, port: int, remote: tuple[str, int]) -> None:
        self.port = port
        self.remote = remote
        self._server: socket.socket | None = None
        self._closed = threading.Event()
        self.session: Session | None = None

    def open(self, session: Session) -> None:
        """Listen, once a connection through ``session`` reached the remote end."""
        self.probe(session)
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(("127.0.0.1", self.port))
        except OSError as problem:
            server.close()
            owner = describe(port_owner(self.port))
            raise PortTaken(
                f"local port {self.port} is taken by {owner}", str(problem)
            ) from problem
        server.listen(16)
        self._server, self._closed, self.session = server, threading.Event(), session
        threading.Thread(target=self._accept_loop, args=(server, session), daemon=True).start()

    def probe(self, session: Session) -> None:
        host, port = self.remote
        try:
            session.open_channel(host, port).close()
        except Exception as problem:
            raise ClusterousError(
                f"{host}:{port} does not answer through the controller", str(problem) or None
            ) from problem

    def close(self) -> None:
        self._closed.set()
        if self._server is not None:
            with contextlib.suppress(OSError):
                # shutdown wakes the thread blocked in accept(), which would keep the port.
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None

    def _accept_loop(self, server: socket.socket, session: Session) -> None:
        closed = self._closed
        while not closed.is_set():
            try:
                client, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client, session, closed), daemon=True).start()

    def _serve(self, client: socket.socket, session: Session, closed: threading.Event) -> None:
        from clusterous.remote.ssh import pump

        try:
            channel: paramiko.Channel = session.open_channel(*self.remote)
        except Exception:
            # Reset rather than close: the client sees at once that nothing answered.
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            return
        pump(client, channel, closed)


def supervise(
    connect: Callable[[], Session],
    relay: Relay,
    stopping: threading.Event,
    sleep: Callable[[float], object] | None = None,
    say: Callable[[str], None] = print,
    watch: float = WATCH_INTERVAL,
) -> int:
    """Keep the relay open while the controller answers; give up after MAX_ATTEMPTS failures.

    The first opening is not retried: the CLI that started the tunnel is
    waiting, and reports the failure there and then.
    """
    wait = sleep or stopping.wait
    failures, opened = 0, False
    while not stopping.is_set():
        try:
            _open(connect, relay)
        except (PortTaken, NotFoundError, HostKeyMismatch) as fatal:
            say(fatal.render())
            return 1
        except ClusterousError as problem:
            failures += 1
            if not opened:
                say(problem.render())
                return 1
            say(f"attempt {failures} of {MAX_ATTEMPTS} failed: {problem.render()}")
            if failures >= MAX_ATTEMPTS:
                say("giving up: the controller does not answer; 'clusterous tunnel' reopens it")
                return 1
            wait(backoff(failures))
            continue
        failures, opened = 0, True
        say(f"tunnel open: 127.0.0.1:{relay.port} -> {relay.remote[0]}:{relay.remote[1]}")
        _hold(relay, stopping, watch)
        if not stopping.is_set():
            say("the SSH connection dropped; opening it again")
    return 0


def _open(connect: Callable[[], Session], relay: Relay) -> None:
    session = connect()
    try:
        relay.open(session)
    except BaseException:
        session.close()
        raise


def _hold(relay: Relay, stopping: threading.Event, watch: float) -> None:
    session = relay.session
    try:
        while session is not None and session.active and not stopping.wait(watch):
            pass
    finally:
        relay.close()
        if session is not None:
            session.close()


def controller_session(home_root: Path, cluster: str) -> Callable[[], Session]:
    from clusterous.home import Home
    from clusterous.manager.access import ClusterAccess
    from clusterous.manager.ledger import Ledger

    home = Home(home_root)
    access = ClusterAccess.of(home, cluster)
    return lambda: access.connect_controller(Ledger(home, cluster).load())


def main(argv: list[str] | None = None) -> int:
    import signal

    args = parse_args(sys.argv[1:] if argv is None else argv)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    host, port = args.remote.rsplit(":", 1)
    relay = Relay(args.local_port, (host, int(port)))
    say: Callable[[str], None] = lambda line: print(line, flush=True)  # noqa: E731
    try:
        return supervise(controller_session(args.home, args.cluster), relay, stopping, say=say)
    except Exception as problem:
        say(f"{type(problem).__name__}: {problem}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
