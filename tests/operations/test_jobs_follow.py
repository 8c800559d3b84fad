"""``jobs wait``'s polling: a dropped link to the controller is opened again, within limits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from paramiko.ssh_exception import SSHException

from clusterous.errors import ClusterousError
from clusterous.jobs.listing import ListingFailed
from clusterous.jobs.progress import JobSummary
from clusterous.operations.jobs import RECONNECTS, follow


def summary(pending: int, done: int) -> JobSummary:
    counts = {"pending": pending, "running": 0, "done": done, "failed": 0, "lost": 0}
    return JobSummary("j-1", "", "true", "bb", "worker", 0.0, 1, counts)


class Controller:
    """Links numbered as opened; each poll answers from a script of summaries and failures."""

    def __init__(self, script: list[JobSummary | BaseException]) -> None:
        self.script = script
        self.opened = 0
        self.slept: list[float] = []

    @contextmanager
    def open(self) -> Iterator[int]:
        self.opened += 1
        yield self.opened

    def poll(self, link: int) -> JobSummary:
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


def test_a_link_sshd_closed_is_opened_again_and_the_wait_goes_on() -> None:
    controller = Controller(
        [
            summary(3, 0),
            EOFError(),
            SSHException("Channel closed."),
            OSError(),
            ListingFailed("listing the job's tasks failed on controller"),
            summary(0, 3),
        ]
    )
    seen: list[JobSummary] = []
    done = follow("j-1", controller.open, controller.poll, seen.append, controller.slept.append)
    assert done.succeeded
    assert [s.counts["done"] for s in seen] == [0, 3]
    assert controller.opened == 5


def test_an_engine_client_whose_channel_closed_is_a_lost_link_but_an_engine_error_is_not() -> None:
    """Seen on a 1,000-task wait: the engine's client could not even ask the API version."""
    import docker

    closed = docker.errors.DockerException(
        "Error while fetching server API version: ('Connection aborted.', "
        "RemoteDisconnected('Remote end closed connection without response'))"
    )
    controller = Controller([summary(3, 0), closed, summary(0, 3)])
    done = follow("j-1", controller.open, controller.poll, lambda _: None, controller.slept.append)
    assert done.succeeded and controller.opened == 2

    refused = docker.errors.APIError("500 Server Error: rpc error")
    controller = Controller([refused])
    with pytest.raises(docker.errors.APIError):
        follow("j-1", controller.open, controller.poll, lambda _: None, controller.slept.append)


def test_a_link_that_keeps_failing_ends_the_wait_with_the_command_to_wait_again() -> None:
    controller = Controller([EOFError()] * (RECONNECTS + 1))
    with pytest.raises(ClusterousError) as raised:
        follow("j-1", controller.open, controller.poll, lambda _: None, controller.slept.append)
    assert "lost the connection to the controller while waiting for job j-1" in raised.value.what
    assert "EOFError" in (raised.value.why or "")
    assert "clusterous jobs wait j-1" in (raised.value.fix or "")
    assert controller.opened == RECONNECTS + 1


def test_failures_are_counted_in_a_row_only() -> None:
    script: list[JobSummary | BaseException] = []
    for _ in range(3):
        script += [EOFError()] * RECONNECTS + [summary(1, 0)]
    controller = Controller([*script, summary(0, 1)])
    assert follow("j-1", controller.open, controller.poll, lambda _: None, lambda _: None).finished
