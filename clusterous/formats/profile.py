"""Load a cluster profile, in its Clusterous 1.0 or native form, into one model.

Resolving a profile may read a second file: the environment file it names.
Where the node groups come from, in order: the profile's ``node_groups``;
else the environment file's ``cluster:`` section, whose ``$parameters`` take
the profile's values; else Clusterous 1.0's built-in default cluster,
``master`` (1 × ``$master_instance_type``) and ``worker``
(``$worker_count`` × ``$worker_instance_type``). Parameters used by none of
these, and references to parameters never defined, are problems.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from clusterous.errors import FileInputError, InputError
from clusterous.formats import fields
from clusterous.formats.environment import environment_from_document
from clusterous.formats.kind import Kind, refuse_other_kind
from clusterous.formats.models import (
    ClusterProfile,
    ClusterSectionDocument,
    Environment,
    NodeGroup,
    ProfileDocument,
    Scalar,
)
from clusterous.formats.params import Substitution, unused_parameters
from clusterous.formats.problems import Findings, problems_from_validation
from clusterous.formats.source import Document, read_document
from clusterous.home import check_cluster_name

DEFAULT_CLUSTER_PARAMETERS = ("master_instance_type", "worker_instance_type", "worker_count")
# (native key, Clusterous 1.0 key): two spellings of one setting
SAME_SETTING = (
    ("name", "cluster_name"),
    ("controller", "controller_instance_type"),
    ("shared_volume", "shared_volume_size"),
    ("shared_volume", "shared_volume_id"),
)


def load_cluster_profile(path: Path) -> ClusterProfile:
    """Read, validate and resolve the cluster profile at ``path``."""
    return load_profile_and_environment(path)[0]


def load_profile_and_environment(
    path: Path, label: str | None = None
) -> tuple[ClusterProfile, Environment | None]:
    """The profile at ``path`` and the environment file it names, checked together."""
    document = read_document(path, label)
    refuse_other_kind(document, Kind.PROFILE)
    return profile_from_document(document)


def profile_from_document(document: Document) -> tuple[ClusterProfile, Environment | None]:
    """Resolve a parsed profile; every problem found is raised at once."""
    findings = Findings()
    result = _Resolution(document, findings).run()
    findings.raise_if_any()
    assert result is not None
    return result


def default_cluster_profile(
    name: str,
    workers: int = 1,
    master_type: str | None = None,
    worker_type: str | None = None,
    controller_type: str | None = None,
) -> ClusterProfile:
    """The Clusterous 1.0 default cluster, for ``clusterous create`` without a file."""
    check_cluster_name(name)
    if workers < 0:
        raise InputError(f"invalid worker count {workers}", "it must be 0 or more")
    groups = {
        "master": NodeGroup(type=master_type, count=1),
        "worker": NodeGroup(type=worker_type, count=workers),
    }
    return ClusterProfile(name=name, controller_type=controller_type, node_groups=groups)


class _Resolution:
    """One profile being resolved: its parameters, their uses, its problems."""

    def __init__(self, document: Document, findings: Findings) -> None:
        self.document = document
        self.findings = findings
        self.parameters: dict[str, Scalar] = {}
        self.used: set[str] = set()

    def run(self) -> tuple[ClusterProfile, Environment | None] | None:
        parameters = self._parameters()
        if parameters is None:
            return None
        self.parameters = parameters
        parsed = self._parsed()
        self._check_one_spelling()
        if parsed is None:
            return None
        env_path, env_document = self._environment_document(parsed)
        groups = self._groups(parsed, env_document)
        self.findings.extend(unused_parameters(self.parameters, self.used, self.document))
        environment = self._environment(env_document, groups)
        if groups is None:
            return None
        return self._profile(parsed, groups, env_path), environment

    def _parameters(self) -> dict[str, Scalar] | None:
        raw = {"parameters": self.document.data.get("parameters", {})}
        try:
            return dict(ProfileDocument.model_validate(raw).parameters)
        except ValidationError as failure:
            self.findings.extend(problems_from_validation(failure, self.document, ProfileDocument))
            return None

    def _parsed(self) -> ProfileDocument | None:
        substitution = Substitution(self.parameters, self.document)
        body = {
            key: value if key == "parameters" else substitution.apply(value, (key,))
            for key, value in self.document.data.items()
        }
        self._absorb(substitution)
        try:
            return ProfileDocument.model_validate(body)
        except ValidationError as failure:
            problems = problems_from_validation(
                failure, self.document, ProfileDocument, notes=substitution.origins
            )
            self.findings.extend(p for p in problems if p.field not in substitution.undefined_at)
            return None

    def _absorb(self, substitution: Substitution) -> None:
        self.used |= substitution.used
        self.findings.extend(substitution.problems)

    def _check_one_spelling(self) -> None:
        data = self.document.data
        for native, legacy in SAME_SETTING:
            if native in data and legacy in data:
                line = self.document.lines.line_of((native,))
                message = f'says the same as "{native}" (line {line}): keep only one of them'
                self.findings.add(self.document.problem((legacy,), message))
        if "name" not in data and "cluster_name" not in data:
            message = (
                'a cluster profile needs a name: "name:" (or "cluster_name:" as in Clusterous 1.0)'
            )
            self.findings.add(self.document.problem((), message))

    def _environment_document(self, parsed: ProfileDocument) -> tuple[Path | None, Document | None]:
        if parsed.environment_file is None:
            return None, None
        written = os.path.expanduser(parsed.environment_file)
        path = Path(os.path.normpath(self.document.path.parent / written))
        label = os.path.normpath(Path(self.document.label).parent / written)
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "no such file"
            message = f"{what}: {path} (the path is relative to the profile's directory)"
            self.findings.add(self.document.problem(("environment_file",), message))
            return path, None
        try:
            env_document = read_document(path, label)
            refuse_other_kind(env_document, Kind.ENVIRONMENT)
        except FileInputError as failure:
            self.findings.absorb(failure)
            return path, None
        return path, env_document

    def _groups(
        self, parsed: ProfileDocument, env_document: Document | None
    ) -> dict[str, NodeGroup] | None:
        if parsed.node_groups is not None:
            return {name: spec.resolve(parsed.spot) for name, spec in parsed.node_groups.items()}
        if env_document is not None and "cluster" in env_document.data:
            return self._environment_groups(env_document, parsed.spot)
        return self._default_groups(parsed.spot)

    def _environment_groups(
        self, env_document: Document, spot: bool
    ) -> dict[str, NodeGroup] | None:
        substitution = Substitution(self.parameters, env_document)
        section = {"cluster": substitution.apply(env_document.data["cluster"], ("cluster",))}
        self._absorb(substitution)
        try:
            parsed = ClusterSectionDocument.model_validate(section)
        except ValidationError as failure:
            problems = problems_from_validation(
                failure, env_document, ClusterSectionDocument, notes=substitution.origins
            )
            self.findings.extend(p for p in problems if p.field not in substitution.undefined_at)
            return None
        return {name: spec.resolve(spot) for name, spec in parsed.cluster.items()}

    def _default_groups(self, spot: bool) -> dict[str, NodeGroup] | None:
        self.used.update(DEFAULT_CLUSTER_PARAMETERS)
        missing = [name for name in DEFAULT_CLUSTER_PARAMETERS if name not in self.parameters]
        if missing:
            self.findings.add(
                self.document.problem(("parameters",), _default_cluster_help(missing))
            )
            return None
        master_type = self._default_value("master_instance_type", fields.parse_instance_type)
        worker_type = self._default_value("worker_instance_type", fields.parse_instance_type)
        workers = self._default_value("worker_count", fields.parse_group_count)
        if master_type is None or worker_type is None or workers is None:
            return None
        return {
            "master": NodeGroup(type=master_type, count=1, spot=spot),
            "worker": NodeGroup(type=worker_type, count=workers, spot=spot),
        }

    def _default_value(self, name: str, parse: Any) -> Any:
        try:
            return parse(self.parameters[name])
        except ValueError as failure:
            message = f"{failure} (used by the default cluster)"
            self.findings.add(self.document.problem(("parameters", name), message))
            return None

    def _environment(
        self, env_document: Document | None, groups: Mapping[str, NodeGroup] | None
    ) -> Environment | None:
        if env_document is None:
            return None
        return environment_from_document(
            env_document, self.findings, None if groups is None else list(groups)
        )

    def _profile(
        self, parsed: ProfileDocument, groups: dict[str, NodeGroup], env_path: Path | None
    ) -> ClusterProfile:
        volume = parsed.shared_volume
        return ClusterProfile(
            name=parsed.name or parsed.cluster_name or "",
            provider=parsed.provider,
            region=parsed.region,
            controller_type=parsed.controller.type
            if parsed.controller
            else parsed.controller_instance_type,
            node_groups=groups,
            shared_volume_size=volume.size if volume else parsed.shared_volume_size,
            shared_volume_id=volume.id if volume else parsed.shared_volume_id,
            max_hours=parsed.max_hours,
            central_logging_level=1
            if parsed.central_logging_level is None
            else parsed.central_logging_level,
            central_logging_max_size=parsed.central_logging_max_size or 1.0,
            environment_file=env_path,
            parameters=self.parameters,
            source=self.document.path,
        )


def _default_cluster_help(missing: list[str]) -> str:
    return (
        "without node_groups (and without a cluster: section in the environment file) the "
        "Clusterous 1.0 default cluster is used, which needs the parameters "
        f"{', '.join(DEFAULT_CLUSTER_PARAMETERS)}; missing: {', '.join(missing)}"
    )
