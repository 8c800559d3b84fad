"""Node containers that die while they boot, told with their last lines; the inotify preflight.

The containers here run the Debian base image (already on the engine) with a
shell that prints what systemd prints when the host has no inotify instance
left, then exits as systemd does: 255. Each carries ``clusterous.test=<id>``
and is removed at the end. The preflight's limit and count are injected.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from clusterous.errors import ClusterousError
from clusterous.providers.local.boot import (
    INOTIFY_HOST_RESERVE,
    INOTIFY_PER_NODE,
    InotifyRoom,
    node_failures,
    read_limit,
    root_instances_in_use,
)
from tests.docker_engine import BASE_IMAGE
from tests.e2e.helpers import TEST_LABEL, remove_labelled

SYSTEMD_OUT_OF_INOTIFY = (
    "echo 'systemd 252.39-1~deb12u2 running in system mode'; "
    "echo 'Failed to allocate manager object: Too many open files'; "
    "echo '[!!!!!!] Failed to allocate manager object.'; "
    "echo 'Exiting PID 1...'; exit 255"
)


@pytest.fixture
def label(engine: docker.DockerClient) -> Iterator[str]:
    value = uuid.uuid4().hex[:10]
    yield value
    remove_labelled(engine, value)


def run(engine: docker.DockerClient, label: str, script: str, restart: str = "no") -> str:
    name = f"clusterous-boot-test-{label}-{uuid.uuid4().hex[:4]}"
    engine.containers.run(
        BASE_IMAGE,
        ["sh", "-c", script],
        name=name,
        labels={TEST_LABEL: label},
        restart_policy={"Name": restart},
        detach=True,
    )
    return name


def until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Wait for the engine to get somewhere (no timeout is waited out when it does)."""
    ends = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < ends, "the engine did not get there"
        time.sleep(0.2)


def test_a_container_restarting_in_a_loop_is_told_with_its_lines_and_the_inotify_fix(
    engine: docker.DockerClient, label: str
) -> None:
    name = run(engine, label, SYSTEMD_OUT_OF_INOTIFY, restart="on-failure")
    until(lambda: engine.containers.get(name).attrs["RestartCount"] > 0)
    failure = node_failures(engine, {"worker-1": name})["worker-1"]
    assert failure.state.startswith(("restart", "exited with status 255"))
    assert f"docker logs {name}" in failure.reason
    assert "Failed to allocate manager object: Too many open files" in failure.reason
    assert "sudo sysctl -w fs.inotify.max_user_instances=1024" in failure.fix
    assert "/etc/sysctl.d/" in failure.fix


def test_a_container_that_exited_is_told_with_its_status_and_no_inotify_fix(
    engine: docker.DockerClient, label: str
) -> None:
    name = run(engine, label, "echo 'Failed to mount API filesystems'; exit 1")
    until(lambda: engine.containers.get(name).status == "exited")
    failure = node_failures(engine, {"worker-1": name})["worker-1"]
    assert failure.state == "exited with status 1"
    assert "Failed to mount API filesystems" in failure.reason
    assert "max_user_instances" not in failure.fix and f"docker inspect {name}" in failure.fix


def test_a_running_container_and_a_missing_one(engine: docker.DockerClient, label: str) -> None:
    name = run(engine, label, "sleep 60")
    until(lambda: engine.containers.get(name).status == "running")
    gone = f"clusterous-boot-test-{label}-never-made"
    found = node_failures(engine, {"worker-1": name, "worker-2": gone})
    assert list(found) == ["worker-2"]
    assert found["worker-2"].state == "gone" and gone in found["worker-2"].reason


# ---------------------------------------------------------------- the inotify preflight


def test_nodes_that_fit_in_the_limit_pass() -> None:
    limit = INOTIFY_HOST_RESERVE + 10 * INOTIFY_PER_NODE
    InotifyRoom(lambda: 8, lambda: limit, lambda: None).check(2)


def test_nodes_past_the_limit_are_refused_with_the_numbers_and_the_fix() -> None:
    limit = INOTIFY_HOST_RESERVE + 10 * INOTIFY_PER_NODE
    with pytest.raises(ClusterousError) as refused:
        InotifyRoom(lambda: 8, lambda: limit, lambda: None).check(3)
    text = refused.value.render()
    need = INOTIFY_HOST_RESERVE + 11 * INOTIFY_PER_NODE
    assert f"max_user_instances is {limit}" in text and f"about {need} are needed" in text
    assert "8 node container(s) run already" in text
    assert "sudo sysctl -w fs.inotify.max_user_instances=1024" in text
    assert refused.value.exit_code == 1


def test_a_limit_that_cannot_be_read_is_not_checked() -> None:
    InotifyRoom(lambda: 1000, lambda: None, lambda: None).check(1000)


def test_where_proc_says_what_root_holds_that_count_replaces_the_estimate() -> None:
    """1000 nodes by the estimate, but root holds only 40: two more fit in 128."""
    InotifyRoom(lambda: 1000, lambda: 128, lambda: 40).check(2)
    with pytest.raises(ClusterousError) as refused:
        InotifyRoom(lambda: 0, lambda: 128, lambda: 121).check(1)
    assert "root's processes hold 121 now" in refused.value.render()
    assert f"about {121 + INOTIFY_PER_NODE} are needed" in refused.value.render()


def test_roots_instances_are_counted_from_proc(tmp_path: Path) -> None:
    """Descriptors that are inotify instances, in a /proc-shaped tree (readlink says what)."""
    proc = tmp_path / "proc"
    for pid, links in {
        "1": ["anon_inode:inotify", "/dev/null"],
        "42": ["anon_inode:inotify"] * 2,
    }.items():
        fds = proc / pid / "fd"
        fds.mkdir(parents=True)
        for number, target in enumerate(links):
            (fds / str(number)).symlink_to(target)
    (proc / "self-like-name").mkdir()  # not a process
    if os.geteuid() != 0:
        assert root_instances_in_use(proc) is None
    else:
        assert root_instances_in_use(proc) == 3


def test_the_limit_is_read_from_proc(tmp_path: Path) -> None:
    limit = tmp_path / "max_user_instances"
    limit.write_text("128\n")
    assert read_limit(limit) == 128
    limit.write_text("lots")
    assert read_limit(limit) is None
    assert read_limit(tmp_path / "missing") is None


def test_the_limit_is_read_only_for_an_engine_on_this_host() -> None:
    """An engine reached over TCP or SSH runs on another host: this one's /proc says nothing."""
    from clusterous.providers.local.boot import engine_on_this_host

    for url, here in (("unix:///var/run/docker.sock", True), ("tcp://127.0.0.1:9", False)):
        client = docker.DockerClient(base_url=url, version="1.41")  # no call is made
        assert engine_on_this_host(client) is here, url
        client.close()
