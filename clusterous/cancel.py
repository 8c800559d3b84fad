"""Cancelling long work at once: one cancel event that every wait and worker thread watches.

Ctrl-C only interrupts Python's main thread; the worker threads that boot
nodes, poll the provider or retry SSH would go on waiting for minutes, and a
thread pool joins them before the process may exit. So the signal handler
(``on_signals``, for SIGINT, SIGTERM and SIGHUP alike) also sets the cancel
event of the work under way; waits pause with ``sleep``, which returns early
and raises ``Cancelled`` when the event is set; worker threads are started by
``in_parallel``, which stops waiting for them when it is.

Each piece of work sees its own event, held in a context variable: a rollback
runs under ``fresh()``, so the cancelled create's event does not cancel the
rollback's own waits, and a second Ctrl-C cancels the rollback alone. Worker
threads started by ``in_parallel`` keep the event of the work that started them.
"""

from __future__ import annotations

import contextvars
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Generic, TypeVar

T = TypeVar("T")

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_SECONDS = 5.0  # how long cancelled workers get to stop before we stop waiting for them
POLL_SECONDS = 0.1

# The process's own event, for work that runs under no fresh() scope.
_PROCESS_EVENT = threading.Event()
_current: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "clusterous_cancel", default=None
)


class Cancelled(KeyboardInterrupt):
    """The work was cancelled (Ctrl-C, SIGTERM or SIGHUP): treated as Ctrl-C everywhere."""


def current() -> threading.Event:
    """The cancel event of the work this thread does."""
    event = _current.get()
    return _PROCESS_EVENT if event is None else event


def check() -> None:
    """Raise Cancelled if the work was cancelled."""
    if current().is_set():
        raise Cancelled


def sleep(seconds: float) -> None:
    """Pause like time.sleep, but end at once, raising Cancelled, when the work is cancelled."""
    if current().wait(max(0.0, seconds)):
        raise Cancelled


@contextmanager
def fresh() -> Iterator[threading.Event]:
    """Run a piece of work (a rollback, say) under its own, unset, cancel event."""
    event = threading.Event()
    token = _current.set(event)
    try:
        yield event
    finally:
        _current.reset(token)


def _cancel_and_interrupt(signum: int, frame: FrameType | None) -> None:
    current().set()
    raise KeyboardInterrupt


@contextmanager
def on_signals(signals: Sequence[signal.Signals] = SIGNALS) -> Iterator[None]:
    """While inside, each of these signals cancels the work under way as Ctrl-C does.

    The handler sets the current cancel event (so waits in every worker thread
    end) and raises KeyboardInterrupt in the main thread. Outside the main
    thread, where Python cannot take signals, nothing is installed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _cancel_and_interrupt) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class _Jobs(Generic[T]):
    """The shared state of one in_parallel call: its jobs, their results and failures."""

    def __init__(self, jobs: Sequence[Callable[[], T]], event: threading.Event) -> None:
        self.jobs = list(jobs)
        self.event = event
        self.results: dict[int, T] = {}
        self.failures: dict[int, BaseException] = {}
        self.next = 0
        self.lock = threading.Lock()
        self.finished = threading.Event()

    def take(self) -> int | None:
        with self.lock:
            if self.next >= len(self.jobs) or self.event.is_set():
                return None
            self.next += 1
            return self.next - 1

    def work(self) -> None:
        while (index := self.take()) is not None:
            try:
                result = self.jobs[index]()
            except BaseException as failure:  # handed to the caller, whatever it is
                with self.lock:
                    self.failures[index] = failure
            else:
                with self.lock:
                    self.results[index] = result
            with self.lock:
                if len(self.results) + len(self.failures) == len(self.jobs):
                    self.finished.set()


def in_parallel(
    jobs: Sequence[Callable[[], T]],
    limit: int = 8,
    grace: float = GRACE_SECONDS,
    event: threading.Event | None = None,
) -> list[T]:
    """Run the jobs in at most ``limit`` worker threads; their results in the jobs' order.

    When every job is done, the first failure (in the jobs' order) is raised.
    When the work is cancelled (the event set, or Ctrl-C in this thread), no
    job is started any more, the running ones get ``grace`` seconds to notice
    and stop, and Cancelled is raised without waiting longer. The workers are
    daemon threads: one stuck in a call that never returns cannot hold up the
    process's exit.
    """
    if not jobs:
        return []
    event = event if event is not None else current()
    shared = _Jobs(jobs, event)
    workers = [
        threading.Thread(
            target=contextvars.copy_context().run, args=(_under, event, shared.work), daemon=True
        )
        for _ in range(max(1, min(limit, len(jobs))))
    ]
    for worker in workers:
        worker.start()
    try:
        while not shared.finished.wait(POLL_SECONDS):
            if event.is_set():
                raise Cancelled
    except KeyboardInterrupt:
        event.set()
        _let_stop(workers, grace)
        raise
    failed = sorted(shared.failures.items())
    if failed:
        raise failed[0][1]
    return [shared.results[index] for index in range(len(jobs))]


def _under(event: threading.Event, work: Callable[[], None]) -> None:
    """Run ``work`` with ``event`` as its cancel event (in a worker thread's own context)."""
    _current.set(event)
    work()


def _let_stop(workers: Sequence[threading.Thread], grace: float) -> None:
    """Give cancelled workers a bounded time to finish what they are in the middle of."""
    give_up = time.monotonic() + grace
    for worker in workers:
        worker.join(max(0.0, give_up - time.monotonic()))
