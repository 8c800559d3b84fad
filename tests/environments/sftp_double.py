"""The controller's /data as SFTP shows it, played by a local directory.

Only the SFTPClient calls SharedVolume makes are answered, with the server's
semantics: READDIR and LSTAT do not follow links, STAT and REALPATH do, and a
link in the directory that points elsewhere on this machine points outside
/data, as it would on the controller. ``planted`` adds entries that no real
filesystem can hold (``../x``, ``/abs``), the names only a hostile server sends.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import paramiko

ROOT = "/data"


class LocalSftp:
    def __init__(self, storage: Path) -> None:
        self.storage = storage
        self.planted: dict[tuple[str, str], bytes] = {}  # (directory, name) -> content

    def _local(self, remote: str) -> str:
        if remote == ROOT or remote.startswith(ROOT + "/"):
            return str(self.storage) + remote[len(ROOT) :]
        return remote  # the rest of the controller's filesystem: this machine's

    def normalize(self, path: str) -> str:
        real = os.path.realpath(self._local(path), strict=True)
        storage = os.path.realpath(self.storage)
        if real == storage or real.startswith(storage + "/"):
            return ROOT + real[len(storage) :]
        return real

    def stat(self, path: str) -> paramiko.SFTPAttributes:
        return paramiko.SFTPAttributes.from_stat(os.stat(self._local(path)))

    def lstat(self, path: str) -> paramiko.SFTPAttributes:
        return paramiko.SFTPAttributes.from_stat(os.lstat(self._local(path)))

    def listdir_attr(self, path: str) -> list[paramiko.SFTPAttributes]:
        local = self._local(path)
        entries = [
            paramiko.SFTPAttributes.from_stat(os.lstat(os.path.join(local, name)), name)
            for name in os.listdir(local)
        ]
        for (directory, name), content in self.planted.items():
            if directory == path:
                attrs = paramiko.SFTPAttributes()
                attrs.filename, attrs.st_mode = name, stat.S_IFREG | 0o644
                attrs.st_size = len(content)
                entries.append(attrs)
        return entries

    def get(self, remotepath: str, localpath: str) -> None:
        for (directory, name), content in self.planted.items():
            if os.path.normpath(remotepath) == os.path.normpath(os.path.join(directory, name)):
                Path(localpath).write_bytes(content)
                return
        shutil.copyfile(self._local(remotepath), localpath)

    def put(self, localpath: str, remotepath: str) -> None:
        shutil.copyfile(localpath, self._local(remotepath))

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        os.mkdir(self._local(path), mode)

    def symlink(self, source: str, dest: str) -> None:
        os.symlink(source, self._local(dest))

    def readlink(self, path: str) -> str:
        return os.readlink(self._local(path))

    def utime(self, path: str, times: tuple[int, int]) -> None:
        os.utime(self._local(path), times)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(self._local(path), mode)

    def remove(self, path: str) -> None:
        os.remove(self._local(path))

    def rmdir(self, path: str) -> None:
        os.rmdir(self._local(path))

    def close(self) -> None:
        pass
