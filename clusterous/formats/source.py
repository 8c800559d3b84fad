"""Read a YAML input file into plain data, remembering the line of every field.

Users' files are checked before they are parsed (missing, a directory, empty,
binary, not UTF-8, larger than 1 MiB) and parsed with PyYAML's safe loader at
the node level, so every mapping entry and list item keeps the line it came
from. The result is a :class:`Document`: the data as ordinary dicts, lists and
scalars, and a :class:`LineIndex` that turns a field path such as
``("environment", "components", "engine", "cpu")`` back into a line number.
Every problem leaves as a :class:`~clusterous.errors.FileInputError`.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clusterous.errors import FileInputError, Problem

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000  # guards against alias bombs ("billion laughs")

PathItem = str | int
FieldPath = tuple[PathItem, ...]

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def format_path(path: Sequence[PathItem]) -> str:
    """Render a field path the way users read it: ``a.b[0].c``."""
    text = ""
    for item in path:
        text += f"[{item}]" if isinstance(item, int) else (f".{item}" if text else item)
    return text


@dataclass
class LineIndex:
    """The line (1-based) of every mapping entry and list item of a document."""

    lines: dict[FieldPath, int] = field(default_factory=dict)

    def add(self, path: FieldPath, line: int) -> None:
        self.lines.setdefault(path, line)

    def line_of(self, path: Sequence[PathItem]) -> int:
        """The line of ``path``, or of its nearest enclosing entry that exists."""
        found, _ = self._walk(path)
        return self.lines.get(found, 0)

    def display_path(self, path: Sequence[PathItem]) -> str:
        """``path`` as the file spells it, without list indexes the file lacks."""
        found, stop = self._walk(path)
        rest = [item for item in path[stop:] if not isinstance(item, int)]
        return format_path([*found, *rest])

    def _walk(self, path: Sequence[PathItem]) -> tuple[FieldPath, int]:
        """The longest existing path along ``path`` and where the walk stopped.

        A list index that the file does not have is skipped rather than ending
        the walk, because a model may accept one item where a list is allowed
        (``expose_tunnel: {...}`` is read as a list of one).
        """
        found: FieldPath = ()
        for position, item in enumerate(path):
            if (*found, item) in self.lines:
                found = (*found, item)
            elif not isinstance(item, int):
                return found, position
        return found, len(path)


@dataclass(frozen=True)
class Document:
    """One parsed input file: its path, the name used in messages, data, lines."""

    path: Path
    label: str
    data: dict[str, Any]
    lines: LineIndex

    def problem(self, path: Sequence[PathItem], message: str) -> Problem:
        """A problem at a field of this document, with its line."""
        return Problem(self.label, self.lines.line_of(path), self.lines.display_path(path), message)


def read_document(path: Path, label: str | None = None) -> Document:
    """Read and parse ``path``; raise FileInputError on anything unusable."""
    name = label if label is not None else str(path)
    text = _read_text(path, name)
    data, lines = _parse(text, name)
    return Document(path=Path(os.path.abspath(path)), label=name, data=data, lines=lines)


def _whole_file(label: str, message: str) -> FileInputError:
    return FileInputError([Problem(label, 0, "", message)])


def _read_text(path: Path, label: str) -> str:
    """The file's text, after the checks that need no parsing."""
    try:
        if not path.exists():
            raise _whole_file(label, "no such file")
        if path.is_dir():
            raise _whole_file(label, "is a directory, not a YAML file")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _whole_file(label, f"is too large ({size} bytes; the limit is 1 MiB)")
        raw = path.read_bytes()
    except OSError as failure:
        raise _whole_file(label, f"cannot be read: {failure.strerror or failure}") from None
    return _decode(raw, label)


