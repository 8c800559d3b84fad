"""Checks across the fields of an environment file, once each field is valid.

A component may only run on a node group the cluster has, depend on
components that exist (and not in a circle), publish a host port no other
component on its node group publishes; a tunnel must reach a component that
exists on a port it serves. A ``copy:`` entry must stay inside the file's own
directory, so that a file from elsewhere cannot send the laptop's secrets
(``~/.ssh``, ``/etc``) to the cluster. Each problem points at the field to change.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from pathlib import Path

from clusterous.errors import Problem
from clusterous.formats.models import Component, EnvironmentSection, TunnelDocument
from clusterous.formats.problems import describe, suggest
from clusterous.formats.source import Document, FieldPath

COPY: FieldPath = ("environment", "copy")
COMPONENTS: FieldPath = ("environment", "components")
TUNNELS: FieldPath = ("environment", "expose_tunnel")
CONTROLLER = "controller"  # components may ask for the controller machine itself


def check_environment(
    section: EnvironmentSection, document: Document, groups: Collection[str]
) -> list[Problem]:
    """Every cross-field problem of ``section``, given the cluster's node groups."""
    return [
        *_copy_entries(section, document),
        *_machines(section, document, groups),
        *_dependencies(section, document),
        *_cycles(section, document),
        *_host_ports(section, document),
        *_tunnels(section, document),
    ]


def _copy_entries(section: EnvironmentSection, document: Document) -> Iterator[Problem]:
    base = document.path.parent
    for index, entry in enumerate(section.copy_):
        problem = _copy_escape(entry, base)
        if problem:
            rule = (
                f"copy: takes directories inside the environment file's directory ({base}), "
                'written relative to it, such as "scripts/"; move what you need there'
            )
            yield document.problem((*COPY, index), f"{problem}: {rule}")


def _copy_escape(entry: str, base: Path) -> str | None:
    """Why ``entry`` leads outside ``base``, or None when it stays inside."""
    shown = describe(entry)
    if entry.startswith("~"):
        return f"{shown} names a home directory"
    if os.path.isabs(entry):
        return f"{shown} is an absolute path"
    normal = os.path.normpath(entry)
    if normal == os.pardir or normal.startswith(os.pardir + os.sep):
        return f'{shown} leads out of the directory through ".."'
    real_base = os.path.realpath(base)
    real = os.path.realpath(base / normal)
    if os.path.commonpath([real_base, real]) != real_base:
        return f"{shown} leads out of the directory through a symbolic link (to {real})"
    return None


def _field(name: str, key: str) -> FieldPath:
    return (*COMPONENTS, name, key)


def _machines(
    section: EnvironmentSection, document: Document, groups: Collection[str]
) -> Iterator[Problem]:
    known = sorted(groups)
    for name, component in section.components.items():
        if component.machine not in groups and component.machine != CONTROLLER:
            message = (
                f'no node group named "{component.machine}"{suggest(component.machine, known)} '
                f"(node groups of this cluster: {', '.join(known) or 'none'})"
            )
            yield document.problem(_field(name, "machine"), message)


def _dependencies(section: EnvironmentSection, document: Document) -> Iterator[Problem]:
    names = list(section.components)
    for name, component in section.components.items():
        for needed in component.depends:
            if needed not in section.components:
                message = f'unknown component "{needed}"{suggest(needed, names)}'
                yield document.problem(_field(name, "depends"), message)


def _cycles(section: EnvironmentSection, document: Document) -> Iterator[Problem]:
    reported: set[frozenset[str]] = set()
    for cycle in _find_cycles(section.components):
        members = frozenset(cycle)
        if members not in reported:
            reported.add(members)
            message = f"dependency cycle: {' -> '.join(cycle)}"
            yield document.problem(_field(cycle[0], "depends"), message)


def _find_cycles(components: dict[str, Component]) -> Iterator[list[str]]:
    """Each cycle of ``depends``, as the path that closes it (``a -> b -> a``).

    Depth-first, without recursion: a long chain of components must not
    exhaust Python's stack.
    """
    visiting, done = set[str](), set[str]()
    for root in components:
        if root in done:
            continue
        trail, pending = [root], [iter(components[root].depends)]
        visiting.add(root)
        while pending:
            needed = next(pending[-1], None)
            if needed is None:
                finished = trail.pop()
                visiting.discard(finished)
                done.add(finished)
                pending.pop()
            elif needed in visiting:
                yield [*trail[trail.index(needed) :], needed]
            elif needed in components and needed not in done:
                visiting.add(needed)
                trail.append(needed)
                pending.append(iter(components[needed].depends))


def _host_ports(section: EnvironmentSection, document: Document) -> Iterator[Problem]:
    taken: dict[tuple[str, int], str] = {}
    for name, component in section.components.items():
        for port in component.host_ports:
            owner = taken.setdefault((component.machine, port), name)
            if owner != name:
                message = (
                    f'host port {port} is already published by component "{owner}" '
                    f'on node group "{component.machine}"'
                )
                yield document.problem(_field(name, "ports"), message)


def _tunnels(section: EnvironmentSection, document: Document) -> Iterator[Problem]:
    local_ports: dict[int, int] = {}
    for index, spec in enumerate(section.expose_tunnel):
        path = (*TUNNELS, index, "service")
        first = local_ports.setdefault(spec.service[0], index)
        if first != index:
            yield document.problem(
                path, f"local port {spec.service[0]} is already used by another tunnel"
            )
        problem = _tunnel_target(spec, section)
        if problem:
            yield document.problem(path, problem)


def _tunnel_target(spec: TunnelDocument, section: EnvironmentSection) -> str | None:
    _, name, remote = spec.service
    component = section.components.get(name)
    if component is None:
        return f'no component named "{name}"{suggest(name, section.components)}'
    if component.docker_network == "host" or remote in component.host_ports:
        return None
    published = ", ".join(str(port) for port in component.host_ports) or "none"
    return (
        f'component "{name}" publishes no host port {remote} (it publishes: {published}); '
        "add it to the component's ports, or use docker_network: host"
    )
