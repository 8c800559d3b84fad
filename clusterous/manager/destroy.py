"""Destroy a cluster: sweep by ledger and by label/tag, then prove nothing is left.

Teardown is a sweep, not a reversed script: it works after a half-finished
create, after a crash, twice in a row, and with the local files gone. It ends
by listing again everything that still carries the cluster's label or tag.
"""

from __future__ import annotations

from clusterous.manager.ledger import Ledger
from clusterous.manager.report import Reporter
from clusterous.providers.base import Provider, SweepResult


def destroy_cluster(
    name: str,
    provider: Provider,
    ledger: Ledger,
    keep_volume: bool,
    reporter: Reporter,
    keep_images: bool = False,
) -> SweepResult:
    state = ledger.load() if ledger.exists() else None
    if state is not None:
        ledger.set_status("destroying")
    result = provider.sweep(state, keep_volume, reporter.done, keep_images)
    if not result.leftovers and ledger.dir.exists():
        ledger.remove()
    return result
