"""Environment use cases: run an environment file, quit it, keep its tunnels open.

Each function takes a ClusterHandle (``operations.clusters.open_cluster``),
opens one SSH session to the controller (pinned host key) and the docker SDK
on the controller's engine through it. Nothing here knows which provider made
the cluster. The running environment and its tunnels are recorded in the
cluster's state as soon as each exists.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterous.engine.swarm import engine_client
from clusterous.environments import tunnels
from clusterous.environments.deploy import DeployPlan, plan_deploy
from clusterous.environments.files import Transfer, open_volume
from clusterous.errors import ClusterousError, InputError
from clusterous.manager.lock import Warn, cluster_lock
from clusterous.manager.report import Reporter
from clusterous.operations.handle import ClusterHandle, open_cluster
from clusterous.records import EnvironmentRecord, TunnelRecord

if TYPE_CHECKING:
    import docker

    from clusterous.environments.swarm_apps import Replanned
    from clusterous.formats import Environment
    from clusterous.remote.ssh import Session

DEFAULT_RUN_TIMEOUT = 600.0
QUIT_TIMEOUT = 30.0


@dataclass
class RunResult:
    environment: str
    components: list[str]
    images_built: list[str] = field(default_factory=list)
    images_skipped: list[str] = field(default_factory=list)
    files: Transfer = field(default_factory=Transfer)
    tunnels: list[TunnelRecord] = field(default_factory=list)


@contextmanager
def controller(handle: ClusterHandle) -> Iterator[Session]:
    with handle.access.connect_controller(handle.state()) as session:
        yield session


@contextmanager
def engine(handle: ClusterHandle) -> Iterator[tuple[Session, docker.DockerClient]]:
    import docker as docker_sdk

    with controller(handle) as session, engine_client(session) as client:
        try:
            yield session, client
        except docker_sdk.errors.DockerException as problem:
            raise ClusterousError(
                "the controller's Docker engine refused a request", str(problem)
            ) from problem


def running_environment(handle: ClusterHandle) -> EnvironmentRecord | None:
    return handle.state().environment


def load(path: Path) -> Environment:
    from clusterous.formats import load_environment

    if not path.is_file():
        raise InputError(f"no environment file at {path}", None, "check the path")
    return load_environment(path)


# -- run --------------------------------------------------------------------------


def run(
    handle: ClusterHandle, path: Path, reporter: Reporter, timeout: float = DEFAULT_RUN_TIMEOUT
) -> RunResult:
    """Copy, build, deploy in dependency order, then open the tunnels."""
    with cluster_lock(handle.home, handle.name, reporter.warn):
        return run_locked(handle, path, reporter, timeout)


def run_locked(
    handle: ClusterHandle, path: Path, reporter: Reporter, timeout: float = DEFAULT_RUN_TIMEOUT
) -> RunResult:
    """``run`` for a caller that already holds the cluster's lock (create)."""
    from clusterous.environments import images, swarm_apps

    environment = load(path)
    refuse_host_network(environment, path, handle.provider.name)
    deadline = time.monotonic() + timeout
    result = RunResult(environment.name, [])
    with engine(handle) as (session, client):
        plan = plan_deploy(environment, swarm_apps.node_cpus(client))
        _check_tunnel_ports(handle, environment)
        result.files = _copy(session, environment, reporter)
        _build_images(client, environment, reporter, result)
        images.check_pullable(client, [s.image for s in plan.services])
        _replace_previous(handle, client, deadline, reporter)
        _deploy(handle, client, plan, path, deadline, reporter)
        result.components = [s.name for s in plan.services]
        result.tunnels = _open_tunnels(handle, client, environment, reporter)
    return result


def refuse_host_network(environment: Environment, path: Path, provider: str) -> None:
    """``docker_network: host`` is refused on the local provider, with FILE:LINE.

    There a host-network component shares its node container's network
    namespace, so it could reach what the node reaches, the host's Docker
    engine included. On AWS it shares a VM's network only, as in Clusterous 1.0.
    """
    if provider != "local":
        return
    hosted = [n for n, c in environment.components.items() if c.docker_network == "host"]
    if not hosted:
        return
    from clusterous.formats.problems import Findings
    from clusterous.formats.source import read_document

    document = read_document(path)
    findings = Findings()
    for name in hosted:
        findings.add(
            document.problem(
                ("environment", "components", name, "docker_network"),
                "docker_network: host is refused on the local provider: the component would "
                "share its node container's network and could reach your Docker engine "
                "through the node; remove the line and publish the ports it needs under "
                "'ports:' (or run the file on an AWS cluster, where host networking is kept)",
            )
        )
    findings.raise_if_any()


