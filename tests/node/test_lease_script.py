"""The node's lease script on a fake clock: when a node ends, and what keeps it alive.

DESIGN section 3: the controller keeps the lease's end in /data on its own
clock, every node a copy of its own, and a node ends itself once the end has
passed, whether or not it can still read /data. No test here waits for time
to pass: the clock is a number each call is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.node.lease_node import BASH, LeaseNode, lease_script_text

pytestmark = pytest.mark.skipif(BASH is None, reason="bash is needed to run the script")

HOUR = 3600


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "clusterous-lease"
    path.write_text(lease_script_text())
    return path


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    return tmp_path / "data" / ".clusterous" / "lease"


def node(tmp_path: Path, name: str, shared: Path, script: Path) -> LeaseNode:
    return LeaseNode.make(tmp_path / name, shared, script)


def ok(lease: LeaseNode, now: int, *arguments: str) -> str:
    done = lease.run(now, *arguments)
    assert done.returncode == 0, done.stderr
    return done.stdout


def values(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def controller(tmp_path: Path, shared: Path, script: Path, idle: int = 0) -> LeaseNode:
    """A controller booted at 900 with an 8-hour lease; create ended (a renewal) at 1000."""
    lease = node(tmp_path, "controller", shared, script)
    ok(lease, 900, "init", "controller", str(8 * HOUR), str(idle))
    ok(lease, 910, "publish")
    ok(lease, 1000, "extend", str(8 * HOUR))
    return lease


def test_a_node_ends_itself_when_its_lease_is_over_and_not_a_second_before(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    worker = node(tmp_path, "worker", shared, script)
    ok(worker, 1000, "init", "node", str(HOUR), "0")
    assert ok(worker, 1000 + HOUR - 1, "check") == ""
    assert ok(worker, 1000 + HOUR, "check") == f"ENDED {1000 + HOUR}\n"


def test_a_node_without_a_lease_never_ends(tmp_path: Path, shared: Path, script: Path) -> None:
    worker = node(tmp_path, "worker", shared, script)
    ok(worker, 1000, "init", "node", "0", "0")
    assert ok(worker, 10**9, "check") == ""


def test_a_worker_takes_the_controllers_extension_from_data(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = controller(tmp_path, shared, script)
    worker = node(tmp_path, "worker", shared, script)
    ok(worker, 1000, "init", "node", str(8 * HOUR), "0")
    ok(boss, 5 * HOUR, "extend", str(8 * HOUR))
    ok(worker, 5 * HOUR + 15, "sync")
    assert worker.cached_end() == 13 * HOUR
    assert ok(worker, 1000 + 8 * HOUR, "check") == ""


def test_an_extend_in_the_last_seconds_keeps_a_worker_whose_sync_has_not_run_yet(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = controller(tmp_path, shared, script)
    worker = node(tmp_path, "worker", shared, script)
    ok(worker, 1000, "init", "node", str(8 * HOUR), "0")
    ok(worker, 1015, "sync")
    end = 1000 + 8 * HOUR
    ok(boss, end - 3, "extend", str(HOUR))  # no worker sync between this and the end
    assert worker.cached_end() == end
    assert ok(worker, end, "check") == ""
    assert worker.cached_end() == end - 3 + HOUR
    assert ok(worker, end - 3 + HOUR, "check") == f"ENDED {end - 3 + HOUR}\n"


def test_a_worker_whose_data_still_holds_the_old_end_ends_on_time(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    controller(tmp_path, shared, script)
    worker = node(tmp_path, "worker", shared, script)
    ok(worker, 1000, "init", "node", str(8 * HOUR), "0")
    ok(worker, 1015, "sync")
    assert ok(worker, 1000 + 8 * HOUR, "check") == f"ENDED {1000 + 8 * HOUR}\n"


def test_a_worker_that_cannot_read_data_any_more_still_ends_on_its_copy(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    controller(tmp_path, shared, script)
    worker = node(tmp_path, "worker", shared, script)
    ok(worker, 1000, "init", "node", str(8 * HOUR), "0")
    ok(worker, 1020, "sync")
    shared.unlink()  # /data gone (the NFS server ended, or the mount failed)
    ok(worker, 2000, "sync")
    assert worker.cached_end() == 1000 + 8 * HOUR
    assert ok(worker, 1000 + 8 * HOUR, "check") == f"ENDED {1000 + 8 * HOUR}\n"


def test_the_controller_publishes_its_own_lease_over_a_stale_one_on_a_reused_volume(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    shared.parent.mkdir(parents=True)
    shared.write_text("5\n")  # a cluster long ended used this volume
    boss = node(tmp_path, "controller", shared, script)
    ok(boss, 1000, "init", "controller", str(HOUR), "0")
    ok(boss, 1005, "sync")  # before publish: the stale end must not be taken
    assert boss.cached_end() == 1000 + HOUR
    ok(boss, 1010, "publish")
    assert shared.read_text() == f"{1000 + HOUR}\n"


def test_extend_never_shortens_the_lease_and_counts_on_the_nodes_clock(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = controller(tmp_path, shared, script)
    shown = values(ok(boss, 2000, "extend", "60"))
    assert shown["expires"] == str(1000 + 8 * HOUR)
    assert shown["previous"] == str(1000 + 8 * HOUR)
    shown = values(ok(boss, 2000, "extend", str(24 * HOUR)))
    assert (shown["now"], shown["expires"]) == ("2000", str(2000 + 24 * HOUR))
    assert shared.read_text() == f"{2000 + 24 * HOUR}\n"


def test_an_ended_lease_is_not_extended_and_says_so(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = controller(tmp_path, shared, script)
    done = boss.run(1000 + 8 * HOUR, "extend", "0")
    assert done.returncode == 3
    assert "the lease ended" in done.stderr
    assert shared.read_text() == f"{1000 + 8 * HOUR}\n"


@pytest.mark.parametrize("argument", ["-5", "1.5", "", "x; touch /tmp/nope", "1234567890"])
def test_extend_takes_only_whole_seconds(
    tmp_path: Path, shared: Path, script: Path, argument: str
) -> None:
    boss = controller(tmp_path, shared, script)
    done = boss.run(2000, "extend", argument)
    assert done.returncode == 2 and "usage" in done.stderr


def test_idle_stop_ends_the_lease_of_an_idle_cluster_after_its_minutes(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = controller(tmp_path, shared, script, idle=10)
    ok(boss, 1000 + 599, "sync")
    assert ok(boss, 1000 + 599, "check") == ""
    ok(boss, 1000 + 600, "sync")
    assert shared.read_text() == "1600\n"
    assert ok(boss, 1600, "check") == "ENDED 1600\n"


@pytest.mark.parametrize(
    ("replicas", "sessions"),
    [
        (["0/1", "2/2"], []),  # a user service's task runs
        ([], ["   61 sshd: root@notty"]),  # someone's SSH session, open over a minute
        ([], ["  900 sshd-session: admin@pts/0"]),  # newer OpenSSH names it so
    ],
)
def test_a_running_task_or_an_open_session_keeps_idle_stop_away(
    tmp_path: Path, shared: Path, script: Path, replicas: list[str], sessions: list[str]
) -> None:
    boss = controller(tmp_path, shared, script, idle=10)
    boss.replicas, boss.sessions = replicas, sessions
    ok(boss, 1000 + 3600, "sync")
    assert shared.read_text() == f"{1000 + 8 * HOUR}\n"
    assert values(ok(boss, 1000 + 3600, "show"))["active"] == str(1000 + 3600)


def test_the_clis_own_short_commands_do_not_count_as_activity(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = controller(tmp_path, shared, script, idle=10)
    boss.replicas = ["0/1"]
    boss.sessions = ["    3 sshd: root@notty", " 4000 sshd: root [priv]", " 4000 /usr/sbin/sshd -D"]
    ok(boss, 1000 + 600, "sync")
    assert shared.read_text() == "1600\n"


def test_extend_also_restarts_the_idle_clock(tmp_path: Path, shared: Path, script: Path) -> None:
    boss = controller(tmp_path, shared, script, idle=10)
    ok(boss, 1500, "extend", str(HOUR))
    ok(boss, 1000 + 600, "sync")
    assert shared.read_text() == f"{1000 + 8 * HOUR}\n"
    shown = values(ok(boss, 1600, "show"))
    assert (shown["idle_minutes"], shown["active"]) == ("10", "1500")


def test_idle_stop_waits_ten_minutes_for_a_create_that_never_renews(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = node(tmp_path, "controller", shared, script)
    ok(boss, 1000, "init", "controller", "0", "1")
    ok(boss, 1010, "publish")
    ok(boss, 1000 + 600 + 59, "sync")
    assert not shared.exists()
    ok(boss, 1000 + 600 + 60, "sync")
    assert shared.read_text() == "1660\n"


def test_extend_zero_restarts_the_idle_clock_and_leaves_no_lease_alone(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = node(tmp_path, "controller", shared, script)
    ok(boss, 1000, "init", "controller", "0", "5")
    ok(boss, 1010, "publish")
    shown = values(ok(boss, 1200, "extend", "0"))
    assert (shown["expires"], shown["active"]) == ("", "1200")
    assert ok(boss, 10**9, "check") == ""


def test_extend_reads_leading_zeros_as_decimal(tmp_path: Path, shared: Path, script: Path) -> None:
    boss = controller(tmp_path, shared, script)
    shown = values(ok(boss, 2000, "extend", "0" + str(9 * HOUR)))
    assert shown["expires"] == str(2000 + 9 * HOUR)


# -- pause: `clusterous stop`, then `start` -------------------------------------------


def stopped_and_booted(lease: LeaseNode, paused_at: int) -> None:
    """`clusterous stop` paused the node at ``paused_at``; then it was stopped and booted."""
    ok(lease, paused_at, "pause")
    lease.reboot()


def test_a_paused_node_booted_after_its_lease_ran_out_waits_for_start_to_renew_it(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = controller(tmp_path, shared, script)
    stopped_and_booted(boss, 2000)
    later = 1000 + 30 * HOUR  # stopped for a day: the lease ended meanwhile
    assert ok(boss, later, "check") == ""
    assert ok(boss, later + 599, "check") == ""
    shown = values(ok(boss, later + 300, "extend", str(8 * HOUR)))
    assert shown["expires"] == str(later + 300 + 8 * HOUR)
    assert shared.read_text() == f"{later + 300 + 8 * HOUR}\n"
    assert ok(boss, later + 300 + 8 * HOUR, "check") == f"ENDED {later + 300 + 8 * HOUR}\n"


def test_a_paused_node_that_start_never_renews_still_ends_after_the_grace(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = controller(tmp_path, shared, script)
    stopped_and_booted(boss, 2000)
    later = 1000 + 30 * HOUR  # started from the EC2 console, say: nobody renews
    assert ok(boss, later, "check") == ""
    assert ok(boss, later + 600, "check") == f"ENDED {1000 + 8 * HOUR}\n"
    lease_done = boss.run(later + 601, "extend", str(HOUR))
    assert lease_done.returncode == 3  # the grace is over and forgotten


def test_a_pause_without_a_stop_changes_nothing(tmp_path: Path, shared: Path, script: Path) -> None:
    boss = controller(tmp_path, shared, script)
    ok(boss, 2000, "pause")  # the stop failed: the node runs on, the same boot
    assert ok(boss, 1000 + 8 * HOUR, "check") == f"ENDED {1000 + 8 * HOUR}\n"
    assert boss.run(1000 + 8 * HOUR, "extend", str(HOUR)).returncode == 3


def test_a_resumed_worker_waits_too_and_takes_the_renewed_lease_from_data(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = controller(tmp_path, shared, script)
    worker = node(tmp_path, "worker", shared, script)
    ok(worker, 1000, "init", "node", str(8 * HOUR), "0")
    stopped_and_booted(worker, 2000)
    stopped_and_booted(boss, 2000)
    later = 1000 + 30 * HOUR
    ok(worker, later, "sync")  # the controller has not renewed yet: the ended end is copied
    assert ok(worker, later + 15, "check") == ""
    ok(boss, later + 20, "extend", str(8 * HOUR))
    ok(worker, later + 30, "sync")
    assert worker.cached_end() == later + 20 + 8 * HOUR
    assert ok(worker, later + 700, "check") == ""


def test_idle_stop_counts_from_the_boot_after_a_pause(
    tmp_path: Path, shared: Path, script: Path
) -> None:
    boss = controller(tmp_path, shared, script, idle=5)
    stopped_and_booted(boss, 2000)
    later = 1000 + 4 * HOUR  # the lease still runs; the last activity is hours old
    ok(boss, later, "sync")
    assert boss.cached_end() == 1000 + 8 * HOUR
    assert values(ok(boss, later, "show"))["active"] == str(later)
