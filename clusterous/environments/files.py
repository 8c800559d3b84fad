"""Files on the shared volume /data: put, get, ls, rm and the ``copy:`` of a run.

Everything goes over SFTP on the controller's SSH session (the controller owns
/data on every provider). Every remote path is confined to /data twice: by
its spelling (``..`` and absolute paths elsewhere are refused) and by where
it really leads on the controller (a symlink out of /data is refused). A
directory is sent file by file, skipping files whose size and modification
time already match, so a re-run sends only what changed.
"""

from __future__ import annotations

import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clusterous.errors import ClusterousError, InputError, NotFoundError

if TYPE_CHECKING:
    import paramiko

ROOT = "/data"
ALIASES = ("/home/data",)  # Clusterous 1.0 files name the volume /home/data


@dataclass
class Transfer:
    sent: int = 0
    unchanged: int = 0
    bytes_sent: int = 0


@dataclass(frozen=True)
class Entry:
    name: str
    is_dir: bool
    size: int
    mtime: int


def _outside(path: str) -> InputError:
    return InputError(
        f"{path!r} is outside the shared volume",
        f"every path must stay under {ROOT}",
        "give a path relative to /data, such as 'results/run1'",
    )


def confine(remote: str | None) -> str:
    """The absolute path under /data that ``remote`` names, judged by spelling alone."""
    text = (remote or "").strip() or ROOT
    for alias in ALIASES:
        if text == alias or text.startswith(alias + "/"):
            text = ROOT + text[len(alias) :]
    joined = text if text.startswith("/") else posixpath.join(ROOT, text)
    normal = posixpath.normpath(joined)
    if normal != ROOT and not normal.startswith(ROOT + "/"):
        raise _outside(text)
    return normal


def within_root(path: str) -> bool:
    return path == ROOT or path.startswith(ROOT + "/")


def confine_real(remote: str | None, realpath: Callable[[str], str | None]) -> str:
    """Also refuse a path that leads out of /data through a symlink.

    ``realpath`` answers the canonical path of an existing path, None when it
    does not exist; the deepest existing ancestor is the one judged.
    """
    path = confine(remote)
    probe = path
    while True:
        real = realpath(probe)
        if real is not None:
            if not within_root(real):
                raise _outside(remote or path)
            return path
        if probe == ROOT:
            return path
        probe = posixpath.dirname(probe)