def _check_tunnel_ports(handle: ClusterHandle, environment: Environment) -> None:
    ours = {t.local_port for t in handle.state().tunnels}
    for tunnel in environment.tunnels:
        if tunnel.local_port not in ours:
            tunnels.check_port(tunnel.local_port, tunnel.component)


def _copy(session: Session, environment: Environment, reporter: Reporter) -> Transfer:
    total = Transfer()
    if not environment.copy_dirs:
        return total
    reporter.step(f"copying {len(environment.copy_dirs)} director(ies) to /data")
    volume = open_volume(session.transport)
    try:
        for directory in environment.copy_dirs:
            if not directory.is_dir():
                raise InputError(
                    f"the directory {directory} named under 'copy:' does not exist",
                    None,
                    "fix 'copy:' in the environment file (it is relative to the file)",
                )
            done = volume.put(directory, None, lambda p: reporter.detail(f"sent {p}"))
            for warning in done.skipped:
                reporter.warn(warning)
            total.add(done)
    finally:
        volume.sftp.close()
    reporter.done(f"files: {total.sent} sent, {total.unchanged} unchanged")
    return total


def _build_images(
    client: docker.DockerClient, environment: Environment, reporter: Reporter, result: RunResult
) -> None:
    from clusterous.environments import images

    for spec in environment.images:
        reporter.step(f"image {spec.image_name}: building on the controller")
        built = images.build_and_push(client, spec.dockerfile, spec.image_name, reporter.detail)
        if built.built:
            result.images_built.append(built.image)
            reporter.done(f"image {built.image} built and pushed")
        else:
            result.images_skipped.append(built.image)
            reporter.done(f"image {built.image} unchanged: build skipped")


def _replace_previous(
    handle: ClusterHandle, client: docker.DockerClient, deadline: float, reporter: Reporter
) -> None:
    from clusterous.environments import swarm_apps

    previous = running_environment(handle)
    stopped = tunnels.stop_all(handle.state().tunnels, handle.name)
    removed = swarm_apps.remove_environment(
        client, None, previous.network if previous else None, deadline
    )
    handle.ledger.set_environment(None)
    if removed or stopped:
        reporter.done(f"stopped the previous environment ({', '.join(removed) or 'tunnels'})")


def _deploy(
    handle: ClusterHandle,
    client: docker.DockerClient,
    plan: DeployPlan,
    path: Path,
    deadline: float,
    reporter: Reporter,
) -> None:
    from clusterous.environments import swarm_apps

    swarm_apps.ensure_network(client, plan.network, plan.environment)
    started: list[str] = []
    for spec in plan.services:
        swarm_apps.create_service(client, spec, plan.network)
        started.append(spec.name)
        _record_environment(handle, plan, path, started)
        swarm_apps.wait_running(
            client,
            spec,
            deadline,
            lambda p: reporter.node(p.component, f"{p.running}/{p.desired} running"),
        )
        reporter.done(f"{spec.name} running")


def _record_environment(
    handle: ClusterHandle, plan: DeployPlan, path: Path, started: list[str]
) -> None:
    record = EnvironmentRecord(
        name=plan.environment,
        file=str(path.resolve()),
        network=plan.network,
        components=tuple(started),
        started_at=time.time(),
    )
    handle.ledger.set_environment(record)


def replan_locked(handle: ClusterHandle, reporter: Reporter, timeout: float) -> list[str]:
    """After add-nodes or rm-nodes: ``count: auto`` components follow their groups' nodes.

    The nodes are already added or removed, so a component that does not
    reach its new count is warned about, not failed: the command did its part.
    Returns one line per component whose count changed.
    """
    from clusterous.environments import swarm_apps

    if running_environment(handle) is None:
        return []
    lines = []
    with engine(handle) as (_, client):
        for change in swarm_apps.replan_auto_counts(client):
            line = f"{change.component}: {change.before} -> {change.after} tasks (count: auto)"
            reporter.step(line)
            lines.append(line)
            if change.after > 0:
                _wait_replanned(client, change, time.monotonic() + timeout, reporter)
    return lines


def _wait_replanned(
    client: docker.DockerClient, change: Replanned, deadline: float, reporter: Reporter
) -> None:
    from clusterous.environments import swarm_apps

    try:
        swarm_apps.wait_running(
            client,
            change,
            deadline,
            lambda p: reporter.node(p.component, f"{p.running}/{p.desired} running"),
        )
        reporter.done(f"{change.component} running")
    except ClusterousError as problem:
        reporter.warn(problem.render())


# -- tunnels ----------------------------------------------------------------------


