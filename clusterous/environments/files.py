"""Files on the shared volume /data: put, get, ls, rm and the ``copy:`` of a run.

Everything goes over SFTP on the controller's SSH session (the controller owns
/data on every provider). Every remote path is confined to /data twice: by
its spelling (``..`` and absolute paths elsewhere are refused) and by where
it really leads on the controller (a symlink out of /data is refused). A
directory is sent file by file, skipping files whose size and modification
time already match, so a re-run sends only what changed.

Symbolic links inside a copied tree are never followed, in either direction:
one that points inside the tree is recreated as a link, one that points out
of it is skipped with a warning (so ``put`` cannot send ``~/.ssh`` through a
link, and ``get`` cannot write outside its target whatever the cluster
holds). ``get`` also refuses entry names that are not plain names (``..``,
``a/b``, absolute), which only a hostile server would send.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clusterous.errors import ClusterousError, InputError, NotFoundError

if TYPE_CHECKING:
    import paramiko

ROOT = "/data"
ALIASES = ("/home/data",)  # Clusterous 1.0 files name the volume /home/data
MAX_DEPTH = 200  # deeper than any real tree: a loop on the far side, not data


@dataclass
class Transfer:
    sent: int = 0
    unchanged: int = 0
    bytes_sent: int = 0
    skipped: list[str] = field(default_factory=list)  # why each entry was left out

    def add(self, other: Transfer) -> None:
        self.sent += other.sent
        self.unchanged += other.unchanged
        self.bytes_sent += other.bytes_sent
        self.skipped += other.skipped


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
    return within(path, ROOT)


def within(path: str, top: str) -> bool:
    """Whether the normal path ``path`` is ``top`` or under it."""
    return path == top or path.startswith(top.rstrip("/") + "/")


def is_plain_name(name: str) -> bool:
    """A directory entry's name that stays in its directory: no ``/``, ``.``, ``..``."""
    return name not in ("", ".", "..") and "/" not in name and "\0" not in name


def _too_deep(path: str) -> ClusterousError:
    return ClusterousError(
        f"{path} is nested more than {MAX_DEPTH} directories deep",
        "that is a loop (a directory mounted or linked inside itself), not data",
        "copy a directory below the loop, or remove the loop",
    )


def local_link_target(link: Path, root: Path) -> str | None:
    """The target to recreate symlink ``link`` with, relative; None if it leads out of ``root``.

    A loop of links cannot be sent either way, so it is an error.
    """
    try:
        real = os.path.realpath(link, strict=True)
    except OSError as problem:
        if problem.errno == errno.ELOOP:
            raise InputError(
                f"{link} is a loop of symbolic links",
                f"it points to {os.readlink(link)!r}, which leads back to itself",
                f"remove it or point it at a real file: rm {link}",
            ) from None
        return None  # dangling: what it would name cannot be judged
    real_root = os.path.realpath(root)
    if not within(real, real_root):
        return None
    return os.path.relpath(real, os.path.realpath(link.parent))


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


