"""Turn what is wrong with an input file into ``FILE:LINE: field.path: message``.

Validation is done by pydantic models, whose errors speak Python; this module
translates them into sentences for people (``expected a number or "auto", got
"fast"``, ``unknown field, did you mean "cpu"?``) placed at the line the field
came from. A :class:`Findings` gathers every problem of a run so that one
``clusterous validate`` shows them all at once.
"""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from clusterous.errors import FileInputError, Problem
from clusterous.formats.source import Document, FieldPath, PathItem

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "tuple_type": "a list",
}
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", "≥"),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "≤"),
}
# pydantic's own location steps, such as "function-after[check(), str]" or "[key]"
_INTERNAL_STEP = re.compile(r"^[\w-]*\[.*\]$")


def describe(value: object) -> str:
    """A value as a user would write it: ``"fast"``, ``3``, ``true``, ``a list``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def suggest(word: str, choices: Iterable[str]) -> str:
    """A ``did you mean`` hint, or nothing when no choice is close."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f', did you mean "{close[0]}"?' if close else ""


@dataclass
class Findings:
    """Every problem found in one run, across all the files it read."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.add(problem)

    def absorb(self, failure: FileInputError) -> None:
        self.extend(failure.problems)

    def raise_if_any(self) -> None:
        if self.problems:
            raise FileInputError(list(self.problems))


def problems_from_validation(
    failure: ValidationError,
    document: Document,
    model: type[BaseModel],
    prefix: FieldPath = (),
    notes: Mapping[FieldPath, str] | None = None,
) -> list[Problem]:
    """Translate pydantic's errors for ``model`` (validated at ``prefix``)."""
    problems = []
    for error in failure.errors():
        loc = tuple(step for step in error["loc"] if not _is_internal(step))
        path = (*prefix, *loc)
        message = _message(error, model, loc) + _note(path, notes or {})
        line = document.lines.line_of(path)
        problems.append(Problem(document.label, line, document.lines.display_path(path), message))
    return problems


def _is_internal(step: PathItem) -> bool:
    return isinstance(step, str) and bool(_INTERNAL_STEP.match(step))


def _note(path: FieldPath, notes: Mapping[FieldPath, str]) -> str:
    for noted, text in notes.items():
        if path[: len(noted)] == noted:
            return f" ({text})"
    return ""


def _message(error: Any, model: type[BaseModel], loc: FieldPath) -> str:
    kind = error["type"]
    context = error.get("ctx") or {}
    got = describe(error.get("input"))
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = fields_at(model, loc[:-1])
        return f"unknown field{suggest(str(loc[-1]), allowed)}" + _valid_list(allowed)
    if kind in ("value_error", "assertion_error"):
        return str(context.get("error", error["msg"]))
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    if kind == "literal_error":
        expected = str(context.get("expected", "one of the allowed values")).replace("'", '"')
        return f"expected {expected}, got {got}"
    if kind in _BOUNDS:
        key, sign = _BOUNDS[kind]
        return f"must be {sign} {context.get(key)}, got {got}"
    if kind == "string_too_short":
        return "must not be empty"
    return f"{error['msg']}, got {got}"


def _valid_list(allowed: Sequence[str]) -> str:
    return f" (valid fields: {', '.join(allowed)})" if allowed else ""


def fields_at(model: type[BaseModel], loc: Sequence[PathItem]) -> list[str]:
    """The field names of the model found at ``loc`` inside ``model``."""
    current: Any = model
    for step in loc:
        current = _step_into(current, step)
        if current is None:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _step_into(annotation: Any, step: PathItem) -> Any:
    """The annotation one step deeper: a model's field, a dict value, a list item."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            if step in (name, info.alias):
                return info.annotation
        return None
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is dict and len(arguments) == 2:
        return arguments[1]
    if origin is list and isinstance(step, int) and arguments:
        return arguments[0]
    return None


def _unwrap(annotation: Any) -> Any:
    """Look through ``Annotated[...]`` and ``X | None`` to the structural type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            structural = [m for m in members if _is_structural(m)]
            annotation = (structural or members)[0]
        else:
            return annotation


def _is_structural(annotation: Any) -> bool:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return typing.get_origin(annotation) in (dict, list)
