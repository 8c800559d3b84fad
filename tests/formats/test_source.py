"""YAML reading: line numbers kept, and every unusable file refused with FILE[:LINE]."""

from __future__ import annotations

from pathlib import Path

from clusterous.formats.source import MAX_FILE_BYTES, format_path, read_document
from tests.formats.conftest import WriteFile
from tests.formats.format_helpers import problems_of


def test_every_mapping_key_and_list_item_keeps_its_line(write: WriteFile) -> None:
    path = write("f.yml", "# comment\na: 1\nb:\n  c:\n    - x\n    - y: 2\n")
    document = read_document(path)
    assert document.data == {"a": 1, "b": {"c": ["x", {"y": 2}]}}
    assert document.lines.line_of(("a",)) == 2
    assert document.lines.line_of(("b", "c")) == 4
    assert document.lines.line_of(("b", "c", 1)) == 6
    assert document.lines.line_of(("b", "c", 1, "y")) == 6


def test_a_missing_field_is_placed_at_its_nearest_existing_parent(write: WriteFile) -> None:
    document = read_document(write("f.yml", "a:\n  b: 1\n"))
    assert document.lines.line_of(("a", "missing", "deeper")) == 1
    assert document.lines.display_path(("a", "missing")) == "a.missing"


def test_an_index_the_file_lacks_is_skipped_in_paths(write: WriteFile) -> None:
    document = read_document(write("f.yml", "t:\n  service: x\n"))
    assert document.lines.display_path(("t", 0, "service")) == "t.service"
    assert document.lines.line_of(("t", 0, "service")) == 2


def test_paths_render_with_dots_and_indexes() -> None:
    assert (
        format_path(("environment", "image", 0, "dockerfile")) == "environment.image[0].dockerfile"
    )


def test_base_60_lookalikes_stay_strings(write: WriteFile) -> None:
    # YAML 1.1 would read 22:22 as the integer 1342; Clusterous 1.0 meant a port pair
    data = read_document(write("f.yml", "ports: 22:22\nt: 1:30:00\nday: 2016-04-01\n")).data
    assert data == {"ports": "22:22", "t": "1:30:00", "day": "2016-04-01"}


def test_yes_and_no_values_are_booleans_but_keys_stay_names(write: WriteFile) -> None:
    data = read_document(write("f.yml", "attach_volume: yes\nno: 1\n8888: x\n")).data
    assert data == {"attach_volume": True, "no": 1, "8888": "x"}


def test_a_missing_file_is_named_without_a_line(tmp_path: Path) -> None:
    path = tmp_path / "gone.yml"
    assert problems_of(lambda: read_document(path)) == [f"{path}: no such file"]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert problems_of(lambda: read_document(tmp_path)) == [
        f"{tmp_path}: is a directory, not a YAML file"
    ]


def test_an_empty_file_is_refused(write: WriteFile) -> None:
    path = write("e.yml", "  \n\n")
    assert problems_of(lambda: read_document(path)) == [f"{path}: is empty"]


def test_a_file_of_only_comments_is_refused(write: WriteFile) -> None:
    path = write("e.yml", "# nothing\n")
    assert problems_of(lambda: read_document(path)) == [
        f"{path}: is empty (it holds only comments)"
    ]


def test_a_binary_file_is_refused(write: WriteFile) -> None:
    path = write("b.yml", b"name: x\n\x00\x01\x02")
    assert problems_of(lambda: read_document(path)) == [
        f"{path}: is a binary file (it contains NUL bytes), not YAML text"
    ]


def test_text_that_is_not_utf8_is_refused_at_its_line(write: WriteFile) -> None:
    path = write("l.yml", b"name: x\ncmd: caf\xe9\n")
    assert problems_of(lambda: read_document(path)) == [
        f"{path}:2: is not UTF-8 text (bad byte at offset 16)"
    ]


def test_a_file_over_one_mebibyte_is_refused_before_parsing(write: WriteFile) -> None:
    path = write("big.yml", "a: [" + "1," * (MAX_FILE_BYTES // 2) + "]\n")
    [problem] = problems_of(lambda: read_document(path))
    assert problem.startswith(f"{path}: is too large (")
    assert "the limit is 1 MiB" in problem


def test_a_syntax_error_gives_line_and_column(write: WriteFile) -> None:
    path = write("s.yml", "name: x\nenvironment:\n  copy: [a, b\n  image: y\n")
    [problem] = problems_of(lambda: read_document(path))
    assert problem.startswith(f"{path}:4: YAML syntax error at column 8: ")


def test_a_bad_indent_gives_line_and_column(write: WriteFile) -> None:
    path = write("s.yml", "name: x\n  bad: indent\n")
    [problem] = problems_of(lambda: read_document(path))
    assert problem.startswith(f"{path}:2: YAML syntax error at column 6: ")


def test_a_top_level_list_is_refused(write: WriteFile) -> None:
    path = write("list.yml", "\n- a\n- b\n")
    assert problems_of(lambda: read_document(path)) == [
        f"{path}:2: the top level must be a mapping of fields (key: value), got a list"
    ]


def test_a_top_level_scalar_is_refused(write: WriteFile) -> None:
    path = write("s.yml", "just text\n")
    assert problems_of(lambda: read_document(path)) == [
        f"{path}:1: the top level must be a mapping of fields (key: value), "
        "got the value 'just text'"
    ]


def test_duplicate_keys_are_refused_at_the_second_one(write: WriteFile) -> None:
    path = write("d.yml", "name: a\nenvironment:\n  copy: []\n  copy: [x]\nname: b\n")
    assert problems_of(lambda: read_document(path)) == [
        f'{path}:4: environment.copy: duplicate key "copy" (first defined at line 3)',
        f'{path}:5: name: duplicate key "name" (first defined at line 1)',
    ]


def test_an_unknown_tag_is_a_located_error(write: WriteFile) -> None:
    path = write("t.yml", "name: x\ncmd: !python/object:os.system echo\n")
    [problem] = problems_of(lambda: read_document(path))
    assert problem.startswith(f"{path}:2: YAML syntax error")


def test_an_alias_bomb_is_refused(write: WriteFile) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    path = write("bomb.yml", "\n".join(lines) + "\n")
    [problem] = problems_of(lambda: read_document(path))
    assert problem.startswith(f"{path}: has more than")


def test_a_complex_key_is_refused_at_its_line(write: WriteFile) -> None:
    path = write("k.yml", "name: x\n? [a, b]\n: 1\n")
    assert problems_of(lambda: read_document(path)) == [
        f"{path}:2: a key must be a plain name, not a list or a mapping"
    ]


def test_messages_use_the_label_given(write: WriteFile) -> None:
    path = write("e.yml", "")
    assert problems_of(lambda: read_document(path, "shown.yml")) == ["shown.yml: is empty"]


def test_a_control_character_is_refused_at_its_line(write: WriteFile) -> None:
    path = write("c.yml", "name: x\nenvironment:\n  copy: [a\x01]\n")
    assert problems_of(lambda: read_document(path)) == [
        f"{path}:3: is not YAML text: the control character U+0001 is not allowed"
    ]
