"""What the cluster registry holds about an image: tags, digest, size, creation time.

Spoken over the registry's HTTP API (v2), reached through an SSH forward to
the controller's port 5000; never exposed to the network.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

from clusterous.errors import ClusterousError, NotFoundError

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)
PREFIX = "registry:5000/"


@dataclass(frozen=True)
class TagInfo:
    tag: str
    digest: str
    size: int  # compressed: config and layers as stored
    created: str


@dataclass
class ImageInfo:
    name: str
    tags: list[TagInfo] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def split_name(name: str) -> tuple[str, str | None]:
    """``registry:5000/basic-python:v2`` -> ("basic-python", "v2")."""
    bare = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    repo, _, tag = bare.partition(":")
    return repo, tag or None


def _get(url: str, accept: str | None = None) -> tuple[Any, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as problem:
        if problem.code == 404:
            raise KeyError(url) from problem
        raise ClusterousError("the cluster registry refused a request", str(problem)) from problem
    except OSError as problem:
        raise ClusterousError(
            "the cluster registry does not answer", str(problem), "see 'clusterous status'"
        ) from problem


def describe(base: str, name: str) -> ImageInfo:
    repo, tag = split_name(name)
    try:
        listing, _ = _get(f"{base}/v2/{repo}/tags/list")
    except KeyError:
        listing = {}
    tags = sorted(listing.get("tags") or [])
    if tag is not None:
        tags = [t for t in tags if t == tag]
    if not tags:
        raise NotFoundError(
            f"the cluster registry has no image {PREFIX}{name.removeprefix(PREFIX)}",
            None,
            "build it: 'clusterous build-image DIR NAME' or 'clusterous run ENV_FILE'",
        )
    return ImageInfo(f"{PREFIX}{repo}", [_tag_info(base, repo, t) for t in tags])


def _tag_info(base: str, repo: str, tag: str) -> TagInfo:
    manifest, headers = _get(f"{base}/v2/{repo}/manifests/{tag}", MANIFEST_TYPES)
    digest = next((v for k, v in headers.items() if k.lower() == "docker-content-digest"), "")
    config = manifest.get("config", {})
    size = int(config.get("size", 0)) + sum(int(x.get("size", 0)) for x in manifest["layers"])
    blob, _ = _get(f"{base}/v2/{repo}/blobs/{config.get('digest', '')}")
    return TagInfo(tag, digest, size, str(blob.get("created", "")))
