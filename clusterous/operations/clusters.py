"""Cluster use cases the CLI calls: plan and create, open, status, scale, take over, list.

Commands pass plain values in and get plain results back to render; every
collaborator (ledger, provider, access, lock) is built here, and so is every
policy: which profile, what follows a create or a change of size (the running
environment's ``count: auto`` components are re-planned), what needs confirming. Nothing
below this layer knows of the others' existence (environments, tunnels).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from clusterous.errors import ClusterousError, InputError
from clusterous.home import Home, check_cluster_name
from clusterous.manager.access import ClusterAccess
from clusterous.manager.create import ClusterCreator, CreateOptions, refuse_existing
from clusterous.manager.current import set_current_cluster
from clusterous.manager.lease import check_lease_hours
from clusterous.manager.ledger import Ledger
from clusterous.manager.lock import Warn, cluster_lock, unheard
from clusterous.manager.plan import ClusterPlan, GroupRequest, default_groups, plan_cluster
from clusterous.manager.report import Reporter
from clusterous.manager.scale import ScaleContext, add_nodes, leaving_nodes, rm_nodes
from clusterous.manager.status import ClusterStatus, cluster_status
from clusterous.operations.environments import RunResult, replan_locked, run_locked
from clusterous.operations.handle import ClusterHandle, choose_profile, open_cluster
from clusterous.operations.lease import renew as renew_lease
from clusterous.providers.base import CostLine, Provider
from clusterous.providers.cost import CostReport as CostReport  # status's, for the CLI
from clusterous.providers.factory import make_provider
from clusterous.records import ClusterState, LoggingSettings, NodeRecord

if TYPE_CHECKING:
    from clusterous.config import Profile

DEFAULT_CLUSTER_NAME = "my-cluster"
DEFAULT_WORKERS = 2


@dataclass(frozen=True)
class CreateRequest:
    profile_file: Path | None = None
    name: str | None = None
    workers: int | None = None
    provider: str | None = None
    max_hours: float | None = None  # None: the profile file's, else the config profile's
    idle_minutes: int = 0
    confirmed: bool = False  # --yes: a lease over 7 days is meant


@dataclass(frozen=True)
class PlannedGroup:
    """One line of a plan as the user sees it before anything is made."""

    group: str
    instance_type: str
    count: int
    cpus: float | None  # None: a type the provider does not describe
    memory_mib: int | None
    image: str
    hourly_price: float | None  # per node; None: unknown, never guessed
    spot: bool = False


@dataclass(frozen=True)
class PlannedCreate:
    plan: ClusterPlan
    provider: Provider
    groups: list[PlannedGroup]
    resources: list[str]  # what besides the nodes a create would make, one line each
    costs: list[CostLine] = field(default_factory=list)  # what bills besides the instances

    @property
    def hourly_total(self) -> float | None:
        """Instances and every other line, per hour; None when any price is unknown."""
        lines = [None if g.hourly_price is None else g.hourly_price * g.count for g in self.groups]
        lines += [c.hourly for c in self.costs]
        return None if None in lines else sum(x for x in lines if x is not None)

    @property
    def asks_first(self) -> bool:
        """Whether to confirm: a local cluster costs nothing and goes away in seconds."""
        return self.plan.provider != "local"


def plan_create(home: Home, profile_override: str | None, request: CreateRequest) -> PlannedCreate:
    """The plan of a create, with what it will cost; nothing is made."""
    plan, provider = _plan(home, profile_override, request)
    refuse_existing(plan.name, Ledger(home, plan.name), provider)
    resources = provider.describe_resources(plan.shared_volume_size, plan.shared_volume_id)
    groups = planned_groups(plan, provider)
    new_volume = 0 if plan.shared_volume_id else plan.shared_volume_size
    costs = provider.catalog.running_costs(sum(g.count for g in groups), new_volume)
    return PlannedCreate(plan, provider, groups, resources, costs)


def planned_groups(plan: ClusterPlan, provider: Provider) -> list[PlannedGroup]:
    types = provider.catalog.instance_types()
    lines = [("controller", [plan.controller]), *plan.groups().items()]
    planned = []
    for group, members in lines:
        name = members[0].instance_type
        known = types.get(name)
        planned.append(
            PlannedGroup(
                group,
                name,
                len(members),
                known.cpus if known else None,
                known.memory_mib if known else None,
                provider.catalog.image_of(name),
                known.hourly_price if known else None,
                members[0].spot,
            )
        )
    return planned


def _plan(
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
        plan = with_lease(plan_cluster(name, provider, profile.name, groups), request, profile)
    else:
        plan, provider = _plan_from_file(home, profile_override, request)
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
        LoggingSettings(spec.central_logging_level, round(spec.central_logging_max_size * 1024)),
    )
    return with_lease(plan, request, profile, spec.max_hours), provider


def with_lease(
    plan: ClusterPlan, request: CreateRequest, profile: Profile, file_hours: float | None = None
) -> ClusterPlan:
    """The lease: --max-hours, else the profile file's max_hours, else the config profile's."""
    if request.max_hours is not None:
        hours = request.max_hours
    elif file_hours is not None:
        hours = file_hours
    else:
        hours = profile.lease_hours or 0.0
    check_lease_hours(hours, "--max-hours", request.confirmed)
    if request.idle_minutes < 0:
        raise InputError(f"--idle-minutes must be 0 or more, got {request.idle_minutes}")
    return replace(plan, max_hours=hours, idle_minutes=request.idle_minutes)


def _override_workers(groups: list[GroupRequest], workers: int) -> list[GroupRequest]:
    if not any(g.name == "worker" for g in groups):
        raise InputError(
            "--workers sets the size of the 'worker' group, and this profile has none",
            f"its groups are: {', '.join(g.name for g in groups)}",
            "edit the counts in the profile instead",
        )
    return [replace(g, count=workers) if g.name == "worker" else g for g in groups]


LEVEL_2_NOTE = (
    "central_logging_level 2: Clusterous 1.0 ran central logging on an instance of its own; "
    "here it runs on the controller, as with level 1"
)


@dataclass(frozen=True)
class Created:
    state: ClusterState
    environment: RunResult | None = None  # the profile's environment_file, run after create


def create(
    home: Home,
    planned: PlannedCreate,
    reporter: Reporter,
    options: CreateOptions,
    profile_override: str | None = None,
    run_environment: bool = True,
) -> Created:
    """Make the cluster; then run the profile's environment file (unless told not to),
    under the same lock."""
    plan, provider = planned.plan, planned.provider
    ledger = Ledger(home, plan.name)
    creator = ClusterCreator(
        plan, provider, ledger, ClusterAccess.of(home, plan.name), reporter, options
    )
    if plan.logging.level == 2:
        reporter.warn(LEVEL_2_NOTE)
    with cluster_lock(home, plan.name, reporter.warn):
        state = creator.create()
        set_current_cluster(home, plan.name)
        # Renewing here starts idle stop's count from the end of create.
        handle = open_cluster(home, state.name, profile_override, reporter.warn)
        renew_lease(handle)
        if plan.environment_file is None or not run_environment:
            return Created(state)
        reporter.step(f"running the profile's environment {plan.environment_file}")
        return Created(state, run_locked(handle, plan.environment_file, reporter, options.timeout))


def status(handle: ClusterHandle, now: float | None = None) -> ClusterStatus:
    """The cluster now; ``now`` (epoch seconds) is the moment its cost is counted to."""
    return cluster_status(handle.state(), handle.provider, handle.access, now)


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
        renew_lease(handle)  # scaling reaches the nodes by its own connections
        added = add_nodes(scale_context(handle, reporter, timeout), group, count, itype)
        replan_locked(handle, reporter, timeout)
        return added


def shrink(
    handle: ClusterHandle, reporter: Reporter, count: int, group: str | None, timeout: float
) -> list[NodeRecord]:
    from clusterous.operations.jobs import warn_cut_tasks

    with cluster_lock(handle.home, handle.name, reporter.warn):
        renew_lease(handle)
        warn_cut_tasks(handle, leaving_nodes(handle.state(), group, count), reporter.warn)
        removed = rm_nodes(scale_context(handle, reporter, timeout), group, count)
        replan_locked(handle, reporter, timeout)
        return removed


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
            from clusterous.operations.teardown import set_aside_if_damaged

            profile_override = set_aside_if_damaged(home, ledger, profile_override, warn)
            if not ledger.exists():
                _adopt(home, name, profile_override, ledger)
    set_current_cluster(home, name)
    return ledger.load()


def _adopt(home: Home, name: str, profile_override: str | None, ledger: Ledger) -> None:
    profile = choose_profile(home, profile_override, None)
    provider = make_provider(profile, name, home)
    if name not in provider.list_clusters():
        raise ClusterousError(
            f"no cluster named {name!r} found with profile {profile.name!r}",
            None,
            "see 'clusterous ls-clusters'; pick the right profile with --profile",
        )
    if provider.adopter is None:
        raise ClusterousError(
            f"the {provider.name} provider cannot take over a cluster made elsewhere",
            None,
            f"work on {name!r} from the machine that made it",
        )
    access = ClusterAccess.of(home, name)
    adoption = provider.adopter.adopt(access.login_key_for(profile))
    state = adoption.state
    state.profile = profile.name
    for node in state.nodes:
        access.known_hosts.add(access.alias(node.name), adoption.host_keys[node.name])
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
