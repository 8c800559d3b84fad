"""The EC2 twin as one object: start it, point the CLI at ``exports()``, stop it.

``Twin`` owns moto (its own child process, or one given by URL), the service
network (a Docker ``internal`` network with no containers: the host's address
on it, its gateway, is where nodes reach the twin's endpoints), the front
endpoint (on 127.0.0.1 for the CLI and on that gateway for the nodes'
registry), the metadata service, and the materialiser. ``stop`` removes
everything it made, then sweeps by label whatever a crash may have left.
It is usable in-process (a pytest fixture) and behind ``scripts/aws-twin``.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from twin import loopdev
from twin.addresses import PublicAddresses
from twin.awsquery import Call
from twin.front import FrontServer, serve
from twin.imds import MetadataServer
from twin.materialise import TWIN_LABEL, Materialiser, Places
from twin.motoapi import IMAGE_PARAMETER, Moto, MotoProcess

if TYPE_CHECKING:
    import docker

log = logging.getLogger("twin")
SERVICE_BLOCK = 77  # the service network is 100.77.N.0/24, the first N that is free
SERVICE_SUBNETS = 256


class Twin:
    def __init__(
        self,
        workdir: Path,
        moto_url: str | None = None,
        base_image: str = "debian:bookworm-slim",
        twin_id: str | None = None,
    ) -> None:
        self.workdir = workdir
        self.moto_url = moto_url
        self.base_image = base_image
        self.twin_id = twin_id or secrets.token_hex(4)
        self.addresses = PublicAddresses()
        self._moto_process: MotoProcess | None = None
        self._servers: list[FrontServer | MetadataServer] = []
        self._client: docker.DockerClient | None = None
        self.materialiser: Materialiser | None = None
        self.api_url = ""
        self.nodes_url = ""

    # -- start ------------------------------------------------------------------------

    def start(self) -> Twin:
        import docker

        from clusterous.providers.local.images import ensure_node_image

        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._client = docker.from_env(timeout=300)
            image = ensure_node_image(self._client, self.base_image, "full")
            moto = Moto(self._start_moto())
            gateway = self._service_network()
            metadata = MetadataServer((gateway, 0))
            self._servers.append(metadata)
            serve(metadata, "twin-imds")
            places = Places(self.workdir, (gateway, int(metadata.server_address[1])), image)
            self.materialiser = Materialiser(
                self.twin_id, self._client, moto, metadata, places, self.addresses.loopback_for
            )
            self.materialiser.watch()
            self.api_url = self._front(("127.0.0.1", 0), moto)
            self.nodes_url = self._front((gateway, 0), moto)
        except BaseException:
            self.stop()
            raise
        log.info(
            "twin %s: AWS at %s, for the nodes at %s", self.twin_id, self.api_url, self.nodes_url
        )
        return self

    def _start_moto(self) -> str:
        if self.moto_url:
            return self.moto_url
        self._moto_process = MotoProcess(self.workdir / "moto.log")
        self._moto_process.wait_ready()
        log.info("moto at %s (log: %s)", self._moto_process.url, self.workdir / "moto.log")
        return self._moto_process.url

    def _service_network(self) -> str:
        """A container-less internal network: the host's address on it is the nodes' way in.

        Its subnet is taken from 100.64.0.0/10 (shared address space): Docker's
        own pools (172.17-31.x, 192.168.x) are what the nodes' inner engines
        use, and a node would take such an address for one of its own bridges.
        """
        import docker.errors
        from docker.types import IPAMConfig, IPAMPool

        assert self._client is not None
        for third in range(SERVICE_SUBNETS):
            subnet = f"100.{SERVICE_BLOCK}.{third}.0/24"
            pool = IPAMPool(subnet=subnet, gateway=f"100.{SERVICE_BLOCK}.{third}.1")
            try:
                self._client.networks.create(
                    f"clusterous-twin-{self.twin_id}-service",
                    driver="bridge",
                    internal=True,
                    ipam=IPAMConfig(pool_configs=[pool]),
                    labels={TWIN_LABEL: self.twin_id, f"{TWIN_LABEL}.role": "service"},
                )
            except docker.errors.APIError as problem:
                if "overlap" not in str(problem).lower():
                    raise
                continue
            return f"100.{SERVICE_BLOCK}.{third}.1"
        raise RuntimeError(f"no free /24 in 100.{SERVICE_BLOCK}.0.0/16 for the service network")

    def _front(self, address: tuple[str, int], moto: Moto) -> str:
        assert self.materialiser is not None
        server = FrontServer(
            address, moto.url, self.addresses.loopback_for, self._before, self.materialiser.observe
        )
        self._servers.append(server)
        serve(server, f"twin-front-{address[0]}")
        return server.url

    def _before(self, call: Call) -> None:
        if call.region and self.materialiser is not None:
            self.materialiser.moto.seed_region(call.region)

    @property
    def moto(self) -> Moto:
        """Clients straight to moto (not observed): for checks in tests and benchmarks."""
        assert self.materialiser is not None, "the twin is not started"
        return self.materialiser.moto

    def machines(self) -> list[str]:
        """What the twin holds for instances now: node containers, subnet networks, loop devices."""
        assert self._client is not None, "the twin is not started"
        selector = {"label": f"{TWIN_LABEL}={self.twin_id}"}
        # sparse: no inspect of each container, which may be removed while we list
        listed = self._client.containers.list(all=True, filters=selector, sparse=True)
        found = [f"container {c.attrs['Names'][0].lstrip('/')}" for c in listed]
        found += [
            f"network {n.name}"
            for n in self._client.networks.list(filters=selector)
            if not n.name.endswith("-service")
        ]
        for image in sorted((self.workdir / "volumes").glob("*.img")):
            found.append(f"volume file {image.name}")
            found += [f"loop device {d}" for d in loopdev.loops_of(image)]
        return sorted(found)

    def exports(self) -> dict[str, str]:
        """The environment a shell (or a CLI subprocess) needs to use the twin."""
        return {
            "AWS_ENDPOINT_URL": self.api_url,
            "AWS_ENDPOINT_URL_S3": self.nodes_url,
            "AWS_ACCESS_KEY_ID": "twin",
            "AWS_SECRET_ACCESS_KEY": "twin",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "CLUSTEROUS_AWS_AMI_PARAMETER": IMAGE_PARAMETER,
        }

    # -- stop -------------------------------------------------------------------------

    def stop(self) -> None:
        for server in self._servers:
            with contextlib.suppress(Exception):
                server.shutdown()
                server.server_close()
        self._servers.clear()
        if self.materialiser is not None:
            try:
                self.materialiser.close()
            except Exception:
                log.exception("removing the twin's nodes failed; sweeping by label")
        if self._client is not None:
            sweep(self._client, self.twin_id, self.workdir)
            self._client.close()
            self._client = None
        if self._moto_process is not None:
            self._moto_process.stop()
            self._moto_process = None
        log.info("twin %s stopped", self.twin_id)

    def __enter__(self) -> Twin:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def sweep(client: docker.DockerClient, twin_id: str, workdir: Path) -> list[str]:
    """Remove whatever carries the twin's label or lives in its directory; say what it was."""
    import docker.errors

    selector = {"label": f"{TWIN_LABEL}={twin_id}"}
    removed = []
    for container in client.containers.list(all=True, filters=selector, sparse=True):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
            removed.append(f"container {container.attrs['Names'][0].lstrip('/')}")
    for volume in client.volumes.list(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)
            removed.append(f"volume {volume.name}")
    for network in client.networks.list(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
            removed.append(f"network {network.name}")
    mounts = workdir / "mnt"
    for mount in sorted(mounts.glob("*")) if mounts.is_dir() else []:
        loopdev.unmount(mount)
        with contextlib.suppress(OSError):
            mount.rmdir()  # never rmtree: a mount that would not go still holds the files
        removed.append(f"mount {mount}")
    for image in sorted((workdir / "volumes").glob("*.img")):
        devices = loopdev.loops_of(image)
        loopdev.detach_loops(image)
        image.unlink(missing_ok=True)
        removed.append(f"volume file {image} ({', '.join(devices) or 'no loop device'})")
    for folder in ("volumes", "data"):
        shutil.rmtree(workdir / folder, ignore_errors=True)
    return removed
