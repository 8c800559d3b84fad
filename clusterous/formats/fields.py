"""Parsers for the small values of both file formats (ports, cpu, counts...).

Each parser takes what YAML produced and returns the normalised value, or
raises ValueError with a sentence that says what was expected and what was
found. The models use them as pydantic ``BeforeValidator`` functions; the
default cluster, which has no YAML of its own, calls them directly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BeforeValidator

from clusterous.formats.problems import describe

GROUP_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
COMPONENT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
PARAMETER_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV_VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VOLUME_ID_RE = re.compile(r"^vol-[0-9a-f]{8}(?:[0-9a-f]{9})?$")
_MEMORY_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
MIN_MEMORY_BYTES = 6 * 1024**2  # Docker refuses less
RESERVED_GROUP_NAMES = frozenset({"controller"})

Auto = Literal["auto"]
PortPair = tuple[int, int]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_cpu(value: object) -> float | Auto:
    """``cpu:`` a number of CPUs > 0, or "auto" (an even share of the node)."""
    if value == "auto":
        return "auto"
    if _is_number(value) and float(value) > 0:  # type: ignore[arg-type]
        return float(value)  # type: ignore[arg-type]
    raise ValueError(f'expected a number > 0 or "auto", got {describe(value)}')


def parse_component_count(value: object) -> int | Auto:
    """``count:`` of a component: an integer ≥ 1, or "auto" (⌊node CPUs ÷ cpu⌋ on each node)."""
    if value == "auto":
        return "auto"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f'expected an integer ≥ 1 or "auto", got {describe(value)}')


def parse_group_count(value: object, minimum: int = 0) -> int:
    """``count:`` of a node group: how many machines, an integer ≥ ``minimum``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    raise ValueError(f"expected an integer ≥ {minimum}, got {describe(value)}")


def parse_instance_type(value: object) -> str:
    """An instance type such as ``t3.large``; the provider checks that it exists."""
    if isinstance(value, str) and value.strip() and not any(c.isspace() for c in value):
        return value
    raise ValueError(f'expected an instance type such as "t3.large", got {describe(value)}')


def parse_word(value: object) -> str:
    """A non-empty string without spaces (image names, regions)."""
    if isinstance(value, str) and value and not any(c.isspace() for c in value):
        return value
    raise ValueError(f"expected a non-empty string without spaces, got {describe(value)}")


def parse_text(value: object) -> str:
    """A non-empty string."""
    if isinstance(value, str) and value.strip():
        return value
    raise ValueError(f"expected a non-empty string, got {describe(value)}")


def check_group_name(name: str) -> str:
    """Node group names become Swarm labels and tags: keep them simple."""
    if name in RESERVED_GROUP_NAMES:
        raise ValueError(f'"{name}" is reserved for the cluster\'s controller; choose another name')
    if not GROUP_NAME_RE.fullmatch(name):
        raise ValueError(
            f'invalid node group name "{name}": use lowercase letters, digits, "-" and "_", '
            "starting with a letter"
        )
    return name


def check_component_name(name: str) -> str:
    """Component names become Swarm service names."""
    if not COMPONENT_NAME_RE.fullmatch(name):
        raise ValueError(
            f'invalid component name "{name}": use letters, digits, "-" and "_" (at most 63)'
        )
    return name


_PORTS_HELP = (
    'expected a port ("8888"), a "host:container" pair ("2000:8000"), '
    "a comma-separated list of those, or a list"
)


def _port(text: str, original: object) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"{_PORTS_HELP}, got {describe(original)}")
    if not 1 <= int(text) <= 65535:
        raise ValueError(f"port {int(text)} is out of range (1-65535) in {describe(original)}")
    return int(text)


def _port_pairs(item: object) -> list[PortPair]:
    if isinstance(item, int) and not isinstance(item, bool):
        return [(_port(str(item), item), _port(str(item), item))]
    if not isinstance(item, str) or not item.strip():
        raise ValueError(f"{_PORTS_HELP}, got {describe(item)}")
    pairs = []
    for part in item.split(","):
        host, _, container = part.strip().partition(":")
        pairs.append((_port(host, item), _port(container or host, item)))
    return pairs


