"""What the cluster registry holds about an image: tags, digest, size, creation time.

Spoken over the registry's HTTP API (v2). The registry listens only on the
controller's private address (port 5000), where the nodes pull from it; the
CLI reaches it through a ``direct-tcpip`` channel of its SSH session to the
controller, so nothing listens on this machine, not even on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from clusterous.errors import ClusterousError, NotFoundError

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)
PORT = 5000
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


OpenChannel = Callable[[], Any]  # a connected, socket-like channel to the registry


class ChannelConnection(http.client.HTTPConnection):
    """HTTP over a channel someone else opens (an SSH direct-tcpip channel)."""

    def __init__(self, open_channel: OpenChannel) -> None:
        super().__init__("registry", PORT, timeout=30)
        self._open_channel = open_channel
        self.channel: Any = None

    def connect(self) -> None:
        self.channel = self.sock = self._open_channel()

    def close(self) -> None:
        # http.client closes the connection as soon as a response says it will
        # end it, before its body is read; a socket survives that through its
        # file's reference, a channel would drop the body. ``release`` closes it.
        self.sock = None
        super().close()

    def release(self) -> None:
        self.close()
        if self.channel is not None:
            self.channel.close()
            self.channel = None


class Registry:
    """The registry's HTTP API, one request per channel."""

    def __init__(self, open_channel: OpenChannel) -> None:
        self.open_channel = open_channel

    def get(self, path: str, accept: str | None = None) -> tuple[Any, dict[str, str]]:
        connection = ChannelConnection(self.open_channel)
        try:
            connection.request("GET", path, headers={"Accept": accept} if accept else {})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException, EOFError) as problem:
            raise ClusterousError(
                "the cluster registry does not answer", str(problem), "see 'clusterous status'"
            ) from problem
        except Exception as problem:  # paramiko's ChannelException and friends
            raise ClusterousError(
                "the cluster registry does not answer",
                f"{type(problem).__name__}: {problem}",
                "see 'clusterous status'",
            ) from problem
        finally:
            connection.release()
        if response.status == 404:
            raise KeyError(path)
        if response.status >= 400:
            raise ClusterousError(
                "the cluster registry refused a request", f"{response.status} {response.reason}"
            )
        return json.loads(body), dict(response.getheaders())


def describe(registry: Registry, name: str) -> ImageInfo:
    repo, tag = split_name(name)
    try:
        listing, _ = registry.get(f"/v2/{repo}/tags/list")
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
    return ImageInfo(f"{PREFIX}{repo}", [_tag_info(registry, repo, t) for t in tags])


def _tag_info(registry: Registry, repo: str, tag: str) -> TagInfo:
    manifest, headers = registry.get(f"/v2/{repo}/manifests/{tag}", MANIFEST_TYPES)
    digest = next((v for k, v in headers.items() if k.lower() == "docker-content-digest"), "")
    config = manifest.get("config", {})
    size = int(config.get("size", 0)) + sum(int(x.get("size", 0)) for x in manifest["layers"])
    blob, _ = registry.get(f"/v2/{repo}/blobs/{config.get('digest', '')}")
    return TagInfo(tag, digest, size, str(blob.get("created", "")))
