"""The cluster's lease as the CLI sees it: renew it, read it, and say how long is left.

The lease lives on the cluster (DESIGN section 3): the controller's
``clusterous-lease`` script (installed by ``node/bootstrap.sh``) keeps its end
on the controller's own clock and every node ends itself once it is over. The
CLI only asks, over SSH: ``extend SECONDS`` (renew: the end is at least that
far from the node's now) or ``show``. So every figure here is a difference of
two readings of the node's clock; the laptop's clock only places the end on
the user's calendar.

A command that uses the cluster renews its lease (``LeaseKeeper``, attached to
the ClusterAccess that opens the controller); ``status`` only reads it, so a
script that polls status cannot keep a forgotten cluster alive.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from clusterous.errors import ClusterousError, InputError
from clusterous.manager.ledger import Ledger
from clusterous.records import ClusterState, LeaseRecord
from clusterous.remote.ssh import Session

LEASE_COMMAND = "/usr/local/sbin/clusterous-lease"
ENDED_STATUS = 3  # the script's status when the lease is already over
NOT_INSTALLED_STATUS = 127  # a cluster made before leases existed
WARN_FRACTION = 0.1  # warn in the last 10 % of the lease
LONG_LEASE_HOURS = 7 * 24  # longer needs --yes
LONGEST_LEASE_HOURS = 10 * 365 * 24  # the node's script takes at most 9 digits of seconds
DEFAULT_AWS_HOURS = 8.0

Clock = Callable[[], float]
Warn = Callable[[str], None]


@dataclass(frozen=True)
class LeaseView:
    """One reading of the controller's lease; times in the node's epoch seconds."""

    node_now: int
    expires: int | None  # None: no lease
    idle_minutes: int = 0
    active: int | None = None  # last activity the idle check saw
    previous: int | None = None  # the end before this renewal
    max_hours: float = 0.0

    @property
    def seconds_left(self) -> float | None:
        return None if self.expires is None else max(0, self.expires - self.node_now)

    @property
    def ended(self) -> bool:
        return self.expires is not None and self.node_now >= self.expires

    @property
    def idle_fires_in(self) -> float | None:
        """Seconds until idle stop would end the cluster, if nothing happens before."""
        if self.idle_minutes <= 0 or self.active is None:
            return None
        return max(0, self.active + self.idle_minutes * 60 - self.node_now)

    def expires_at(self, local_now: float) -> float:
        """The end on this machine's clock (0: no lease)."""
        left = self.seconds_left
        return 0.0 if left is None else local_now + left

    def was_nearly_over(self) -> bool:
        """Whether the lease was in its last 10 % before this command renewed it."""
        if self.previous is None or self.max_hours <= 0:
            return False
        return self.previous - self.node_now < WARN_FRACTION * self.max_hours * 3600

    def nearly_over(self) -> bool:
        left = self.seconds_left
        return (
            left is not None and self.max_hours > 0 and left < WARN_FRACTION * self.max_hours * 3600
        )


def parse_lease(text: str, max_hours: float) -> LeaseView:
    """The ``key=value`` lines of ``clusterous-lease show`` or ``extend``."""
    values: dict[str, int | None] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep:
            values[key] = int(value) if value.isdigit() else None
    if values.get("now") is None:
        raise ClusterousError("the controller's lease answer has no time in it", text.strip())
    return LeaseView(
        node_now=values["now"] or 0,
        expires=values.get("expires"),
        idle_minutes=values.get("idle_minutes") or 0,
        active=values.get("active"),
        previous=values.get("previous"),
        max_hours=max_hours,
    )


def run_lease(session: Session, arguments: str, max_hours: float) -> LeaseView | None:
    """Run the controller's lease script; None when the cluster predates leases."""
    result = session.run(f"{LEASE_COMMAND} {arguments}", timeout=15)
    if result.exit_status == NOT_INSTALLED_STATUS:
        return None
    if result.exit_status not in (0, ENDED_STATUS):
        raise ClusterousError("the controller's lease script failed", result.tail())
    return parse_lease(result.stdout, max_hours)


def hours_to_seconds(hours: float) -> int:
    return round(hours * 3600)


def check_lease_hours(hours: float, option: str, confirmed: bool) -> float:
    """A lease length the user gave: 0 or more, and over 7 days only with --yes."""
    if not 0 <= hours <= LONGEST_LEASE_HOURS:
        raise InputError(
            f"{option} must be a number of hours, 0 or more (10 years at most), got {hours:g}",
            None,
            f"for example {option} 8; {option} 0 means no lease",
        )
    if hours > LONG_LEASE_HOURS and not confirmed:
        raise InputError(
            f"{option} {hours:g} is a lease of more than 7 days",
            "a forgotten cluster would run (and bill) that long",
            "add --yes if you mean it",
        )
    return hours


class LeaseKeeper:
    """Renews the lease once, on the first connection to the controller of a command."""

    def __init__(self, ledger: Ledger, warn: Warn, clock: Clock = time.time) -> None:
        self.ledger = ledger
        self.warn = warn
        self.clock = clock
        self.renewed: LeaseView | None = None
        self._tried = False

    def on_connect(self, session: Session, state: ClusterState) -> None:
        if self._tried or (state.lease.max_hours <= 0 and state.lease.idle_minutes <= 0):
            return
        self._tried = True
        hours = state.lease.max_hours
        try:
            view = run_lease(session, f"extend {hours_to_seconds(hours)}", hours)
        except ClusterousError as problem:
            self.warn(f"the lease of cluster {state.name!r} was not renewed: {problem.render()}")
            return
        if view is None:
            return
        self.renewed = view
        remember_lease(self.ledger, view, self.clock())
        self.warn_if_needed(state.name, view)

    def warn_if_needed(self, name: str, view: LeaseView) -> None:
        if view.ended:
            self.warn(
                f"the lease of cluster {name!r} has ended and its nodes are ending; "
                f"'clusterous destroy {name}' removes the rest"
            )
        elif view.was_nearly_over():
            left = duration_words((view.previous or 0) - view.node_now)
            self.warn(
                f"the lease of cluster {name!r} had only {left} left; this command renewed it "
                f"for {duration_words(view.seconds_left or 0)}"
            )


def remember_lease(ledger: Ledger, view: LeaseView, local_now: float) -> None:
    """Keep the end (on this machine's clock) for when the controller is gone."""

    def put(state: ClusterState) -> None:
        state.lease = replace(state.lease, expires_at=view.expires_at(local_now))

    ledger.update(put)


def lease_record(max_hours: float | None, idle_minutes: int, now: float) -> LeaseRecord:
    hours = max_hours or 0.0
    return LeaseRecord(hours, idle_minutes, now + hours * 3600 if hours else 0.0)


def duration_words(seconds: float) -> str:
    """``2 h 05 min``, ``12 min``, ``40 s``."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else f"{seconds} s"
