"""A node that shuts itself down, seen as EC2 sees an instance-initiated shutdown.

On EC2 an instance that powers itself off (``clusterous-lease`` at the end of
its lease runs ``systemctl poweroff``) is stopped, or terminated when its
``InstanceInitiatedShutdownBehavior`` is ``terminate``, with no API call. On
the twin a node is a container: its bootstrap sees one and runs
``systemctl exit 0``, and the container exits with status 0. Nothing calls
moto, so moto would go on saying the instance runs.

``ShutdownWatcher`` follows the engine's ``die`` events of the twin's own
node containers (by its label) and hands each node that exited with status 0
to the materialiser, which tells moto what EC2 would do. Other statuses are
not a shutdown from inside: the engine stopping a node gives 130 (systemd
halted by its stop signal, restarted by the ``on-failure`` policy), and the
twin removing one kills it (137).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

log = logging.getLogger("twin.shutdown")

SHUTDOWN_STATUS = "0"


class ShutdownWatcher:
    """A thread reading the engine's events; ``close`` ends it."""

    def __init__(
        self,
        client: docker.DockerClient,
        label: str,
        twin_id: str,
        on_shutdown: Callable[[str], None],
    ) -> None:
        self.label = label
        self.on_shutdown = on_shutdown
        self._events = client.events(
            decode=True,
            filters={"type": "container", "event": "die", "label": f"{label}={twin_id}"},
        )
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="twin-shutdown", daemon=True)

    def start(self) -> ShutdownWatcher:
        self._thread.start()
        return self

    def _follow(self) -> None:
        try:
            for event in self._events:
                instance_id = shut_down_instance(event, self.label)
                if instance_id:
                    log.info("%s: its node shut itself down", instance_id)
                    self.on_shutdown(instance_id)
        except Exception:
            if not self._closed.is_set():
                log.exception("the engine's events stopped: self-shutdowns are no longer seen")

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(Exception):
            self._events.close()
        self._thread.join(timeout=10)


def shut_down_instance(event: dict[str, Any], label: str) -> str:
    """The instance whose node exited with status 0 in this ``die`` event, or ''."""
    attributes = event.get("Actor", {}).get("Attributes", {})
    if event.get("Action") != "die" or attributes.get("exitCode") != SHUTDOWN_STATUS:
        return ""
    return str(attributes.get(f"{label}.instance", ""))
