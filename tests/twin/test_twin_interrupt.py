"""An interrupted create on the twin: Ctrl-C while the controller boots leaves nothing.

The CLI is interrupted (SIGINT, what Ctrl-C sends) once the controller's
instance exists as a booting node; it must roll back what it made and exit
with 130, leaving nothing tagged in moto and nothing in the twin.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.twin.twin_cli import TwinCli, clean_up, tagged, unique_name, wait_for
from twin.core import Twin


@pytest.fixture
def cli(ec2_twin: Twin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TwinCli, str]]:
    cli = TwinCli(tmp_path_factory.mktemp("home"), ec2_twin)
    name = unique_name("sigint")
    try:
        yield cli, name
    finally:
        clean_up(cli, name)


def test_sigint_while_the_controller_boots_rolls_back_and_exits_130(
    cli: tuple[TwinCli, str],
) -> None:
    twin_cli, name = cli
    twin_cli.setup()
    create = twin_cli.popen("create", "--name", name, "--workers", "2", "--yes")
    try:
        booting = wait_for(
            lambda: (
                create.poll() is None
                and any(m.startswith("container") for m in twin_cli.twin.machines())
            ),
            timeout=120,
            pause=0.1,
        )
        assert booting, "the controller's node never appeared"
        create.send_signal(signal.SIGINT)
        output, _ = create.communicate(timeout=300)
    finally:
        if create.poll() is None:
            create.kill()
            create.communicate()
    assert create.returncode == 130, output
    assert "Traceback" not in output
    assert tagged(twin_cli.twin, name) == [], output
    assert twin_cli.twin.machines() == [], output
