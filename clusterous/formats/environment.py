"""Load an environment file: the application to copy, build, run and reach.

Reading alone (``load_environment``), components are checked against the
file's own ``cluster:`` section, or against the default cluster's groups
(``master`` and ``worker``) when it has none. The cluster profile loader
calls :func:`environment_from_document` with the profile's groups instead.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from pydantic import ValidationError

from clusterous.formats.checks import check_environment
from clusterous.formats.kind import Kind, refuse_other_kind
from clusterous.formats.models import (
    Environment,
    EnvironmentDocument,
    EnvironmentSection,
    ImageSpec,
)
from clusterous.formats.problems import Findings, problems_from_validation
from clusterous.formats.source import Document, read_document

DEFAULT_GROUPS = ("master", "worker")


def load_environment(path: Path) -> Environment:
    """Read, validate and normalise the environment file at ``path``."""
    document = read_document(path)
    refuse_other_kind(document, Kind.ENVIRONMENT)
    findings = Findings()
    environment = environment_from_document(document, findings)
    findings.raise_if_any()
    assert environment is not None
    return environment


def environment_from_document(
    document: Document, findings: Findings, groups: Collection[str] | None = None
) -> Environment | None:
    """The Environment of ``document``; its problems go to ``findings``.

    ``groups`` are the node groups components may use; None means the file's
    own ``cluster:`` section, or the default cluster's groups without one.
    """
    try:
        parsed = EnvironmentDocument.model_validate(document.data)
    except ValidationError as failure:
        findings.extend(problems_from_validation(failure, document, EnvironmentDocument))
        return None
    if groups is None:
        groups = list(parsed.cluster) if parsed.cluster is not None else DEFAULT_GROUPS
    section = parsed.environment or EnvironmentSection.model_validate({})
    findings.extend(check_environment(section, document, groups))
    return _normalise(parsed, section, document.path)


def _normalise(
    parsed: EnvironmentDocument, section: EnvironmentSection, source: Path
) -> Environment:
    base = source.parent
    return Environment(
        name=parsed.name,
        source=source,
        cluster=parsed.cluster,
        copy_dirs=[_beside(base, directory) for directory in section.copy_],
        images=[
            ImageSpec(dockerfile=_beside(base, image.dockerfile), image_name=image.image_name)
            for image in section.image
        ],
        components=section.components,
        tunnels=[spec.tunnel() for spec in section.expose_tunnel],
        jobs=parsed.jobs,
    )


def _beside(base: Path, relative: str) -> Path:
    """A path written relative to the file, made absolute (``..`` folded).

    ``copy:`` entries are known to stay inside ``base`` (see checks); a
    dockerfile directory may still be anywhere the user names.
    """
    return Path(os.path.normpath(base / os.path.expanduser(relative)))