def _open_tunnels(
    handle: ClusterHandle, client: docker.DockerClient, environment: Environment, reporter: Reporter
) -> list[TunnelRecord]:
    from clusterous.environments import swarm_apps

    opened = []
    for tunnel in environment.tunnels:
        host = swarm_apps.component_address(client, tunnel.component)
        wanted = TunnelRecord(
            tunnel.local_port, tunnel.component, host, tunnel.remote_port, 0, tunnel.message
        )
        record = _start_tunnel(handle, wanted)
        opened.append(record)
        reporter.done(f"tunnel localhost:{record.local_port} -> {tunnel.component}")
    return opened


def _start_tunnel(handle: ClusterHandle, wanted: TunnelRecord) -> TunnelRecord:
    log = handle.ledger.dir / f"tunnel-{wanted.local_port}.log"
    record = tunnels.start(handle.home.root, handle.name, wanted, log)
    handle.ledger.record_tunnel(record)
    return record


def reopen_tunnels(handle: ClusterHandle, warn: Warn) -> list[tuple[TunnelRecord, str]]:
    """Every recorded tunnel, re-opened unless it works: (record, "open"|"reopened").

    Open means its process runs (command line and start time match the
    record), its port answers, and its remote end answers through the
    controller; any other tunnel is stopped and opened again.
    """
    from clusterous.environments import swarm_apps

    records = handle.state().tunnels
    if not records:
        return []
    with controller(handle) as session:
        why = {r.local_port: _why_not_open(session, handle.name, r) for r in records}
    broken = [r for r in records if why[r.local_port]]
    results = [(r, "open") for r in records if r not in broken]
    if broken:
        with cluster_lock(handle.home, handle.name, warn), engine(handle) as (_, client):
            for record in broken:
                port = record.local_port
                warn(f"the tunnel localhost:{port} did not work ({why[port]}); opening it again")
                tunnels.stop(record, handle.name)
                host = swarm_apps.component_address(client, record.component)
                fresh = TunnelRecord(
                    record.local_port, record.component, host, record.remote_port, 0, record.message
                )
                tunnels.check_port(record.local_port, record.component)
                results.append((_start_tunnel(handle, fresh), "reopened"))
    return results


def _why_not_open(session: Session, cluster: str, record: TunnelRecord) -> str | None:
    why = tunnels.why_not_open(record, cluster)
    if why is not None:
        return why
    try:
        session.open_channel(record.remote_host, record.remote_port).close()
    except Exception:
        return f"{record.component}:{record.remote_port} does not answer at {record.remote_host}"
    return None


# -- quit ---------------------------------------------------------------------------


@dataclass
class QuitResult:
    environment: str | None
    services: list[str]
    tunnels: list[TunnelRecord]


def quit_environment(handle: ClusterHandle, tunnel_only: bool, warn: Warn) -> QuitResult:
    with cluster_lock(handle.home, handle.name, warn):
        return _quit(handle, tunnel_only)


def _quit(handle: ClusterHandle, tunnel_only: bool) -> QuitResult:
    from clusterous.environments import swarm_apps

    state = handle.state()
    running = state.environment
    stopped = tunnels.stop_all(state.tunnels, handle.name)
    handle.ledger.forget_tunnels()
    name = running.name if running else None
    if tunnel_only:
        return QuitResult(name, [], stopped)
    with engine(handle) as (_, client):
        removed = swarm_apps.remove_environment(
            client, None, running.network if running else None, time.monotonic() + QUIT_TIMEOUT
        )
    handle.ledger.set_environment(None)
    return QuitResult(name, removed, stopped)


# -- finding the cluster ------------------------------------------------------------


def cluster_for_run(
    home: Any, cluster: str | None, profile_override: str | None, path: Path
) -> ClusterHandle:
    """The cluster to run on; without one, say how to create a cluster for this file."""
    try:
        return open_cluster(home, cluster, profile_override)
    except InputError as problem:
        if home.cluster_names() and cluster is None:
            raise
        environment = load(path)
        raise no_cluster_error(environment, path, cluster) from problem


def no_cluster_error(environment: Environment, path: Path, cluster: str | None) -> InputError:
    what = f"no cluster named {cluster!r}" if cluster else "there is no cluster to run on"
    if environment.cluster is None:
        return InputError(
            what,
            f"environment {environment.name!r} runs on a cluster with groups 'master' and 'worker'",
            "create one first: 'clusterous create --workers 2', then run the file again",
        )
    groups = ", ".join(environment.cluster)
    return InputError(
        what,
        f"{path.name} describes its own cluster (groups {groups})",
        "create it with a profile that names this file, e.g. a file cluster.yml with\n"
        f"       name: {environment.name.lower().replace('_', '-')}\n"
        f"       environment_file: {path}\n"
        "     then 'clusterous create cluster.yml' (which also runs the environment)",
    )
