"""status's cost: priced from the provider's rates, never failing status, left for the dashboard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import Mock

import pytest

from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.cost import cluster_cost, publish_cost
from clusterous.manager.status import cluster_status
from clusterous.providers.base import NodeView, Provider
from clusterous.providers.cost import Rate, Use, cost_report
from clusterous.providers.local.catalog import LocalMeter
from clusterous.records import ClusterState, NodeRecord
from clusterous.remote.keys import generate_ed25519, write_private_key
from clusterous.remote.ssh import Endpoint, KnownHosts, Session, connect
from tests.fake_ssh import start_ssh_server

LAUNCH = 1_700_000_000.0


class Meter:
    """Rates as a provider reads them; or the failure of reading them."""

    def __init__(self, rates: list[Rate] | None = None, failure: str = "") -> None:
        self._rates = rates or []
        self.failure = failure
        self.asked_at: list[float] = []

    def rates(self, state: ClusterState, now: float) -> list[Rate]:
        self.asked_at.append(now)
        if self.failure:
            raise ClusterousError(self.failure)
        return self._rates


def _state() -> ClusterState:
    nodes = [NodeRecord("controller", "controller", "t3.small", "i-1")]
    return ClusterState("demo", "aws", "aws", created_at=LAUNCH, nodes=nodes)


def _provider(meter: Meter | None) -> Provider:
    provider = Mock(spec=Provider)
    provider.meter = meter
    provider.describe_nodes.return_value = [
        NodeView("controller", "controller", "t3.small", "i-1", "running")
    ]
    return provider


def _three_instances() -> list[Rate]:
    uses = tuple(Use(1, LAUNCH) for _ in range(3))
    return [Rate("t3.small on demand", "instance", "instance-hour", 0.0208, "test", uses)]


def test_status_prices_the_rates_at_its_moment_even_with_the_controller_unreachable(
    tmp_path: Path,
) -> None:
    meter = Meter(_three_instances())
    access = ClusterAccess.of(Home(tmp_path), "demo")
    seen = cluster_status(_state(), _provider(meter), access, now=LAUNCH + 7200)
    assert meter.asked_at == [LAUNCH + 7200]
    assert seen.cost is not None and seen.cost.so_far == pytest.approx(0.1248)
    shown = json.loads(json.dumps(seen.to_dict()))["cost"]
    assert shown["per_hour"] == pytest.approx(0.0624) and shown["currency"] == "USD"
    (line,) = shown["lines"]
    assert (line["what"], line["quantity"], line["unit_price"], line["source"]) == (
        "t3.small on demand",
        3,
        0.0208,
        "test",
    )
    assert any("controller unreachable" in p for p in seen.problems)


def test_a_cost_that_cannot_be_read_is_unknown_and_status_still_answers(tmp_path: Path) -> None:
    access = ClusterAccess.of(Home(tmp_path), "demo")
    seen = cluster_status(_state(), _provider(Meter(failure="no access")), access, now=LAUNCH)
    assert seen.cost is None
    assert "cost unknown: no access" in seen.problems
    assert [n.machine for n in seen.nodes] == ["running"]


def test_a_provider_without_a_meter_shows_no_cost() -> None:
    assert cluster_cost(_state(), _provider(None), LAUNCH) == (None, None)


def test_the_local_provider_costs_nothing_billable_in_one_line() -> None:
    report, _ = cluster_cost(_state(), _local_provider(), LAUNCH + 3600)
    assert report is not None and (report.per_hour, report.so_far) == (0.0, 0.0)
    (line,) = report.lines
    assert "runs on your own machine" in line.what and line.source == "local provider"


def _local_provider() -> Provider:
    provider = Mock(spec=Provider)
    provider.meter = LocalMeter()
    return provider


# -- the dashboard's copy, over a real SSH session -------------------------------------


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    host, login = generate_ed25519("host"), generate_ed25519("login")
    key = tmp_path / "id_ed25519"
    write_private_key(key, login)
    listener = start_ssh_server(host.private_openssh, login.private_openssh)
    known = KnownHosts(tmp_path / "known_hosts")
    known.add("controller", host.public_openssh)
    try:
        with connect(
            Endpoint("controller", "127.0.0.1", listener.getsockname()[1]), key, known
        ) as s:
            yield s
    finally:
        listener.close()


def test_the_totals_are_written_where_the_dashboard_reads_them(
    session: Session, tmp_path: Path
) -> None:
    target = tmp_path / "etc" / "clusterous" / "cost.json"
    report = cost_report(_three_instances(), LAUNCH + 7200)
    assert publish_cost(session, report, str(target)) is None
    assert json.loads(target.read_text()) == {
        "total": 0.1248,
        "per_hour": 0.0624,
        "currency": "USD",
        "at": "2023-11-15T00:13:20Z",
    }
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_a_failed_write_is_a_warning_in_words_never_a_failure(
    session: Session, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    problem = publish_cost(session, cost_report([], LAUNCH), str(blocker / "cost.json"))
    assert problem is not None and problem.startswith("the cost was not written for the dashboard")
