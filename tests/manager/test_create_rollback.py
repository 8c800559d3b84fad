"""A create that fails, at any step, removes what it made and names the step.

The provider here is the fake at the edge (``tests.fakes``): it records what it
"makes" in the ledger exactly as a real one does, and is told to fail while launching.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterous import cancel
from clusterous.errors import ClusterousError, ExitCode, Interrupted
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.create import ClusterCreator, CreateOptions
from clusterous.manager.ledger import Ledger
from clusterous.manager.plan import default_groups, plan_cluster
from clusterous.manager.report import SilentReporter
from tests.fakes import CancellingProvider, FakeProvider


def _creator(
    tmp_path: Path, provider: FakeProvider, keep: bool = False
) -> tuple[ClusterCreator, Ledger]:
    home = Home(tmp_path)
    plan = plan_cluster("rb", provider, "p", default_groups(2, None, None))
    ledger = Ledger(home, "rb")
    creator = ClusterCreator(
        plan,
        provider,
        ledger,
        ClusterAccess.of(home, "rb"),
        SilentReporter(),
        CreateOptions(30, keep),
    )
    return creator, ledger


def test_a_failed_launch_is_rolled_back_and_the_step_named(tmp_path: Path) -> None:
    provider = FakeProvider(failure=ClusterousError("no capacity", "the engine said no"))
    creator, ledger = _creator(tmp_path, provider)
    with pytest.raises(ClusterousError) as error:
        creator.create()
    message = error.value.render()
    assert "failed while launching the controller" in message
    assert "no capacity: the engine said no" in message
    assert "everything made so far was removed" in message
    assert provider.swept and provider.made == []
    assert not ledger.exists()


def test_a_foreign_exception_is_named_by_its_type_and_rolled_back(tmp_path: Path) -> None:
    provider = FakeProvider(failure=RuntimeError("socket closed"))
    creator, ledger = _creator(tmp_path, provider)
    with pytest.raises(ClusterousError, match="RuntimeError: socket closed"):
        creator.create()
    assert provider.swept and not ledger.exists()


def test_keep_on_failure_keeps_the_pieces_and_says_how_to_remove_them(tmp_path: Path) -> None:
    provider = FakeProvider(failure=ClusterousError("boom"))
    creator, ledger = _creator(tmp_path, provider, keep=True)
    with pytest.raises(ClusterousError) as error:
        creator.create()
    assert "clusterous destroy rb" in error.value.render()
    assert not provider.swept
    state = ledger.load()
    assert state.status == "failed"
    assert [r.id for r in state.resources] == ["net-1", "vol-1"]
    assert [n.name for n in state.nodes] == ["controller"]


def test_ctrl_c_rolls_back_and_exits_130(tmp_path: Path) -> None:
    provider = FakeProvider(failure=KeyboardInterrupt())
    creator, ledger = _creator(tmp_path, provider)
    with pytest.raises(Interrupted) as error:
        creator.create()
    assert error.value.exit_code == ExitCode.INTERRUPTED
    assert "interrupted while launching" in error.value.render()
    assert provider.swept and not ledger.exists()


def test_a_name_already_in_use_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    provider = FakeProvider(failure=ClusterousError("never reached"))
    provider.made = ["container clusterous-rb-controller"]
    creator, ledger = _creator(tmp_path, provider)
    with pytest.raises(ClusterousError, match="already exist") as error:
        creator.create()
    assert error.value.exit_code == ExitCode.BAD_INPUT
    assert not provider.swept and not ledger.exists()


def test_the_rollback_waits_are_not_cut_by_the_cancelled_create(tmp_path: Path) -> None:
    provider = CancellingProvider()
    creator, ledger = _creator(tmp_path, provider)
    with cancel.fresh() as create_event, pytest.raises(Interrupted) as error:
        creator.create()
    assert create_event.is_set()
    assert "everything made so far was removed" in error.value.render()
    assert provider.swept and not ledger.exists()


def test_a_second_ctrl_c_stops_the_rollback_and_names_the_destroy_that_finishes_it(
    tmp_path: Path,
) -> None:
    provider = CancellingProvider(second_ctrl_c=True)
    creator, ledger = _creator(tmp_path, provider)
    with cancel.fresh(), pytest.raises(Interrupted) as error:
        creator.create()
    assert error.value.exit_code == ExitCode.INTERRUPTED
    message = error.value.render()
    assert "rollback of cluster 'rb' was stopped" in message
    assert "'clusterous destroy rb'" in message
    assert ledger.exists()  # the trail for that destroy
