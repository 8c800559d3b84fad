"""Batch job use cases: submit, list, show, logs, cancel, wait, retry.

Every fact about a job is read back from the cluster (its services' labels,
Swarm's tasks, the wrapper's records under /data/.clusterous/jobs), so a job
lives on without the laptop, and any machine with the cluster's files sees it.
Input is checked before anything is created: the array, the group, the CPUs a
task asks (against the nodes, naming the types that would fit), the image.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from paramiko.ssh_exception import SSHException

from clusterous import cancel
from clusterous.errors import ClusterousError, InputError, NotFoundError
from clusterous.jobs import swarm_jobs
from clusterous.jobs.listing import ListingFailed, list_tasks
from clusterous.jobs.progress import JobSummary, TaskRow, job_rows, summarize
from clusterous.jobs.request import from_job, from_options
from clusterous.jobs.spec import RECORDS_DIR, JobRequest, compact, first_round, new_job_id
from clusterous.jobs.swarm_jobs import RoundView
from clusterous.operations.environments import engine
from clusterous.operations.handle import ClusterHandle
from clusterous.remote.ssh import SSHUnavailable

if TYPE_CHECKING:
    import docker

    from clusterous.manager.lock import Warn
    from clusterous.records import NodeRecord
    from clusterous.remote.ssh import Session

DEFAULT_IMAGE = "debian:bookworm-slim"
POLL_SECONDS = 2.0
RECONNECTS = 5
# How a link to the controller breaks: a socket (requests' errors are OSErrors too), the SSH
# transport (paramiko raises EOFError, which no OSError is, when sshd closed it), the reconnect,
# a listing the controller's engine did not answer.
LOST_LINK = (OSError, EOFError, SSHException, SSHUnavailable, ListingFailed)
CANCEL_SECONDS = 30.0  # for the running tasks to stop before their services go
Link = TypeVar("Link")  # what ``follow`` polls through: (session, docker client) for ``wait``
# The CLI builds a request from its options with the checks of jobs/request.py.
request_from_options = from_options


@dataclass(frozen=True)
class Submitted:
    job_id: str
    tasks: int
    image: str
    group: str


@dataclass(frozen=True)
class JobDetail:
    summary: JobSummary
    rows: list[TaskRow]


def submit(
    handle: ClusterHandle, request: JobRequest, say: Callable[[str], None] = lambda _: None
) -> Submitted:
    """Check the request, then create the job's first round: one service, however many tasks."""
    return submit_all(handle, [request], say)[0]


def load_file(path: Path) -> list[JobRequest]:
    """The jobs of a job file or an environment file, checked (FILE:LINE problems)."""
    from clusterous.formats.jobs import load_jobs

    if not path.is_file():
        raise InputError(f"no job file at {path}", None, "check the path")
    return [from_job(name, job) for name, job in load_jobs(path).items()]


def submit_all(
    handle: ClusterHandle, requests: list[JobRequest], say: Callable[[str], None] = lambda _: None
) -> list[Submitted]:
    """Each job in turn, every one checked before any is created; one engine connection."""
    from clusterous.jobs.checks import check_cpus, choose_group, resolve_image, slots

    state = handle.state()
    with engine(handle) as (_, client):
        rounds = []
        for request in requests:
            group = choose_group(state, request.group)
            nodes = check_cpus(client, handle.provider.catalog, state, group, request.cpus)
            if request.image is None:
                image = default_image(handle, client, say)
            else:
                image = resolve_image(client, request.image, defaulted=False)
            job = first_round(new_job_id(), request, image, group)
            rounds.append((job, slots(nodes, request.cpus)))
        for job, room in rounds:
            swarm_jobs.create_round(client, job, room)
    return [Submitted(j.job_id, len(j.indices), j.image, j.group) for j, _ in rounds]


def default_image(
    handle: ClusterHandle, client: docker.DockerClient, say: Callable[[str], None]
) -> str:
    """The Debian base, pulled by the nodes; where they cannot pull it (a local cluster),
    copied once into the cluster registry from where the provider has it."""
    from clusterous.environments.images import copy_to_registry
    from clusterous.jobs.checks import resolve_image

    source = handle.provider.image_source
    try:
        return resolve_image(client, DEFAULT_IMAGE, defaulted=True)
    except InputError:
        archive = source.archive(DEFAULT_IMAGE) if source is not None else None
        if archive is None:
            raise
    say(f"copying {DEFAULT_IMAGE} into the cluster registry (once; no --image was given)")
    return copy_to_registry(client, archive, DEFAULT_IMAGE)


