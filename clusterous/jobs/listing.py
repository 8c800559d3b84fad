"""A job's tasks and records, fetched by ``task_lister`` on the controller in one command.

The summary of ``jobs``, ``jobs wait`` and ``jobs show`` needs per task only
its slot, state, node and exit code: the script keeps these on the controller,
so a poll moves 100-200 bytes a task instead of Swarm's 2-4 KB (a long wait on
1,000 tasks moved 1 GB through the SSH connection in 8 minutes).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterous.errors import ClusterousError
from clusterous.jobs import task_lister
from clusterous.jobs.progress import Record
from clusterous.jobs.spec import RECORDS_DIR

if TYPE_CHECKING:
    from clusterous.remote.ssh import Session

Tasks = dict[str, list[dict[str, Any]]]


class ListingFailed(ClusterousError):
    """The controller did not list the tasks this time (its engine busy, say)."""


Records = dict[str, dict[int, Record]]


def list_tasks(session: Session, services: list[str]) -> tuple[Tasks, Records]:
    """round -> its tasks (Swarm's shape, the fields progress reads); round -> index -> record."""
    script = Path(task_lister.__file__).read_text()
    words = " ".join(shlex.quote(word) for word in [RECORDS_DIR, *services])
    result = session.run(f"python3 - {words}", stdin=script, timeout=60)
    if result.exit_status != 0:
        raise ListingFailed(
            f"listing the job's tasks failed on {session.endpoint.alias}",
            f"exit status {result.exit_status}: {result.tail(3)}",
            "try again; if it keeps failing, check the controller's engine: "
            "'clusterous ssh -- systemctl status docker'",
        )
    found = json.loads(result.stdout)
    return found["tasks"], records_of(found["records"])


def records_of(lines: dict[str, dict[str, str]]) -> Records:
    """round -> index -> the wrapper's line, parsed; lines it did not finish are left out."""
    found: Records = {}
    for service, by_index in lines.items():
        for index, line in by_index.items():
            record = Record.parse(line)
            if record is not None and index.isdigit():
                found.setdefault(service, {})[int(index)] = record
    return found
