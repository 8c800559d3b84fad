"""Job files and an environment file's ``jobs:``: read with FILE:LINE problems, and a schema."""

from __future__ import annotations

import json
from pathlib import Path

from clusterous.formats import Kind, validate_file
from clusterous.formats.jobs import json_schema, load_jobs
from tests.formats.format_helpers import REPO_ROOT, problems_of

GOOD = """\
name: sweep
jobs:
  sweep:
    command: "python3 /data/run.py --seed {i}"
    array: 1-1000
    cpus: 2
    memory: 2g
    workdir: /data/run1
    environment: {THREADS: 2}
    image: sim
    retries: 1
  once:
    command: [echo, hello]
"""


def write(tmp_path: Path, text: str, name: str = "jobs.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_job_file_reads_each_job_with_its_values(tmp_path: Path) -> None:
    jobs = load_jobs(write(tmp_path, GOOD))
    sweep, once = jobs["sweep"], jobs["once"]
    assert sweep.array == list(range(1, 1001))
    assert (sweep.cpus, sweep.memory, sweep.workdir, sweep.retries) == (
        2.0,
        2 * 1024**3,
        "/data/run1",
        1,
    )
    assert sweep.environment == {"THREADS": "2"}
    assert (once.command, once.array) == (["echo", "hello"], None)


def test_validate_knows_a_job_file_by_its_keys(tmp_path: Path) -> None:
    result = validate_file(write(tmp_path, GOOD))
    assert result.kind is Kind.JOBS
    assert result.summary() == "job file: 2 job(s): sweep, once"
    assert "array: 1-1000" in result.to_yaml()


def test_every_problem_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "jobs:\n  bad:\n    command: 5\n    array: 9-1\n    cpus: 0\n"
        "    workdir: /tmp\n    colour: red\n    retries: -1\n",
    )
    found = problems_of(lambda: load_jobs(path))
    assert found == [
        f"{path}:3: jobs.bad.command: expected a command (a string or a list of strings), got 5",
        f"{path}:4: jobs.bad.array: the range 9-1 ends before it starts: write 1-9",
        f"{path}:5: jobs.bad.cpus: expected a number of CPUs above 0, such as 1 or 0.5, got 0",
        f"{path}:6: jobs.bad.workdir: expected /data or a directory under it "
        '(the shared volume), got "/tmp"',
        f"{path}:7: jobs.bad.colour: unknown field (valid fields: command, array, cpus, memory, "
        "group, workdir, environment, image, retries)",
        f"{path}:8: jobs.bad.retries: must be ≥ 0, got -1",
    ]


def test_an_environment_file_may_carry_jobs(tmp_path: Path) -> None:
    env = (REPO_ROOT / "environments" / "busybox-web" / "env.yml").read_text()
    path = write(
        tmp_path, env + "jobs:\n  pages:\n    command: 'echo {i}'\n    array: 1-3\n", "env.yml"
    )
    assert list(load_jobs(path)) == ["pages"]
    assert validate_file(path).kind is Kind.ENVIRONMENT


def test_a_file_without_jobs_says_what_to_add(tmp_path: Path) -> None:
    path = REPO_ROOT / "environments" / "busybox-web" / "env.yml"
    (problem,) = problems_of(lambda: load_jobs(path))
    assert "no 'jobs:' section: add one" in problem


def test_the_schema_in_docs_is_the_one_the_loader_checks() -> None:
    written = json.loads((REPO_ROOT / "docs" / "jobs.schema.json").read_text())
    assert written == json_schema(), "regenerate docs/jobs.schema.json (see docs/jobs.md)"
