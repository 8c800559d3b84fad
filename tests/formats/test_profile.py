"""Cluster profiles: both forms, $parameters, the environment file they name."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from clusterous.errors import InputError
from clusterous.formats import (
    ClusterProfile,
    NodeGroup,
    default_cluster_profile,
    load_cluster_profile,
    load_profile_and_environment,
)
from tests.formats.conftest import WriteFile
from tests.formats.format_helpers import problems_of


def profile_file(write: WriteFile, body: str, name: str = "profile.yml") -> Path:
    return write(name, textwrap.dedent(body).lstrip("\n"))


NATIVE = """
    name: analysis
    provider: aws
    region: eu-west-1
    controller: {type: t3.small}
    spot: true
    node_groups:
      master: {type: t3.medium, count: 1, spot: false}
      worker: {type: c5.large, count: 4, spot_fallback: none}
      gpu: {count: 0}
    shared_volume: {size: 200, id: vol-0123456789abcdef0}
    max_hours: 8
"""


def test_the_native_form_loads_every_field(write: WriteFile) -> None:
    profile = load_cluster_profile(profile_file(write, NATIVE))
    assert profile == ClusterProfile(
        name="analysis",
        provider="aws",
        region="eu-west-1",
        controller_type="t3.small",
        node_groups={
            "master": NodeGroup(type="t3.medium", count=1, spot=False),
            "worker": NodeGroup(type="c5.large", count=4, spot=True, spot_fallback="none"),
            "gpu": NodeGroup(type=None, count=0, spot=True),
        },
        shared_volume_size=200,
        shared_volume_id="vol-0123456789abcdef0",
        max_hours=8.0,
        source=profile.source,
    )


def test_the_clusterous_1_form_means_the_same_as_the_native_one(write: WriteFile) -> None:
    legacy = profile_file(
        write,
        """
        cluster_name: same
        controller_instance_type: t2.medium
        shared_volume_size: 60
        shared_volume_id: vol-12d32ad8
        central_logging_level: 1
        parameters:
            master_instance_type: t2.micro
            worker_instance_type: t2.small
            worker_count: 3
        """,
        name="legacy.yml",
    )
    native = profile_file(
        write,
        """
        name: same
        controller: {type: t2.medium}
        shared_volume: {size: 60, id: vol-12d32ad8}
        central_logging_level: 1
        node_groups:
          master: {type: t2.micro, count: 1}
          worker: {type: t2.small, count: 3}
        """,
        name="native.yml",
    )
    one, other = load_cluster_profile(legacy), load_cluster_profile(native)
    assert one.model_dump(exclude={"source", "parameters"}) == other.model_dump(
        exclude={"source", "parameters"}
    )


def test_provider_is_optional_so_the_configuration_profile_decides(write: WriteFile) -> None:
    path = profile_file(write, "name: x\nnode_groups:\n  worker: {count: 2}\n")
    profile = load_cluster_profile(path)
    assert (profile.provider, profile.region, profile.max_hours) == (None, None, None)
    assert profile.node_groups == {"worker": NodeGroup(count=2)}


def test_parameters_substitute_whole_values_keeping_their_type(write: WriteFile) -> None:
    path = profile_file(
        write,
        """
        name: $cluster
        node_groups:
          worker: {type: "c5.${size}", count: $n}
          other: {type: "${family}.$$x", count: "${n}"}
        parameters:
          cluster: params
          size: xlarge
          family: m5
          n: 5
        """,
    )
    profile = load_cluster_profile(path)
    assert profile.name == "params"
    assert profile.node_groups["worker"] == NodeGroup(type="c5.xlarge", count=5)
    assert profile.node_groups["other"] == NodeGroup(type="m5.$x", count=5)


def test_an_unused_parameter_is_reported_at_its_line(write: WriteFile) -> None:
    path = profile_file(
        write,
        """
        name: x
        node_groups:
          worker: {count: $n}
        parameters:
          n: 2
          worker_type: t3.large
        """,
    )
    assert problems_of(lambda: load_cluster_profile(path)) == [
        f"{path}:6: parameters.worker_type: parameter is defined but never used "
        "(refer to it as $worker_type, or remove it)"
    ]


def test_an_undefined_parameter_is_reported_where_it_is_used(write: WriteFile) -> None:
    path = profile_file(
        write,
        """
        name: x
        node_groups:
          worker:
            count: $count
        parameters:
          counts: 2
        """,
    )
    assert problems_of(lambda: load_cluster_profile(path)) == [
        f"{path}:4: node_groups.worker.count: parameter $count is not defined in parameters, "
        'did you mean "counts"? (defined: counts)',
    ]


def test_a_substituted_value_of_the_wrong_type_names_the_parameter(write: WriteFile) -> None:
    path = profile_file(write, "name: x\nnode_groups:\n  w: {count: $n}\nparameters:\n  n: many\n")
    assert problems_of(lambda: load_cluster_profile(path)) == [
        f'{path}:3: node_groups.w.count: expected an integer ≥ 0, got "many" (from parameter $n)'
    ]


def test_the_default_cluster_counts_as_using_its_three_parameters(write: WriteFile) -> None:
    path = profile_file(
        write,
        """
        cluster_name: abc
        parameters:
            master_instance_type: t2.micro
            worker_instance_type: t2.micro
            worker_count: 0
        """,
    )
    assert load_cluster_profile(path).node_groups["worker"].count == 0


def test_the_default_cluster_names_missing_parameters(write: WriteFile) -> None:
    path = profile_file(write, "cluster_name: abc\nparameters:\n  master_instance_type: t2.micro\n")
    [problem] = problems_of(lambda: load_cluster_profile(path))
    assert problem.startswith(f"{path}:2: parameters: without node_groups")
    assert problem.endswith("missing: worker_instance_type, worker_count")


def test_a_bad_default_cluster_parameter_is_reported_at_its_definition(write: WriteFile) -> None:
    path = profile_file(
        write,
        """
        cluster_name: abc
        parameters:
            master_instance_type: t2.micro
            worker_instance_type: t2.micro
            worker_count: -2
        """,
    )
    assert problems_of(lambda: load_cluster_profile(path)) == [
        f"{path}:5: parameters.worker_count: expected an integer ≥ 0, got -2 "
        "(used by the default cluster)"
    ]


def test_a_profile_with_an_environment_file_without_cluster_uses_the_default(
    write: WriteFile,
) -> None:
    write(
        "app/env.yml",
        "name: app\nenvironment:\n  components:\n    m: {machine: master, image: i}\n",
    )
    path = profile_file(
        write,
        """
        cluster_name: abc
        environment_file: app/env.yml
        parameters: {master_instance_type: a.b, worker_instance_type: c.d, worker_count: 1}
        """,
    )
    profile, environment = load_profile_and_environment(path)
    assert profile.environment_file == path.parent / "app" / "env.yml"
    assert environment is not None and list(environment.components) == ["m"]
    assert list(profile.node_groups) == ["master", "worker"]


def test_environment_cluster_parameters_come_from_the_profile(write: WriteFile) -> None:
    env = write(
        "env.yml",
        "name: app\ncluster:\n  spark:\n    type: $spark_type\n    count: $spark_count\n"
        "environment:\n  components:\n    m: {machine: spark, image: i}\n",
    )
    path = profile_file(
        write,
        "cluster_name: abc\nenvironment_file: env.yml\nparameters:\n  spark_type: 7\n"
        "  spark_count: 2\n  leftover: x\n",
    )
    assert problems_of(lambda: load_cluster_profile(path)) == [
        f'{env}:4: cluster.spark.type: expected an instance type such as "t3.large", got 7 '
        "(from parameter $spark_type)",
        f"{path}:6: parameters.leftover: parameter is defined but never used "
        "(refer to it as $leftover, or remove it)",
    ]


def test_environment_cluster_parameters_missing_from_the_profile_are_located_in_the_env_file(
    write: WriteFile,
) -> None:
    env = write("env.yml", "name: app\ncluster:\n  spark: {count: $spark_count}\n")
    path = profile_file(write, "cluster_name: abc\nenvironment_file: env.yml\n")
    assert problems_of(lambda: load_cluster_profile(path)) == [
        f"{env}:3: cluster.spark.count: parameter $spark_count is not defined in parameters "
        "(defined: none)"
    ]


def test_components_are_checked_against_the_profiles_node_groups(write: WriteFile) -> None:
    env = write(
        "env.yml",
        "name: app\nenvironment:\n  components:\n    m: {machine: master, image: i}\n",
    )
    path = profile_file(
        write, "name: abc\nenvironment_file: env.yml\nnode_groups:\n  gpu: {count: 1}\n"
    )
    assert problems_of(lambda: load_cluster_profile(path)) == [
        f'{env}:4: environment.components.m.machine: no node group named "master" '
        "(node groups of this cluster: gpu)"
    ]


def test_a_missing_environment_file_is_reported_at_the_profile_field(write: WriteFile) -> None:
    path = profile_file(
        write, "name: abc\nnode_groups: {w: {count: 1}}\nenvironment_file: nope.yml\n"
    )
    [problem] = problems_of(lambda: load_cluster_profile(path))
    assert problem.startswith(
        f"{path}:3: environment_file: no such file: {path.parent / 'nope.yml'}"
    )


def test_errors_inside_the_environment_file_name_that_file(write: WriteFile) -> None:
    env = write("env.yml", "name: app\nenvironment:\n  components:\n    m: {machine: master}\n")
    path = profile_file(write, "name: abc\nenvironment_file: env.yml\nnode_groups: {master: {}}\n")
    assert problems_of(lambda: load_cluster_profile(path)) == [
        f"{env}:4: environment.components.m.image: required field is missing"
    ]


def test_two_spellings_of_one_setting_are_refused(write: WriteFile) -> None:
    path = profile_file(
        write,
        "name: abc\ncluster_name: abc\ncontroller: {type: t3.small}\n"
        "controller_instance_type: t3.small\nnode_groups: {w: {count: 1}}\n",
    )
    assert problems_of(lambda: load_cluster_profile(path)) == [
        f'{path}:2: cluster_name: says the same as "name" (line 1): keep only one of them',
        f'{path}:4: controller_instance_type: says the same as "controller" (line 3): '
        "keep only one of them",
    ]


def test_a_profile_without_a_name_is_refused(write: WriteFile) -> None:
    path = profile_file(write, "# my cluster\nnode_groups: {w: {count: 1}}\n")
    assert problems_of(lambda: load_cluster_profile(path)) == [
        f"{path}:2: a cluster profile needs a name: "
        '"name:" (or "cluster_name:" as in Clusterous 1.0)'
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("provider: gcp", 'provider: expected "local" or "aws", got "gcp"'),
        ("max_hours: 0", "max_hours: expected a number > 0, got 0"),
        ("spot: maybe", 'spot: expected true or false, got "maybe"'),
        (
            "shared_volume_id: disk1",
            'shared_volume_id: expected an EBS volume id such as "vol-0123456789abcdef0", '
            'got "disk1"',
        ),
        (
            "shared_volume_size: 0",
            "shared_volume_size: expected a size in GiB, an integer from 1 to 16384, got 0",
        ),
        ("central_logging_level: 9", "central_logging_level: expected 0 (off), 1 or 2, got 9"),
        ("controller: t3.small", 'controller: expected a mapping (key: value), got "t3.small"'),
        (
            "node_groups: {Big: {count: 1}}",
            'node_groups.Big: invalid node group name "Big": '
            'use lowercase letters, digits, "-" and "_", starting with a letter',
        ),
        (
            "node_groups: {controller: {count: 1}}",
            'node_groups.controller: "controller" is reserved for the cluster\'s controller; '
            "choose another name",
        ),
        ("node_groups: {w: {count: 1.5}}", "node_groups.w.count: expected an integer ≥ 0, got 1.5"),
        (
            "node_groups: {w: {type: ''}}",
            'node_groups.w.type: expected an instance type such as "t3.large", got ""',
        ),
        (
            "node_groups: {w: {spot_fallback: never}}",
            'node_groups.w.spot_fallback: expected "on-demand" or "none", got "never"',
        ),
        (
            "name: My_Cluster",
            'name: invalid cluster name "My_Cluster": '
            "use 1-32 lowercase letters, digits and dashes, starting with a letter",
        ),
        (
            "node_groups: {w: {cuont: 2}}",
            'node_groups.w.cuont: unknown field, did you mean "count"? '
            "(valid fields: type, count, spot, spot_fallback)",
        ),
    ],
)
def test_each_bad_profile_field_is_named_at_line_two(
    write: WriteFile, line: str, message: str
) -> None:
    first = "# the field under test is on line 2" if line.startswith("name:") else "name: abc"
    groups = "" if line.startswith("node_groups") else "node_groups: {w: {count: 1}}\n"
    path = profile_file(write, f"{first}\n{line}\n{groups}")
    assert problems_of(lambda: load_cluster_profile(path)) == [f"{path}:2: {message}"]


def test_an_environment_file_is_refused_as_a_profile(write: WriteFile) -> None:
    path = profile_file(write, "name: e\nenvironment: {}\n")
    assert problems_of(lambda: load_cluster_profile(path)) == [
        f"{path}: this is an environment file, not a cluster profile"
    ]


def test_the_default_cluster_profile_for_create_without_a_file() -> None:
    profile = default_cluster_profile("quick", 3, "t3.medium", "c5.large", "t3.small")
    assert profile.node_groups == {
        "master": NodeGroup(type="t3.medium", count=1),
        "worker": NodeGroup(type="c5.large", count=3),
    }
    assert (profile.name, profile.controller_type, profile.source) == ("quick", "t3.small", None)


def test_the_default_cluster_profile_leaves_types_to_the_provider() -> None:
    profile = default_cluster_profile("quick")
    assert profile.node_groups["worker"] == NodeGroup(type=None, count=1)


@pytest.mark.parametrize(("name", "workers"), [("Bad Name", 1), ("good", -1)])
def test_the_default_cluster_profile_refuses_bad_arguments(name: str, workers: int) -> None:
    with pytest.raises(InputError):
        default_cluster_profile(name, workers)
