"""Finding forgotten money: what clusterous made in every region, who owns it, what removes it.

``ls-clusters --all-regions`` shows the whole picture of an AWS account: every
thing a scan of the profile's provider finds (``AccountScanner``), each marked
live when a cluster known on this machine owns it (same name, same region,
same ownership id) and a leftover otherwise, with an estimated monthly price
and the one command that removes it: ``clusterous destroy NAME --region R``
for what a cluster left, ``clusterous rm-volume ID --region R`` for a kept
shared volume or a root disk left without its instance, and an ``aws`` command
for what clusterous cannot remove by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clusterous.errors import InputError
from clusterous.home import Home
from clusterous.manager.ledger import Ledger
from clusterous.operations.handle import choose_profile, cluster_profile
from clusterous.providers.base import Billable, Say
from clusterous.providers.factory import make_account_scanner

ANY_REGION = "*"  # a cluster on this machine whose profile (so region) is not known any more
OUTSIDE_ROLES = ("kept-volume", "orphaned-root-disk")
AWS_REMOVERS = {
    "instance": "aws ec2 terminate-instances --instance-ids {id} --region {region}",
    "volume": "aws ec2 delete-volume --volume-id {id} --region {region}",
    "vpc": "aws ec2 delete-vpc --vpc-id {id} --region {region} (its subnets, gateway and "
    "security groups first)",
    "address": "aws ec2 release-address --allocation-id {id} --region {region}",
    "registry-prefix": "aws s3 rm --recursive {id}",
}


@dataclass(frozen=True)
class LiveCluster:
    """A cluster this machine knows: where it is, and the ownership id it was made with."""

    name: str
    region: str  # ANY_REGION when unknown
    cluster_id: str


@dataclass(frozen=True)
class Finding:
    region: str
    kind: str
    id: str
    cluster: str
    what: str
    monthly_usd: float | None  # None: price unknown
    price_source: str
    live: bool  # owned by a cluster known on this machine
    remove_with: str


@dataclass(frozen=True)
class Forgotten:
    regions: list[str]
    findings: list[Finding] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # region (or bucket) -> why

    @property
    def leftovers(self) -> list[Finding]:
        return [f for f in self.findings if not f.live]

    @property
    def leftover_monthly_usd(self) -> float:
        """The leftovers' known prices added up (see ``unpriced`` for the others)."""
        return sum(f.monthly_usd or 0.0 for f in self.leftovers)

    @property
    def unpriced(self) -> int:
        return sum(1 for f in self.leftovers if f.monthly_usd is None)


def find_forgotten(home: Home, profile_override: str | None, say: Say) -> Forgotten:
    """Every region's clusterous things of the profile's account, live ones marked as such."""
    profile = choose_profile(home, profile_override, None)
    scanner = make_account_scanner(profile, home)
    if scanner is None:
        raise InputError(
            f"--all-regions looks through an AWS account, and profile {profile.name!r} "
            f"uses the {profile.provider} provider",
            None,
            "pick an AWS profile: 'clusterous --profile NAME ls-clusters --all-regions'",
        )
    scan = scanner.scan(say)
    live = live_clusters(home)
    here = set(home.cluster_names())  # any provider's: a local cluster's name is taken too
    flag = f" --profile {profile_override}" if profile_override else ""
    leftover_regions = _leftover_regions(scan.found, live)
    findings = [
        _finding(b, live, here, flag, leftover_regions.get(b.cluster, profile.region or ""))
        for b in scan.found
    ]
    findings.sort(key=lambda f: (f.live, f.cluster, f.region, f.kind, f.id))
    return Forgotten(scan.regions, findings, scan.skipped)


def live_clusters(home: Home) -> dict[str, LiveCluster]:
    """The AWS clusters this machine has state for (damaged state files count, anywhere)."""
    found = {}
    for name in home.cluster_names():
        ledger = Ledger(home, name)
        if ledger.is_damaged():
            found[name] = LiveCluster(name, ANY_REGION, "")
            continue
        state = ledger.load()
        if state.provider == "aws":
            region = cluster_profile(home, state, None).region or ANY_REGION
            found[name] = LiveCluster(name, region, state.cluster_id)
    return found


def owned(thing: Billable, live: dict[str, LiveCluster]) -> bool:
    """Whether a cluster known here owns it (kept volumes and root disks left without their
    instance are outside every cluster, whoever they were of)."""
    return thing.role not in OUTSIDE_ROLES and of_cluster_here(thing, live)


def of_cluster_here(thing: Billable, live: dict[str, LiveCluster]) -> bool:
    """Whether it carries the name of a cluster known here, and (EC2) its region and id."""
    cluster = live.get(thing.cluster)
    if cluster is None:
        return False
    if thing.kind == "registry-prefix":  # one prefix per name, whatever the region
        return True
    same_region = cluster.region in (ANY_REGION, thing.region)
    ids = {cluster.cluster_id, thing.cluster_id}
    return same_region and ("" in ids or len(ids) == 1)


def _leftover_regions(found: list[Billable], live: dict[str, LiveCluster]) -> dict[str, str]:
    """For a prefix's command: the region where the same cluster left EC2 things, if any."""
    return {
        b.cluster: b.region
        for b in found
        if b.kind != "registry-prefix" and b.cluster and not owned(b, live)
    }


def _finding(
    thing: Billable, live: dict[str, LiveCluster], here: set[str], flag: str, home_region: str
) -> Finding:
    is_live = owned(thing, live)
    return Finding(
        thing.region,
        thing.kind,
        thing.id,
        thing.cluster,
        thing.what,
        thing.monthly,
        thing.source,
        is_live,
        remover(thing, is_live, of_cluster_here(thing, live), thing.cluster in here, flag)
        or destroy_command(thing.cluster, flag, home_region),
    )


def remover(thing: Billable, is_live: bool, here: bool, name_taken: bool, flag: str) -> str:
    """The command that removes it (for a live cluster's things: destroying that cluster);
    "" for a registry prefix left alone (destroyed by name in the profile's region).

    A destroy never deletes a kept volume, and must not be what removes a root
    disk a live cluster left: rm-volume does. A leftover whose name a cluster
    on this machine carries elsewhere is not clusterous's to destroy by name:
    an ``aws`` command removes it alone.
    """
    name, region = thing.cluster, thing.region
    if is_live:
        return f"clusterous{flag} destroy {name}"
    if thing.role == "kept-volume" or (thing.role == "orphaned-root-disk" and here):
        return f"clusterous{flag} rm-volume {thing.id} --region {region}"
    if not name or name_taken or thing.kind == "address":
        return AWS_REMOVERS[thing.kind].format(id=thing.id, region=region)
    return "" if thing.kind == "registry-prefix" else destroy_command(name, flag, region)


def destroy_command(name: str, flag: str, region: str) -> str:
    where = f" --region {region}" if region else ""
    return f"clusterous{flag} destroy {name}{where}"
