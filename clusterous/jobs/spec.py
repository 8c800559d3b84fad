"""A job as data: the request, its rounds, the task wrapper and the labels that record it.

Pure: nothing here talks to Docker. A round is one ``replicated-job`` service
whose task slots 0..N-1 map to the round's array indices (the first index plus
the slot for a contiguous range, else through a list in the environment). The
wrapper is a few lines of POSIX sh, so any image with /bin/sh runs tasks: it
finds its index, runs the command with ``{i}`` already turned into
``$CLUSTEROUS_TASK_INDEX``, retries it ``--retries`` times, and records start,
end, exit code and attempts under /data, where a re-run of a finished task
(Swarm re-creates a task it saw fail) reads the outcome instead of running again.
A stop (cancel) reaches the command at once, and a stopped task records
nothing: run again, it runs from the start.
"""

from __future__ import annotations

import secrets
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from clusterous.formats.fields import compact_array as compact

JOB_ID_LABEL = "clusterous.job.id"
JOB_NAME_LABEL = "clusterous.job.name"
ROUND_LABEL = "clusterous.job.round"
INDICES_LABEL = "clusterous.job.indices"
COMMAND_LABEL = "clusterous.job.command"
SUBMITTED_LABEL = "clusterous.job.submitted-at"
RETRIES_LABEL = "clusterous.job.retries"
GROUP_LABEL = "clusterous.job.group"
CPUS_LABEL = "clusterous.job.cpus"
RECORDS_DIR = "/data/.clusterous/jobs"
INDEX_MARK = "{i}"
INDEX_VARIABLE = "CLUSTEROUS_TASK_INDEX"

# Swarm renders {{.Task.Slot}} of slot 0 as the node id (as for global services):
# anything but digits is slot 0.
WRAPPER = """\
s="$CLUSTEROUS_TASK_SLOT"
case "$s" in ''|*[!0-9]*) s=0 ;; esac
if [ -n "$CLUSTEROUS_JOB_INDICES" ]; then
  set -- $CLUSTEROUS_JOB_INDICES; shift "$s"; i="$1"
else
  i=$((CLUSTEROUS_JOB_FIRST + s))
fi
export CLUSTEROUS_TASK_INDEX="$i"
d="@RECORDS@/$CLUSTEROUS_JOB_ROUND"; f="$d/$i"
if [ -f "$f" ]; then read -r _ _ rc _ < "$f"; exit "$rc"; fi
mkdir -p "$d" 2>/dev/null
start=$(date +%s); n=0
while :; do
  n=$((n + 1))
  /bin/sh -c "$CLUSTEROUS_JOB_COMMAND" & child=$!
  trap 'kill -TERM "$child" 2>/dev/null; exit 143' TERM INT
  wait "$child"; rc=$?; trap - TERM INT
  if [ "$rc" -eq 0 ] || [ "$n" -gt "$CLUSTEROUS_JOB_RETRIES" ]; then break; fi
done
echo "$start $(date +%s) $rc $n" > "$f.part" && mv "$f.part" "$f"
exit "$rc"
""".replace("@RECORDS@", RECORDS_DIR)


@dataclass(frozen=True)
class JobRequest:
    """What ``clusterous submit`` (or a job file) asks for."""

    command: tuple[str, ...]
    indices: tuple[int, ...] = (0,)
    cpus: float | None = None
    memory_bytes: int | None = None
    group: str | None = None
    workdir: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    image: str | None = None
    retries: int = 0


@dataclass(frozen=True)
class JobRound:
    """One service of a job: the first submit (round 0) or a retry."""

    job_id: str
    number: int
    request: JobRequest
    indices: tuple[int, ...]
    image: str
    group: str
    submitted_at: float

    @property
    def service(self) -> str:
        return self.job_id if self.number == 0 else f"{self.job_id}-r{self.number}"

    @property
    def constraint(self) -> str:
        return f"node.labels.clusterous.group == {self.group}"

    def labels(self) -> dict[str, str]:
        request = self.request
        labels = {
            JOB_ID_LABEL: self.job_id,
            ROUND_LABEL: str(self.number),
            INDICES_LABEL: compact(self.indices),
            COMMAND_LABEL: display_command(request.command),
            SUBMITTED_LABEL: f"{self.submitted_at:.3f}",
            RETRIES_LABEL: str(request.retries),
            GROUP_LABEL: self.group,
            CPUS_LABEL: "" if request.cpus is None else repr(request.cpus),
        }
        if request.name:
            labels[JOB_NAME_LABEL] = request.name
        return labels

    def environment(self) -> dict[str, str]:
        return {
            **self.request.environment,
            "CLUSTEROUS_JOB_ID": self.job_id,
            "CLUSTEROUS_JOB_COMMAND": command_line(self.request.command),
            "CLUSTEROUS_JOB_RETRIES": str(self.request.retries),
            "CLUSTEROUS_TASK_SLOT": "{{.Task.Slot}}",
            "CLUSTEROUS_NODE": "{{.Node.Hostname}}",
            **round_variables(self.service, self.indices),
        }


def round_variables(service: str, indices: tuple[int, ...]) -> dict[str, str]:
    """What tells a round's tasks their indices: the first one, or the whole list."""
    found = {"CLUSTEROUS_JOB_ROUND": service}
    if is_contiguous(indices):
        found["CLUSTEROUS_JOB_FIRST"] = str(indices[0])
    else:
        found["CLUSTEROUS_JOB_INDICES"] = " ".join(map(str, indices))
    return found


def new_job_id(token: str | None = None) -> str:
    """Short and human: ``j-7f3a2c``."""
    return f"j-{token or secrets.token_hex(3)}"


def first_round(job_id: str, request: JobRequest, image: str, group: str) -> JobRound:
    return JobRound(job_id, 0, request, request.indices, image, group, time.time())


def command_line(command: Sequence[str]) -> str:
    """The shell line a task runs: one argument is a shell command line, as ``cmd:`` is in an
    environment file; several are words, quoted. ``{i}`` becomes the task's index."""
    variable = f'"${INDEX_VARIABLE}"'
    if len(command) == 1:
        return command[0].replace(INDEX_MARK, "${" + INDEX_VARIABLE + "}")
    words = [variable.join(shlex.quote(p) for p in word.split(INDEX_MARK)) for word in command]
    return "exec " + " ".join(words)


def display_command(command: Sequence[str]) -> str:
    return command[0] if len(command) == 1 else shlex.join(command)


def is_contiguous(indices: Sequence[int]) -> bool:
    return bool(indices) and indices[-1] - indices[0] == len(indices) - 1
