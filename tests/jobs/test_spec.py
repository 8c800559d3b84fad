"""A job's pure parts: the array, the command line a task runs, and the sh wrapper itself.

The wrapper is run by the real /bin/sh here, with the variables Swarm would
set, and its records written to a temporary directory instead of /data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from clusterous.formats.fields import parse_array
from clusterous.jobs.spec import (
    RECORDS_DIR,
    WRAPPER,
    JobRequest,
    command_line,
    compact,
    first_round,
    round_variables,
)


def run_task(
    tmp_path: Path, command: str, slot: str, variables: dict[str, str], retries: int = 0
) -> tuple[int, str]:
    env = {
        "PATH": os.environ["PATH"],
        "CLUSTEROUS_TASK_SLOT": slot,
        "CLUSTEROUS_JOB_COMMAND": command,
        "CLUSTEROUS_JOB_RETRIES": str(retries),
        **variables,
    }
    script = WRAPPER.replace(RECORDS_DIR, str(tmp_path))
    done = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True)
    return done.returncode, done.stdout


def test_an_array_is_a_range_or_a_list_of_indices_and_ranges() -> None:
    assert parse_array("1-5") == [1, 2, 3, 4, 5]
    assert parse_array("7") == [7]
    assert parse_array("1,5,10-12") == [1, 5, 10, 11, 12]


@pytest.mark.parametrize("bad", ["5-1", "a-b", "1-", "-3", "", "1-2-3"])
def test_a_bad_array_is_refused_with_what_was_given(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_array(bad)


def test_compact_writes_runs_of_indices_as_ranges() -> None:
    assert compact([1, 2, 3, 7, 9, 10]) == "1-3,7,9-10"
    assert parse_array(compact([4, 5, 6, 20])) == [4, 5, 6, 20]


def test_one_argument_is_a_shell_line_and_several_are_quoted_words(tmp_path: Path) -> None:
    assert command_line(["echo {i} > /data/out/{i}.txt"]) == (
        "echo ${CLUSTEROUS_TASK_INDEX} > /data/out/${CLUSTEROUS_TASK_INDEX}.txt"
    )
    words = command_line(["printf", "%s|", "--seed={i}", "a b", "$HOME;{i}"])
    variables = {"CLUSTEROUS_JOB_ROUND": "j-1", "CLUSTEROUS_JOB_FIRST": "12"}
    assert run_task(tmp_path, words, "0", variables) == (0, "--seed=12|a b|$HOME;12|")


def test_a_contiguous_round_sends_its_first_index_and_another_the_list() -> None:
    assert round_variables("j-1", (3, 4, 5)) == {
        "CLUSTEROUS_JOB_ROUND": "j-1",
        "CLUSTEROUS_JOB_FIRST": "3",
    }
    assert round_variables("j-1-r1", (3, 9))["CLUSTEROUS_JOB_INDICES"] == "3 9"


def test_a_round_is_labelled_with_everything_needed_to_read_it_back() -> None:
    request = JobRequest(("true",), (1, 2, 3), cpus=2.0, name="sweep", retries=1)
    job = first_round("j-abc123", request, "registry:5000/bb", "worker")
    labels = job.labels()
    assert labels["clusterous.job.id"] == "j-abc123"
    assert labels["clusterous.job.indices"] == "1-3"
    assert labels["clusterous.job.name"] == "sweep"
    assert job.service == "j-abc123"
    assert job.environment()["CLUSTEROUS_TASK_SLOT"] == "{{.Task.Slot}}"


def test_the_wrapper_maps_the_slot_to_the_index_and_substitutes_it(tmp_path: Path) -> None:
    variables = {"CLUSTEROUS_JOB_ROUND": "j-1", "CLUSTEROUS_JOB_FIRST": "10"}
    code, out = run_task(tmp_path, command_line(["echo task {i}"]), "2", variables)
    assert (code, out) == (0, "task 12\n")
    start, end, exit_code, attempts = (tmp_path / "j-1" / "12").read_text().split()
    assert (exit_code, attempts) == ("0", "1") and int(end) >= int(start)


def test_slot_zero_which_swarm_renders_as_the_node_id_is_the_first_index(tmp_path: Path) -> None:
    variables = {"CLUSTEROUS_JOB_ROUND": "j-1", "CLUSTEROUS_JOB_FIRST": "1"}
    _, out = run_task(
        tmp_path, command_line(["echo", "{i}"]), "7uq9j9cbuub0j0epil1abtvzt", variables
    )
    assert out == "1\n"


def test_a_retry_round_finds_its_index_in_the_list(tmp_path: Path) -> None:
    variables = {"CLUSTEROUS_JOB_ROUND": "j-1-r1", "CLUSTEROUS_JOB_INDICES": "4 17 40"}
    _, out = run_task(tmp_path, "echo $CLUSTEROUS_TASK_INDEX", "1", variables)
    assert out == "17\n"


def test_a_failing_task_is_retried_as_asked_and_its_exit_code_recorded(tmp_path: Path) -> None:
    variables = {"CLUSTEROUS_JOB_ROUND": "j-1", "CLUSTEROUS_JOB_FIRST": "0"}
    code, out = run_task(tmp_path, "echo try; exit 3", "0", variables, retries=2)
    assert (code, out) == (3, "try\ntry\ntry\n")
    assert (tmp_path / "j-1" / "0").read_text().split()[2:] == ["3", "3"]


def test_a_finished_task_run_again_by_swarm_replays_its_outcome(tmp_path: Path) -> None:
    variables = {"CLUSTEROUS_JOB_ROUND": "j-1", "CLUSTEROUS_JOB_FIRST": "0"}
    run_task(tmp_path, "exit 5", "0", variables)
    code, out = run_task(tmp_path, "echo ran again", "0", variables)
    assert (code, out) == (5, "")


def test_a_stopped_task_stops_its_command_at_once_and_records_nothing(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "CLUSTEROUS_TASK_SLOT": "0",
        "CLUSTEROUS_JOB_COMMAND": f"touch {tmp_path}/started; exec sleep 30",
        "CLUSTEROUS_JOB_RETRIES": "0",
        "CLUSTEROUS_JOB_ROUND": "j-1",
        "CLUSTEROUS_JOB_FIRST": "0",
    }
    script = WRAPPER.replace(RECORDS_DIR, str(tmp_path))
    task = subprocess.Popen(["/bin/sh", "-c", script], env=env)
    deadline = time.monotonic() + 10
    while not (tmp_path / "started").exists():  # the command runs
        assert time.monotonic() < deadline
        time.sleep(0.05)
    task.send_signal(signal.SIGTERM)
    assert task.wait(timeout=5) == 143
    assert list((tmp_path / "j-1").iterdir()) == []
