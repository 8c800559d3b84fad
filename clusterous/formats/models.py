"""The pydantic models of both input formats, as written and as normalised.

Two kinds of model live here. *Document* models (``ProfileDocument``,
``EnvironmentDocument`` and their parts) mirror the YAML exactly, so that a
validation error's location is the field path in the user's file. *Public*
models (``ClusterProfile``, ``Environment``, ``NodeGroup``, ``Component``,
``Tunnel``, ``ImageSpec``, ``PortMapping``) are what the rest of clusterous
uses: one shape whichever form (Clusterous 1.0 or native) the file was in,
paths resolved, ports as pairs. ``Component`` is both: its validators accept
every Clusterous 1.0 spelling and store the normalised value.
"""

from __future__ import annotations

import graphlib
import string
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from clusterous.formats import fields
from clusterous.formats.fields import Auto, InstanceType, Text, Word
from clusterous.formats.problems import describe
from clusterous.home import CLUSTER_NAME_RE

SpotFallback = Literal["on-demand", "none"]
Scalar = str | int | float | bool
PARAMETER_REF_RE = r"^\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})$"


class _Model(BaseModel):
    """Strict, closed, immutable: YAML types are taken as written, typos refused."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# ----- values shared by both formats -------------------------------------------------


def parse_cluster_name(value: object) -> str:
    """A cluster name, with a word for the placeholder of mycluster.yml."""
    if isinstance(value, str) and CLUSTER_NAME_RE.fullmatch(value):
        return value
    rule = "use 1-32 lowercase letters, digits and dashes, starting with a letter"
    if isinstance(value, str) and value.startswith("<") and value.endswith(">"):
        raise ValueError(
            f"{describe(value)} is the template's placeholder: replace it with your "
            f'cluster\'s name ({rule}, for example "my-cluster")'
        )
    raise ValueError(f"invalid cluster name {describe(value)}: {rule}")


def _parameter_value(value: object) -> Scalar:
    if isinstance(value, str | int | float | bool):
        return value
    raise ValueError(f"expected a string, a number or true/false, got {describe(value)}")


def _parameter_name(name: str) -> str:
    if not fields.PARAMETER_NAME_RE.fullmatch(name):
        raise ValueError(
            f'invalid parameter name "{name}": use letters, digits and "_", '
            "not starting with a digit"
        )
    return name


def _central_logging_level(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2:
        return value
    raise ValueError(f"expected 0 (off), 1 or 2, got {describe(value)}")


GroupName = Annotated[str, AfterValidator(fields.check_group_name)]
ComponentName = Annotated[str, AfterValidator(fields.check_component_name)]
ParameterName = Annotated[str, AfterValidator(_parameter_name)]
ParameterValue = Annotated[Scalar, BeforeValidator(_parameter_value)]


class PortMapping(_Model):
    """A published port: ``host`` on the node maps to ``container`` in the container."""

    host: int = Field(ge=1, le=65535)
    container: int = Field(ge=1, le=65535)


def _port_mappings(value: object) -> list[PortMapping]:
    if isinstance(value, list) and all(isinstance(item, PortMapping) for item in value):
        return list(value)
    return [PortMapping(host=host, container=inner) for host, inner in fields.parse_ports(value)]


# ----- node groups -------------------------------------------------------------------


class NodeGroup(_Model):
    """A group of identical machines, resolved: what the provider launches."""

    type: str | None = None  # None: the provider's default instance type
    count: int = Field(ge=0)
    spot: bool = False
    spot_fallback: SpotFallback = "on-demand"


def _optional_instance_type(value: object) -> str | None:
    return None if value is None else fields.parse_instance_type(value)


class GroupSpec(_Model):
    """A node group as written in ``node_groups:`` or a resolved ``cluster:`` section."""

    type: Annotated[str | None, BeforeValidator(_optional_instance_type)] = None
    count: Annotated[int, BeforeValidator(fields.parse_group_count)] = 1
    spot: bool | None = None  # None: the profile's ``spot``
    spot_fallback: SpotFallback = "on-demand"

    def resolve(self, default_spot: bool) -> NodeGroup:
        spot = default_spot if self.spot is None else self.spot
        return NodeGroup(
            type=self.type, count=self.count, spot=spot, spot_fallback=self.spot_fallback
        )


def _count_or_reference(value: object) -> int | str:
    if isinstance(value, str) and value.startswith("$"):
        return value  # a $parameter the cluster profile supplies
    return fields.parse_group_count(value)


class GroupTemplate(GroupSpec):
    """A node group of an environment file's ``cluster:`` section, read alone.

    ``type`` and ``count`` may still be ``$parameter`` references: their
    values come from the cluster profile that uses the environment file.
    """

    count: Annotated[int | str, BeforeValidator(_count_or_reference)] = 1  # type: ignore[assignment]


# ----- environment files ------------------------------------------------------------


class Component(_Model):
    """One part of an application: a Swarm service placed on a node group."""

    machine: Text
    image: Word
    cpu: Annotated[float | Auto, BeforeValidator(fields.parse_cpu)] = "auto"
    count: Annotated[int | Auto, BeforeValidator(fields.parse_component_count)] = 1
    cmd: Annotated[str | list[str] | None, BeforeValidator(fields.parse_cmd)] = None
    ports: Annotated[list[PortMapping], BeforeValidator(_port_mappings)] = []
    depends: Annotated[list[str], BeforeValidator(fields.parse_depends)] = []
    attach_volume: bool = True
    docker_network: Literal["host"] | None = None
    memory: Annotated[int | None, BeforeValidator(fields.parse_memory)] = None
    environment: Annotated[dict[str, str], BeforeValidator(fields.parse_env_vars)] = {}

    @property
    def host_ports(self) -> list[int]:
        return [port.host for port in self.ports]


class Tunnel(_Model):
    """An SSH tunnel: laptop port ``local_port`` to ``component``'s ``remote_port``."""

    local_port: int = Field(ge=1, le=65535)
    component: str
    remote_port: int = Field(ge=1, le=65535)
    message: str | None = None


