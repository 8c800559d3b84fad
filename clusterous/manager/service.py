"""The operations the CLI calls: one function per command, collaborators built here.

This is the seam between Click and the manager: commands pass plain values in
and get plain results back to render, so no command knows about ledgers,
providers or SSH, and tests can call the same functions directly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from clusterous.errors import ClusterousError, InputError
from clusterous.home import Home, check_cluster_name
from clusterous.manager.access import ClusterAccess
from clusterous.manager.create import ClusterCreator, CreateOptions, refuse_existing
from clusterous.manager.current import resolve_cluster_name, set_current_cluster
from clusterous.manager.destroy import destroy_cluster
from clusterous.manager.ledger import Ledger
from clusterous.manager.lock import Warn, cluster_lock, unheard
from clusterous.manager.plan import ClusterPlan, GroupRequest, default_groups, plan_cluster
from clusterous.manager.report import Reporter
from clusterous.manager.scale import ScaleContext, add_nodes, rm_nodes
from clusterous.manager.status import ClusterStatus, cluster_status
from clusterous.providers.base import Provider, SweepReport
from clusterous.providers.factory import make_provider
from clusterous.records import ClusterState, NodeRecord

if TYPE_CHECKING:
    from clusterous.config import Profile
    from clusterous.providers.aws.ec2 import Ec2
    from clusterous.providers.aws.volumes import SharedVolume

DEFAULT_CLUSTER_NAME = "my-cluster"
PROFILE_IN_STATE = re.compile(r'"profile"\s*:\s*"([A-Za-z0-9][A-Za-z0-9_.-]{0,63})"')
DEFAULT_WORKERS = 2


@dataclass(frozen=True)
class ClusterHandle:
    """Everything needed to act on one existing cluster."""

    name: str
    home: Home
    ledger: Ledger
    access: ClusterAccess
    provider: Provider

    def state(self) -> ClusterState:
        return self.ledger.load()


def choose_profile(home: Home, override: str | None, provider: str | None) -> Profile:
    """The configuration profile to use; ``--provider`` picks one of that provider."""
    from clusterous.config import load_config

    config = load_config(home)
    profile = config.get(override) if override else config.current()
    if provider is None or provider == profile.provider:
        return profile
    matching = [p for p in config.profiles.values() if p.provider == provider]
    if not matching:
        raise InputError(
            f"no configuration profile uses the {provider} provider",
            None,
            "run 'clusterous setup' to configure AWS" if provider == "aws" else None,
        )
    return matching[0]


@dataclass(frozen=True)
class CreateRequest:
    profile_file: Path | None = None
    name: str | None = None
    workers: int | None = None
    provider: str | None = None


def plan_create(
    home: Home, profile_override: str | None, request: CreateRequest
) -> tuple[ClusterPlan, Provider]:
    if request.workers is not None and request.workers < 0:
        raise InputError(f"--workers must be 0 or more, got {request.workers}")
    if request.profile_file is None:
        name = check_cluster_name(request.name or DEFAULT_CLUSTER_NAME)
        groups = default_groups(
            request.workers if request.workers is not None else DEFAULT_WORKERS, None, None
        )
        profile = choose_profile(home, profile_override, request.provider)
        provider = make_provider(profile, name, home)
        plan = plan_cluster(name, provider, profile.name, groups)
    else:
        plan, provider = _plan_from_file(home, profile_override, request)
    refuse_existing(plan.name, Ledger(home, plan.name), provider)
    return plan, provider


def _plan_from_file(
    home: Home, profile_override: str | None, request: CreateRequest
) -> tuple[ClusterPlan, Provider]:
    from clusterous.formats import load_cluster_profile

    assert request.profile_file is not None
    spec = load_cluster_profile(request.profile_file)
    name = check_cluster_name(request.name or spec.name)
    groups = [
        GroupRequest(g, group.type, group.count, group.spot, group.spot_fallback)
        for g, group in spec.node_groups.items()
    ]
    if request.workers is not None:
        groups = _override_workers(groups, request.workers)
    profile = choose_profile(home, profile_override, request.provider or spec.provider)
    provider = make_provider(profile, name, home)
    plan = plan_cluster(
        name,
        provider,
        profile.name,
        groups,
        spec.controller_type,
        spec.shared_volume_size,
        spec.shared_volume_id,
        spec.environment_file,
    )
    return plan, provider


def _override_workers(groups: list[GroupRequest], workers: int) -> list[GroupRequest]:
    if not any(g.name == "worker" for g in groups):
        raise InputError(
            "--workers sets the size of the 'worker' group, and this profile has none",
            f"its groups are: {', '.join(g.name for g in groups)}",
            "edit the counts in the profile instead",
        )
    return [replace(g, count=workers) if g.name == "worker" else g for g in groups]


def create(
    home: Home, plan: ClusterPlan, provider: Provider, reporter: Reporter, options: CreateOptions
) -> ClusterState:
    ledger = Ledger(home, plan.name)
    creator = ClusterCreator(
        plan, provider, ledger, ClusterAccess.of(home, plan.name), reporter, options
    )
    with cluster_lock(home, plan.name, reporter.warn):
        state = creator.create()
        set_current_cluster(home, plan.name)
    return state


def open_cluster(home: Home, name: str | None, profile_override: str | None) -> ClusterHandle:
    """An existing cluster known to this machine, with the provider it was made with."""
    from clusterous.config import load_config

    name = resolve_cluster_name(home, name)
    ledger = Ledger(home, name)
    state = ledger.load()
    config = load_config(home)
    wanted = profile_override or state.profile
    profile = config.get(wanted) if wanted in config.profiles else config.current()
    if profile.provider != state.provider:
        profile = choose_profile(home, None, state.provider)
    provider = make_provider(profile, name, home)
    return ClusterHandle(name, home, ledger, ClusterAccess.of(home, name), provider)


def status(handle: ClusterHandle) -> ClusterStatus:
    return cluster_status(handle.state(), handle.provider, handle.access)


def scale_context(handle: ClusterHandle, reporter: Reporter, timeout: float) -> ScaleContext:
    return ScaleContext(handle.provider, handle.ledger, handle.access, reporter, timeout)


def grow(
    handle: ClusterHandle,
    reporter: Reporter,
    count: int,
    group: str | None,
    itype: str | None,
    timeout: float,
) -> list[NodeRecord]:
    with cluster_lock(handle.home, handle.name, reporter.warn):
        return add_nodes(scale_context(handle, reporter, timeout), group, count, itype)


def shrink(
    handle: ClusterHandle, reporter: Reporter, count: int, group: str | None, timeout: float
) -> list[NodeRecord]:
    with cluster_lock(handle.home, handle.name, reporter.warn):
        return rm_nodes(scale_context(handle, reporter, timeout), group, count)


def destroy(
    home: Home,
    name: str | None,
    profile_override: str | None,
    keep_volume: bool,
    reporter: Reporter,
) -> tuple[str, SweepReport]:
    """Destroy by ledger and by label; works when the local files are gone or damaged.

    A damaged state file is set aside first (and said so), then the cluster is
    swept by label or tag as if its local files were gone.
    """
    if name is None:
        name = resolve_cluster_name(home, None)
    name = check_cluster_name(name)
    ledger = Ledger(home, name)
    with cluster_lock(home, name, reporter.warn):
        profile_override = set_aside_if_damaged(home, ledger, profile_override, reporter.warn)
        provider = _destroy_provider(home, name, profile_override, ledger)
        if ledger.exists():
            from clusterous.environments.tunnels import stop_all

            stop_all(ledger.load().tunnels)  # they would only fail from now on
        report = destroy_cluster(name, provider, ledger, keep_volume, reporter)
    if not report.leftovers:
        from clusterous.manager.current import current_cluster

        if current_cluster(home) in (None, name):
            set_current_cluster(home, None)
    return name, report


def _destroy_provider(
    home: Home, name: str, profile_override: str | None, ledger: Ledger
) -> Provider:
    """The provider the cluster was made with, or the profile's when the ledger is gone."""
    if ledger.exists() and not ledger.is_damaged():
        return open_cluster(home, name, profile_override).provider
    return make_provider(choose_profile(home, profile_override, None), name, home)


