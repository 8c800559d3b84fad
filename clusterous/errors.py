"""The one exception family of clusterous and the exit codes it maps to.

Every failure a user can meet is a ClusterousError whose message says what
failed, why, and what to do next (DESIGN section 6). Library code raises these;
only the CLI entry point turns them into a printed message and an exit code, so
no library code ever calls sys.exit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    BAD_INPUT = 2
    INTERRUPTED = 130


class ClusterousError(Exception):
    """An operation failed: what happened, why, and how to fix it."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, what: str, why: str | None = None, fix: str | None = None) -> None:
        self.what = what
        self.why = why
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        text = self.what if not self.why else f"{self.what}: {self.why}"
        if self.fix:
            text += f"\n  -> {self.fix}"
        return text


class InputError(ClusterousError):
    """Bad usage, a bad flag value, or a bad input file (exit code 2)."""

    exit_code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file, at a line, in a field."""

    file: str
    line: int
    field: str
    message: str

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class FileInputError(InputError):
    """An input file is not valid; carries every problem found, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line))
        super().__init__("\n".join(p.render() for p in self.problems))

    def render(self) -> str:
        return "\n".join(p.render() for p in getattr(self, "problems", []))


class NotFoundError(ClusterousError):
    """A named thing (cluster, profile, node, group) does not exist."""

    exit_code = ExitCode.BAD_INPUT


class Interrupted(ClusterousError):
    """The user pressed Ctrl-C; what was made is said in the message (exit code 130)."""

    exit_code = ExitCode.INTERRUPTED