class ImageSpec(_Model):
    """An image built on the controller from ``dockerfile`` (a directory)."""

    dockerfile: Path
    image_name: str


def _check_message(message: str | None) -> str | None:
    """Tunnel messages may use {url} and {port}; anything else would break later."""
    if message is None:
        return None
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(message) if name is not None]
    except ValueError as failure:
        raise ValueError(f"{failure}; write {{{{ and }}}} for literal braces") from None
    unknown = sorted({name for name in names if name not in ("url", "port")})
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}: use {{url}} or {{port}}")
    return message


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, dict | str) else ([] if value is None else value)


class TunnelDocument(_Model):
    service: Annotated[tuple[int, str, int], BeforeValidator(fields.parse_tunnel_service)]
    message: Annotated[str | None, AfterValidator(_check_message)] = None

    def tunnel(self) -> Tunnel:
        local, component, remote = self.service
        return Tunnel(
            local_port=local, component=component, remote_port=remote, message=self.message
        )


class ImageDocument(_Model):
    dockerfile: Text
    image_name: Word


class EnvironmentSection(_Model):
    copy_: Annotated[list[Text], BeforeValidator(_one_or_many)] = Field([], alias="copy")
    image: Annotated[list[ImageDocument], BeforeValidator(_one_or_many)] = []
    components: dict[ComponentName, Component] = {}
    expose_tunnel: Annotated[list[TunnelDocument], BeforeValidator(_one_or_many)] = []


# ----- batch jobs -------------------------------------------------------------------

JobName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=63)]
# What a person writes (the schema editors check files with), not the normalised value.
_ARRAY = {
    "anyOf": [
        {"type": "string", "pattern": r"^\d+(-\d+)?(,\d+(-\d+)?)*$", "examples": ["1-1000"]},
        {"type": "integer", "minimum": 0},
    ]
}
_CPUS = {"type": "number", "exclusiveMinimum": 0}
_MEMORY = {"anyOf": [{"type": "string", "examples": ["512m", "2g"]}, {"type": "integer"}]}


