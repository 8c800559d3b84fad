"""Names end up in tags, labels, paths and DNS: a trailing newline is not part of a name."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clusterous.aws.wizard import check_bucket_name, check_key_pair_name
from clusterous.config import check_profile_name
from clusterous.errors import InputError
from clusterous.formats.fields import check_component_name, check_group_name
from clusterous.formats.models import parse_cluster_name
from clusterous.home import check_cluster_name

CHECKERS: list[tuple[str, Callable[[str], object], str]] = [
    ("cluster", check_cluster_name, "web"),
    ("cluster in a file", parse_cluster_name, "web"),
    ("profile", check_profile_name, "aws-sydney"),
    ("node group", check_group_name, "worker"),
    ("component", check_component_name, "engine"),
    ("bucket", check_bucket_name, "clusterous-registry"),
    ("key pair", check_key_pair_name, "clusterous-aws"),
]


@pytest.mark.parametrize(("kind", "check", "good"), CHECKERS, ids=[c[0] for c in CHECKERS])
def test_a_name_with_a_trailing_newline_is_refused(
    kind: str, check: Callable[[str], object], good: str
) -> None:
    check(good)  # the same name without the newline is fine
    with pytest.raises((ValueError, InputError), match="invalid"):
        check(good + "\n")