@dataclass(frozen=True)
class _RemoteTree:
    """A directory being fetched: as named, where it really is, and where it goes."""

    source: str
    real: str
    local: Path


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
            self.put_tree(local, local, target, done, on_file)
        else:
            self.makedirs(posixpath.dirname(target))
            self._put_file(local, target, done, on_file)
        return done

    def put_tree(
        self,
        root: Path,
        local: Path,
        target: str,
        done: Transfer,
        on_file: Callable[[str], None],
    ) -> None:
        """Send directory ``local`` (inside the tree ``root``) to ``target``, links as links."""
        if len(local.relative_to(root).parts) > MAX_DEPTH:
            raise _too_deep(str(local))
        self.makedirs(target)
        for child in sorted(local.iterdir()):
            remote_child = self.path(posixpath.join(target, child.name))
            if child.is_symlink():
                self._put_symlink(root, child, remote_child, done, on_file)
            elif child.is_dir():
                self.put_tree(root, child, remote_child, done, on_file)
            elif child.is_file():
                self._put_file(child, remote_child, done, on_file)

    def _put_symlink(
        self, root: Path, link: Path, target: str, done: Transfer, on_file: Callable[[str], None]
    ) -> None:
        pointed = local_link_target(link, root)
        if pointed is None:
            done.skipped.append(
                f"skipped {link}: a symbolic link to {os.readlink(link)!r}, outside {root} "
                "(links are sent only when they point inside the copied directory)"
            )
            return
        current = self._lstat(target)
        if current is not None and stat.S_ISLNK(current.st_mode or 0):
            if self.sftp.readlink(target) == pointed:
                done.unchanged += 1
                return
            self.sftp.remove(target)
        elif current is not None:
            done.skipped.append(f"skipped {link}: {target} exists and is not a link")
            return
        self.sftp.symlink(pointed, target)
        done.sent += 1
        on_file(f"{target} -> {pointed}")

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
            tree = _RemoteTree(source, self.sftp.normalize(source), local)
            self._get_tree(tree, source, local, done, on_file)
        else:
            local.parent.mkdir(parents=True, exist_ok=True)
            self._get_file(source, local, done, on_file)
        return done

    def _get_tree(
        self,
        tree: _RemoteTree,
        source: str,
        local: Path,
        done: Transfer,
        on_file: Callable[[str], None],
    ) -> None:
        """Fetch ``source`` into ``local``, never writing outside ``tree.local``.

        Entries are judged by what the server says without following links
        (READDIR gives lstat attributes); only plain names are written.
        """
        if len(local.relative_to(tree.local).parts) > MAX_DEPTH:
            raise _too_deep(source)
        local.mkdir(parents=True, exist_ok=True)
        for entry in sorted(self.sftp.listdir_attr(source), key=lambda e: e.filename):
            name, mode = entry.filename, entry.st_mode or 0
            if not is_plain_name(name):
                done.skipped.append(
                    f"refused an entry of {source} named {name!r}: not a plain file name, "
                    f"it would be written outside {tree.local}"
                )
            elif stat.S_ISLNK(mode):
                child = posixpath.join(source, name)
                self._get_symlink(tree, child, local / name, done, on_file)
            elif stat.S_ISDIR(mode):
                self._get_tree(tree, posixpath.join(source, name), local / name, done, on_file)
            elif stat.S_ISREG(mode):
                self._get_file(posixpath.join(source, name), local / name, done, on_file)
            else:
                done.skipped.append(f"skipped {posixpath.join(source, name)}: not a regular file")

    def _get_symlink(
        self,
        tree: _RemoteTree,
        link: str,
        local: Path,
        done: Transfer,
        on_file: Callable[[str], None],
    ) -> None:
        pointed = self._remote_link_target(tree, link)
        if pointed is None:
            done.skipped.append(
                f"skipped {link}: a symbolic link that leads outside {tree.source}, "
                "nowhere, or around a loop (links are copied only when they point inside)"
            )
            return
        if local.is_symlink() or local.is_file():
            local.unlink()
        elif local.exists():
            done.skipped.append(f"skipped {link}: {local} exists and is not a link")
            return
        local.symlink_to(pointed)
        done.sent += 1
        on_file(f"{local} -> {pointed}")

    def _remote_link_target(self, tree: _RemoteTree, link: str) -> str | None:
        """``link``'s target relative to its directory, when it resolves inside the tree."""
        try:
            real = self.sftp.normalize(link)
        except OSError:
            return None  # dangling, or a loop of links
        if not within(real, tree.real):
            return None
        # nothing below the tree's root is followed, so the link's directory
        # really is where its spelling says, under the root's real path
        real_parent = tree.real + posixpath.dirname(link)[len(tree.source) :]
        return posixpath.relpath(real, real_parent)

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
        return self._lstat(path) is not None

    def _lstat(self, path: str) -> paramiko.SFTPAttributes | None:
        try:
            return self.sftp.lstat(path)
        except OSError:
            return None

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