def parse_ports(value: object) -> list[PortPair]:
    """``ports:`` in any Clusterous 1.0 form, as (host_port, container_port) pairs."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    pairs = [pair for item in items for pair in _port_pairs(item)]
    hosts = [host for host, _ in pairs]
    repeated = sorted({host for host in hosts if hosts.count(host) > 1})
    if repeated:
        raise ValueError(f"host port {repeated[0]} is published twice")
    return pairs


def parse_depends(value: object) -> list[str]:
    """``depends:`` a name, "a, b", or a list of names."""
    if value is None:
        return []
    if isinstance(value, str):
        names = [name.strip() for name in value.split(",")]
    elif isinstance(value, list) and all(isinstance(name, str) for name in value):
        names = [name.strip() for name in value]
    else:
        raise ValueError(
            f'expected a component name, "a, b", or a list of names, got {describe(value)}'
        )
    if not all(names):
        raise ValueError(f"an empty component name in {describe(value)}")
    return list(dict.fromkeys(names))


def parse_cmd(value: object) -> str | list[str] | None:
    """``cmd:`` a shell command line (a string) or an argument list."""
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    if isinstance(value, list) and value and all(isinstance(arg, str) for arg in value):
        return value
    raise ValueError(f"expected a command (a string or a list of strings), got {describe(value)}")


def parse_memory(value: object) -> int | None:
    """``memory:`` bytes, or a size such as "512m" or "2g"; at least 6m."""
    if value is None:
        return None
    size: float | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (match := _MEMORY_RE.fullmatch(value.strip())):
        size = float(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()]
    if size is None:
        raise ValueError(f'expected a memory size such as "512m" or "2g", got {describe(value)}')
    if size < MIN_MEMORY_BYTES:
        raise ValueError(f"must be at least 6m (Docker's minimum), got {describe(value)}")
    return int(size)


def parse_env_vars(value: object) -> dict[str, str]:
    """``environment:`` of a component: NAME: value, values written as text."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of NAME: value, got {describe(value)}")
    result = {}
    for name, item in value.items():
        if not ENV_VAR_NAME_RE.fullmatch(name):
            raise ValueError(f'invalid environment variable name "{name}"')
        if isinstance(item, dict | list) or item is None:
            raise ValueError(f"{name}: expected a string or a number, got {describe(item)}")
        result[name] = describe(item) if isinstance(item, bool) else str(item)
    return result


_SERVICE_HELP = 'expected "local_port:component:remote_port" (for example "8888:master:8888")'


def parse_tunnel_service(value: object) -> tuple[int, str, int]:
    """``service:`` of ``expose_tunnel``: local port, component, remote port."""
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 3 or not parts[1].strip():
        raise ValueError(f"{_SERVICE_HELP}, got {describe(value)}")
    local, component, remote = (part.strip() for part in parts)
    for port in (local, remote):
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"{_SERVICE_HELP}, got {describe(value)} (ports are 1-65535)")
    return int(local), component, int(remote)


def parse_volume_id(value: object) -> str:
    """An EBS volume id such as ``vol-12d32ad8``."""
    if isinstance(value, str) and VOLUME_ID_RE.fullmatch(value):
        return value
    raise ValueError(
        f'expected an EBS volume id such as "vol-0123456789abcdef0", got {describe(value)}'
    )


def parse_positive_number(value: object) -> float:
    if _is_number(value) and float(value) > 0:  # type: ignore[arg-type]
        return float(value)  # type: ignore[arg-type]
    raise ValueError(f"expected a number > 0, got {describe(value)}")


def parse_volume_size(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 16384:
        return value
    raise ValueError(f"expected a size in GiB, an integer from 1 to 16384, got {describe(value)}")


InstanceType = Annotated[str, BeforeValidator(parse_instance_type)]
Word = Annotated[str, BeforeValidator(parse_word)]
Text = Annotated[str, BeforeValidator(parse_text)]


MAX_ARRAY_TASKS = 100_000
_ARRAY_PART_RE = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_array(value: object) -> list[int]:
    """A job array: "1-1000", or indices and ranges joined by commas ("1,5,10-20")."""
    text = str(value).strip() if isinstance(value, str | int) else ""
    indices: list[int] = []
    for part in text.split(","):
        match = _ARRAY_PART_RE.fullmatch(part.strip())
        if not match:
            raise ValueError(
                f'expected a range such as "1-1000" or a list such as "1,5,10-20", '
                f"got {describe(value)}"
            )
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise ValueError(
                f"the range {part.strip()} ends before it starts: write {last}-{first}"
            )
        indices.extend(range(first, last + 1))
        if len(indices) > MAX_ARRAY_TASKS:
            raise ValueError(f"at most {MAX_ARRAY_TASKS} tasks in one job, got more")
    return sorted(set(indices))


def parse_optional_array(value: object) -> list[int] | None:
    return None if value is None else parse_array(value)


def parse_job_cpus(value: object) -> float | None:
    """``cpus:`` of a job: a number of CPUs above 0 (fractions allowed)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(
            f"expected a number of CPUs above 0, such as 1 or 0.5, got {describe(value)}"
        )
    return float(value)


def parse_workdir(value: object) -> str | None:
    """``workdir:`` of a job: /data or a directory under it, so that every node has it."""
    if value is None:
        return None
    parts = str(value).split("/") if isinstance(value, str) else []
    clean = "/" + "/".join(p for p in parts if p not in ("", "."))
    if not parts or ".." in parts or not (clean == "/data" or clean.startswith("/data/")):
        raise ValueError(
            f"expected /data or a directory under it (the shared volume), got {describe(value)}"
        )
    return clean


def compact_array(indices: Sequence[int]) -> str:
    """1,2,3,7,9,10 -> "1-3,7,9-10"."""
    parts: list[str] = []
    ordered = sorted(indices)
    start = previous = ordered[0] if ordered else 0
    for index in [*ordered[1:], None]:
        if index is not None and index == previous + 1:
            previous = index
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if index is not None:
            start = previous = index
    return ",".join(parts) if ordered else ""
