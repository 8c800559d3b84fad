"""The local provider's node images, built on first use from the packaged Dockerfiles.

No registry is assumed: the only image taken from outside is the Debian base
image, and the node image is built from it by the user's own engine (apt inside
the build reaches the Debian mirror). The tag carries a hash of the Dockerfile
directory and of the base image id, so a changed Dockerfile or a new base image
gives a new tag and an unchanged one is reused without rebuilding.

How a node container is started from the image is ``node_container``'s part.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections import deque
from collections.abc import Callable, Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, Any, Literal

from clusterous.errors import ClusterousError

if TYPE_CHECKING:
    import docker

Variant = Literal["full", "bare"]

IMAGE_REPOSITORY = "clusterous-node"
IMAGE_LABEL = "clusterous.image"
_DOCKERFILES: dict[str, str] = {"full": "Dockerfile", "bare": "Dockerfile.bare"}
_EXECUTABLE_SUFFIXES = (".sh",)
_LOG_TAIL_LINES = 25


def ensure_node_image(
    client: docker.DockerClient,
    base_image: str,
    variant: Variant = "full",
    progress: Callable[[str], None] | None = None,
) -> str:
    """Return the tag of the node image for ``base_image``, building it when missing."""
    if variant not in _DOCKERFILES:
        raise ValueError(f"unknown node image variant {variant!r}")
    base_id = _base_image_id(client, base_image)
    files = _node_image_files()
    tag = node_image_tag(files, base_id, variant)
    if _image_exists(client, tag):
        return tag
    _build(client, files, tag, base_image, variant, progress or (lambda _line: None))
    return tag


def node_image_tag(files: dict[str, bytes], base_image_id: str, variant: str) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    digest.update(base_image_id.encode())
    return f"{IMAGE_REPOSITORY}:{variant}-{digest.hexdigest()[:12]}"


def _node_image_files() -> dict[str, bytes]:
    """The Dockerfiles' folder, and the node bootstrap whose unit files the image bakes in."""
    folder = resources.files("clusterous.providers.local").joinpath("node_image")
    files = dict(_walk(folder, ""))
    files["bootstrap.sh"] = resources.files("clusterous.node").joinpath("bootstrap.sh").read_bytes()
    return files


def _walk(folder: Traversable, prefix: str) -> Iterator[tuple[str, bytes]]:
    for entry in folder.iterdir():
        if entry.name == "__pycache__":
            continue
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            yield from _walk(entry, f"{name}/")
        else:
            yield name, entry.read_bytes()


def _base_image_id(client: docker.DockerClient, base_image: str) -> str:
    import docker.errors

    try:
        return str(client.images.get(base_image).id)
    except docker.errors.ImageNotFound:
        raise ClusterousError(
            f"the base image {base_image} of the local nodes is not in your Docker engine",
            "clusterous builds its node image from it and never pulls anything itself",
            f"run `docker pull {base_image}`, or, where no registry is reachable, "
            f"`scripts/prepare-base-image.sh {base_image}` (builds it with debootstrap)",
        ) from None


def _image_exists(client: docker.DockerClient, tag: str) -> bool:
    import docker.errors

    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _build_context(files: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = 0o755 if name.endswith(_EXECUTABLE_SUFFIXES) else 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    buffer.seek(0)
    return buffer


def _build(
    client: docker.DockerClient,
    files: dict[str, bytes],
    tag: str,
    base_image: str,
    variant: str,
    progress: Callable[[str], None],
) -> None:
    import docker.errors

    tail: deque[str] = deque(maxlen=_LOG_TAIL_LINES)
    progress(f"building node image {tag} from {base_image} (first use; about a minute)")
    try:
        stream = client.api.build(
            fileobj=_build_context(files),
            custom_context=True,
            dockerfile=_DOCKERFILES[variant],
            tag=tag,
            buildargs={"BASE_IMAGE": base_image},
            labels={IMAGE_LABEL: "node", f"{IMAGE_LABEL}.variant": variant},
            pull=False,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for chunk in stream:
            _follow_build(chunk, tail, progress, tag)
    except docker.errors.APIError as error:
        raise _build_failed(tag, str(error), tail) from error
    if not _image_exists(client, tag):
        raise _build_failed(tag, "the build ended without producing the image", tail)


def _follow_build(
    chunk: dict[str, Any], tail: deque[str], progress: Callable[[str], None], tag: str
) -> None:
    if "error" in chunk:
        raise _build_failed(tag, str(chunk["error"]).strip(), tail)
    for line in str(chunk.get("stream", "")).splitlines():
        if line.strip():
            tail.append(line)
            progress(line)


def _build_failed(tag: str, why: str, tail: deque[str]) -> ClusterousError:
    log = "\n".join(f"    {line}" for line in tail)
    return ClusterousError(
        f"building the node image {tag} failed",
        f"{why}\n  last lines of the build:\n{log}" if log else why,
        "check that apt inside containers reaches the Debian mirror (proxy, DNS), "
        "then run the command again",
    )


class HostImages:
    """The host's Docker engine holds the images a local cluster's nodes cannot pull (no
    registry may be reachable here): the Debian base of the nodes, for one."""

    def __init__(self, client: Callable[[], docker.DockerClient]) -> None:
        self._client = client

    def archive(self, image: str) -> Iterator[bytes] | None:
        import docker as docker_sdk

        try:
            found = self._client().images.get(image)
        except docker_sdk.errors.ImageNotFound:
            return None
        return iter(found.save(named=True))