def list_jobs(handle: ClusterHandle) -> list[JobSummary]:
    with engine(handle) as (session, client):
        found = swarm_jobs.rounds(client)
        details = [_detail(session, client, views) for views in found.values()]
    return sorted((d.summary for d in details), key=lambda s: s.submitted_at)


def show(handle: ClusterHandle, job: str) -> JobDetail:
    with engine(handle) as (session, client):
        return _detail(session, client, _rounds_of(client, job))


def detail_on(session: Session, client: docker.DockerClient, job: str) -> JobDetail:
    """A job's rows and summary through an open engine connection (``engine(handle)``)."""
    return _detail(session, client, _rounds_of(client, job))


def _detail(session: Session, client: docker.DockerClient, views: list[RoundView]) -> JobDetail:
    from clusterous.environments.swarm_apps import node_names

    tasks, records = list_tasks(session, [v.service for v in views])
    rows = job_rows(views, tasks, records, node_names(client))
    return JobDetail(summarize(views, rows, time.time()), rows)


def _rounds_of(client: docker.DockerClient, job: str) -> list[RoundView]:
    """The rounds of the job with this id or name."""
    every = swarm_jobs.rounds(client)
    if job in every:
        return every[job]
    named = [views for views in every.values() if views[0].name == job]
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(views[0].job_id for views in named)
        raise InputError(f"several jobs are named {job!r}: {ids}", None, "use the job's id")
    known = ", ".join(sorted(every)) or "none"
    raise NotFoundError(f"no job {job!r} on cluster", f"its jobs: {known}", "see 'clusterous jobs'")


def logs(handle: ClusterHandle, job: str, task: int | None, on_line: Callable[[str], None]) -> None:
    """The job's output (every round), or the output of one array index."""
    from clusterous.environments.logs import lines_of

    with engine(handle) as (session, client):
        views = _rounds_of(client, job)
        wanted: set[str] | None = None
        if task is not None:
            wanted = _task_ids(session, client, views, task)
        for view in views:
            raw = client.api.service_logs(
                view.service, details=True, stdout=True, stderr=True, timestamps=False
            )
            for line in lines_of(raw):
                head, _, text = line.partition(" ")
                if wanted is None or any(f"com.docker.swarm.task.id={t}" in head for t in wanted):
                    on_line(text)


def _task_ids(
    session: Session, client: docker.DockerClient, views: list[RoundView], task: int
) -> set[str]:
    rows = {row.index: row for row in _detail(session, client, views).rows}
    if task not in rows:
        raise InputError(
            f"job {views[0].job_id} has no task {task}",
            f"its indices: {views[0].indices[0]}-{views[0].indices[-1]}",
            "pick an index 'clusterous jobs show' lists",
        )
    ids: set[str] = set()
    for view in views:
        tasks = swarm_jobs.round_tasks(client, [view.service])[view.service]
        if task in view.indices:
            slot = view.indices.index(task)
            ids |= {t["ID"] for t in tasks if int(t.get("Slot", 0)) == slot}
    return ids


def cancel_job(
    handle: ClusterHandle, job: str, sleep: Callable[[float], None] = cancel.sleep
) -> list[str]:
    """Remove the job's services (Swarm stops its running tasks, pending ones never start)
    and the records its tasks left under /data/.clusterous/jobs."""
    with engine(handle) as (session, client):
        job_id = _rounds_of(client, job)[0].job_id
        removed = swarm_jobs.remove(client, job_id, time.monotonic() + CANCEL_SECONDS, sleep)
        where = shlex.quote(f"{RECORDS_DIR}/{job_id}")
        session.run(f"rm -rf {where} {where}-r*", timeout=60)
        return removed


