"""Lease use cases: renew it from a command that uses the cluster, extend it on request.

The lease itself lives on the cluster (``manager/lease.py``); here are the
policies around it: how long ``extend`` gives by default (the cluster's
max_hours), and what to tell a user whose cluster has already ended.
"""

from __future__ import annotations

import time

from clusterous.errors import ClusterousError
from clusterous.manager.lease import (
    LeaseView,
    check_lease_hours,
    duration_words,
    hours_to_seconds,
    remember_lease,
    run_lease,
)
from clusterous.manager.status import LeaseStatus
from clusterous.operations.handle import ClusterHandle

__all__ = ["LeaseStatus", "LeaseView", "duration_words", "ended", "extend", "renew"]


def renew(handle: ClusterHandle) -> None:
    """Renew the lease now (commands that reach the cluster by other means than ours)."""
    try:
        handle.access.connect_controller(handle.state(), timeout=10).close()
    except ClusterousError as problem:
        if handle.access.lease is not None:
            handle.access.lease.warn(f"the lease was not renewed: {problem.what}")


def extend(handle: ClusterHandle, hours: float | None, confirmed: bool) -> LeaseView:
    """The lease ends no earlier than ``hours`` (default: the cluster's max_hours) from now."""
    state = handle.state()
    wanted = state.lease.max_hours if hours is None else hours
    check_lease_hours(wanted, "HOURS", confirmed)
    if wanted <= 0:
        raise ClusterousError(
            f"cluster {handle.name!r} has no lease to extend",
            "it was made without max_hours (or with --max-hours 0)",
            f"give the hours: 'clusterous extend {handle.name} 8'",
        )
    try:
        with handle.access.connect_controller(state, timeout=10) as session:
            view = run_lease(session, f"extend {hours_to_seconds(wanted)}", wanted)
    except ClusterousError as problem:
        raise ended_or(handle, problem) from problem
    if view is None:
        raise ClusterousError(
            f"cluster {handle.name!r} has no lease: it was made before clusterous had leases",
            None,
            "it lives until 'clusterous destroy'",
        )
    if view.ended:
        raise ended(handle.name)
    remember_lease(handle.ledger, view, time.time())
    return view


def ended(name: str, why: str = "an ended lease cannot be extended") -> ClusterousError:
    return ClusterousError(
        f"cluster {name!r} has already ended: its lease ran out and its nodes ended themselves",
        why,
        f"run 'clusterous destroy {name}' to remove what is left, then create it again",
    )


def ended_or(handle: ClusterHandle, problem: ClusterousError) -> ClusterousError:
    """The controller does not answer: say the lease ended it when every machine is gone."""
    views = handle.provider.describe_nodes()
    if not any(v.state in ("running", "pending") for v in views):
        return ended(handle.name)
    return problem
