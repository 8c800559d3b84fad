"""What every command receives: the home directory, the chosen profile, output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import click
from rich.console import Console

from clusterous.home import Home

F = TypeVar("F")


@dataclass
class App:
    home: Home
    profile_override: str | None = None
    verbose: bool = False
    out: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    err: Console = field(
        default_factory=lambda: Console(stderr=True, highlight=False, soft_wrap=True)
    )


def pass_app(func: F) -> F:
    """Decorator: give the command the App built by the root group."""
    return cast(F, click.pass_obj(cast(Any, func)))
