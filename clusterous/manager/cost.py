"""A cluster's cost for ``status`` (and the dashboard): the provider's rates, priced now.

``cost_rates`` is the per-line view (a stopped cluster keeps only the lines
that bill while stopped: ``providers.cost.while_stopped``); ``cluster_cost``
prices them at a moment; ``publish_cost`` leaves the totals on the controller
(``/etc/clusterous/cost.json``) for the dashboard's cost box, over a session
already open, and says what went wrong rather than failing.
"""

from __future__ import annotations

import json
import shlex

import paramiko

from clusterous.errors import ClusterousError
from clusterous.providers.base import Provider
from clusterous.providers.cost import (
    CostReport,
    Rate,
    cost_report,
    dashboard_record,
    while_stopped,
)
from clusterous.records import PAUSED_STATUSES, ClusterState
from clusterous.remote.ssh import Session

COST_FILE = "/etc/clusterous/cost.json"


def cost_rates(state: ClusterState, provider: Provider, now: float) -> list[Rate] | None:
    """What bills now, line by line; None when the provider cannot say."""
    meter = provider.meter
    if meter is None:
        return None
    rates = meter.rates(state, now)
    return while_stopped(rates) if state.status in PAUSED_STATUSES else rates


def cluster_cost(
    state: ClusterState, provider: Provider, now: float
) -> tuple[CostReport | None, str | None]:
    """The cost at ``now``, or None and why it is unknown (never a failed status)."""
    try:
        rates = cost_rates(state, provider, now)
    except ClusterousError as problem:
        return None, f"cost unknown: {problem.what}"
    return (None, None) if rates is None else (cost_report(rates, now), None)


def publish_cost(controller: Session, report: CostReport, path: str = COST_FILE) -> str | None:
    """Write the totals where the dashboard reads them; the problem in words, or None."""
    target = shlex.quote(path)
    folder = shlex.quote(path.rsplit("/", 1)[0] or "/")
    command = (
        'sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"; '
        f"$sudo mkdir -p {folder} && $sudo tee {target}.new >/dev/null "
        f"&& $sudo chmod 644 {target}.new && $sudo mv -f {target}.new {target}"
    )
    try:
        result = controller.run(command, timeout=10, stdin=json.dumps(dashboard_record(report)))
    except (ClusterousError, OSError, paramiko.SSHException) as problem:
        what = problem.what if isinstance(problem, ClusterousError) else str(problem)
        return f"the cost was not written for the dashboard: {what}"
    if result.exit_status != 0:
        return f"the cost was not written for the dashboard: {result.tail()}"
    return None
