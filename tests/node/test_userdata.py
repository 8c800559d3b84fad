"""The user-data of a launch: the bootstrap, each node's own name and id, under 16 KB."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

from clusterous.node import BootstrapParams
from clusterous.node.userdata import USER_DATA_LIMIT, launch_preamble, user_data

PARAMS = BootstrapParams(
    cluster="lab",
    node="worker-1",
    role="node",
    group="worker",
    controller_addr="10.0.0.5",
    join_token="SWMTKN-1-x",
    host_key="-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
)


def instance_data(tmp_path: Path, launch_index: object) -> Path:
    """What cloud-init writes to /run/cloud-init/instance-data.json (the parts we read)."""
    meta: dict[str, object] = {"instance-id": "i-0123456789abcdef0", "local-hostname": "x"}
    if launch_index is not None:
        meta["ami-launch-index"] = launch_index
    path = tmp_path / "instance-data.json"
    path.write_text(
        json.dumps({"v1": {"instance_id": "i-0123456789abcdef0"}, "ds": {"meta_data": meta}})
    )
    return path


def run_preamble(tmp_path: Path, data: Path) -> subprocess.CompletedProcess[str]:
    names = ["worker-4", "worker-5", "worker-6"]
    program = launch_preamble(names) + 'echo "$CLUSTEROUS_NODE $CLUSTEROUS_INSTANCE_ID"\n'
    program = program.replace("/var/log/clusterous-bootstrap.log", str(tmp_path / "boot.log"))
    program = program.replace("/run/cloud-init/instance-data.json", str(data))
    return subprocess.run(["bash", "-c", program], capture_output=True, text=True)


def test_each_node_takes_its_name_by_launch_index_and_its_own_instance_id(
    tmp_path: Path,
) -> None:
    answer = run_preamble(tmp_path, instance_data(tmp_path, 1))
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "worker-5 i-0123456789abcdef0"


def test_unreadable_instance_data_is_written_to_the_bootstrap_log_at_once(
    tmp_path: Path,
) -> None:
    answer = run_preamble(tmp_path, tmp_path / "missing.json")
    assert answer.returncode == 1
    log = (tmp_path / "boot.log").read_text()
    assert "clusterous-bootstrap: error: cannot read this node's instance id" in log


def test_a_launch_index_beyond_the_names_is_an_error_not_an_empty_name(tmp_path: Path) -> None:
    answer = run_preamble(tmp_path, instance_data(tmp_path, 3))
    assert answer.returncode == 1
    assert "launch index ('3' of 3)" in (tmp_path / "boot.log").read_text()


def test_the_whole_user_data_is_valid_bash_and_fits_for_a_hundred_nodes(tmp_path: Path) -> None:
    names = [f"worker-{i}" for i in range(1, 101)]
    packed = user_data(PARAMS, names)
    assert len(packed) <= USER_DATA_LIMIT
    script = gzip.decompress(packed).decode()
    path = tmp_path / "user-data.sh"
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)
    assert script.startswith("#!/usr/bin/env bash\n")
    assert script.index("CLUSTEROUS_AUTHORIZED_KEY=") < script.index("clusterous_names=(")
    assert script.index("clusterous_names=(") < script.index("main()")


def test_the_controllers_user_data_on_aws_fits_with_its_host_key_and_registry() -> None:
    """The largest user-data, the controller's on EC2: a failing create would say it late."""
    from clusterous.remote.keys import generate_ed25519

    controller = BootstrapParams(
        cluster="a-cluster-name-of-32-characters1",
        node="controller",
        role="controller",
        group="controller",
        private_cidr="10.0.0.0/16",
        swarm_addr_pool="172.30.0.0/16",
        registry_storage="s3",
        registry_bucket="a-registry-bucket-name-of-sixty-three-characters-abcdefghijklmn",
        registry_region="ap-southeast-4",
        registry_prefix="clusterous/a-cluster-name-of-32-characters1/",
        registry_endpoint="https://s3.ap-southeast-4.amazonaws.com",
        shared_device="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0",
        nfs="yes",
        host_key=generate_ed25519("clusterous host key").private_openssh,
        lease_seconds="28800",
        idle_minutes="30",
        logging="2",
        log_max_use="512M",
    )
    assert len(user_data(controller, ["controller"])) <= USER_DATA_LIMIT


def functions_bash_defines(script: str, tmp_path: Path) -> str:
    """``declare -f`` after bash reads every definition (the last line, ``main "$@"``, left out):
    bash prints each function as it will run it, here-documents included, comments not."""
    body, last = script.rstrip("\n").rsplit("\n", 1)
    assert last == 'main "$@"'
    path = tmp_path / "definitions.sh"
    path.write_text(body + "\ndeclare -f\n")
    return subprocess.run(
        ["bash", str(path)], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout


def test_leaving_out_the_comments_changes_nothing_bash_runs(tmp_path: Path) -> None:
    from clusterous.node import bootstrap_template, without_comments

    template = bootstrap_template()
    compact = without_comments(template)
    assert len(compact) < len(template) * 0.9
    assert functions_bash_defines(compact, tmp_path) == functions_bash_defines(template, tmp_path)
    code = [line for line in template.split("\n") if not line.lstrip().startswith("#")]
    assert [line for line in compact.split("\n") if not line.lstrip().startswith("#")] == code


def test_a_comment_line_inside_a_here_document_is_kept() -> None:
    from clusterous.node import without_comments

    script = "#!/bin/sh\n# gone\nwrite() {\n    cat <<'EOF'\n# kept\nEOF\n    # gone too\n}\n"
    assert without_comments(script) == "#!/bin/sh\nwrite() {\n    cat <<'EOF'\n# kept\nEOF\n}\n"
