"""The dashboard server's translation of the page's questions (no controller needed).

The server itself, on a real controller and in a real browser, is
tests/e2e/test_dashboard.py's part.
"""

from __future__ import annotations

import pytest

from clusterous.node import dashboard_server as server

HOSTS = {"worker-1": ("ip-10-0-0-7", "10.0.0.7")}


def test_a_search_turns_into_journalctl_matches_on_the_gathered_journals() -> None:
    argv = server.log_command(
        {"q": "a.b (c)", "component": "worker", "node": "worker-1", "since": "-1h"}, HOSTS
    )

    assert argv[:3] == ["journalctl", "-D", "/var/log/journal/remote"]
    assert "--since=-1h" in argv
    assert "--grep=a\\.b\\ \\(c\\)" in argv  # the text literally, not as a pattern
    at = argv.index("+")
    assert argv[at - 2 : at] == ["COM_DOCKER_SWARM_SERVICE_NAME=worker", "_HOSTNAME=ip-10-0-0-7"]
    assert argv[at + 1 :] == [
        "_COMM=rsyslogd",
        "SYSLOG_IDENTIFIER=worker",
        "SYSLOG_SOURCE=10.0.0.7",
    ]


def test_without_filters_only_components_lines_are_shown() -> None:
    argv = server.log_command({}, {})

    at = argv.index("+")
    assert argv[at - 2 : at] == ["_TRANSPORT=journal", "_COMM=dockerd"]
    assert argv[at + 1 :] == ["_COMM=rsyslogd"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "yesterday; rm -rf /"}, "since: expected a time"),
        ({"until": "--output=x"}, "until: expected a time"),
        ({"node": "a b"}, "node: not a node or component name"),
        ({"component": "-x"}, "component: not a node or component name"),
    ],
)
def test_a_bad_filter_is_refused_with_its_name(query: dict[str, str], message: str) -> None:
    with pytest.raises(server.BadQuery, match=message):
        server.log_command(query, {})


def test_a_journal_entry_says_node_component_task_and_time() -> None:
    entry = server.log_entry(
        {
            "__REALTIME_TIMESTAMP": "1700000000500000",
            "_HOSTNAME": "ip-10-0-0-7",
            "COM_DOCKER_SWARM_SERVICE_NAME": "worker",
            "COM_DOCKER_SWARM_TASK_NAME": "worker.2.k3j4h5",
            "MESSAGE": [104, 105, 255],
        },
        {"ip-10-0-0-7": "worker-1"},
    )

    assert entry == {
        "time": 1700000000.5,
        "node": "worker-1",
        "component": "worker",
        "task": "worker.2",
        "message": "hi\ufffd",
    }


def test_a_syslog_entry_is_named_by_its_tag_without_the_space_after_it() -> None:
    entry = server.log_entry(
        {
            "SYSLOG_IDENTIFIER": "test_logging",
            "SYSLOG_SOURCE": "10.0.0.7",
            "_HOSTNAME": "controller",
            "MESSAGE": " TESTING",
        },
        {"10.0.0.7": "worker-1"},
    )

    assert (entry["node"], entry["component"], entry["task"], entry["message"]) == (
        "worker-1",
        "test_logging",
        "syslog",
        "TESTING",
    )


def test_restarts_count_each_slots_earlier_tasks() -> None:
    tasks = [
        {"Name": "web.1", "Node": "ip-1", "CurrentState": "Running 1 minute ago"},
        {"Name": "\\_ web.1", "Node": "ip-1", "CurrentState": "Failed 2 minutes ago"},
        {"Name": "\\_ web.1", "Node": "ip-2", "CurrentState": "Failed 3 minutes ago"},
        {"Name": "web.2", "Node": "ip-2", "CurrentState": "Running 5 minutes ago"},
    ]

    rows = server.task_rows(tasks, {"ip-1": "worker-1", "ip-2": "worker-2"})

    assert [(r["task"], r["node"], r["restarts"]) for r in rows] == [
        ("web.1", "worker-1", 2),
        ("web.2", "worker-2", 0),
    ]
