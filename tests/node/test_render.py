"""Rendering the bootstrap script: parameters in, safely quoted, nothing else changed.

The rendered script is only ever *run* here without its last line (``main``):
its top level defines variables and functions and touches nothing, so the
parameters and the pure functions that turn them into configuration (daemon.json,
the registry's config.yml) can be checked on this machine without root.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest
import yaml

from clusterous.node import (
    BOOTSTRAP_READY_MARKER,
    PARAMETERS_MARKER,
    BootstrapParams,
    bootstrap_template,
    render_bootstrap,
)

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is needed to check the script")

# These are executed (assignments only): a quoting bug may touch the canary,
# never anything else.
HOSTILE = [
    "'; touch {canary} #",
    '"; touch {canary} #',
    "'\\''; touch {canary}; '",
    "$(touch {canary})",
    "`touch {canary}`",
    "a\nb\nc",
    "back\\slash and \\n",
    "ünïcødé ✓",
    "",
]


def controller(**overrides: str) -> BootstrapParams:
    settings = {"cluster": "demo", "node": "controller", "role": "controller"}
    settings.update(overrides)
    return BootstrapParams(**settings)


def run_instead_of_main(params: BootstrapParams, shell_code: str) -> str:
    """Run the rendered script with ``shell_code`` in place of its final ``main "$@"``."""
    script = render_bootstrap(params)
    assert script.endswith('\nmain "$@"\n')
    script = script[: -len('main "$@"\n')] + shell_code + "\n"
    done = subprocess.run(
        [str(BASH), "-s"], input=script, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_marker_line_is_replaced_exactly_once_by_one_assignment_per_field() -> None:
    assert bootstrap_template().count(PARAMETERS_MARKER) == 1
    script = render_bootstrap(controller(host_key="-----BEGIN KEY-----\nAAAA\n-----END KEY-----\n"))

    assert PARAMETERS_MARKER not in script
    for field in dataclasses.fields(BootstrapParams):
        name = f"CLUSTEROUS_{field.name.upper()}"
        assert len(re.findall(rf"^{name}=", script, flags=re.MULTILINE)) == 1, name


def test_rendering_changes_nothing_but_the_marker_line() -> None:
    template = bootstrap_template().split("\n")
    rendered = render_bootstrap(controller()).split("\n")
    at = template.index(PARAMETERS_MARKER)
    fields = len(dataclasses.fields(BootstrapParams))

    assert rendered[:at] == template[:at]
    assert rendered[at + fields :] == template[at + 1 :]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_reach_the_script_verbatim_and_run_nothing(
    value: str, tmp_path: Path
) -> None:
    canary = tmp_path / "pwned"
    value = value.format(canary=canary)
    params = controller(cluster=value, join_token=value, registry_prefix=value)

    names = ("CLUSTER", "JOIN_TOKEN", "REGISTRY_PREFIX")
    variables = " ".join(f'"$CLUSTEROUS_{name}"' for name in names)
    printed = run_instead_of_main(params, f'printf "%s\\0" {variables}')

    assert printed.split("\0")[:3] == [value, value, value]
    assert not canary.exists()


def test_hostile_values_are_single_quoted_in_the_script() -> None:
    script = render_bootstrap(controller(cluster="'; rm -rf /"))

    assert "\nCLUSTEROUS_CLUSTER=''\"'\"'; rm -rf /'\n" in script


def test_the_rendered_script_is_valid_bash() -> None:
    script = render_bootstrap(controller(cluster="'; rm -rf /", dns="10.0.0.2 10.0.0.3"))

    done = subprocess.run(
        [str(BASH), "-n"], input=script, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr


def test_every_parameter_is_known_to_the_script() -> None:
    listed = re.search(
        r"^default_parameters\(\) \{.*?for name in (.*?); do", bootstrap_template(), re.S | re.M
    )
    assert listed is not None
    names = set(listed.group(1).replace("\\", " ").split())
    assert names == {f.name.upper() for f in dataclasses.fields(BootstrapParams)}


def test_daemon_json_is_valid_json_whatever_the_labels_hold() -> None:
    params = controller(
        cluster='we"ird\\name',
        group="controller",
        instance_id="i-0abc",
        private_cidr="172.28.0.0/16",
        dns="10.0.0.2 10.0.0.3",
        docker_storage_driver="overlay2",
        logging="0",  # the log driver's entries: tests/node/test_observability.py
    )

    daemon = json.loads(run_instead_of_main(params, "default_parameters; daemon_json"))

    assert daemon == {
        "insecure-registries": ["registry:5000", "172.28.0.0/16"],
        "labels": [
            'clusterous.cluster=we"ird\\name',
            "clusterous.node=controller",
            "clusterous.group=controller",
            "clusterous.instance=i-0abc",
        ],
        "dns": ["10.0.0.2", "10.0.0.3"],
        "storage-driver": "overlay2",
    }


def test_daemon_json_leaves_out_what_is_not_set() -> None:
    daemon = json.loads(run_instead_of_main(controller(), "default_parameters; daemon_json"))

    assert daemon["insecure-registries"] == ["registry:5000"]
    assert "clusterous.instance=controller" in daemon["labels"]  # defaults to the node name
    assert "clusterous.group=controller" in daemon["labels"]
    assert "dns" not in daemon and "storage-driver" not in daemon


def test_registry_config_uses_the_filesystem_by_default() -> None:
    text = run_instead_of_main(controller(), "default_parameters; registry_config")

    config = yaml.safe_load(text)
    assert config["storage"]["filesystem"] == {"rootdirectory": "/var/lib/docker-registry"}
    assert "s3" not in config["storage"]


def test_the_registry_listens_on_the_controllers_private_address_only() -> None:
    params = controller(controller_addr="172.28.0.2", advertise_addr="172.28.0.2")
    text = run_instead_of_main(params, "default_parameters; registry_config")

    assert yaml.safe_load(text)["http"]["addr"] == "172.28.0.2:5000"


def test_registry_config_for_s3_carries_no_keys() -> None:
    params = controller(
        registry_storage="s3",
        registry_bucket="my-bucket",
        registry_region="eu-west-1",
        registry_prefix="clusters/demo",
        registry_endpoint="http://127.0.0.1:5001",
    )

    config = yaml.safe_load(run_instead_of_main(params, "default_parameters; registry_config"))

    assert config["storage"]["s3"] == {
        "region": "eu-west-1",
        "bucket": "my-bucket",
        "rootdirectory": "/clusters/demo",
        "regionendpoint": "http://127.0.0.1:5001",
        "secure": False,
        "objectacl": "bucket-owner-full-control",
    }
    assert "filesystem" not in config["storage"]


def test_registry_on_s3_names_its_regional_endpoint_and_the_only_acl_new_buckets_take() -> None:
    """AWS: Debian 12's registry (2.8.2) refuses regions newer than its SDK without an
    endpoint, and new buckets (ACLs disabled) reject every ACL header but
    bucket-owner-full-control with AccessControlListNotSupported."""
    params = controller(registry_storage="s3", registry_bucket="b", registry_region="eu-south-2")

    config = yaml.safe_load(run_instead_of_main(params, "default_parameters; registry_config"))

    s3 = config["storage"]["s3"]
    assert s3["regionendpoint"] == "https://s3.eu-south-2.amazonaws.com"
    assert s3["objectacl"] == "bucket-owner-full-control"
    assert "secure" not in s3


def test_registry_config_talks_https_to_an_https_endpoint() -> None:
    params = controller(
        registry_storage="s3",
        registry_bucket="b",
        registry_region="us-east-1",
        registry_endpoint="https://s3.example.test",
    )

    config = yaml.safe_load(run_instead_of_main(params, "default_parameters; registry_config"))

    assert "secure" not in config["storage"]["s3"]
    assert "rootdirectory" not in config["storage"]["s3"]


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.bare"])
def test_node_images_bake_in_the_bootstraps_own_units_and_sshd_settings(dockerfile: str) -> None:
    """Local nodes find them unchanged at boot: no daemon-reload, no sshd reload."""
    folder = resources.files("clusterous.providers.local").joinpath("node_image")
    text = folder.joinpath(dockerfile).read_text()

    assert "bootstrap.sh --bake-unit-files" in text
    assert "sshd_config" not in text  # one source: bootstrap.sh's sshd_drop_in


@pytest.mark.parametrize(
    ("field", "value"),
    [("role", "manager"), ("registry_storage", "gcs"), ("nfs", "true")],
)
def test_invalid_choices_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        controller(**{field: value})


def test_the_ready_marker_is_what_the_script_prints_last() -> None:
    assert BOOTSTRAP_READY_MARKER == "clusterous-bootstrap: ready"
    assert 'say "ready"\n}\n\nmain "$@"\n' in bootstrap_template()
