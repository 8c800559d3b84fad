"""EBS volumes as sparse files on loop devices, shown to a node under their Nitro name.

A volume is a sparse file in the twin's directory (its size costs nothing
until written), attached to a loop device while an instance has it. In the
node it appears as EC2 Nitro shows it, ``/dev/disk/by-id/
nvme-Amazon_Elastic_Block_Store_vol<id without dash>``: a device node with
the loop device's numbers (node containers may use every device) and the
symlink. The controller's bootstrap formats it (only when empty) and mounts
it; the twin mounts the same device on the host too, for the workers'
/data (one kernel, one superblock, so every node sees the same files).
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from pathlib import Path

BY_ID = "/dev/disk/by-id"


def nitro_name(volume_id: str) -> str:
    return f"{BY_ID}/nvme-Amazon_Elastic_Block_Store_{volume_id.replace('-', '')}"


def create_sparse(path: Path, size_gib: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        file.truncate(size_gib * 1024**3)


def attach_loop(path: Path) -> str:
    """A free loop device backed by ``path`` (losetup -f --show)."""
    done = subprocess.run(
        ["losetup", "-f", "--show", str(path)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def loops_of(path: Path) -> list[str]:
    """Every loop device backed by ``path`` (losetup -j)."""
    done = subprocess.run(["losetup", "-j", str(path)], capture_output=True, text=True)
    return [line.split(":", 1)[0] for line in done.stdout.splitlines() if ":" in line]


def detach_loops(path: Path) -> None:
    for device in loops_of(path):
        subprocess.run(["losetup", "-d", device], capture_output=True)


def device_numbers(device: str) -> tuple[int, int]:
    info = os.stat(device)
    if not stat.S_ISBLK(info.st_mode):
        raise ValueError(f"{device} is not a block device")
    return os.major(info.st_rdev), os.minor(info.st_rdev)


def node_device_script(volume_id: str, numbers: tuple[int, int]) -> str:
    """Shell run in the node: the device node and its Nitro by-id name."""
    major, minor = numbers
    node = f"/dev/twin-{volume_id}"
    return (
        f"set -e; rm -f {node}; mknod -m 0660 {node} b {major} {minor}; "
        f"mkdir -p {BY_ID}; ln -sfn {node} {nitro_name(volume_id)}"
    )


def node_device_removal(volume_id: str) -> str:
    return f"rm -f {nitro_name(volume_id)} /dev/twin-{volume_id}"


def has_filesystem(device: str) -> bool:
    done = subprocess.run(["blkid", "-p", device], capture_output=True)
    return done.returncode == 0


def mount(device: str, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(target):
        return
    done = subprocess.run(["mount", device, str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"mount {device} {target}: {done.stderr.strip()}")


def unmount(target: Path) -> None:
    with contextlib.suppress(OSError):
        if os.path.ismount(target):
            subprocess.run(["umount", "-l", str(target)], capture_output=True)
