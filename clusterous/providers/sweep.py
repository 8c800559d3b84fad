"""One teardown for every provider: ordered phases, guarded removals, ledger merged, a re-listing.

Teardown is a sweep, not a reversed script (DESIGN section 5). A provider
supplies only its phases, in dependency order: the kind of thing, how to find
the cluster's things of that kind by label or tag, and how to remove one (or,
for machines, all at once). The sweep adds what only the ledger knows (a thing
whose label or tag was lost is still the cluster's), turns a removal that
fails into a leftover with its reason and goes on with the rest, and ends by
listing again everything that still carries the cluster's label or tag: that
listing, not the removals, says what is left (with the reason a failed removal
gave, and with what failed that no listing can see). A phase whose
listing may fail without harm to the next ones (an S3 prefix) names the
leftover to report then, and the sweep goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from clusterous.errors import ClusterousError
from clusterous.providers.base import Leftover, Say, SweepResult
from clusterous.records import ClusterState

Recorded = Callable[[ClusterState], Iterable[str]]


def recorded_resources(kind: str) -> Recorded:
    """The ids the ledger records for resources of ``kind`` (those kept on purpose aside)."""
    return lambda state: [r.id for r in state.resources if r.kind == kind and not r.keep]


@dataclass(frozen=True)
class Phase:
    """Things of one kind, found by label or tag, removed one at a time.

    ``remove`` treats a thing already gone as removed, and raises a
    ClusterousError when it cannot remove it. ``recorded`` gives the ids the
    ledger knows of this kind (None: its resources of this kind). ``done`` is
    said when there was something and all of it went; ``after`` runs once the
    phase is over (a wait for what goes along with the removed things).
    ``unlisted``: see ``AllAtOnce``.
    """

    kind: str
    find: Callable[[], Iterable[str]]
    remove: Callable[[str], None]
    recorded: Recorded | None = None
    done: str = ""
    after: Callable[[], None] | None = None
    unlisted: Leftover | None = None


@dataclass(frozen=True)
class AllAtOnce:
    """Machines: removed together (and waited for), since each one holds up the next phases.

    ``remove_all`` returns the ids it removed, and those still there, each with why.
    ``unlisted`` is the leftover to report when ``find`` fails (its id, and what
    to do), and the sweep goes on; None: a failed listing stops the sweep, for
    the phases after it depend on what it lists (machines hold the network).
    """

    kind: str
    find: Callable[[], Iterable[str]]
    remove_all: Callable[[Sequence[str]], tuple[list[str], dict[str, str]]]
    recorded: Recorded | None = None
    unlisted: Leftover | None = None


def merged(found: Iterable[str], state: ClusterState | None, recorded: Recorded) -> list[str]:
    """What was found, then what only the ledger knows, each once, in that order."""
    ids = list(dict.fromkeys(found))
    if state is not None:
        ids += [i for i in dict.fromkeys(recorded(state)) if i not in ids]
    return ids


class Sweep:
    """One sweep of one cluster; ``run`` goes through the phases and returns the result."""

    def __init__(self, state: ClusterState | None, say: Say, result: SweepResult | None = None):
        self.state = state
        self.say = say
        self.result = result or SweepResult()

    def run(
        self, phases: Sequence[Phase | AllAtOnce], relist: Callable[[], list[Leftover]]
    ) -> SweepResult:
        for phase in phases:
            if isinstance(phase, AllAtOnce):
                self._all_at_once(phase)
            else:
                self._one_by_one(phase)
        self.result.leftovers = with_reasons(relist(), self.result.leftovers)
        return self.result

    def guarded(self, kind: str, ident: str, action: Callable[[], None]) -> bool:
        """Run one removal; a failure becomes a leftover with its reason, the sweep goes on.

        True only when the removal was accepted (or the thing was already gone).
        """
        try:
            action()
        except ClusterousError as problem:
            self.result.leftovers.append(Leftover(kind, ident, problem.render()))
            self.say(f"could not remove {kind} {ident}: {problem.what}")
            return False
        self.result.removed.append(f"{kind} {ident}")
        return True

    def _ids(self, phase: Phase | AllAtOnce) -> list[str]:
        return merged(
            self._find(phase), self.state, phase.recorded or recorded_resources(phase.kind)
        )

    def _find(self, phase: Phase | AllAtOnce) -> list[str]:
        """What the phase lists; a listing that fails is a leftover when the phase says so."""
        try:
            return list(phase.find())
        except ClusterousError as problem:
            if phase.unlisted is None:
                raise
            self.result.leftovers.append(unlisted(phase.unlisted, problem))
            self.say(f"could not list {phase.unlisted.kind} {phase.unlisted.id}: {problem.what}")
            return []

    def _one_by_one(self, phase: Phase) -> None:
        ids = self._ids(phase)
        removed = [self.guarded(phase.kind, i, _bind(phase.remove, i)) for i in ids]
        if ids and all(removed) and phase.done:
            self.say(phase.done)
        if phase.after is not None:
            phase.after()

    def _all_at_once(self, phase: AllAtOnce) -> None:
        ids = self._ids(phase)
        if not ids:
            return
        try:
            removed, left = phase.remove_all(ids)
        except ClusterousError as problem:
            removed, left = [], {i: problem.render() for i in ids}
            self.say(f"could not remove the {phase.kind}s: {problem.what}")
        self.result.removed += [f"{phase.kind} {i}" for i in removed]
        self.result.leftovers += [Leftover(phase.kind, i, why) for i, why in left.items()]


def unlisted(left: Leftover, problem: ClusterousError) -> Leftover:
    """A thing that could not even be listed: why, and what to do (``left.why``)."""
    return replace(left, why=f"it could not be listed: {problem.render()}; {left.why}")


def with_reasons(relisted: list[Leftover], failed: list[Leftover]) -> list[Leftover]:
    """What the re-listing found, with the reason a removal gave; then failures it cannot see.

    A thing only the ledger knew (its label or tag lost) is not listed again,
    yet is still there when its removal failed.
    """
    why = {f.id: f.why for f in failed}
    found = [replace(x, why=why.get(x.id) or x.why) for x in relisted]
    seen = {x.id for x in relisted}
    return found + [f for f in failed if f.id not in seen]


def _bind(remove: Callable[[str], None], ident: str) -> Callable[[], None]:
    return lambda: remove(ident)
