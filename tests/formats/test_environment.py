"""Environment files: field forms, located type errors, and the cross-checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from clusterous.formats import Environment, PortMapping, load_environment
from tests.formats.conftest import WriteFile
from tests.formats.format_helpers import problems_of


def env_file(write: WriteFile, body: str, name: str = "env.yml") -> Path:
    return write(name, textwrap.dedent(body).lstrip("\n"))


def component(write: WriteFile, **extra: str) -> Environment:
    lines = "".join(f"      {key}: {value}\n" for key, value in extra.items())
    path = env_file(
        write,
        "name: t\nenvironment:\n  components:\n    c:\n      machine: master\n"
        "      image: img\n" + lines,
    )
    return load_environment(path)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("8888", [(8888, 8888)]),
        ('"8888"', [(8888, 8888)]),
        ('"2000:8000"', [(2000, 8000)]),
        ("2000:8000", [(2000, 8000)]),
        ('"8888,8889"', [(8888, 8888), (8889, 8889)]),
        ('"8888, 2000:8000"', [(8888, 8888), (2000, 8000)]),
        ('[8888, "9000:90"]', [(8888, 8888), (9000, 90)]),
    ],
)
def test_ports_in_every_clusterous_1_form_become_pairs(
    write: WriteFile, written: str, expected: list[tuple[int, int]]
) -> None:
    environment = component(write, ports=written)
    assert environment.components["c"].ports == [
        PortMapping(host=h, container=c) for h, c in expected
    ]


def test_component_defaults_match_clusterous_1(write: WriteFile) -> None:
    c = component(write).components["c"]
    assert (c.cpu, c.count, c.attach_volume, c.ports, c.depends, c.cmd) == (
        "auto",
        1,
        True,
        [],
        [],
        None,
    )
    assert (c.docker_network, c.memory, c.environment) == (None, None, {})


def test_depends_may_be_a_comma_separated_string_or_a_list(write: WriteFile) -> None:
    path = env_file(
        write,
        """
        name: t
        environment:
          components:
            a: {machine: master, image: i}
            b: {machine: master, image: i}
            c: {machine: worker, image: i, depends: "a, b"}
            d: {machine: worker, image: i, depends: [c, a]}
        """,
    )
    environment = load_environment(path)
    assert environment.components["c"].depends == ["a", "b"]
    assert environment.components["d"].depends == ["c", "a"]
    order = environment.deploy_order()
    assert order.index("c") > order.index("b") and order.index("d") > order.index("c")


def test_our_additions_memory_and_environment_variables(write: WriteFile) -> None:
    c = component(write, memory='"512m"', environment="{MODE: fast, THREADS: 4, DEBUG: no}")
    assert c.components["c"].memory == 512 * 1024**2
    assert c.components["c"].environment == {"MODE": "fast", "THREADS": "4", "DEBUG": "false"}
    assert component(write, memory="2g").components["c"].memory == 2 * 1024**3


def test_attach_volume_accepts_yaml_yes_and_no(write: WriteFile) -> None:
    assert component(write, attach_volume="no").components["c"].attach_volume is False
    assert component(write, attach_volume="yes").components["c"].attach_volume is True


def test_cmd_may_be_an_argument_list(write: WriteFile) -> None:
    assert component(write, cmd='["python", "-m", "x"]').components["c"].cmd == [
        "python",
        "-m",
        "x",
    ]


def test_copy_and_dockerfile_are_resolved_beside_the_file(write: WriteFile, tmp_path: Path) -> None:
    path = env_file(
        write,
        """
        name: t
        environment:
          copy: ["data/", "data/../shared"]
          image:
            - {dockerfile: "image/", image_name: "x"}
        """,
        name="sub/env.yml",
    )
    environment = load_environment(path)
    assert environment.copy_dirs == [tmp_path / "sub" / "data", tmp_path / "sub" / "shared"]
    assert environment.images[0].dockerfile == tmp_path / "sub" / "image"
    assert environment.source == path


def test_a_bad_cpu_is_reported_at_its_line(write: WriteFile) -> None:
    path = env_file(
        write,
        """
        name: t
        environment:
          components:
            engine:
              machine: worker
              image: i
              cpu: fast
        """,
    )
    assert problems_of(lambda: load_environment(path)) == [
        f'{path}:7: environment.components.engine.cpu: expected a number > 0 or "auto", got "fast"'
    ]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("count", "0", 'expected an integer ≥ 1 or "auto", got 0'),
        ("count", "yes", 'expected an integer ≥ 1 or "auto", got true'),
        ("cpu", "-1", 'expected a number > 0 or "auto", got -1'),
        (
            "ports",
            "abc",
            'expected a port ("8888"), a "host:container" pair ("2000:8000"), '
            'a comma-separated list of those, or a list, got "abc"',
        ),
        ("ports", "70000", "port 70000 is out of range (1-65535) in 70000"),
        ("ports", '"80,80"', "host port 80 is published twice"),
        ("attach_volume", "maybe", 'expected true or false, got "maybe"'),
        ("docker_network", "bridge", 'expected "host", got "bridge"'),
        ("memory", "lots", 'expected a memory size such as "512m" or "2g", got "lots"'),
        ("memory", "1k", 'must be at least 6m (Docker\'s minimum), got "1k"'),
        ("cmd", "[]", "expected a command (a string or a list of strings), got a list"),
        (
            "depends",
            "{a: 1}",
            'expected a component name, "a, b", or a list of names, got a mapping',
        ),
        ("image", '""', 'expected a non-empty string without spaces, got ""'),
        ("environment", "[A]", "expected a mapping of NAME: value, got a list"),
    ],
)
def test_each_bad_component_field_names_line_field_and_value(
    write: WriteFile, field: str, value: str, message: str
) -> None:
    path = env_file(
        write,
        f"name: t\nenvironment:\n  components:\n    c:\n      machine: master\n"
        f"      {field}: {value}\n" + ("      image: i\n" if field != "image" else ""),
    )
    assert problems_of(lambda: load_environment(path)) == [
        f"{path}:6: environment.components.c.{field}: {message}"
    ]


def test_an_unknown_key_suggests_the_field_meant(write: WriteFile) -> None:
    path = env_file(
        write,
        "name: t\nenvironment:\n  components:\n    c:\n"
        "      machine: master\n      image: i\n      cpus: 2\n",
    )
    [problem] = problems_of(lambda: load_environment(path))
    assert problem.startswith(
        f'{path}:7: environment.components.c.cpus: unknown field, did you mean "cpu"?'
    )
    assert "(valid fields: machine, image, cpu," in problem


def test_an_unknown_top_level_key_suggests_too(write: WriteFile) -> None:
    path = env_file(write, "name: t\nenviroment: {}\nenvironment:\n  copy: []\n")
    [problem] = problems_of(lambda: load_environment(path))
    assert problem.startswith(f'{path}:2: enviroment: unknown field, did you mean "environment"?')


def test_a_missing_required_field_is_placed_at_its_parent(write: WriteFile) -> None:
    path = env_file(write, "name: t\nenvironment:\n  components:\n    c:\n      machine: master\n")
    assert problems_of(lambda: load_environment(path)) == [
        f"{path}:4: environment.components.c.image: required field is missing"
    ]


def test_a_section_of_the_wrong_type_is_named(write: WriteFile) -> None:
    path = env_file(write, "name: t\nenvironment:\n  components: [a, b]\n")
    assert problems_of(lambda: load_environment(path)) == [
        f"{path}:3: environment.components: expected a mapping (key: value), got a list"
    ]


def test_a_file_without_environment_or_cluster_section_is_refused(write: WriteFile) -> None:
    path = env_file(write, "name: t\nenvironment:\n")
    assert problems_of(lambda: load_environment(path)) == [
        f"{path}:1: an environment file needs an 'environment:' section"
    ]


def test_a_bad_component_name_is_refused(write: WriteFile) -> None:
    path = env_file(
        write, "name: t\nenvironment:\n  components:\n    'my app': {machine: master, image: i}\n"
    )
    [problem] = problems_of(lambda: load_environment(path))
    assert problem.startswith(
        f'{path}:4: environment.components.my app: invalid component name "my app"'
    )


# ----- cross-checks -------------------------------------------------------------------


def test_a_dependency_cycle_is_named(write: WriteFile) -> None:
    path = env_file(
        write,
        """
        name: t
        environment:
          components:
            a: {machine: master, image: i, depends: b}
            b: {machine: master, image: i, depends: a}
        """,
    )
    assert problems_of(lambda: load_environment(path)) == [
        f"{path}:4: environment.components.a.depends: dependency cycle: a -> b -> a"
    ]


def test_a_component_depending_on_itself_is_a_cycle(write: WriteFile) -> None:
    path = env_file(
        write,
        "name: t\nenvironment:\n  components:\n    a: {machine: master, image: i, depends: a}\n",
    )
    assert problems_of(lambda: load_environment(path)) == [
        f"{path}:4: environment.components.a.depends: dependency cycle: a -> a"
    ]


def test_depends_on_an_unknown_component_suggests_a_name(write: WriteFile) -> None:
    path = env_file(
        write,
        """
        name: t
        environment:
          components:
            master: {machine: master, image: i}
            engine:
              machine: worker
              image: i
              depends: mastre
        """,
    )
    assert problems_of(lambda: load_environment(path)) == [
        f'{path}:8: environment.components.engine.depends: unknown component "mastre", '
        'did you mean "master"?'
    ]


def test_a_machine_outside_the_default_groups_is_refused(write: WriteFile) -> None:
    path = env_file(
        write,
        "name: t\nenvironment:\n  components:\n    c:\n      machine: workers\n      image: i\n",
    )
    assert problems_of(lambda: load_environment(path)) == [
        f'{path}:5: environment.components.c.machine: no node group named "workers", '
        'did you mean "worker"? (node groups of this cluster: master, worker)'
    ]


def test_machines_are_checked_against_the_files_own_cluster_section(write: WriteFile) -> None:
    path = env_file(
        write,
        """
        name: t
        cluster:
          gpu: {type: g4dn.xlarge, count: 2}
        environment:
          components:
            a: {machine: gpu, image: i}
            b: {machine: worker, image: i}
            c: {machine: controller, image: i}
        """,
    )
    assert problems_of(lambda: load_environment(path)) == [
        f'{path}:7: environment.components.b.machine: no node group named "worker" '
        "(node groups of this cluster: gpu)"
    ]


def test_two_components_publishing_one_host_port_on_a_group_collide(write: WriteFile) -> None:
    path = env_file(
        write,
        """
        name: t
        environment:
          components:
            a: {machine: master, image: i, ports: 8080}
            b: {machine: worker, image: i, ports: 8080}
            c: {machine: master, image: i, ports: "8080:80"}
        """,
    )
    assert problems_of(lambda: load_environment(path)) == [
        f"{path}:6: environment.components.c.ports: host port 8080 is already published by "
        'component "a" on node group "master"'
    ]


def test_a_tunnel_to_an_undefined_component_is_refused(write: WriteFile) -> None:
    path = env_file(
        write,
        """
        name: t
        environment:
          components:
            notebook: {machine: master, image: i, ports: 8888}
          expose_tunnel:
            service: 8888:notebok:8888
        """,
    )
    assert problems_of(lambda: load_environment(path)) == [
        f'{path}:6: environment.expose_tunnel.service: no component named "notebok", '
        'did you mean "notebook"?'
    ]


@pytest.mark.parametrize(
    "service", ['"8888:master"', '"x:master:1"', '"1:master:99999"', "8888", '"1::2"']
)
def test_a_malformed_tunnel_spec_is_refused(write: WriteFile, service: str) -> None:
    path = env_file(
        write,
        f"name: t\nenvironment:\n  components:\n    master: {{machine: master, image: i}}\n"
        f"  expose_tunnel:\n    - service: {service}\n",
    )
    [problem] = problems_of(lambda: load_environment(path))
    assert problem.startswith(
        f"{path}:6: environment.expose_tunnel[0].service: "
        'expected "local_port:component:remote_port"'
    )


def test_a_tunnel_to_a_port_the_component_does_not_publish_is_refused(write: WriteFile) -> None:
    path = env_file(
        write,
        "name: t\nenvironment:\n  components:\n    m: {machine: master, image: i, ports: 8889}\n"
        "  expose_tunnel:\n    - service: 8888:m:8888\n",
    )
    assert problems_of(lambda: load_environment(path)) == [
        f'{path}:6: environment.expose_tunnel[0].service: component "m" publishes no host port '
        "8888 (it publishes: 8889); add it to the component's ports, or use docker_network: host"
    ]


def test_a_tunnel_message_with_an_unknown_placeholder_is_refused(write: WriteFile) -> None:
    path = env_file(
        write,
        "name: t\nenvironment:\n  components:\n    m: {machine: master, image: i, ports: 80}\n"
        "  expose_tunnel:\n    service: 8080:m:80\n    message: 'open {link}'\n",
    )
    assert problems_of(lambda: load_environment(path)) == [
        f"{path}:7: environment.expose_tunnel.message: "
        "unknown placeholder {link}: use {url} or {port}"
    ]


def test_two_tunnels_on_one_local_port_collide(write: WriteFile) -> None:
    path = env_file(
        write,
        "name: t\nenvironment:\n  components:\n    m: {machine: master, image: i, ports: '80,81'}\n"
        "  expose_tunnel:\n    - service: 8080:m:80\n    - service: 8080:m:81\n",
    )
    assert problems_of(lambda: load_environment(path)) == [
        f"{path}:7: environment.expose_tunnel[1].service: "
        "local port 8080 is already used by another tunnel"
    ]


def test_a_cluster_profile_is_refused_as_an_environment_file(write: WriteFile) -> None:
    path = env_file(write, "cluster_name: abc\n")
    assert problems_of(lambda: load_environment(path)) == [
        f"{path}: this is a cluster profile, not an environment file"
    ]
