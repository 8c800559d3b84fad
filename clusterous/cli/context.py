"""What every command receives: the home directory, the chosen profile, output."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from clusterous.home import Home

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F")


@dataclass
class App:
    home: Home
    profile_override: str | None = None
    verbose: bool = False

    # The consoles are made on first use: rich costs a tenth of a second to
    # import, and `clusterous --help` prints nothing through them.
    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        return Console(highlight=False, soft_wrap=True)

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, highlight=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        """A warning for the person at the terminal, on stderr."""
        from rich.markup import escape

        self.err.print(f"[yellow]![/yellow] {escape(text)}")


def pass_app(func: F) -> F:
    """Decorator: give the command the App built by the root group."""
    return cast(F, click.pass_obj(cast(Any, func)))
