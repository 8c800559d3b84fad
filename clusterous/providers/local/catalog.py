"""The local catalog: four container sizes, and the base image every node starts from."""

from __future__ import annotations

from collections.abc import Sequence

from clusterous.errors import InputError
from clusterous.providers.base import CostLine, InstanceType, Role
from clusterous.providers.cost import Rate, Use
from clusterous.records import ClusterState

INSTANCE_TYPES = {
    "small": InstanceType("small", cpus=1, memory_mib=1024, hourly_price=0.0),
    "medium": InstanceType("medium", cpus=2, memory_mib=2048, hourly_price=0.0),
    "large": InstanceType("large", cpus=4, memory_mib=4096, hourly_price=0.0),
    "xlarge": InstanceType("xlarge", cpus=8, memory_mib=8192, hourly_price=0.0),
}
DEFAULT_TYPES: dict[Role, str] = {"controller": "medium", "node": "small"}
LOCAL_COST_WORDS = "runs on your own machine: nothing billable"


class LocalCatalog:
    def __init__(self, base_image: str, node_type: str | None) -> None:
        self.base_image = base_image
        self.node_type = node_type

    def instance_types(self) -> dict[str, InstanceType]:
        return dict(INSTANCE_TYPES)

    def default_instance_type(self, role: Role) -> str:
        if role == "node" and self.node_type:
            return self.node_type
        return DEFAULT_TYPES[role]

    def image_of(self, instance_type: str) -> str:
        return self.base_image

    def running_costs(self, nodes: int, new_volume_gib: int | None) -> list[CostLine]:
        return []  # containers and a directory on this machine: nothing bills

    def check_instance_types(self, names: Sequence[str]) -> None:
        for name in names:
            if name not in INSTANCE_TYPES:
                valid = ", ".join(
                    f"{t.name} ({t.cpus:g} CPU, {t.memory_mib // 1024} GiB)"
                    for t in INSTANCE_TYPES.values()
                )
                raise InputError(
                    f"unknown local instance type {name!r}",
                    f"the local provider offers: {valid}",
                    "use one of those in the profile, or create on EC2 with --provider aws",
                )


class LocalMeter:
    """A local cluster's containers run on this machine: one line, costing nothing."""

    def rates(self, state: ClusterState, now: float) -> list[Rate]:
        uses = tuple(Use(1, state.created_at or now) for _ in state.nodes)
        words, source = LOCAL_COST_WORDS, "local provider"
        # Nothing, running or stopped.
        return [Rate(words, "local", "container-hour", 0.0, source, uses, bills_when_stopped=True)]
