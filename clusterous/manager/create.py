"""Create a cluster from a plan: apply it step by step, record each result, roll back on failure.

Steps, the same on every provider: network → shared volume → the controller
launched, configuring itself from its user-data (Swarm, registry) → the other
groups launched with its join token in their user-data, configuring
themselves in parallel → every node Ready in Swarm. The ledger is written after each
resource, so a failure or Ctrl-C at any point leaves a trail; unless the user
asked to keep the pieces, whatever was made is swept away again and the error
names the step that failed. Ctrl-C (or SIGTERM, SIGHUP) sets the cancel event
that every wait watches (clusterous.cancel), so the rollback starts at once; a
second one stops the rollback and names the command that finishes it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from clusterous import cancel
from clusterous.errors import ClusterousError, InputError, Interrupted
from clusterous.manager.access import ClusterAccess
from clusterous.manager.launch import LedgerRecorder, launch_requests
from clusterous.manager.lease import lease_record
from clusterous.manager.ledger import Ledger
from clusterous.manager.machines import MachineWatch
from clusterous.manager.plan import ClusterPlan, NodePlan
from clusterous.manager.readiness import Readiness, SwarmReadiness
from clusterous.manager.report import Reporter
from clusterous.providers.base import HostRoom, NodeSlot, Prestarter, Provider
from clusterous.records import ClusterState, GroupMarket


@dataclass(frozen=True)
class CreateOptions:
    timeout: float = 600.0
    keep_on_failure: bool = False


def describe(failure: BaseException) -> str:
    """A foreign exception (docker, paramiko, OS) in one line a person can act on."""
    text = str(failure).strip().splitlines()[0] if str(failure).strip() else ""
    return f"{type(failure).__name__}: {text}" if text else type(failure).__name__


def refuse_existing(name: str, ledger: Ledger, provider: Provider) -> None:
    """A name is taken when this machine or the provider knows a cluster by it."""
    if ledger.exists():
        raise InputError(
            f"a cluster named {name!r} already exists",
            None,
            f"pick another --name, or remove it first with 'clusterous destroy {name}'",
        )
    found = provider.find_existing()
    if found:
        raise InputError(
            f"resources of a cluster named {name!r} already exist",
            ", ".join(found[:5]),
            f"take it over with 'clusterous workon {name}', or remove it with "
            f"'clusterous destroy {name}'",
        )


class ClusterCreator:
    def __init__(
        self,
        plan: ClusterPlan,
        provider: Provider,
        ledger: Ledger,
        access: ClusterAccess,
        reporter: Reporter,
        options: CreateOptions,
        clock: Callable[[], float] = time.monotonic,
        readiness: Readiness | None = None,
    ) -> None:
        self.plan = plan
        self.provider = provider
        self.ledger = ledger
        self.access = access
        self.reporter = reporter
        self.options = options
        self.clock = clock
        self.readiness = readiness or SwarmReadiness(
            access, ledger, reporter, clock, watch=MachineWatch(provider, clock)
        )
        self.current_step = "checking"

    def create(self) -> ClusterState:
        self._refuse_existing()
        lease = lease_record(self.plan.max_hours, self.plan.idle_minutes, time.time())
        # A random ownership id, in the ledger and on everything made: destroy
        # compares the two, so it never removes another create's cluster of this name.
        cluster_id = secrets.token_hex(8)
        self.provider.cluster_id = cluster_id
        self.ledger.create(
            ClusterState(
                self.plan.name,
                self.plan.provider,
                self.plan.profile,
                cluster_id=cluster_id,
                lease=lease,
                logging=self.plan.logging,
            )
        )
        try:
            return self._build()
        except KeyboardInterrupt:
            self._after_failure()
            raise Interrupted(
                f"create of cluster {self.plan.name!r} interrupted while {self.current_step}",
                self._what_is_left(),
            ) from None
        except Exception as failure:
            self._after_failure()
            why = failure.render() if isinstance(failure, ClusterousError) else describe(failure)
            wrapped = ClusterousError(
                f"create of cluster {self.plan.name!r} failed while {self.current_step}",
                why,
                self._what_is_left(),
            )
            if isinstance(failure, ClusterousError):
                wrapped.exit_code = failure.exit_code
            raise wrapped from failure

    def _refuse_existing(self) -> None:
        refuse_existing(self.plan.name, self.ledger, self.provider)

    @contextmanager
    def _step(self, name: str) -> Iterator[None]:
        self.current_step = name
        self.reporter.step(name)
        started = self.clock()
        yield
        self.reporter.done(f"{name} ({self.clock() - started:.1f} s)")

    def _build(self) -> ClusterState:
        deadline = self.clock() + self.options.timeout
        self.provider.preflight()
        if isinstance(self.provider, HostRoom):
            self.provider.check_room(1 + len(self.plan.nodes))
        with self._step("creating the network"):
            network = self.provider.create_network(self.ledger)
            self.ledger.update(lambda s: setattr(s, "private_cidr", network.private_cidr))
        with self._step("preparing the shared volume"):
            self.provider.create_shared_volume(
                self.ledger, self.plan.shared_volume_size, self.plan.shared_volume_id
            )
        login = self.access.new_login_key().public_openssh
        self.ledger.record_groups(group_markets(self.plan.nodes))
        with self._step("launching the controller"):
            self._launch([self.plan.controller], login, join_token="")
        self._start_ahead()
        with ExitStack() as stack:
            with self._step("waiting for the controller to configure itself (Swarm, registry)"):
                link = stack.enter_context(self.readiness.controller(self.ledger.load(), deadline))
            if self.plan.nodes:
                with self._step(f"launching {len(self.plan.nodes)} nodes"):
                    self._launch(list(self.plan.nodes), login, link.join_token())
            with self._step("waiting for every node to be Ready in Swarm"):
                link.wait_ready(self.ledger.load().nodes, deadline)
        self.ledger.set_status("ready")
        return self.ledger.load()

    def _start_ahead(self) -> None:
        """Where the provider can, the other nodes boot while the controller configures itself."""
        if not self.plan.nodes or not isinstance(self.provider, Prestarter):
            return
        slots = [NodeSlot(n.name, n.group, n.instance_type, "node") for n in self.plan.nodes]
        with self._step(f"starting {len(slots)} nodes ahead of their launch"):
            self.provider.prestart(slots, LedgerRecorder(self.ledger), self.reporter.info)

    def _launch(self, nodes: list[NodePlan], login: str, join_token: str) -> None:
        requests = launch_requests(
            self.ledger.load(), self.provider, self.access, nodes, login, join_token
        )
        self.provider.launch_nodes(requests, LedgerRecorder(self.ledger), self.reporter.info)

    def _after_failure(self) -> None:
        if self.options.keep_on_failure:
            self.ledger.set_status("failed")
            return
        name = self.plan.name
        try:
            self.reporter.warn("rolling back: removing what was made (Ctrl-C again stops it)")
            from clusterous.manager.destroy import destroy_cluster

            # Its own cancel event: the create's, already set, must not cut the rollback's waits.
            with cancel.fresh():
                destroy_cluster(name, self.provider, self.ledger, False, self.reporter)
        except KeyboardInterrupt:
            raise Interrupted(
                f"the rollback of cluster {name!r} was stopped",
                "some of what was made is still there",
                f"remove it with 'clusterous destroy {name}'",
            ) from None

    def _what_is_left(self) -> str:
        if self.options.keep_on_failure:
            return (
                f"the pieces were kept (--keep-on-failure): inspect them with 'clusterous status "
                f"{self.plan.name}', remove them with 'clusterous destroy {self.plan.name}'"
            )
        if self.ledger.exists():
            return f"some pieces could not be removed: run 'clusterous destroy {self.plan.name}'"
        return "everything made so far was removed"


def group_markets(nodes: tuple[NodePlan, ...]) -> dict[str, GroupMarket]:
    """Per group, what add-nodes must launch alike later (market, fallback)."""
    return {n.group: GroupMarket(n.spot, n.spot_fallback) for n in nodes}
