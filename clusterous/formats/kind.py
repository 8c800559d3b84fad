"""Tell a cluster profile, an environment file and a job file apart by the keys at their top.

``clusterous validate`` accepts both kinds of file; the rest of clusterous
asks for one kind and uses :func:`refuse_other_kind` to give a clear message
when handed the other.
"""

from __future__ import annotations

from enum import Enum

from clusterous.errors import FileInputError, Problem
from clusterous.formats.source import Document


class Kind(Enum):
    PROFILE = "cluster profile"
    ENVIRONMENT = "environment file"
    JOBS = "job file"


# Keys only a cluster profile has (``name`` is shared by both kinds).
PROFILE_KEYS = frozenset(
    {
        "cluster_name",
        "node_groups",
        "controller",
        "controller_instance_type",
        "provider",
        "region",
        "shared_volume",
        "shared_volume_size",
        "shared_volume_id",
        "max_hours",
        "spot",
        "central_logging_level",
        "central_logging_max_size",
        "environment_file",
        "parameters",
    }
)

UNDECIDABLE = (
    "cannot tell whether this is a cluster profile or an environment file: "
    'an environment file has an "environment:" section; a cluster profile has '
    '"cluster_name:" (Clusterous 1.0 form) or "name:" with "node_groups:" (native form). '
    "Add the section the file is missing, or pass --kind profile or --kind environment"
)


def guess_kind(document: Document) -> Kind | None:
    """The kind the file's top-level keys point to, or None if they do not say."""
    keys = set(document.data)
    if "environment" in keys:
        return Kind.ENVIRONMENT
    if keys & PROFILE_KEYS:
        return Kind.PROFILE
    if "cluster" in keys:
        return Kind.ENVIRONMENT  # a cluster definition alone, like default_cluster.yml
    if "jobs" in keys:
        return Kind.JOBS  # batch jobs alone: 'clusterous submit --file'
    return None


def detect_kind(document: Document) -> Kind:
    """The file's kind; a whole-file problem when its keys do not say."""
    kind = guess_kind(document)
    if kind is None:
        raise FileInputError([Problem(document.label, 0, "", UNDECIDABLE)])
    return kind


def refuse_other_kind(document: Document, wanted: Kind) -> None:
    """Stop early, and say so, when the file is clearly the other kind."""
    kind = guess_kind(document)
    if kind is not None and kind is not wanted:
        message = f"this is {_article(kind)}, not {_article(wanted)}"
        raise FileInputError([Problem(document.label, 0, "", message)])


def _article(kind: Kind) -> str:
    return f"an {kind.value}" if kind.value[0] in "aeiou" else f"a {kind.value}"
