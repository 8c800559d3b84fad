"""How the CLI reaches a cluster's nodes: its login key, pinned host keys, endpoints.

Files live in ``clusters/<name>/``: ``id_ed25519`` (the login key, 0600, never
copied anywhere) and ``known_hosts`` (one pinned host key per node alias). The
controller is reached directly at its SSH endpoint; every other node through
the controller.

A local cluster has a login key of its own. An AWS cluster is opened by the
private key of its profile's EC2 key pair instead, so that any machine set up
with that key file can take the cluster over ('workon') without a new secret
going to the cluster: ``id_ed25519`` is then a link to that key file.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clusterous.errors import ClusterousError
from clusterous.home import Home, atomic_write
from clusterous.manager.lease import LeaseKeeper
from clusterous.manager.ledger import Ledger
from clusterous.records import ClusterState, NodeRecord
from clusterous.remote.keys import KeyPair, generate_ed25519, write_private_key
from clusterous.remote.ssh import Endpoint, KnownHosts, Session, connect

if TYPE_CHECKING:
    from clusterous.config import Profile


@dataclass(frozen=True)
class ClusterAccess:
    cluster: str
    key_path: Path
    known_hosts: KnownHosts
    home: Home | None = None  # where the ledger and profiles are (None: a key of its own)
    lease: LeaseKeeper | None = None  # renews the lease on the first connection

    @classmethod
    def of(cls, home: Home, cluster: str, lease: LeaseKeeper | None = None) -> ClusterAccess:
        directory = home.cluster_dir(cluster)
        known_hosts = KnownHosts(directory / "known_hosts")
        return cls(cluster, directory / "id_ed25519", known_hosts, home, lease)

    def alias(self, node: str) -> str:
        return f"clusterous-{self.cluster}-{node}"

    def new_login_key(self) -> KeyPair:
        """The login key for the cluster's ledger's profile (see ``login_key_for``)."""
        return self.login_key_for(self._ledger_profile())

    def login_key_for(self, profile: Profile | None) -> KeyPair:
        """An AWS profile's key pair (linked, never copied); otherwise a fresh key."""
        if profile is not None and profile.is_aws and profile.key_path is not None:
            return self.link_key_file(profile.key_path)
        pair = generate_ed25519(f"clusterous-{self.cluster}")
        if self.key_path.is_symlink():
            self.key_path.unlink()
        write_private_key(self.key_path, pair)
        return pair

    def link_key_file(self, key_file: Path) -> KeyPair:
        """Log in with ``key_file``: ``id_ed25519`` links to it, its public half beside."""
        from clusterous.aws.keys import check_key_file, public_key_of

        target = check_key_file(key_file.expanduser()).resolve()
        self.key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.key_path.unlink(missing_ok=True)
        self.key_path.symlink_to(target)
        public = public_key_of(target)
        atomic_write(self.key_path.with_name(self.key_path.name + ".pub"), public + "\n", 0o644)
        return KeyPair(target.read_text(), public)

    def _ledger_profile(self) -> Profile | None:
        """The profile the cluster's ledger names, when there are both."""
        from clusterous.config import load_config

        if self.home is None or not Ledger(self.home, self.cluster).exists():
            return None
        wanted = Ledger(self.home, self.cluster).load().profile
        return load_config(self.home).profiles.get(wanted)

    def login_public_key(self) -> str:
        return self.key_path.with_name(self.key_path.name + ".pub").read_text().strip()

    def endpoint(self, node: NodeRecord) -> Endpoint:
        if node.ssh_host and node.ssh_port:
            return Endpoint(self.alias(node.name), node.ssh_host, node.ssh_port)
        return Endpoint(self.alias(node.name), node.private_addr, 22)

    def controller_endpoint(self, state: ClusterState) -> Endpoint:
        controller = state.controller
        if controller is None or not controller.ssh_port:
            raise ClusterousError(
                f"cluster {state.name!r} has no reachable controller",
                "its state records no SSH endpoint for the controller",
                f"run 'clusterous destroy {state.name}' and create it again",
            )
        return self.endpoint(controller)

    def connect_controller(self, state: ClusterState, timeout: float = 10) -> Session:
        session = connect(
            self.controller_endpoint(state), self.key_path, self.known_hosts, None, timeout
        )
        if self.lease is not None:
            self.lease.on_connect(session, state)
        return session

    def connect_node(self, state: ClusterState, node: NodeRecord, via: Session) -> Session:
        if node.is_controller:
            return connect(self.endpoint(node), self.key_path, self.known_hosts)
        return connect(self.endpoint(node), self.key_path, self.known_hosts, via=via)

    def ssh_command(self, state: ClusterState, node: NodeRecord) -> list[str]:
        """The OpenSSH client command line for an interactive login, keys pinned."""
        controller = self.controller_endpoint(state)
        target = self.endpoint(node)
        command = ["ssh", *self._options(target), "-p", str(target.port)]
        if not node.is_controller:
            jump = ["ssh", *self._options(controller), "-p", str(controller.port)]
            jump += ["-W", "%h:%p", f"{controller.user}@{controller.host}"]
            command += ["-o", "ProxyCommand=" + shlex.join(jump)]
        return [*command, f"{target.user}@{target.host}"]

    def _options(self, endpoint: Endpoint) -> list[str]:
        # ForwardAgent=no whatever ~/.ssh/config says: anyone with root on a node
        # (or a container with the host's privileges) could use a forwarded agent.
        return [
            "-i",
            str(self.key_path),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts.path}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"HostKeyAlias={endpoint.alias}",
            "-o",
            "ForwardAgent=no",
            "-o",
            "LogLevel=ERROR",
        ]
