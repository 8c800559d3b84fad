"""How the manager tells the user what it is doing, without knowing how it is shown."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    def step(self, text: str) -> None:
        """A step begins (e.g. "network")."""

    def done(self, text: str) -> None:
        """Something finished; shown with a check mark."""

    def node(self, node: str, text: str) -> None:
        """Progress of one node."""

    def info(self, text: str) -> None:
        """A line worth seeing during long work (an image build, a capacity fallback)."""

    def warn(self, text: str) -> None: ...

    def detail(self, text: str) -> None:
        """Only shown with --verbose (bootstrap output, for one)."""


class SilentReporter:
    """For scripts and tests that do not care."""

    def step(self, text: str) -> None:
        pass

    def done(self, text: str) -> None:
        pass

    def node(self, node: str, text: str) -> None:
        pass

    def info(self, text: str) -> None:
        pass

    def warn(self, text: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass
