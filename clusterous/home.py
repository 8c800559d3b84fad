"""Where clusterous keeps its files, and how it writes them safely.

Home is ``$CLUSTEROUS_HOME`` or ``~/.clusterous``. It holds ``config.yml``
(profiles, mode 0600) and ``clusters/<name>/`` (the ledger ``state.json``, the
cluster's SSH keys and known_hosts, tunnel records). Every write is atomic
(write to a temporary file, then rename) and writers of one file serialise on a
lock file, so two CLIs working on one cluster never corrupt it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from clusterous.errors import InputError

CLUSTER_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")


def check_cluster_name(name: str) -> str:
    """Cluster names end up in container names, tags and DNS: keep them simple."""
    if not CLUSTER_NAME_RE.fullmatch(name):
        raise InputError(
            f"invalid cluster name {name!r}",
            "use 1-32 lowercase letters, digits and dashes, starting with a letter",
            "for example: --name my-cluster",
        )
    return name


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def from_environment(cls) -> Home:
        configured = os.environ.get("CLUSTEROUS_HOME")
        root = Path(configured).expanduser() if configured else Path.home() / ".clusterous"
        return cls(root.absolute())

    @property
    def config_path(self) -> Path:
        return self.root / "config.yml"

    @property
    def clusters_dir(self) -> Path:
        return self.root / "clusters"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def cluster_dir(self, name: str) -> Path:
        return self.clusters_dir / check_cluster_name(name)

    def cluster_names(self) -> list[str]:
        if not self.clusters_dir.is_dir():
            return []
        return sorted(p.name for p in self.clusters_dir.iterdir() if (p / "state.json").exists())

    def ensure(self) -> Path:
        make_private_dirs(self.root)
        return self.root


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each 0700 whatever the umask.

    ``Path.mkdir(parents=True, mode=...)`` gives the mode to the last one only;
    the parents it makes get the umask's (often world-readable) mode.
    """
    missing = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another CLI made it meanwhile
            created.mkdir(mode=0o700)
            os.chmod(created, 0o700)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable: it lives in the directory's entries."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` in one rename; readers never see half a file.

    The file is synced before the rename and the directory after it, so a
    power cut leaves either the old content or the new, never an empty file.
    """
    make_private_dirs(path.parent)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(path.parent)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing)."""
    make_private_dirs(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
