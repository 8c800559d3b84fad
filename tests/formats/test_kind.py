"""Telling a cluster profile from an environment file by its top-level keys."""

from __future__ import annotations

import pytest

from clusterous.formats import Kind, detect_kind
from clusterous.formats.source import read_document
from tests.formats.conftest import WriteFile
from tests.formats.format_helpers import problems_of


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("name: a\nenvironment: {}\n", Kind.ENVIRONMENT),
        ("name: a\ncluster: {}\n", Kind.ENVIRONMENT),
        ("cluster_name: a\n", Kind.PROFILE),
        ("name: a\nnode_groups: {}\n", Kind.PROFILE),
        ("name: a\nprovider: local\n", Kind.PROFILE),
        ("name: a\nenvironment: {}\nparameters: {}\n", Kind.ENVIRONMENT),
    ],
)
def test_the_kind_follows_the_top_level_keys(write: WriteFile, text: str, kind: Kind) -> None:
    assert detect_kind(read_document(write("f.yml", text))) is kind


def test_an_undecidable_file_says_how_to_fix_it(write: WriteFile) -> None:
    path = write("f.yml", "name: a\n")
    [problem] = problems_of(lambda: detect_kind(read_document(path)))
    assert problem.startswith(f"{path}: cannot tell whether this is a cluster profile")
    assert "--kind profile or --kind environment" in problem
