"""The local shared volume: a host directory per cluster, mounted at /data on every node.

It lives at ``$CLUSTEROUS_HOME/volumes/<cluster>``. A directory the user
brings (``shared_volume_id``) is linked there, never owned: a sweep unlinks it
and leaves its files. ``destroy --keep-volume`` leaves the cluster's own
directory; a later cluster of that name uses it again, and nothing deletes it
but ``rm-volume``. This is the local provider's ``kept_volumes`` capability
too, so ``ls-volumes`` and ``rm-volume`` work as on AWS.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterous.errors import InputError, NotFoundError
from clusterous.home import Home
from clusterous.providers.base import KeptVolume, Recorder, Say, SweepResult
from clusterous.providers.local.ownership import CLUSTER_LABEL
from clusterous.records import ClusterState, ResourceRecord

if TYPE_CHECKING:
    import docker

HERE = "this machine"


def volumes_dir(home: Home) -> Path:
    return home.root / "volumes"


class LocalVolumes:
    """The shared directories of one clusterous home; ``cluster``'s is the one a create makes."""

    free_to_keep = True  # a directory on this machine: keeping it costs nothing

    def __init__(
        self,
        home: Home,
        cluster: str,
        client: Callable[[], docker.DockerClient],
        base_image: str,
    ) -> None:
        self.home = home
        self.cluster = cluster
        self.client = client
        self.base_image = base_image

    @property
    def shared_dir(self) -> Path:
        return volumes_dir(self.home) / self.cluster

    # -- a create ---------------------------------------------------------------------

    def create(self, recorder: Recorder, volume_id: str | None) -> ResourceRecord:
        """The shared volume is a host directory; one the user brings is linked, never owned."""
        self.shared_dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if volume_id:
            brought = Path(volume_id).expanduser().absolute()
            if not brought.is_dir():
                raise InputError(
                    f"shared volume {volume_id!r} is not a directory",
                    "on the local provider a shared_volume_id is a directory you bring",
                    "create it first, or leave shared_volume_id out",
                )
            if not self.shared_dir.is_symlink():
                self.shared_dir.symlink_to(brought, target_is_directory=True)
            resource = ResourceRecord("shared-dir", str(brought), "shared volume", keep=True)
        elif self.shared_dir.exists():
            # left by 'destroy --keep-volume': its files are the user's, so nothing may delete it
            resource = ResourceRecord(
                "shared-dir", str(self.shared_dir), "shared volume (kept from before)", keep=True
            )
        else:
            self.shared_dir.mkdir(mode=0o755)
            resource = ResourceRecord("shared-dir", str(self.shared_dir), "shared volume")
        recorder.record_resource(resource)
        return resource

    # -- a sweep --------------------------------------------------------------------------

    def doomed(
        self, state: ClusterState | None, keep_volume: bool, result: SweepResult, say: Say
    ) -> list[str]:
        """The shared directory a sweep removes ([] when kept, and said so in ``result``)."""
        shared = self.shared_dir
        if shared.is_symlink():
            brought = shared.resolve()
            shared.unlink()
            result.kept.append(f"shared directory {brought} (brought by you: never deleted)")
            return []
        if not shared.exists():
            return []
        if self._kept_before(state):
            result.kept.append(
                f"shared volume {shared} (kept from before: never deleted; "
                f"delete it with 'clusterous rm-volume {shared}' when you no longer need it)"
            )
        elif keep_volume:
            result.kept.append(
                f"shared volume {shared} (a new cluster named {self.cluster!r} uses it "
                f"again; delete it with 'clusterous rm-volume {shared}')"
            )
        else:
            return [str(shared)]
        say(f"kept the shared volume {shared}")
        return []

    def remove_tree(self, path: Path) -> None:
        """Files made by root in the nodes may not be ours to delete: ask the engine."""
        try:
            shutil.rmtree(path)
        except PermissionError:
            self.client().containers.run(
                self.base_image,
                ["sh", "-c", "rm -rf /target/* /target/.[!.]* /target/..?*"],
                mounts=[_bind(path, "/target")],
                remove=True,
                labels={CLUSTER_LABEL: path.name, "clusterous.role": "cleanup"},
            )
            shutil.rmtree(path)

    def _kept_before(self, state: ClusterState | None) -> bool:
        resources = state.resources if state else []
        return any(r.keep and r.id == str(self.shared_dir) for r in resources)

    # -- the kept_volumes capability ----------------------------------------------------------

    def question(self, state: ClusterState | None) -> str | None:
        """The shared directory a destroy would delete, when it holds files worth asking about."""
        if self.shared_dir.is_symlink() or not self.shared_dir.is_dir():
            return None
        if self._kept_before(state):
            return None
        try:
            empty = next(self.shared_dir.iterdir(), None) is None
        except OSError:
            empty = False  # unreadable: assume it holds files
        return None if empty else str(self.shared_dir)

    def find(self) -> list[KeptVolume]:
        """Every shared directory clusterous made here (links to brought ones aside)."""
        top = volumes_dir(self.home)
        if not top.is_dir():
            return []
        found = sorted(p for p in top.iterdir() if p.is_dir() and not p.is_symlink())
        in_use = set(self.home.cluster_names())
        return [
            KeptVolume(
                id=str(path),
                cluster=path.name,
                size_gib=None,
                zone=HERE,
                state="in-use" if path.name in in_use else "available",
                kept=path.name not in in_use,
                attached_to=(path.name,) if path.name in in_use else (),
            )
            for path in found
        ]

    def remove(self, volume_id: str) -> KeptVolume:
        """Delete a kept shared directory (by path, or by its cluster's name)."""
        names = {
            str(Path(volume_id).expanduser().absolute()),
            str(volumes_dir(self.home) / volume_id),
        }
        volume = next((v for v in self.find() if v.id in names), None)
        if volume is None:
            raise NotFoundError(
                f"no shared volume {volume_id} of clusterous on this machine",
                f"the local shared volumes are the directories in {volumes_dir(self.home)}",
                "see 'clusterous ls-volumes'",
            )
        if volume.attached_to:
            raise InputError(
                f"volume {volume.id} is in use by cluster {volume.cluster}",
                None,
                f"destroy the cluster first: 'clusterous destroy {volume.cluster} --delete-volume'",
            )
        self.remove_tree(Path(volume.id))
        return volume


def _bind(path: Path, target: str) -> Any:
    from docker.types import Mount

    return Mount(target, str(path), type="bind")
