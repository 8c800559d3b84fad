"""put and get against the real OpenSSH sftp-server of a node image, links and all.

The unit tests (tests/environments/test_files.py) play the server; this one
checks the server's real answers: READDIR does not follow links, SYMLINK takes
its arguments in OpenSSH's order, REALPATH of a loop fails. The server runs in
a throwaway container of the node image (no network, labelled, removed), on
stdin/stdout, exactly as sshd would start it for the controller's /data.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import paramiko
import pytest

from clusterous.environments.files import SharedVolume
from tests.e2e.helpers import TEST_LABEL

# /data as a hostile or careless cluster could hold it
CLUSTER_DATA = """
mkdir -p /data/results/run1/sub /secret
echo 1,2 > /data/results/run1/out.csv
echo KEY > /secret/id_ed25519
ln -s out.csv /data/results/run1/latest.csv
ln -s /data/results/run1 /data/results/run1/sub/parent
ln -s /secret /data/results/run1/keys
ln -s b /data/results/run1/a
ln -s a /data/results/run1/b
exec /usr/lib/openssh/sftp-server
"""


class _Pipe:
    """The socket paramiko's SFTPClient expects, over a process's stdin/stdout."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def send(self, data: bytes) -> int:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()
        return len(data)

    def recv(self, size: int) -> bytes:
        assert self.process.stdout is not None
        return os.read(self.process.stdout.fileno(), size)

    def get_name(self) -> str:  # for paramiko's log lines
        return "sftp-server"

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()


@pytest.fixture
def volume(node_image: str, test_label: str) -> Iterator[SharedVolume]:
    command = ["docker", "run", "--rm", "-i", "--network", "none"]
    command += ["--label", f"{TEST_LABEL}={test_label}", "--entrypoint", "/bin/sh"]
    process = subprocess.Popen(
        [*command, node_image, "-c", CLUSTER_DATA], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    sftp = paramiko.SFTPClient(cast(Any, _Pipe(process)))
    try:
        yield SharedVolume(sftp)
    finally:
        sftp.close()
        process.wait(timeout=60)


def test_put_and_get_with_links_against_openssh_never_leave_their_trees(
    volume: SharedVolume, tmp_path: Path
) -> None:
    laptop = tmp_path / "laptop"
    done = volume.get("results/run1", laptop, lambda p: None)
    assert sorted(os.listdir(laptop)) == ["latest.csv", "out.csv", "sub"]
    assert os.readlink(laptop / "latest.csv") == "out.csv"
    assert os.readlink(laptop / "sub" / "parent") == ".."
    assert not list(tmp_path.rglob("id_ed25519"))
    assert len(done.skipped) == 3  # keys (out of the tree), a and b (a loop)

    secrets = tmp_path / "dot-ssh"
    secrets.mkdir()
    (secrets / "id_ed25519").write_text("LAPTOP KEY")
    (laptop / "keys").symlink_to(secrets)
    sent = volume.put(laptop, "back", lambda p: None)
    assert sent.skipped == [s for s in sent.skipped if "dot-ssh" in s] and len(sent.skipped) == 1
    assert volume.sftp.readlink("/data/back/latest.csv") == "out.csv"
    assert volume.sftp.readlink("/data/back/sub/parent") == ".."
    assert sorted(e.name for e in volume.ls("back")) == ["latest.csv", "out.csv", "sub"]