def retry_failed(handle: ClusterHandle, job: str) -> tuple[str, list[int]]:
    """A new round of the job for its failed and lost indices; (job id, indices)."""
    from clusterous.jobs.checks import group_cpus, slots

    with engine(handle) as (session, client):
        views = _rounds_of(client, job)
        rows = _detail(session, client, views).rows
        indices = [row.index for row in rows if row.state in ("failed", "lost")]
        job_id = views[0].job_id
        if not indices:
            raise InputError(
                f"job {job_id} has no failed task to retry",
                None,
                f"see 'clusterous jobs show {job_id}'",
            )
        base = next(s for s in swarm_jobs.job_services(client, job_id) if s.name == job_id)
        room = slots(group_cpus(client, views[0].group), views[0].cpus)
        swarm_jobs.create_retry(client, base, views[-1].number + 1, indices, room)
    return job_id, indices


def wait(
    handle: ClusterHandle,
    job: str,
    on_progress: Callable[[JobSummary], None],
    sleep: Callable[[float], None] = cancel.sleep,
    every: float = POLL_SECONDS,
) -> JobSummary:
    """Until no task is pending or running; Ctrl-C stops the waiting, not the job."""
    return follow(
        job, lambda: engine(handle), lambda link: detail_on(*link, job).summary,
        on_progress, sleep, every,
    )  # fmt: skip


def lost_link(problem: Exception) -> bool:
    """A dropped connection to the controller: SSH, or its engine's client behind it.

    The engine's client fails with a plain DockerException when the channel under
    it closes (while it asks the engine's API version, say); an APIError is the
    engine's own answer, not a lost link.
    """
    import docker

    errors = docker.errors
    if isinstance(problem, errors.APIError):  # also an OSError, through requests' HTTPError
        return False
    return isinstance(problem, (*LOST_LINK, errors.DockerException))


def follow(
    job: str,
    open_link: Callable[[], AbstractContextManager[Link]],
    summary_of: Callable[[Link], JobSummary],
    on_progress: Callable[[JobSummary], None],
    sleep: Callable[[float], None] = cancel.sleep,
    every: float = POLL_SECONDS,
) -> JobSummary:
    """Poll the job's summary through one link until it is finished.

    A long wait outlives connections: a dropped one is opened again
    (RECONNECTS times in a row at most), since the job goes on regardless.
    """
    dropped = 0
    while True:
        try:
            with open_link() as link:
                while True:
                    summary = summary_of(link)
                    dropped = 0
                    on_progress(summary)
                    if summary.finished:
                        return summary
                    sleep(every)
        except Exception as problem:
            if not lost_link(problem):
                raise
            dropped += 1
            if dropped > RECONNECTS:
                raise ClusterousError(
                    f"lost the connection to the controller while waiting for job {job}",
                    f"{dropped} connections in a row failed, the last with "
                    f"{type(problem).__name__}: {problem}",
                    f"the job goes on: wait again with 'clusterous jobs wait {job}', "
                    "and check the cluster with 'clusterous status'",
                ) from problem
            sleep(every)


def warn_cut_tasks(handle: ClusterHandle, leaving: list[NodeRecord], warn: Warn) -> None:
    """Before rm-nodes: say which running job tasks the leaving nodes cut short.

    Swarm does not move a job's tasks off a drained node; when the node is
    removed it marks them orphaned and runs them again elsewhere, from the start.
    """
    names = {n.name for n in leaving}
    try:
        with engine(handle) as (session, client):
            every = swarm_jobs.rounds(client)
            details = {job_id: _detail(session, client, views) for job_id, views in every.items()}
    except ClusterousError as problem:  # the removal goes on; say what was not checked
        warn(f"could not look for job tasks on the leaving nodes: {problem.what}")
        return
    for job_id, detail in sorted(details.items()):
        cut = [r.index for r in detail.rows if r.state == "running" and r.node in names]
        if cut:
            warn(
                f"{len(cut)} running task(s) of job {job_id} ({compact(cut)}) are on the nodes "
                "being removed: they are cut short and Swarm runs them again on other nodes"
            )


__all__ = [
    "JobDetail",
    "JobSummary",
    "Submitted",
    "cancel_job",
    "compact",
    "list_jobs",
    "load_file",
    "logs",
    "request_from_options",
    "retry_failed",
    "show",
    "submit",
    "submit_all",
    "wait",
    "warn_cut_tasks",
]  # fmt: skip
