"""The controller connection against a real sshd that re-keys every 32 KB.

A long ``jobs wait`` moved enough bytes for re-keys, and re-keys while
channels open and close dropped the connection: paramiko's own re-key hung
its thread on a channel's close (its 512 MB limit, now left to sshd), and an
EOF sent after sshd closed a finished command's channel made sshd drop the
connection ("ieof packet referred to nonexistent channel"). Here sshd re-keys
about once per command, with four threads running commands at once, as the
engine socket's channels and the records' commands do during a wait.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from clusterous.home import Home
from clusterous.operations.environments import controller
from clusterous.operations.handle import open_cluster
from tests.cli_process import CliOnHome
from tests.e2e.cluster_helpers import remove_cluster_resources, unique_cluster_name
from tests.e2e.test_count_auto import on_controller

DROP_IN = "/etc/ssh/sshd_config.d/99-test-rekey.conf"
THREADS, RUNS = 4, 150
# sshd re-executes itself on a reload: wait until it listens again, so the login does not
# meet a closing listener.
LISTENING = "journalctl -u ssh --no-pager | grep -c 'Server listening on 0.0.0.0'"
RELOAD = (
    "echo 'RekeyLimit 32K' > {drop_in} && sshd -t && before=$(" + LISTENING + ") && "
    "systemctl reload ssh && for n in $(seq 100); do "
    "[ $(" + LISTENING + ") -gt $before ] && exit 0; sleep 0.1; done; exit 1"
)


@pytest.fixture
def cluster(
    docker_client: docker.DockerClient, node_image: str, tmp_path: Path
) -> Iterator[tuple[Home, str]]:
    cli = CliOnHome(tmp_path / "home")
    name = unique_cluster_name("rekey")
    profile = tmp_path / "profile.yml"
    profile.write_text(f"name: {name}\nnode_groups:\n  worker: {{type: small, count: 1}}\n")
    try:
        cli.ok("create", str(profile), "--yes")
        yield Home(cli.home), name
    finally:
        cli("destroy", name, "--yes", "--delete-volume")
        remove_cluster_resources(docker_client, name)


def test_commands_on_many_channels_survive_a_rekey_per_command(
    docker_client: docker.DockerClient, cluster: tuple[Home, str]
) -> None:
    home, name = cluster
    on_controller(docker_client, name, RELOAD.format(drop_in=DROP_IN))
    handle = open_cluster(home, name, None)
    failures: list[str] = []
    with controller(handle) as session:

        def work() -> None:
            try:
                for _ in range(RUNS):
                    result = session.run("head -c 30000 /dev/zero", timeout=60)
                    assert (result.exit_status, len(result.stdout)) == (0, 30000)
            except BaseException as problem:  # each thread's failure, asserted below
                failures.append(f"{type(problem).__name__}: {problem}")

        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert session.active
    journal = on_controller(docker_client, name, "journalctl -u ssh --no-pager | tail -n 50")
    assert "nonexistent channel" not in journal