class Job(_Model):
    """A batch job: ``command`` once per index of ``array`` (``{i}`` in it is the index)."""

    command: Annotated[str | list[str], BeforeValidator(fields.parse_cmd)]
    array: Annotated[
        list[int] | None, BeforeValidator(fields.parse_optional_array), WithJsonSchema(_ARRAY)
    ] = None
    cpus: Annotated[float | None, BeforeValidator(fields.parse_job_cpus), WithJsonSchema(_CPUS)] = (
        None
    )
    memory: Annotated[int | None, BeforeValidator(fields.parse_memory), WithJsonSchema(_MEMORY)] = (
        None
    )
    group: str | None = None
    workdir: Annotated[str | None, BeforeValidator(fields.parse_workdir)] = None
    environment: Annotated[dict[str, str], BeforeValidator(fields.parse_env_vars)] = {}
    image: str | None = None
    retries: int = Field(default=0, ge=0, le=100)


class JobsDocument(_Model):
    """A stand-alone job file: ``jobs:`` and, optionally, a ``name:``."""

    name: Text | None = None
    jobs: dict[JobName, Job]


class EnvironmentDocument(_Model):
    name: Text
    cluster: dict[GroupName, GroupTemplate] | None = None
    environment: EnvironmentSection | None = None
    jobs: dict[JobName, Job] = {}

    @model_validator(mode="after")
    def _has_content(self) -> EnvironmentDocument:
        if self.environment is None and self.cluster is None:
            raise ValueError("an environment file needs an 'environment:' section")
        return self


class Environment(_Model):
    """An application: what to copy, build and run, and which tunnels to open."""

    name: str
    source: Path | None = None
    cluster: dict[str, GroupTemplate] | None = None  # the file's own node groups
    copy_dirs: list[Path] = []
    images: list[ImageSpec] = []
    components: dict[str, Component] = {}
    tunnels: list[Tunnel] = []
    jobs: dict[str, Job] = {}  # submitted once the components run

    @property
    def group_names(self) -> list[str] | None:
        return None if self.cluster is None else list(self.cluster)

    def deploy_order(self) -> list[str]:
        """Component names, each after the components it depends on."""
        graph = {name: set(part.depends) for name, part in self.components.items()}
        return list(graphlib.TopologicalSorter(graph).static_order())


# ----- cluster profiles -------------------------------------------------------------


class ControllerDocument(_Model):
    type: InstanceType | None = None


class SharedVolumeDocument(_Model):
    size: Annotated[int | None, BeforeValidator(fields.parse_volume_size)] = None
    id: Annotated[str | None, BeforeValidator(fields.parse_volume_id)] = None


ClusterName = Annotated[str, BeforeValidator(parse_cluster_name)]


class ProfileDocument(_Model):
    """Both profile forms in one: 1.0 and native keys, one spelling per setting."""

    cluster_name: ClusterName | None = None
    name: ClusterName | None = None
    provider: Literal["local", "aws"] | None = None
    region: Word | None = None
    controller: ControllerDocument | None = None
    controller_instance_type: InstanceType | None = None
    node_groups: dict[GroupName, GroupSpec] | None = None
    shared_volume: SharedVolumeDocument | None = None
    shared_volume_size: Annotated[int, BeforeValidator(fields.parse_volume_size)] | None = None
    shared_volume_id: Annotated[str, BeforeValidator(fields.parse_volume_id)] | None = None
    max_hours: Annotated[float, BeforeValidator(fields.parse_positive_number)] | None = None
    spot: bool = False
    central_logging_level: Annotated[int, BeforeValidator(_central_logging_level)] | None = None
    central_logging_max_size: (
        Annotated[float, BeforeValidator(fields.parse_positive_number)] | None
    ) = None
    environment_file: Text | None = None
    parameters: dict[ParameterName, ParameterValue] = {}


class ClusterSectionDocument(_Model):
    """An environment file's ``cluster:`` section once the profile's parameters are in."""

    cluster: dict[GroupName, GroupSpec]


class ClusterProfile(_Model):
    """A cluster to create: its name, where, and its node groups."""

    name: str
    provider: Literal["local", "aws"] | None = None  # None: the configuration profile's
    region: str | None = None
    controller_type: str | None = None
    node_groups: dict[str, NodeGroup]
    shared_volume_size: int | None = None  # GiB
    shared_volume_id: str | None = None
    max_hours: float | None = None
    central_logging_level: int = 1  # unset in the file: on (see docs/dashboard.md)
    central_logging_max_size: float = 1.0  # GiB of logs the controller keeps
    environment_file: Path | None = None
    parameters: dict[str, Scalar] = {}
    source: Path | None = None
