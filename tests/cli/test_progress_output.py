"""What the progress reporter prints: verbose details as they are, nothing else added."""

from __future__ import annotations

import io

from rich.console import Console

from clusterous.cli.render import ConsoleReporter, duration, size


def _reporter(verbose: bool) -> tuple[ConsoleReporter, io.StringIO]:
    buffer = io.StringIO()
    return ConsoleReporter(Console(file=buffer, no_color=True, width=200), verbose), buffer


def test_verbose_details_are_printed_verbatim_even_with_brackets() -> None:
    reporter, buffer = _reporter(verbose=True)
    reporter.detail("worker-1: [ok] dpkg [status] unchanged")
    assert buffer.getvalue() == "worker-1: [ok] dpkg [status] unchanged\n"


def test_details_are_hidden_without_verbose_but_info_is_shown() -> None:
    reporter, buffer = _reporter(verbose=False)
    reporter.detail("hidden")
    reporter.info("building the node image")
    assert "hidden" not in buffer.getvalue()
    assert "building the node image" in buffer.getvalue()


def test_durations_and_sizes_read_naturally() -> None:
    assert [duration(s) for s in (5, 75, 3725)] == ["5s", "1m 15s", "1h 2m"]
    assert [size(n) for n in (512, 2048, 3 * 1024**3)] == ["512 B", "2.0 KiB", "3.0 GiB"]
