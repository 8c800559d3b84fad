"""Planning a cluster: node names, default types, checks, display rows."""

from __future__ import annotations

import pytest

from clusterous.errors import InputError
from clusterous.manager.plan import GroupRequest, default_groups, next_node_names, plan_cluster
from clusterous.providers.local.provider import LocalProvider


@pytest.fixture
def provider(tmp_path: object) -> LocalProvider:
    from clusterous.home import Home

    return LocalProvider("plan-test", Home(tmp_path), client=object())  # type: ignore[arg-type]


def test_the_default_cluster_is_one_master_and_n_workers_named_by_number(
    provider: LocalProvider,
) -> None:
    plan = plan_cluster("c", provider, "local", default_groups(3, None, None))
    assert [n.name for n in plan.all_nodes] == [
        "controller",
        "master-1",
        "worker-1",
        "worker-2",
        "worker-3",
    ]
    assert plan.controller.instance_type == "medium"
    assert {n.instance_type for n in plan.nodes} == {"small"}


def test_a_profile_default_type_applies_to_nodes_not_the_controller(tmp_path: object) -> None:
    from clusterous.home import Home

    provider = LocalProvider("c", Home(tmp_path), node_type="large", client=object())  # type: ignore[arg-type]
    plan = plan_cluster("c", provider, "local", [GroupRequest("spark", None, 2)])
    assert [n.instance_type for n in plan.nodes] == ["large", "large"]
    assert plan.controller.instance_type == "medium"


def test_an_unknown_instance_type_is_refused_listing_the_valid_ones(
    provider: LocalProvider,
) -> None:
    with pytest.raises(InputError) as error:
        plan_cluster("c", provider, "local", [GroupRequest("worker", "t2.micro", 1)])
    assert "unknown local instance type 't2.micro'" in error.value.render()
    assert "small (1 CPU, 1 GiB)" in error.value.render()


@pytest.mark.parametrize("name", ["controller", "Bad Name", "a/b"])
def test_reserved_or_odd_group_names_are_refused(provider: LocalProvider, name: str) -> None:
    with pytest.raises(InputError, match="invalid node group name"):
        plan_cluster("c", provider, "local", [GroupRequest(name, None, 1)])


def test_the_planned_groups_show_each_group_with_its_size_and_price(
    provider: LocalProvider,
) -> None:
    from clusterous.operations.clusters import planned_groups

    plan = plan_cluster("c", provider, "local", default_groups(2, None, None))
    assert [
        (g.group, g.instance_type, g.count, g.cpus, g.memory_mib, g.hourly_price)
        for g in planned_groups(plan, provider)
    ] == [
        ("controller", "medium", 1, 2, 2048, 0.0),
        ("master", "small", 1, 1, 1024, 0.0),
        ("worker", "small", 2, 1, 1024, 0.0),
    ]


def test_new_node_names_continue_after_the_highest_number_in_use() -> None:
    existing = ["controller", "worker-1", "worker-3", "master-1", "worker-x"]
    assert next_node_names(existing, "worker", 2) == ["worker-4", "worker-5"]
    assert next_node_names(existing, "gpu", 1) == ["gpu-1"]


def test_names_of_removed_nodes_are_never_given_again() -> None:
    assert next_node_names(["worker-1", "worker-2"], "worker", 1, retired=5) == ["worker-6"]
    assert next_node_names(["worker-7"], "worker", 1, retired=5) == ["worker-8"]