@dataclass(frozen=True)
class VolumeQuestion:
    """A shared volume a destroy would delete, worth asking the user about."""

    volume: str
    free_to_keep: bool  # a directory on this machine: keeping it costs nothing


def volume_question(home: Home, name: str, profile_override: str | None) -> VolumeQuestion | None:
    """The shared volume a destroy of ``name`` would delete, when it is worth asking about.

    AWS volumes hold files and cost money; a local shared directory is asked
    about only when it holds files. None when there is nothing to ask.
    """
    name = check_cluster_name(name)
    ledger = Ledger(home, name)
    provider = _destroy_provider(home, name, profile_override, ledger)
    ask = getattr(provider, "shared_volume_question", None)
    if ask is None:
        return None
    state = ledger.load() if ledger.exists() and not ledger.is_damaged() else None
    volume: str | None = ask(state)
    if volume is None:
        return None
    return VolumeQuestion(volume, free_to_keep=provider.name == "local")


def workon(
    home: Home, name: str, profile_override: str | None, warn: Warn = unheard
) -> ClusterState:
    """Make a cluster the current one; rebuild its local files from the cluster if lost.

    A damaged state file is set aside (and said so) and rebuilt like a lost one.
    """
    name = check_cluster_name(name)
    ledger = Ledger(home, name)
    if not ledger.exists() or ledger.is_damaged():
        with cluster_lock(home, name, warn):
            profile_override = set_aside_if_damaged(home, ledger, profile_override, warn)
            if not ledger.exists():
                _adopt(home, name, profile_override, ledger)
    set_current_cluster(home, name)
    return ledger.load()


