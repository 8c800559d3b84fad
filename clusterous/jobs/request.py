"""``clusterous submit``'s options turned into a JobRequest, each bad value named with its fix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from clusterous.errors import InputError
from clusterous.formats.fields import ENV_VAR_NAME_RE, parse_array, parse_memory, parse_workdir
from clusterous.jobs.spec import JobRequest

if TYPE_CHECKING:
    from clusterous.formats.models import Job


def from_options(
    command: Sequence[str],
    array: str | None = None,
    cpus: float | None = None,
    memory: str | None = None,
    group: str | None = None,
    workdir: str | None = None,
    env: Sequence[str] = (),
    name: str | None = None,
    image: str | None = None,
    retries: int = 0,
) -> JobRequest:
    if not command or not any(part.strip() for part in command):
        raise InputError(
            "say what each task runs", None, "add the command after '--': "
            "clusterous submit --array 1-10 -- 'echo {i} > /data/out/{i}.txt'"
        )  # fmt: skip
    if cpus is not None and cpus <= 0:
        raise InputError(f"--cpus must be more than 0, got {cpus:g}", None, "e.g. --cpus 1")
    if retries < 0:
        raise InputError(f"--retries must be 0 or more, got {retries}")
    return JobRequest(
        command=tuple(command),
        indices=_indices(array),
        cpus=cpus,
        memory_bytes=_memory(memory),
        group=group,
        workdir=check_workdir(workdir),
        environment=parse_env(env),
        name=name,
        image=image,
        retries=retries,
    )


def _indices(array: str | None) -> tuple[int, ...]:
    if array is None:
        return (0,)
    try:
        return tuple(parse_array(array))
    except ValueError as problem:
        raise InputError(
            f"--array {array!r} is not a job array",
            str(problem),
            "write it as A-B, e.g. --array 1-1000",
        ) from None


def _memory(memory: str | None) -> int | None:
    try:
        return parse_memory(memory)
    except ValueError as problem:
        raise InputError(f"--memory {memory!r}: {problem}", None, "e.g. --memory 2g") from None


def check_workdir(workdir: str | None) -> str | None:
    try:
        return parse_workdir(workdir)
    except ValueError:
        raise InputError(
            f"--workdir {workdir!r} is not on the shared volume",
            "a task's working directory must be /data or under it, so every node has it",
            "e.g. --workdir /data/run1",
        ) from None


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not ENV_VAR_NAME_RE.fullmatch(key):
            raise InputError(
                f"--env {pair!r} is not NAME=VALUE", None, "e.g. --env SEED=42"
            )  # fmt: skip
        found[key] = value
    return found


def from_job(name: str, job: Job) -> JobRequest:
    """A job of a job file (or of an environment file's ``jobs:``), already validated."""
    command = (job.command,) if isinstance(job.command, str) else tuple(job.command)
    return JobRequest(
        command=command,
        indices=tuple(job.array) if job.array is not None else (0,),
        cpus=job.cpus,
        memory_bytes=job.memory,
        group=job.group,
        workdir=job.workdir,
        environment=dict(job.environment),
        name=name,
        image=job.image,
        retries=job.retries,
    )
