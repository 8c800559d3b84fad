"""Images built on the controller and pushed to the cluster registry.

The Dockerfile directory is sent as the build context to the controller's
engine (through the same SSH forward as every engine call), tagged
``registry:5000/<name>`` and pushed, so every node pulls it from the
controller. The image carries a label with a hash of its context: when the
registry already holds the image built from the same files, the build is
skipped.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterous.errors import ClusterousError, InputError

if TYPE_CHECKING:
    import docker

REGISTRY = "registry:5000"
CONTEXT_LABEL = "clusterous.context"
LOG_TAIL = 20


@dataclass(frozen=True)
class BuildResult:
    image: str
    built: bool  # False: the registry already had it
    digest: str


def registry_ref(name: str) -> str:
    return name if name.startswith(REGISTRY + "/") else f"{REGISTRY}/{name}"


def check_context(directory: Path) -> None:
    """A missing Dockerfile directory is the user's to fix (exit 2)."""
    if not directory.is_dir():
        raise InputError(
            f"the Dockerfile directory {directory} does not exist",
            None,
            "fix 'dockerfile:' in the environment file (it is relative to the file)",
        )
    if not (directory / "Dockerfile").is_file():
        raise InputError(
            f"there is no Dockerfile in {directory}",
            None,
            "put the image's Dockerfile in that directory",
        )


def context_files(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            yield Path(root) / name


def context_hash(directory: Path) -> str:
    """Changes whenever a file of the context changes (name, mode or content)."""
    digest = hashlib.sha256()
    for path in context_files(directory):
        relative = path.relative_to(directory).as_posix()
        digest.update(f"{relative}\0{path.stat().st_mode & 0o777}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def context_tar(directory: Path) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in context_files(directory):
            tar.add(path, path.relative_to(directory).as_posix(), recursive=False)
    buffer.seek(0)
    return buffer


def registry_digest(client: docker.DockerClient, image: str) -> str | None:
    """The digest the registry (or Docker Hub) holds for ``image``, or None."""
    import docker as docker_sdk

    try:
        return str(client.api.inspect_distribution(image)["Descriptor"]["digest"])
    except docker_sdk.errors.APIError:
        return None


def already_built(client: docker.DockerClient, image: str, fingerprint: str) -> str | None:
    """The registry digest when it holds ``image`` built from this very context."""
    import docker as docker_sdk

    try:
        local = client.images.get(image)
    except docker_sdk.errors.ImageNotFound:
        return None
    if (local.labels or {}).get(CONTEXT_LABEL) != fingerprint:
        return None
    digest = registry_digest(client, image)
    repo_digests = local.attrs.get("RepoDigests") or []
    if digest and any(d.endswith("@" + digest) for d in repo_digests):
        return digest
    return None


def build_and_push(
    client: docker.DockerClient,
    directory: Path,
    name: str,
    on_line: Callable[[str], None],
    force: bool = False,
) -> BuildResult:
    """Build ``directory`` as ``registry:5000/<name>`` on the controller and push it."""
    check_context(directory)
    image = registry_ref(name)
    fingerprint = context_hash(directory)
    if not force and (digest := already_built(client, image, fingerprint)):
        return BuildResult(image, False, digest)
    _build(client, directory, image, fingerprint, on_line)
    _push(client, image, on_line)
    return BuildResult(image, True, registry_digest(client, image) or "")


def _build(
    client: docker.DockerClient,
    directory: Path,
    image: str,
    fingerprint: str,
    on_line: Callable[[str], None],
) -> None:
    log: list[str] = []
    stream = client.api.build(
        fileobj=context_tar(directory),
        custom_context=True,
        tag=image,
        rm=True,
        forcerm=True,
        labels={CONTEXT_LABEL: fingerprint},
        decode=True,
    )
    for chunk in stream:
        _follow(chunk, log, on_line)
        if "error" in chunk:
            raise _build_failed(image, directory, log, str(chunk["error"]))


def _follow(chunk: dict[str, Any], log: list[str], on_line: Callable[[str], None]) -> None:
    for line in str(chunk.get("stream", "")).splitlines():
        if line.strip():
            log.append(line)
            on_line(line)


def _build_failed(image: str, directory: Path, log: list[str], error: str) -> ClusterousError:
    tail = "\n".join(f"    {line}" for line in log[-LOG_TAIL:])
    return ClusterousError(
        f"building {image} from {directory} failed",
        f"{error.strip()}\n  last lines of the build:\n{tail}",
        "fix the Dockerfile; try it with 'clusterous build-image DIR NAME'",
    )


def _push(client: docker.DockerClient, image: str, on_line: Callable[[str], None]) -> None:
    for chunk in client.images.push(image, stream=True, decode=True):
        if "error" in chunk:
            raise ClusterousError(
                f"pushing {image} to the cluster registry failed",
                str(chunk["error"]),
                "check the registry on the controller: 'clusterous ssh -- systemctl status "
                "docker-registry' (or /var/log/clusterous-registry.log)",
            )
        if chunk.get("status") == "Pushed":
            on_line(f"pushed layer {chunk.get('id', '')}")


def copy_to_registry(
    client: docker.DockerClient,
    archive: Iterator[bytes],
    image: str,
    on_line: Callable[[str], None] = lambda _line: None,
) -> str:
    """Load ``image`` from a ``docker save`` archive into the controller's engine, push it
    as ``registry:5000/<image>`` and return that name: for images the nodes cannot pull."""
    import docker as docker_sdk

    target = f"{REGISTRY}/{image}"
    repository, _, tag = target.rpartition(":")
    if "/" in tag:  # no tag given: the colon was the registry's port
        repository, tag = target, "latest"
    try:
        said = [c.get("error") for c in client.api.load_image(archive, quiet=True) if "error" in c]
        if said:
            raise docker_sdk.errors.APIError(str(said[0]))
        client.api.tag(image, repository, tag)
    except docker_sdk.errors.APIError as problem:
        raise ClusterousError(
            f"copying {image} into the cluster registry failed",
            str(problem),
            "build an image with 'clusterous build-image DIR NAME' and pass --image NAME",
        ) from problem
    _push(client, target, on_line)
    return target


def check_pullable(client: docker.DockerClient, images: list[str]) -> None:
    """Every image a component runs must be in the registry or pullable by the nodes."""
    missing = [image for image in sorted(set(images)) if registry_digest(client, image) is None]
    if missing:
        raise ClusterousError(
            f"image {missing[0]} is neither in the cluster registry nor pullable",
            "the controller's engine could not find it"
            + (f" (nor {', '.join(missing[1:])})" if missing[1:] else ""),
            "build it: add it under 'image:' in the environment file, or run "
            "'clusterous build-image DIR NAME'; check its spelling",
        )