class SharedVolume:
    """/data on the controller, through one SFTP session."""

    def __init__(self, sftp: paramiko.SFTPClient) -> None:
        self.sftp = sftp

    def _realpath(self, path: str) -> str | None:
        if not self._lexists(path):
            return None
        try:
            return self.sftp.normalize(path)
        except OSError:
            return ""  # a dangling symlink: where it leads cannot be judged, so refuse it

    def path(self, remote: str | None) -> str:
        return confine_real(remote, self._realpath)

    def _stat(self, path: str) -> paramiko.SFTPAttributes | None:
        try:
            return self.sftp.stat(path)
        except OSError:
            return None

    def is_dir(self, path: str) -> bool:
        attrs = self._stat(path)
        return attrs is not None and stat.S_ISDIR(attrs.st_mode or 0)

    def makedirs(self, path: str) -> None:
        if path == ROOT or self.is_dir(path):
            return
        self.makedirs(posixpath.dirname(path))
        self.sftp.mkdir(path)

    # -- put ---------------------------------------------------------------

    def put(self, local: Path, remote: str | None, on_file: Callable[[str], None]) -> Transfer:
        if not local.exists():
            raise InputError(f"{local} does not exist", None, "check the path")
        target = self.path(remote)
        if remote is None or self.is_dir(target):
            target = self.path(posixpath.join(target, local.name))
        done = Transfer()
        if local.is_dir():
            self.put_tree(local, target, done, on_file)
        else:
            self.makedirs(posixpath.dirname(target))
            self._put_file(local, target, done, on_file)
        return done

    def put_tree(
        self, local: Path, target: str, done: Transfer, on_file: Callable[[str], None]
    ) -> None:
        self.makedirs(target)
        for child in sorted(local.iterdir()):
            remote_child = self.path(posixpath.join(target, child.name))
            if child.is_dir():
                self.put_tree(child, remote_child, done, on_file)
            elif child.is_file():
                self._put_file(child, remote_child, done, on_file)

    def _put_file(
        self, local: Path, target: str, done: Transfer, on_file: Callable[[str], None]
    ) -> None:
        info = local.stat()
        current = self._stat(target)
        if (
            current is not None
            and current.st_size == info.st_size
            and current.st_mtime == int(info.st_mtime)
        ):
            done.unchanged += 1
            return
        self.sftp.put(str(local), target)
        self.sftp.utime(target, (int(info.st_atime), int(info.st_mtime)))
        self.sftp.chmod(target, info.st_mode & 0o777)
        done.sent += 1
        done.bytes_sent += info.st_size
        on_file(target)

    # -- get, ls, rm ---------------------------------------------------------

    def _require(self, path: str) -> paramiko.SFTPAttributes:
        attrs = self._stat(path)
        if attrs is None:
            raise NotFoundError(
                f"{path} does not exist on the shared volume", None, "see 'clusterous ls'"
            )
        return attrs

    def get(self, remote: str, local: Path, on_file: Callable[[str], None]) -> Transfer:
        source = self.path(remote)
        attrs = self._require(source)
        if local.is_dir():
            local = local / posixpath.basename(source)
        done = Transfer()
        if stat.S_ISDIR(attrs.st_mode or 0):
            self._get_tree(source, local, done, on_file)
        else:
            local.parent.mkdir(parents=True, exist_ok=True)
            self._get_file(source, local, done, on_file)
        return done

    def _get_tree(
        self, source: str, local: Path, done: Transfer, on_file: Callable[[str], None]
    ) -> None:
        local.mkdir(parents=True, exist_ok=True)
        for entry in sorted(self.sftp.listdir_attr(source), key=lambda e: e.filename):
            child = self.path(posixpath.join(source, entry.filename))
            if self.is_dir(child):
                self._get_tree(child, local / entry.filename, done, on_file)
            else:
                self._get_file(child, local / entry.filename, done, on_file)

    def _get_file(
        self, source: str, local: Path, done: Transfer, on_file: Callable[[str], None]
    ) -> None:
        self.sftp.get(source, str(local))
        done.sent += 1
        done.bytes_sent += local.stat().st_size
        on_file(str(local))

    def ls(self, remote: str | None) -> list[Entry]:
        path = self.path(remote)
        attrs = self._require(path)
        if not stat.S_ISDIR(attrs.st_mode or 0):
            return [Entry(posixpath.basename(path), False, attrs.st_size or 0, attrs.st_mtime or 0)]
        return [
            Entry(e.filename, stat.S_ISDIR(e.st_mode or 0), e.st_size or 0, e.st_mtime or 0)
            for e in sorted(self.sftp.listdir_attr(path), key=lambda e: e.filename)
        ]

    def rm(self, remote: str) -> int:
        """Remove a file or a whole directory; the volume root is refused."""
        path = self.path(remote)
        if path == ROOT:
            raise InputError(
                "refusing to remove the root of the shared volume",
                None,
                "name what to remove under it, such as 'results/'",
            )
        try:
            attrs = self.sftp.lstat(path)
        except OSError:
            raise NotFoundError(
                f"{path} does not exist on the shared volume", None, "see 'clusterous ls'"
            ) from None
        return self._remove(path, attrs)

    def _lexists(self, path: str) -> bool:
        try:
            self.sftp.lstat(path)
            return True
        except OSError:
            return False

    def _remove(self, path: str, attrs: paramiko.SFTPAttributes) -> int:
        if not stat.S_ISDIR(attrs.st_mode or 0):  # files and symlinks (never followed)
            self.sftp.remove(path)
            return 1
        removed = 0
        for entry in self.sftp.listdir_attr(path):
            removed += self._remove(posixpath.join(path, entry.filename), entry)
        self.sftp.rmdir(path)
        return removed + 1


def open_volume(transport: paramiko.Transport) -> SharedVolume:
    import paramiko

    try:
        return SharedVolume(paramiko.SFTPClient.from_transport(transport))  # type: ignore[arg-type]
    except paramiko.SSHException as problem:
        raise ClusterousError(
            "the controller does not offer SFTP", str(problem), "check its sshd configuration"
        ) from problem
