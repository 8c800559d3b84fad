"""The cancel event: waits end at once, worker threads stop, signals count as Ctrl-C.

No test waits for a timeout to pass: each sets the event (or sends the
signal) itself, and the long pauses below only ever end early. A pause that
did run its course would show as a test that takes an hour, not as a pass.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

import pytest

from clusterous import cancel
from clusterous.cancel import Cancelled

LONG = 3600.0  # a pause that must never run its course


def test_sleep_returns_after_its_pause_when_nothing_is_cancelled() -> None:
    with cancel.fresh():
        cancel.sleep(0)
        cancel.sleep(-1)  # a deadline already past is no pause, not an error
        cancel.check()


def test_sleep_raises_cancelled_at_once_when_the_work_was_cancelled() -> None:
    with cancel.fresh() as event:
        event.set()
        with pytest.raises(Cancelled):
            cancel.sleep(LONG)
        with pytest.raises(Cancelled):
            cancel.check()


def test_sleep_in_progress_wakes_when_another_thread_cancels() -> None:
    with cancel.fresh() as event:
        threading.Thread(target=event.set, daemon=True).start()
        with pytest.raises(Cancelled):
            cancel.sleep(LONG)


def test_cancelled_is_a_keyboard_interrupt_that_except_exception_does_not_swallow() -> None:
    assert issubclass(Cancelled, KeyboardInterrupt)
    assert not issubclass(Cancelled, Exception)


def test_a_fresh_scope_has_its_own_event_and_the_outer_one_comes_back() -> None:
    with cancel.fresh() as outer:
        outer.set()
        with cancel.fresh() as inner:
            assert cancel.current() is inner and not inner.is_set()
            cancel.sleep(0)  # the rollback's waits are not cut by the create's cancel
        assert cancel.current() is outer


def test_in_parallel_returns_the_results_in_the_jobs_order() -> None:
    with cancel.fresh():
        jobs = [lambda n=n: n * n for n in range(20)]
        assert cancel.in_parallel(jobs, limit=3) == [n * n for n in range(20)]
        assert cancel.in_parallel([]) == []


def test_in_parallel_runs_at_most_limit_jobs_at_once() -> None:
    active, peak, lock = [0], [0], threading.Lock()
    both_in = threading.Barrier(2, timeout=30)

    def job() -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        both_in.wait()  # two run together, or this breaks
        with lock:
            active[0] -= 1

    with cancel.fresh():
        cancel.in_parallel([job] * 6, limit=2)
    assert peak[0] == 2


def test_in_parallel_raises_the_first_failure_once_every_job_is_done() -> None:
    finished: list[int] = []

    def job(n: int) -> Callable[[], int]:
        def run() -> int:
            if n in (3, 5):
                raise ValueError(f"job {n}")
            finished.append(n)
            return n

        return run

    with cancel.fresh(), pytest.raises(ValueError, match="job 3"):
        cancel.in_parallel([job(n) for n in range(8)], limit=2)
    assert sorted(finished) == [0, 1, 2, 4, 6, 7]


def test_cancelling_ends_the_waits_in_every_worker_and_the_call() -> None:
    started = threading.Barrier(4, timeout=30)  # three workers and this test
    seen: list[str] = []

    def waiting() -> None:
        started.wait()
        try:
            cancel.sleep(LONG)
        except Cancelled:
            seen.append("cancelled")
            raise

    with cancel.fresh() as event:

        def cancel_when_all_wait() -> None:
            started.wait()
            event.set()

        threading.Thread(target=cancel_when_all_wait, daemon=True).start()
        with pytest.raises(Cancelled):
            cancel.in_parallel([waiting] * 3, limit=3)
    assert seen == ["cancelled"] * 3


def test_no_job_starts_once_the_work_is_cancelled() -> None:
    ran: list[int] = []

    with cancel.fresh() as event:

        def first() -> None:
            ran.append(1)
            event.set()

        with pytest.raises(Cancelled):
            cancel.in_parallel([first, lambda: ran.append(2), lambda: ran.append(3)], limit=1)
    assert ran == [1]


def test_a_worker_stuck_in_a_call_does_not_hold_up_the_cancelled_call() -> None:
    entered = threading.Event()
    release = threading.Event()  # a call that ignores the cancel event, until released
    stuck: list[threading.Thread] = []

    def job() -> None:
        stuck.append(threading.current_thread())
        entered.set()
        release.wait()

    with cancel.fresh() as event:

        def cancel_once_entered() -> None:
            entered.wait()
            event.set()

        threading.Thread(target=cancel_once_entered, daemon=True).start()
        with pytest.raises(Cancelled):
            cancel.in_parallel([job], grace=0)
    assert stuck[0].is_alive() and stuck[0].daemon  # left behind, and cannot block the exit
    release.set()
    stuck[0].join(30)


def test_workers_keep_the_event_of_the_work_that_started_them() -> None:
    seen: list[threading.Event] = []
    with cancel.fresh() as event:
        cancel.in_parallel([lambda: seen.append(cancel.current())] * 2)
    assert seen == [event, event]


def test_an_explicit_event_is_the_one_the_workers_watch() -> None:
    given = threading.Event()
    seen: list[threading.Event] = []
    with cancel.fresh() as scope:
        cancel.in_parallel([lambda: seen.append(cancel.current())], event=given)
        given.set()
        with pytest.raises(Cancelled):
            cancel.in_parallel([lambda: cancel.sleep(LONG)], event=given)
        assert not scope.is_set()
    assert seen == [given]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_each_signal_cancels_the_work_and_interrupts_as_ctrl_c(signum: int) -> None:
    before = signal.getsignal(signum)
    with cancel.fresh() as event:
        with pytest.raises(KeyboardInterrupt), cancel.on_signals():
            os.kill(os.getpid(), signum)
            cancel.sleep(LONG)  # the handler ends this at once
        assert event.is_set()
    assert signal.getsignal(signum) == before
