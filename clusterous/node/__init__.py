"""The node bootstrap: one bash script that configures every node of every provider.

``bootstrap.sh`` beside this module is the only place that configures a node
(DESIGN section 3). It reaches every node as user-data that cloud-init runs
(``userdata.py``): on AWS from EC2, on the local provider from a NoCloud
seed. Python's part is small: the parameters as one typed value, and
rendering them into the script as shell-quoted assignments.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, fields
from importlib import resources

BOOTSTRAP_READY_MARKER = "clusterous-bootstrap: ready"
BOOTSTRAP_ERROR_PREFIX = "clusterous-bootstrap: error: "
PARAMETERS_MARKER = "# @CLUSTEROUS_PARAMETERS@"

_ROLES = ("controller", "node")
_REGISTRY_STORAGES = ("", "filesystem", "s3")
_NFS_VALUES = ("", "yes", "no")


@dataclass(frozen=True)
class BootstrapParams:
    """Everything one node's bootstrap needs; each field becomes ``CLUSTEROUS_<FIELD>``.

    Empty strings mean "not set": the script fills in its defaults (group
    ``controller`` for the controller, instance id = node name, the address of
    the default route, filesystem registry storage, no NFS).
    """

    cluster: str
    node: str
    role: str  # controller | node
    group: str = ""
    instance_id: str = ""
    advertise_addr: str = ""
    controller_addr: str = ""
    join_token: str = ""
    private_cidr: str = ""
    swarm_addr_pool: str = ""
    dns: str = ""  # space-separated nameservers for the node's dockerd
    docker_storage_driver: str = ""
    registry_storage: str = ""  # filesystem | s3
    registry_bucket: str = ""
    registry_region: str = ""
    registry_prefix: str = ""
    registry_endpoint: str = ""
    shared_device: str = ""
    nfs: str = ""  # yes | no
    host_key: str = ""  # OpenSSH private ed25519 key
    authorized_key: str = ""  # OpenSSH public key
    lease_seconds: str = ""  # the lease from boot; empty or 0: none
    idle_minutes: str = ""  # idle stop; empty or 0: none
    logging: str = ""  # central_logging_level: 0 (off), 1 or 2; default 1
    log_max_use: str = ""  # the controller's log store bound, like 1G (default)

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise ValueError(f"role must be one of {_ROLES}, got {self.role!r}")
        if self.registry_storage not in _REGISTRY_STORAGES:
            raise ValueError(
                f"registry_storage must be filesystem or s3, got {self.registry_storage!r}"
            )
        if self.nfs not in _NFS_VALUES:
            raise ValueError(f"nfs must be yes or no, got {self.nfs!r}")
        for name in ("lease_seconds", "idle_minutes"):
            if not getattr(self, name).isdigit() and getattr(self, name) != "":
                raise ValueError(f"{name} must be a whole number, got {getattr(self, name)!r}")

    def shell_assignments(self) -> str:
        """One ``CLUSTEROUS_NAME='value'`` line per parameter, safe for any value."""
        return "\n".join(
            f"CLUSTEROUS_{field.name.upper()}={shlex.quote(getattr(self, field.name))}"
            for field in fields(self)
        )


def bootstrap_template() -> str:
    return resources.files(__package__).joinpath("bootstrap.sh").read_text(encoding="utf-8")


# The end of a line that opens a here-document: <<EOF, <<'EOF', <<-"EOF".
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1\s*$")


def without_comments(script: str) -> str:
    """The script without its comment lines, here-documents kept byte for byte.

    EC2 takes at most 16 KB of user-data, gzipped or not, and the bootstrap's
    comments are a quarter of it. A line is dropped only when it is a whole
    comment outside any here-document (and not the shebang or the parameters'
    marker), so what bash runs is the same: tests compare ``declare -f``.
    """
    kept: list[str] = []
    closing: str | None = None
    for number, line in enumerate(script.split("\n")):
        if closing is not None:
            kept.append(line)
            if line.lstrip("\t") == closing:
                closing = None
            continue
        stripped = line.strip()
        if stripped.startswith("#") and number > 0 and stripped != PARAMETERS_MARKER:
            continue
        kept.append(line)
        opened = _HEREDOC.search(line)
        if opened is not None:
            closing = opened.group(2)
    return "\n".join(kept)


def render_bootstrap(params: BootstrapParams, compact: bool = False) -> str:
    """The bootstrap script with the parameters in place of its marker line.

    ``compact`` leaves out the comment lines (see ``without_comments``): the
    user-data does, since it must fit EC2's limit.
    """
    template = bootstrap_template()
    lines = (without_comments(template) if compact else template).split("\n")
    at = [i for i, line in enumerate(lines) if line.strip() == PARAMETERS_MARKER]
    if len(at) != 1:
        raise RuntimeError(f"bootstrap.sh must hold the line {PARAMETERS_MARKER!r} exactly once")
    lines[at[0]] = params.shell_assignments()
    return "\n".join(lines)
