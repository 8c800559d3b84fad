"""The bootstrap's central logging and metrics: what each node is told to run, and how.

The scripts' functions run in bash with the rendered parameters (as in
test_render.py); the node image and a real cluster are the e2e tests' part
(tests/e2e/test_dashboard.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from clusterous.node import BootstrapParams, render_bootstrap

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is needed to run the script")


def params(role: str = "controller", **overrides: str) -> BootstrapParams:
    settings = {"cluster": "demo", "node": role, "role": role, "controller_addr": "10.0.0.5"}
    if role == "controller":
        settings["controller_addr"] = ""
    settings.update(overrides)
    return BootstrapParams(**settings)


def run(p: BootstrapParams, shell_code: str) -> subprocess.CompletedProcess[str]:
    script = render_bootstrap(p)
    script = script[: -len('main "$@"\n')] + "default_parameters\n" + shell_code + "\n"
    return subprocess.run(
        [str(BASH), "-s"], input=script, capture_output=True, text=True, timeout=30, check=False
    )


def output(p: BootstrapParams, shell_code: str) -> str:
    done = run(p, shell_code)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_service_containers_log_to_the_journal_with_their_service_and_task() -> None:
    daemon = json.loads(output(params(), "daemon_json"))

    assert daemon["log-driver"] == "journald"
    assert daemon["log-opts"]["tag"] == "{{.Name}}"
    assert daemon["log-opts"]["labels"].split(",") == [
        "com.docker.swarm.service.name",
        "com.docker.swarm.task.name",
    ]


def test_logging_off_keeps_dockers_default_log_driver_and_installs_no_log_packages() -> None:
    off = params(logging="0")

    assert "log-driver" not in json.loads(output(off, "daemon_json"))
    packages = output(off, "observability_packages").split()
    assert packages == ["prometheus-node-exporter", "prometheus"]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            "controller",
            ["prometheus-node-exporter", "systemd-journal-remote", "prometheus", "rsyslog"],
        ),
        ("node", ["prometheus-node-exporter", "systemd-journal-remote"]),
    ],
)
def test_only_the_controller_gathers_logs_and_metrics(role: str, expected: list[str]) -> None:
    assert output(params(role, join_token="t"), "observability_packages").split() == expected


def test_every_node_uploads_its_journal_to_the_controller() -> None:
    node = output(params("node", join_token="t"), "journal_upload_conf")
    controller = output(params(), "journal_upload_conf")

    assert "URL=http://10.0.0.5:19532" in node
    assert "URL=http://127.0.0.1:19532" in controller


def test_syslog_is_taken_on_port_5514_over_udp_and_tcp_into_the_journal() -> None:
    config = output(params(), "rsyslog_config")

    assert 'input(type="imudp" port="5514"' in config
    assert 'input(type="imtcp" port="5514"' in config
    assert 'action(type="omjournal" template="clusterous_journal")' in config
    assert 'property(name="programname" outname="SYSLOG_IDENTIFIER")' in config
    assert 'property(name="fromhost-ip" outname="SYSLOG_SOURCE")' in config


def test_prometheus_finds_the_swarm_nodes_and_listens_on_loopback_only() -> None:
    config = yaml.safe_load(output(params(), "prometheus_config"))
    (job,) = config["scrape_configs"]
    drop_in = output(params(), "prometheus_drop_in")

    assert job["dockerswarm_sd_configs"][0]["role"] == "nodes"
    assert {"source_labels": ["__meta_dockerswarm_node_hostname"], "target_label": "node"} in (
        job["relabel_configs"]
    )
    assert "--web.listen-address=127.0.0.1:9090" in drop_in


def test_the_log_store_bound_defaults_to_1_gib_and_follows_the_profile() -> None:
    assert output(params(), "echo $CLUSTEROUS_LOG_MAX_USE").strip() == "1G"
    unit = output(params(log_max_use="512M"), "log_vacuum_service")
    assert "--vacuum-size=${LOG_MAX_USE}" in unit
    assert "ConditionPathExists=/etc/clusterous/log-vacuum.env" in unit


def test_journald_keeps_every_line_a_fast_component_prints() -> None:
    assert "RateLimitIntervalSec=0" in output(params(), "journald_conf")
    assert "ForwardToSyslog=no" in output(params(), "journald_conf")  # else syslog.socket fails


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("logging", "3", "CLUSTEROUS_LOGGING must be 0 (off), 1 or 2, got '3'"),
        ("log_max_use", "lots", "CLUSTEROUS_LOG_MAX_USE must be a size like 1G"),
    ],
)
def test_bad_logging_parameters_are_refused_with_their_name(
    field: str, value: str, message: str
) -> None:
    # tee stands in for the script's log file, which is the host's own here.
    done = run(params(**{field: value}), "tee() { cat; }; check_observability_parameters")

    assert done.returncode == 1
    assert message in done.stderr


def test_every_unit_drop_in_waits_for_its_configuration_file() -> None:
    """A node image carries them enabled; a worker never starts the controller's."""
    listed = output(params(), "observability_unit_files").split()
    renders = listed[1::2]
    for render in renders:
        text = output(params(), render)
        if render == "node_exporter_drop_in":  # every node runs it
            continue
        assert "ConditionPathExists=" in text, render
