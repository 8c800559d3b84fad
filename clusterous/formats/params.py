"""``$parameter`` substitution, as in Clusterous 1.0 cluster profiles.

A profile's ``parameters:`` section defines values; ``$name`` (or
``${name}``) standing as a whole value is replaced by the value with its type
kept (``count: $worker_count`` becomes the integer), and ``${name}`` inside a
longer string is replaced by its text. ``$$`` writes a literal ``$``. Every
use of an undefined parameter, and every parameter never used, is a problem
with its line, because either is almost always a typo.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clusterous.errors import Problem
from clusterous.formats.models import Scalar
from clusterous.formats.problems import describe, suggest
from clusterous.formats.source import Document, FieldPath

_WHOLE = re.compile(r"^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})$")
_INLINE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Substitution:
    """Replaces references in one document, noting what it used and missed."""

    parameters: Mapping[str, Scalar]
    document: Document
    used: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    origins: dict[FieldPath, str] = field(default_factory=dict)
    undefined_at: set[str] = field(default_factory=set)  # display paths

    def apply(self, value: Any, path: FieldPath) -> Any:
        """``value`` (found at ``path``) with every reference replaced."""
        if isinstance(value, dict):
            return {key: self.apply(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.apply(item, (*path, i)) for i, item in enumerate(value)]
        if isinstance(value, str):
            return self._string(value, path)
        return value

    def _string(self, text: str, path: FieldPath) -> Any:
        whole = _WHOLE.fullmatch(text)
        if whole:
            name = whole.group(1) or whole.group(2)
            return self._lookup(name, path, text)
        return _INLINE.sub(lambda found: self._inline(found, path), text)

    def _inline(self, found: re.Match[str], path: FieldPath) -> str:
        if found.group(0) == "$$":
            return "$"
        value = self._lookup(found.group(1), path, found.group(0))
        return describe(value) if isinstance(value, bool) else str(value)

    def _lookup(self, name: str, path: FieldPath, written: str) -> Any:
        self.used.add(name)
        if name in self.parameters:
            self.origins.setdefault(path, f"from parameter ${name}")
            return self.parameters[name]
        self.undefined_at.add(self.document.lines.display_path(path))
        self.problems.append(self.document.problem(path, self._undefined(name)))
        return written

    def _undefined(self, name: str) -> str:
        defined = ", ".join(sorted(self.parameters)) or "none"
        hint = suggest(name, self.parameters)
        return f"parameter ${name} is not defined in parameters{hint} (defined: {defined})"


def unused_parameters(
    parameters: Mapping[str, Scalar], used: set[str], document: Document
) -> list[Problem]:
    """One problem for each parameter that nothing refers to."""
    return [
        document.problem(
            ("parameters", name),
            f"parameter is defined but never used (refer to it as ${name}, or remove it)",
        )
        for name in parameters
        if name not in used
    ]
