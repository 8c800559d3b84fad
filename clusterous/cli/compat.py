"""Clusterous 1.0's flag spellings, still accepted: hidden from --help, each with a note.

Users bring scripts that say ``clusterous destroy --confirm``. Each 1.0 flag
below is a hidden option of its command that sets today's flag, and prints
one line to stderr naming today's spelling, so scripts keep working and
their authors learn the new word. Commands opt in with :func:`accepts_1_0`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class OldSpelling:
    command: str
    old: str  # the 1.0 flag
    today: str  # today's flag
    param: str  # the command's parameter today's flag sets

    @property
    def hidden_param(self) -> str:
        return "compat_" + self.old.lstrip("-").replace("-", "_")

    def note(self) -> str:
        return (
            f"note: '{self.command} {self.old}' is Clusterous 1.0's spelling; "
            f"today it is '{self.command} {self.today}'"
        )


OLD_SPELLINGS = (
    OldSpelling("destroy", "--confirm", "--yes", "yes"),
    OldSpelling("destroy", "--leave-shared-volume", "--keep-volume", "keep_volume"),
    OldSpelling("destroy", "--force-delete-shared-volume", "--delete-volume", "delete_volume"),
    OldSpelling("quit", "--confirm", "--yes", "yes"),
    OldSpelling("create", "--no-run", "--skip-environment", "skip_environment"),
)


def spellings_of(command: str) -> list[OldSpelling]:
    return [s for s in OLD_SPELLINGS if s.command == command]


def accepts_1_0(command: str) -> Callable[[F], F]:
    """Put under ``@click.command()``: the command's 1.0 flags, hidden, set today's flags."""
    spellings = spellings_of(command)

    def decorate(callback: F) -> F:
        @functools.wraps(callback)
        def translated(*args: Any, **params: Any) -> Any:
            for spelling in spellings:
                if params.pop(spelling.hidden_param):
                    click.echo(spelling.note(), err=True)
                    params[spelling.param] = True
            return callback(*args, **params)

        for spelling in spellings:
            flag = click.option(spelling.old, spelling.hidden_param, is_flag=True, hidden=True)
            translated = flag(translated)
        return translated  # type: ignore[return-value]

    return decorate
