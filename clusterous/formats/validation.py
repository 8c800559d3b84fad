"""Check one file of either kind: what ``clusterous validate`` runs per file.

The kind is taken from the file's keys (or given), the file is loaded with
every check of its kind, and the result is summarised in one line and, on
request, shown normalised as YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clusterous.formats.environment import environment_from_document
from clusterous.formats.fields import compact_array
from clusterous.formats.jobs import jobs_from_document
from clusterous.formats.kind import Kind, detect_kind
from clusterous.formats.models import ClusterProfile, Environment, Job
from clusterous.formats.problems import Findings
from clusterous.formats.profile import profile_from_document
from clusterous.formats.source import read_document


@dataclass(frozen=True)
class Validated:
    """A valid file: its kind and what it means."""

    kind: Kind
    profile: ClusterProfile | None
    environment: Environment | None
    jobs: dict[str, Job] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: ``environment file 'basic-python': 2 components``."""
        parts = []
        if self.profile is not None:
            parts.append(f"cluster profile '{self.profile.name}': {_groups(self.profile)}")
        if self.environment is not None:
            parts.append(
                f"environment file '{self.environment.name}': {_components(self.environment)}"
            )
        if self.kind is Kind.JOBS:
            parts.append(f"job file: {len(self.jobs)} job(s): {', '.join(self.jobs)}")
        return "; ".join(parts)

    def to_yaml(self) -> str:
        """The normalised meaning of the file(s), as YAML."""
        shown: dict[str, Any] = {}
        if self.profile is not None:
            shown["cluster_profile"] = self.profile.model_dump(mode="json")
        if self.environment is not None:
            shown["environment"] = self.environment.model_dump(mode="json")
        if self.kind is Kind.JOBS:
            shown["jobs"] = {n: _job_view(job) for n, job in self.jobs.items()}
        return yaml.safe_dump(shown, sort_keys=False, allow_unicode=True)


def validate_file(path: Path, kind: Kind | None = None) -> Validated:
    """Load ``path`` as ``kind`` (detected when None); raise FileInputError if bad."""
    document = read_document(path)
    kind = kind or detect_kind(document)
    if kind is Kind.PROFILE:
        profile, environment = profile_from_document(document)
        return Validated(kind, profile, environment)
    if kind is Kind.JOBS:
        return Validated(kind, None, None, jobs_from_document(document))
    findings = Findings()
    environment = environment_from_document(document, findings)
    findings.raise_if_any()
    return Validated(kind, None, environment)


def _groups(profile: ClusterProfile) -> str:
    return ", ".join(
        f"{name} {group.count} x {group.type or 'default type'}"
        for name, group in profile.node_groups.items()
    )


def _components(environment: Environment) -> str:
    count = len(environment.components)
    text = f"{count} component{'' if count == 1 else 's'}"
    if environment.cluster is not None:
        text += f", node groups {', '.join(environment.cluster)}"
    return text


def _job_view(job: Job) -> dict[str, Any]:
    shown = job.model_dump(mode="json", exclude_defaults=True)
    if job.array is not None:
        shown["array"] = compact_array(job.array)
    return shown
