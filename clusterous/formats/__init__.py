"""The two input files of clusterous: cluster profiles and environment files.

Both are YAML, read with the line of every field kept so that each problem is
reported as ``FILE:LINE: field.path: message``; both accept the Clusterous 1.0
form unchanged. See docs/cluster-profile.md and docs/environment-file.md.
"""

from clusterous.formats.environment import load_environment
from clusterous.formats.kind import Kind, detect_kind
from clusterous.formats.models import (
    ClusterProfile,
    Component,
    Environment,
    GroupTemplate,
    ImageSpec,
    NodeGroup,
    PortMapping,
    Tunnel,
)
from clusterous.formats.profile import (
    default_cluster_profile,
    load_cluster_profile,
    load_profile_and_environment,
)
from clusterous.formats.validation import Validated, validate_file

__all__ = [
    "ClusterProfile",
    "Component",
    "Environment",
    "GroupTemplate",
    "ImageSpec",
    "Kind",
    "NodeGroup",
    "PortMapping",
    "Tunnel",
    "Validated",
    "default_cluster_profile",
    "detect_kind",
    "load_cluster_profile",
    "load_environment",
    "load_profile_and_environment",
    "validate_file",
]
