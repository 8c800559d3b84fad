"""A real SSH server for tests: paramiko's, in-process, on 127.0.0.1 only.

It accepts exactly one login key, runs commands with bash (feeding them the
channel's stdin), and opens direct-tcpip channels (jumps, forwards, tunnels)
to 127.0.0.1 only; like sshd, it refuses a channel whose destination does not
accept the connection. Tests that need SSH without Docker use it; the e2e tests
use the real sshd in the node containers instead.
"""

from __future__ import annotations

import contextlib
import io
import socket
import subprocess
import threading
from typing import IO

import paramiko
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_FAILED_CONNECT_FAILED,
    OPEN_SUCCEEDED,
)

from clusterous.remote.ssh import pump


def key_of(private_openssh: str) -> paramiko.PKey:
    return paramiko.Ed25519Key.from_private_key(io.StringIO(private_openssh))


class _Server(paramiko.ServerInterface):
    def __init__(self, login_key: paramiko.PKey) -> None:
        self.login_key = login_key
        self.destinations: dict[int, socket.socket] = {}

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == "root" and key.asbytes() == self.login_key.asbytes()
        return AUTH_SUCCESSFUL if ok else AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return OPEN_SUCCEEDED

    def check_channel_direct_tcpip_request(
        self, chanid: int, origin: tuple[str, int], destination: tuple[str, int]
    ) -> int:
        if destination[0] != "127.0.0.1":  # this test server reaches loopback only
            return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        try:
            self.destinations[chanid] = socket.create_connection(destination, timeout=5)
        except OSError:
            return OPEN_FAILED_CONNECT_FAILED
        return OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        threading.Thread(target=_execute, args=(channel, command.decode()), daemon=True).start()
        return True


def _execute(channel: paramiko.Channel, command: str) -> None:
    """Like sshd: the command's stdin is the channel's, and its end ends the channel,
    whether or not the client ever ended its input."""
    pipe = subprocess.PIPE
    # Unbuffered: closing the stdin of a command that ended without reading it raises nothing.
    command_line = ["bash", "-c", command]
    with subprocess.Popen(command_line, bufsize=0, stdin=pipe, stdout=pipe, stderr=pipe) as run:
        assert run.stdin and run.stdout and run.stderr
        threading.Thread(target=_feed, args=(channel, run.stdin), daemon=True).start()
        errors: list[bytes] = []
        reader = threading.Thread(target=lambda: errors.append(run.stderr.read()))  # type: ignore[union-attr]
        reader.start()
        out = run.stdout.read()
        reader.join()
        code = run.wait()
    channel.sendall(out)
    channel.sendall_stderr(errors[0])
    channel.send_exit_status(code)
    channel.close()


def _feed(channel: paramiko.Channel, stdin: IO[bytes]) -> None:
    with contextlib.suppress(OSError, ValueError):  # the command ended and closed its stdin
        while chunk := channel.recv(65536):
            stdin.write(chunk)
            stdin.flush()
        stdin.close()


def _serve(listener: socket.socket, host_key: paramiko.PKey, login: paramiko.PKey) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        transport = paramiko.Transport(client)
        transport.add_server_key(host_key)
        server = _Server(login)
        try:
            transport.start_server(server=server)
        except (paramiko.SSHException, EOFError):
            continue
        threading.Thread(target=_forward_channels, args=(transport, server), daemon=True).start()


def _forward_channels(transport: paramiko.Transport, server: _Server) -> None:
    """Serve direct-tcpip channels by connecting to their (loopback) destination."""
    while transport.is_active():
        channel = transport.accept(timeout=0.5)
        if channel is None or channel.get_id() not in server.destinations:
            continue
        target = server.destinations.pop(channel.get_id())
        target.settimeout(None)
        threading.Thread(
            target=pump, args=(target, channel, threading.Event()), daemon=True
        ).start()


def start_ssh_server(host_private_key: str, login_private_key: str) -> socket.socket:
    """Serve SSH on a free 127.0.0.1 port; close the returned listener to stop it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    keys = (key_of(host_private_key), key_of(login_private_key))
    threading.Thread(target=_serve, args=(listener, *keys), daemon=True).start()
    return listener


def upper_echo() -> socket.socket:
    """A TCP server on 127.0.0.1 that answers each message upper-cased."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        while True:
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            with peer:
                while data := peer.recv(1024):
                    peer.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return listener
