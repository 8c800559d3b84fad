"""Log lines tagged with their node; image names split for the registry API."""

from __future__ import annotations

from clusterous.environments.logs import lines_of, split_detail
from clusterous.environments.registry import split_name


def test_a_detailed_log_line_gets_its_node_name() -> None:
    line = "com.docker.swarm.node.id=abc123,com.docker.swarm.task.id=t1 hello world"
    assert split_detail(line, {"abc123": "worker-2"}) == ("worker-2", "hello world")


def test_an_unknown_node_is_shown_by_its_id_and_plain_lines_pass() -> None:
    assert split_detail("com.docker.swarm.node.id=abcdefabcdefabcdef x", {})[0] == "abcdefabcdef"
    assert split_detail("no attributes here", {}) == ("?", "no attributes here")


def test_chunks_are_split_into_whole_lines() -> None:
    assert list(lines_of([b"a\nb", b"c\n", b"d"])) == ["a", "bc", "d"]


def test_image_names_split_into_repository_and_tag() -> None:
    assert split_name("registry:5000/basic-python") == ("basic-python", None)
    assert split_name("bdkd:spark_mesos_v11") == ("bdkd", "spark_mesos_v11")