def set_aside_if_damaged(
    home: Home, ledger: Ledger, profile_override: str | None, warn: Warn
) -> str | None:
    """Move an unreadable state file out of the way, so cleanup and rebuild can go on.

    Returns the profile to go on with: the one asked for, else the one the
    damaged file still names, else None (the current one, said so: a cluster
    made with another profile would not be found with it).
    """
    damage = ledger.is_damaged()
    if damage is None:
        return profile_override
    text = ledger.path.read_bytes().decode("utf-8", "replace")
    aside = ledger.set_aside()
    warn(f"{damage.what}: {damage.why}; it was set aside as {aside}")
    return profile_override or _profile_named_in(home, text, warn)


def _profile_named_in(home: Home, damaged_text: str, warn: Warn) -> str | None:
    from clusterous.config import load_config

    found = PROFILE_IN_STATE.search(damaged_text)
    named = found[1] if found else None
    if named and named in load_config(home).profiles:
        warn(f"going on with profile {named!r}, which the damaged file names")
        return named
    unknown = f"names profile {named!r}, unknown here" if named else "names no profile"
    warn(
        f"the damaged file {unknown}: going on with the current profile; if the cluster "
        "was made with another, run again with --profile NAME"
    )
    return None


def _adopt(home: Home, name: str, profile_override: str | None, ledger: Ledger) -> None:
    profile = choose_profile(home, profile_override, None)
    provider = make_provider(profile, name, home)
    if name not in provider.list_clusters():
        raise ClusterousError(
            f"no cluster named {name!r} found with profile {profile.name!r}",
            None,
            "see 'clusterous ls-clusters'; pick the right profile with --profile",
        )
    access = ClusterAccess.of(home, name)
    state = provider.adopt(access.login_key_for(profile))
    state.profile = profile.name
    for node in state.nodes:
        access.known_hosts.add(access.alias(node.name), provider.host_public_key(node.name))
    ledger.create(state)


@dataclass(frozen=True)
class ClusterListing:
    name: str
    provider: str
    status: str
    nodes: int
    current: bool
    local_files: bool


def list_clusters(home: Home, profile_override: str | None) -> list[ClusterListing]:
    from clusterous.manager.current import current_cluster

    current = current_cluster(home)
    rows: dict[str, ClusterListing] = {}
    for name in home.cluster_names():
        rows[name] = _local_listing(Ledger(home, name), name == current)
    profile = choose_profile(home, profile_override, None)
    found = make_provider(profile, "listing", home).list_clusters()
    for name, count in found.items():
        if name in rows:
            rows[name] = ClusterListing(
                name, rows[name].provider, rows[name].status, count, name == current, True
            )
        else:
            rows[name] = ClusterListing(
                name, profile.provider, "not on this machine", count, False, False
            )
    return [rows[n] for n in sorted(rows)]


def _local_listing(ledger: Ledger, current: bool) -> ClusterListing:
    if ledger.is_damaged():
        status = f"state file damaged: 'clusterous workon {ledger.name}' rebuilds it"
        return ClusterListing(ledger.name, "?", status, 0, current, True)
    state = ledger.load()
    return ClusterListing(
        ledger.name, state.provider, state.status, len(state.nodes), current, True
    )


def _aws_ec2(home: Home, profile_override: str | None) -> Ec2:
    profile = choose_profile(home, profile_override, None)
    if not profile.is_aws:
        raise InputError(
            f"profile {profile.name!r} is not an AWS profile",
            "shared volumes are kept and listed on AWS only",
            "pick an AWS profile with --profile NAME",
        )
    from clusterous.providers.aws.provider import AwsProvider

    return AwsProvider("volumes", home, profile).ec2


def list_volumes(home: Home, profile_override: str | None) -> list[SharedVolume]:
    """The shared volumes clusterous made in the AWS profile's region (ls-volumes)."""
    from clusterous.providers.aws.volumes import list_shared_volumes

    return list_shared_volumes(_aws_ec2(home, profile_override))


def remove_volume(home: Home, profile_override: str | None, volume_id: str) -> SharedVolume:
    """Delete one kept shared volume (rm-volume)."""
    from clusterous.providers.aws.volumes import remove_shared_volume

    return remove_shared_volume(_aws_ec2(home, profile_override), volume_id)
