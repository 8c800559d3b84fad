"""Destroying a cluster: what to ask first, the sweep, and what counts as done.

Works when the local files are gone or damaged: a damaged state file is set
aside (and said so), and the cluster is swept by label or tag as if its files
were gone. A destroy that leaves anything behind is a failure naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from clusterous.errors import ClusterousError, InputError
from clusterous.home import Home, check_cluster_name
from clusterous.manager.current import current_cluster, resolve_cluster_name, set_current_cluster
from clusterous.manager.destroy import destroy_cluster
from clusterous.manager.ledger import Ledger
from clusterous.manager.lock import Warn, cluster_lock
from clusterous.manager.report import Reporter
from clusterous.operations.handle import (
    choose_profile,
    cluster_profile,
    in_region,
    open_cluster,
)
from clusterous.providers.base import Leftover, Provider, SweepResult
from clusterous.providers.factory import make_provider

PROFILE_IN_STATE = re.compile(r'"profile"\s*:\s*"([A-Za-z0-9][A-Za-z0-9_.-]{0,63})"')


def target(home: Home, name: str | None) -> str:
    """The cluster a destroy means: the one named, else the current one."""
    return check_cluster_name(name or resolve_cluster_name(home, None))


@dataclass(frozen=True)
class Destroyed:
    name: str
    removed: list[str]
    kept: list[str]  # what the user keeps on purpose (a shared volume, the registry's images)


def destroy(
    home: Home,
    name: str | None,
    profile_override: str | None,
    keep_volume: bool,
    reporter: Reporter,
    force: bool = False,
    keep_images: bool = False,
    region: str | None = None,
) -> Destroyed:
    """Destroy by ledger and by label/tag; anything left after the sweep is an error naming it.

    A ledger whose ownership id differs from the one found on the cluster's
    things refuses (they were made by another create of this name), unless
    ``force``. ``region`` (AWS) sweeps that region instead of the profile's:
    what a cluster this machine no longer knows left there.
    """
    name = target(home, name)
    ledger = Ledger(home, name)
    with cluster_lock(home, name, reporter.warn):
        profile_override = set_aside_if_damaged(home, ledger, profile_override, reporter.warn)
        provider = _destroy_provider(home, name, profile_override, ledger, region)
        if ledger.exists():
            check_ownership(name, ledger, provider, force, reporter.warn)
            from clusterous.environments.tunnels import stop_all

            state = ledger.load()  # the tunnels would only fail from now on
            stop_all([*state.tunnels, *([state.dashboard] if state.dashboard else [])], name)
        result = destroy_cluster(name, provider, ledger, keep_volume, reporter, keep_images)
    if result.leftovers:
        raise not_all_gone(name, result)
    if current_cluster(home) in (None, name):
        set_current_cluster(home, None)
    return Destroyed(name, result.removed, result.kept)


class NotYours(ClusterousError):
    """What destroy found carries another ownership id than this machine's ledger."""


class FindsOwners(Protocol):
    name: str

    def owner_ids(self) -> dict[str, list[str]]: ...


def check_ownership(
    name: str, ledger: Ledger, provider: FindsOwners, force: bool, warn: Warn
) -> None:
    """Refuse to sweep what another create of this name made, unless forced.

    Ledgers from before ownership ids (no id) are not checked.
    """
    ours = ledger.load().cluster_id
    if not ours:
        return
    foreign = {owner: what for owner, what in provider.owner_ids().items() if owner != ours}
    if not foreign:
        return
    found = "; ".join(
        f"{', '.join(what)} ({f'id {owner}' if owner else 'no id'})"
        for owner, what in sorted(foreign.items())
    )
    if force:
        warn(f"--force: destroying what another create of {name!r} made: {found}")
        return
    raise NotYours(
        f"cluster {name!r} found on {provider.name} is not the one this machine created",
        f"this machine's ledger has id {ours}; found {found}",
        f"if it is another person's cluster, leave it, and forget yours with 'rm -r "
        f"{ledger.dir}'; if it is yours all the same, 'clusterous destroy {name} --force'",
    )


def _leftover(item: Leftover) -> str:
    return f"{item.kind} {item.id}" + (f" ({item.why})" if item.why else "")


def not_all_gone(name: str, result: SweepResult) -> ClusterousError:
    left = ", ".join(
        f"{x.kind} {x.id}" + (f" ({x.why})" if x.why else "") for x in result.leftovers
    )
    kept = f"; kept on purpose: {', '.join(result.kept)}" if result.kept else ""
    return ClusterousError(
        f"cluster {name!r} is not entirely gone",
        f"left: {left}{kept}",
        f"run 'clusterous destroy {name}' again",
    )


def _destroy_provider(
    home: Home, name: str, profile_override: str | None, ledger: Ledger, region: str | None
) -> Provider:
    """The provider the cluster was made with, or the profile's when the ledger is gone;
    in ``region`` when one is asked for (AWS)."""
    if ledger.exists() and not ledger.is_damaged():
        if region is not None:
            check_ledger_region(home, ledger, profile_override, region)
        return open_cluster(home, name, profile_override, renew=False, allow_stopped=True).provider
    profile = choose_profile(home, profile_override, None)
    if region is not None:
        profile = in_region(profile, region)
    return make_provider(profile, name, home)


def check_ledger_region(
    home: Home, ledger: Ledger, profile_override: str | None, region: str
) -> None:
    """A cluster this machine knows lives in its profile's region (or on this machine):
    refuse to sweep its name in another region, where what carries it was made by another
    create (and would share its registry prefix)."""
    state = ledger.load()
    known = cluster_profile(home, state, profile_override).region
    if state.provider == "aws" and known in (None, region):
        return
    where = f"in {known}" if state.provider == "aws" else f"on the {state.provider} provider"
    raise InputError(
        f"cluster {ledger.name!r} of this machine is {where}, not in {region}",
        f"what carries its name in {region} was made by another create, and a destroy by "
        "name would also empty the registry prefix of that name",
        f"destroy this machine's with 'clusterous destroy {ledger.name}'; remove the things "
        f"in {region} one by one with the commands 'clusterous ls-clusters --all-regions' prints",
    )


@dataclass(frozen=True)
class VolumeQuestion:
    """A shared volume a destroy would delete, worth asking the user about."""

    volume: str
    free_to_keep: bool  # a directory on this machine: keeping it costs nothing


def volume_question(
    home: Home, name: str, profile_override: str | None, region: str | None = None
) -> VolumeQuestion | None:
    """The shared volume a destroy of ``name`` would delete, when it is worth asking about.

    AWS volumes hold files and cost money; a local shared directory is asked
    about only when it holds files. None when there is nothing to ask.
    """
    name = check_cluster_name(name)
    ledger = Ledger(home, name)
    provider = _destroy_provider(home, name, profile_override, ledger, region)
    volumes = provider.kept_volumes
    if volumes is None:
        return None
    state = ledger.load() if ledger.exists() and not ledger.is_damaged() else None
    volume = volumes.question(state)
    if volume is None:
        return None
    return VolumeQuestion(volume, free_to_keep=volumes.free_to_keep)


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