def _decode(raw: bytes, label: str) -> str:
    if b"\x00" in raw:
        raise _whole_file(label, "is a binary file (it contains NUL bytes), not YAML text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as failure:
        line = raw[: failure.start].count(b"\n") + 1
        raise FileInputError(
            [Problem(label, line, "", f"is not UTF-8 text (bad byte at offset {failure.start})")]
        ) from None
    if not text.strip():
        raise _whole_file(label, "is empty")
    return text


class LineLoader(yaml.SafeLoader):
    """PyYAML's safe loader, used at the node level so lines are kept.

    Scalars are built with the safe constructor, except two YAML 1.1 surprises
    that would change what Clusterous 1.0 files meant: ``22:22`` is a string
    (not the base-60 integer 1342) and dates stay strings.
    """

    def scalar_value(self, node: yaml.ScalarNode) -> Any:
        if node.tag in (_INT_TAG, _FLOAT_TAG) and ":" in node.value:
            return node.value
        if node.tag == _TIMESTAMP_TAG:
            return node.value
        value = self.construct_object(node, deep=True)
        if isinstance(value, datetime.date | bytes):
            return node.value
        return value


def _parse(text: str, label: str) -> tuple[dict[str, Any], LineIndex]:
    loader: LineLoader | None = None
    try:
        loader = LineLoader(text)  # its reader already refuses control characters
        root = loader.get_single_node()
        if root is None:
            raise _whole_file(label, "is empty (it holds only comments)")
        builder = _Builder(loader, label)
        data = builder.value(root, ())
        builder.raise_problems()
    except yaml.MarkedYAMLError as failure:
        raise FileInputError([_syntax_problem(failure, label)]) from None
    except yaml.reader.ReaderError as failure:
        line = text[: failure.position].count("\n") + 1
        code = failure.character if isinstance(failure.character, int) else ord(failure.character)
        message = f"is not YAML text: the control character U+{code:04X} is not allowed"
        raise FileInputError([Problem(label, line, "", message)]) from None
    except yaml.YAMLError as failure:
        raise _whole_file(label, f"YAML error: {failure}") from None
    except RecursionError:
        raise _whole_file(label, "is nested too deeply to be a Clusterous file") from None
    finally:
        if loader is not None:
            loader.dispose()
    top_lines = [line for path, line in builder.lines.lines.items() if len(path) == 1]
    if top_lines:  # a whole-file field problem belongs at the first field
        builder.lines.lines[()] = min(top_lines)
    if not isinstance(data, dict):
        what = "a list" if isinstance(data, list) else f"the value {data!r}"
        message = f"the top level must be a mapping of fields (key: value), got {what}"
        raise FileInputError([Problem(label, _line(root), "", message)])
    return data, builder.lines


def _syntax_problem(failure: yaml.MarkedYAMLError, label: str) -> Problem:
    mark = failure.problem_mark or failure.context_mark
    what = failure.problem or failure.context or "invalid YAML"
    if mark is None:
        return Problem(label, 0, "", f"YAML syntax error: {what}")
    return Problem(
        label, mark.line + 1, "", f"YAML syntax error at column {mark.column + 1}: {what}"
    )


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Builder:
    """Turns composed YAML nodes into plain data, filling a LineIndex."""

    def __init__(self, loader: LineLoader, label: str) -> None:
        self.loader = loader
        self.label = label
        self.lines = LineIndex()
        self.problems: list[Problem] = []
        self.nodes_seen = 0

    def raise_problems(self) -> None:
        if self.problems:
            raise FileInputError(self.problems)

    def value(self, node: yaml.Node, path: FieldPath) -> Any:
        self.nodes_seen += 1
        if self.nodes_seen > MAX_NODES:
            raise _whole_file(self.label, f"has more than {MAX_NODES} values (alias expansion?)")
        self.lines.add(path, _line(node))
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self.loader.scalar_value(node)

    def mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # resolves YAML merge keys (<<)
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path)
            if key is None:
                continue
            if key in first_line:
                message = f'duplicate key "{key}" (first defined at line {first_line[key]})'
                self.problems.append(
                    Problem(self.label, _line(key_node), format_path((*path, key)), message)
                )
                continue
            first_line[key] = _line(key_node)
            self.lines.add((*path, key), _line(key_node))
            result[key] = self.value(value_node, (*path, key))
        return result

    def key(self, node: yaml.Node, path: FieldPath) -> str | None:
        """Keys are names: keep their text (so ``yes:`` is "yes", not True)."""
        if isinstance(node, yaml.ScalarNode):
            return str(node.value)
        message = "a key must be a plain name, not a list or a mapping"
        self.problems.append(Problem(self.label, _line(node), format_path(path), message))
        return None
