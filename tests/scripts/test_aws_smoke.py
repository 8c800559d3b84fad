"""scripts/aws-smoke without AWS: its refusals, its arguments, its parsing of clusterous's
output, its cleanup guarantee, and its leftover check against moto.

The script itself only ever runs by hand against a real account; everything it
decides before and after the real EC2 work is tested here, fast and offline.
Its leftover check is run against clusters the AWS provider made on moto, so
it is known to find every kind of resource clusterous creates.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from clusterous.environments.tunnels import TunnelRecord
from clusterous.home import Home, check_cluster_name
from tests.aws.provider_fixtures import (
    BUCKET,
    CLUSTER,
    REGION,
    Account,
    account,
    boto,
    fault_server,
    faulty_aws,
    make_provider,
    tagged_resources,
)
from tests.aws.test_aws_create import create

__all__ = ["account", "fault_server", "faulty_aws"]  # fixtures used by name

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "aws-smoke"


def load_script() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("aws_smoke", str(SCRIPT))
    spec = importlib.util.spec_from_loader("aws_smoke", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["aws_smoke"] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module


smoke = load_script()


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
        timeout=60,
    )


@pytest.fixture(autouse=True)
def not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


# ---------------------------------------------------------------- as a user runs it


def test_help_lists_every_option_and_exits_0() -> None:
    done = run_script("--help")
    assert done.returncode == 0, done.stderr
    for option in ("--profile", "--type", "--timeout", "--yes", "--yes-really", "--rehearse-local"):
        assert option in done.stdout
    assert "never run in CI" in done.stdout


def test_refuses_under_ci_before_looking_at_anything() -> None:
    done = run_script("--yes", CI="true")
    assert done.returncode == 2
    assert "CI is set" in done.stderr and "costs money" in done.stderr
    assert "--yes-really" in done.stderr


def test_yes_really_gets_past_the_ci_refusal() -> None:
    done = run_script("--yes-really", CI="true")
    assert "CI is set" not in done.stderr
    assert "not an AWS profile" in done.stderr  # the next prerequisite: still nothing created


def test_refuses_the_builtin_local_profile_and_says_how_to_make_an_aws_one() -> None:
    done = run_script("--yes")
    assert done.returncode == 2
    assert "profile 'local' is not an AWS profile" in done.stderr
    assert "clusterous setup" in done.stderr and "--profile NAME" in done.stderr
    assert "Plan for cluster" not in done.stdout  # refused before any plan


def test_refuses_a_profile_that_does_not_exist_with_clusterous_own_message() -> None:
    done = run_script("--profile", "nosuch", "--yes")
    assert done.returncode == 2
    assert "no profile named 'nosuch'" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "T3.SMALL"], "is not an EC2 instance type"),
        (["--type", "small"], "is not an EC2 instance type"),
        (["--timeout", "0"], "at least 1 second"),
        (["--timeout", "soon"], "expected a number of seconds"),
        (["--workers", "2"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_are_usage_errors(args: list[str], message: str) -> None:
    done = run_script(*args)
    assert done.returncode == 2
    assert message in done.stderr


# ---------------------------------------------------------------- arguments and names


def test_defaults_are_the_smallest_cluster_the_current_profile_and_asking_first() -> None:
    args = smoke.parse_args([])
    assert args.instance_type == "t3.small"
    assert args.profile is None and args.timeout == 600.0
    assert not (args.yes or args.yes_really or args.rehearse_local)


def test_options_are_parsed() -> None:
    args = smoke.parse_args(
        ["--profile", "aws-syd", "--type", "m7i-flex.large", "--timeout", "900", "-y"]
    )
    assert (args.profile, args.instance_type, args.timeout, args.yes) == (
        "aws-syd",
        "m7i-flex.large",
        900.0,
        True,
    )


def test_cluster_names_are_valid_dated_and_unique() -> None:
    from datetime import datetime, timezone

    names = {smoke.unique_name(datetime(2026, 12, 2, tzinfo=timezone.utc)) for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert name.startswith("smoke-20261202-")
        assert check_cluster_name(name) == name


@pytest.mark.parametrize(("provider", "itype"), [("aws", "t3.small"), ("local", None)])
def test_the_cluster_profile_is_valid_and_has_the_groups_busybox_web_needs(
    cli_runner: Any, tmp_path: Path, provider: str, itype: str | None
) -> None:
    from clusterous.formats import load_cluster_profile

    path = tmp_path / "smoke.yml"
    path.write_text(smoke.cluster_profile_text("smoke-20261202-abcdef", provider, itype))
    result = cli_runner("validate", str(path))
    assert result.exit_code == 0, result.output
    profile = load_cluster_profile(path)
    assert {g: (n.type, n.count) for g, n in profile.node_groups.items()} == {
        "master": (itype, 1),
        "worker": (itype, 1),
    }
    assert profile.controller_type == itype
    assert profile.shared_volume_size == (20 if provider == "aws" else None)


# ---------------------------------------------------------------- reading clusterous's output


def test_the_tunnel_port_comes_from_busybox_web_and_from_what_run_prints() -> None:
    assert smoke.tunnel_local_port(smoke.ENV_FILE.read_text()) == 8080
    record = TunnelRecord(8123, "master", "10.0.0.5", 8080, message="Pages at {url} ({port}).")
    printed = f"Environment busybox-web is running: master, worker.\n{record.rendered_message()}\n"
    assert smoke.tunnel_port(printed) == 8123
    with pytest.raises(smoke.StepFailed, match="no tunnel URL"):
        smoke.tunnel_port("Environment busybox-web is running: master, worker.\n")


def test_the_instances_hourly_price_is_read_from_the_dry_run_table() -> None:
    table = textwrap.dedent("""\
        group                 ┃ type     ┃ count ┃ image    ┃ price
        controller            │ t3.small │ 1     │ ami-0abc │ $0.0208/h
        master                │ t3.small │ 1     │ ami-0abc │ $0.0208/h
        worker                │ t3.small │ 1     │ ami-0abc │ $0.0208/h
        EBS gp3 shared volume │ 20 GiB   │       │          │ $0.0022/h
        public IPv4 addresses │ 3        │       │          │ $0.0150/h
        total                 │          │ 3     │          │ $0.0796/h
          shared volume: a new gp3 EBS volume of 20 GiB, $0.005 per address-hour
          controller role: IAM role limited to the registry bucket b
        """)
    assert smoke.hourly_total(table) == pytest.approx(0.0624)
    assert smoke.hourly_total(table.replace("$0.0208/h", "price unknown", 1)) is None
    assert smoke.hourly_total(table.replace("$0.0208/h", "free")) == 0.0


def test_three_t3_small_for_twenty_minutes_cost_about_three_cents() -> None:
    cost = smoke.estimate(3 * 0.0208)
    assert cost.instances == pytest.approx(0.0208 * (3 * 20 + 5) / 60)
    assert cost.ipv4 == pytest.approx(0.005 * (3 * 20 + 5) / 60)
    assert cost.volume == pytest.approx(20 * 0.08 / 730 / 3)
    assert cost.total == pytest.approx(0.0287, abs=0.0005)
    assert cost.describe().startswith("about $0.03 ")


def test_status_is_healthy_only_with_every_node_up_and_every_task_running() -> None:
    nodes = [{"name": n, "state": "up"} for n in ("controller", "master-1", "worker-1")]
    services = [{"name": "busybox-web_worker", "running": 1, "desired": 1}]
    assert smoke.healthy_status({"nodes": nodes, "services": services, "problems": []}, 3) == []
    down = [*nodes[:2], {"name": "worker-1", "state": "down"}]
    late = [{"name": "busybox-web_worker", "running": 0, "desired": 1}]
    wrong = smoke.healthy_status({"nodes": down, "services": late, "problems": ["x"]}, 4)
    assert wrong == [
        "worker-1 is down",
        "3 nodes, expected 4",
        "service busybox-web_worker: 0/1",
        "x",
    ]


def test_the_timing_table_shows_every_step_skipped_ones_and_the_total() -> None:
    timings = smoke.Timings()
    with timings.step("create"):
        pass
    with pytest.raises(smoke.StepFailed), timings.step("run -> tunnel answering"):
        raise smoke.StepFailed("no page")
    table = timings.render(total=12.0).splitlines()
    assert table[0].split() == ["step", "seconds", "result"]
    rows = {line.rsplit(None, 2)[0].strip(): line.split()[-2:] for line in table[1:]}
    assert list(rows) == [*smoke.STEPS, "total"]
    assert rows["create"][1] == "ok"
    assert rows["run -> tunnel answering"][1] == "FAILED"
    assert rows["destroy"] == ["-", "skipped"]
    assert rows["total"] == ["12.0", "FAILED"]


def test_the_interpreter_of_a_console_script_is_found_for_the_re_exec(tmp_path: Path) -> None:
    script = tmp_path / "clusterous"
    script.write_text(f"#!{sys.executable}\nimport sys\n")
    assert smoke.python_of(str(script)) == sys.executable
    script.write_text("#!/usr/bin/env bash\n")
    assert smoke.python_of(str(script)) is None
    assert smoke.python_of(str(tmp_path / "missing")) is None


def test_aws_cli_calls_are_spelled_like_boto3_calls() -> None:
    target = smoke.AwsTarget(region="eu-west-1", aws_profile="lab-sso")
    filters = [{"Name": "tag:clusterous:cluster", "Values": ["x"]}]
    assert smoke.aws_cli_argv(target, "ec2", "describe_vpcs", {"Filters": filters}) == [
        "aws", "ec2", "describe-vpcs", "--filters", json.dumps(filters),
        "--region", "eu-west-1", "--output", "json", "--profile", "lab-sso",
    ]  # fmt: skip
    argv = smoke.aws_cli_argv(target, "s3", "list_objects_v2", {"Bucket": "b", "Prefix": "p/"})
    assert argv[:7] == ["aws", "s3api", "list-objects-v2", "--bucket", "b", "--prefix", "p/"]


# ---------------------------------------------------------------- always clean up


FAKE_CLUSTEROUS = """\
#!{python}
# A stand-in for clusterous: logs its arguments, fails the command named in FAKE_FAIL.
import json, os, sys
args = [a for a in sys.argv[1:] if a not in ("--profile", "aws")]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(args) + "\\n")
if args[0] == "ls-clusters":
    print(os.environ.get("FAKE_LISTED", "[]"))
sys.exit(1 if args[0] == os.environ.get("FAKE_FAIL") else 0)
"""


@pytest.fixture
def fake_clusterous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "clusterous"
    path.write_text(FAKE_CLUSTEROUS.format(python=sys.executable))
    path.chmod(0o755)
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setattr(smoke.Smoke, "leftovers", lambda self: ([], []))  # no AWS here
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield path
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def run_fake_smoke(fake: Path, tmp_path: Path) -> tuple[int, list[str]]:
    cli = smoke.Clusterous(str(fake), "aws", smoke.Guard())
    test = smoke.Smoke(cli, "smoke-20261202-abcdef", tmp_path / "p.yml", 5.0, {}, False)
    code = smoke.run_smoke(test)
    return code, (tmp_path / "calls.log").read_text().splitlines()


def test_a_failed_step_still_destroys_the_cluster_and_checks_what_is_left(
    fake_clusterous: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "create")
    code, calls = run_fake_smoke(fake_clusterous, tmp_path)
    assert code == 1
    assert [c.split()[0] for c in calls] == ["create", "destroy", "ls-clusters"]
    assert calls[1] == "destroy smoke-20261202-abcdef --yes --delete-volume"
    out = capsys.readouterr().out
    assert "create" in out and "FAILED" in out and "skipped" in out


def test_a_failed_destroy_is_tried_again_and_the_run_fails(
    fake_clusterous: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "destroy")
    monkeypatch.setattr(smoke.Smoke, "exercise", lambda self: None)
    code, calls = run_fake_smoke(fake_clusterous, tmp_path)
    assert code == 1
    assert [c.split()[0] for c in calls] == ["destroy", "destroy", "ls-clusters"]


def test_a_cluster_still_listed_after_destroy_fails_the_run(
    fake_clusterous: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("FAKE_LISTED", json.dumps([{"name": "smoke-20261202-abcdef"}]))
    monkeypatch.setattr(smoke.Smoke, "exercise", lambda self: None)
    code, _ = run_fake_smoke(fake_clusterous, tmp_path)
    assert code == 1
    assert "'clusterous ls-clusters' still lists smoke-20261202-abcdef" in capsys.readouterr().err


# ---------------------------------------------------------------- against moto


@pytest.mark.aws
def test_shows_the_plan_and_its_cost_then_refuses_without_a_terminal(
    account: Account, clusterous_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    seed_price(clusterous_home, "t3.small", "0.0208")
    monkeypatch.setattr(smoke, "check_example", lambda: 8080)  # busybox and port 8080 aside
    assert smoke.main([]) == 2
    out, err = capsys.readouterr()
    assert "Plan for cluster 'smoke-" in out and "t3.small" in out
    assert "$0.0208/h" in out
    assert f"region {REGION}" in out
    assert "Estimated cost: about $0.03 " in out
    assert "no terminal to ask on" in err and "--yes" in err
    assert tagged_resources_of_any_smoke_cluster() == []


def seed_price(home: Path, itype: str, usd: str) -> None:
    """The price cache 'create --dry-run' reads (moto has no Pricing API)."""
    from botocore.stub import Stubber

    from clusterous.aws.pricing import PriceBook

    dimension = {"unit": "Hrs", "pricePerUnit": {"USD": usd}}
    product = {"terms": {"OnDemand": {"T": {"priceDimensions": {"D": dimension}}}}}
    client = boto("pricing", "us-east-1")
    with Stubber(client) as stub:
        stub.add_response("get_products", {"PriceList": [json.dumps(product)]})
        PriceBook(lambda: client, REGION, Home(home).cache_dir).hourly(itype)


def tagged_resources_of_any_smoke_cluster() -> list[str]:
    ec2 = boto("ec2")
    mine = [{"Name": "tag-key", "Values": ["clusterous:cluster"]}]
    return [v["VpcId"] for v in ec2.describe_vpcs(Filters=mine)["Vpcs"]]


def target_of(account: Account) -> Any:
    return smoke.AwsTarget(region=REGION, bucket=BUCKET)


def found(api: Any, account: Account, cluster: str = CLUSTER) -> tuple[list[Any], list[str]]:
    left, unchecked = smoke.aws_leftovers(api, target_of(account), cluster)
    assert unchecked == []
    return left, unchecked


def as_tagged_resources(left: list[Any]) -> list[str]:
    """In the words of the moto harness's own listing, to compare the two."""
    names = {"iam-role": "role", "iam-instance-profile": "instance-profile"}
    return sorted(f"{names.get(x.kind, x.kind)} {x.ident}" for x in left)


@pytest.mark.aws
def test_every_resource_clusterous_made_is_found_by_tag_with_the_command_removing_it(
    account: Account, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    expected = tagged_resources()
    api = smoke.Boto3Api(target_of(account))
    left, _ = found(api, account)
    assert as_tagged_resources(left) == expected
    assert {x.kind for x in left} >= {"instance", "volume", "vpc", "subnet", "security-group"}
    for item in left:
        assert item.remove.startswith("aws ") and item.ident in item.remove
        assert f"--region {REGION}" in item.remove
    kinds = [x.kind for x in left]
    assert kinds.index("instance") < kinds.index("volume") < kinds.index("vpc")  # removal order


@pytest.mark.aws
def test_registry_objects_of_the_cluster_are_leftovers_and_another_cluster_s_are_not(
    account: Account,
) -> None:
    s3 = boto("s3")
    s3.put_object(Bucket=BUCKET, Key=f"clusterous/{CLUSTER}/docker/registry/v2/blob", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key=f"clusterous/{CLUSTER}-2/docker/blob", Body=b"x")
    left, _ = found(smoke.Boto3Api(target_of(account)), account)
    assert [(x.kind, x.ident, x.detail) for x in left] == [
        ("registry-objects", f"s3://{BUCKET}/clusterous/{CLUSTER}/", "1 object(s)")
    ]
    assert left[0].remove.startswith(f"aws s3 rm --recursive s3://{BUCKET}/clusterous/{CLUSTER}/")


@pytest.mark.aws
def test_nothing_is_found_after_clusterous_destroyed_the_cluster(
    account: Account, clusterous_home: Path
) -> None:
    provider = make_provider(clusterous_home, account.profile)
    state = create(clusterous_home, provider)
    result = provider.sweep(state, keep_volume=False, say=lambda _: None)
    assert result.leftovers == []
    assert found(smoke.Boto3Api(target_of(account)), account)[0] == []


@pytest.mark.aws
def test_a_check_that_cannot_run_is_reported_not_taken_for_nothing_left(account: Account) -> None:
    target = smoke.AwsTarget(region=REGION, bucket="no-such-bucket-here")
    left, unchecked = smoke.aws_leftovers(smoke.Boto3Api(target), target, CLUSTER)
    assert left == []
    assert [u.split(":")[0] for u in unchecked] == ["registry objects in S3"]


def aws_cli_follows_aws_endpoint_url() -> bool:
    """botocore 1.31+ (under the aws CLI too) sends every call to $AWS_ENDPOINT_URL: moto."""
    if shutil.which("aws") is None:
        return False
    done = subprocess.run(["aws", "--version"], capture_output=True, text=True)
    version = re.search(r"botocore/(\d+)\.(\d+)", done.stdout + done.stderr)
    if done.returncode != 0 or version is None:
        return done.returncode == 0 and "aws-cli/2." in done.stdout + done.stderr
    return (int(version.group(1)), int(version.group(2))) >= (1, 31)


@pytest.mark.aws
@pytest.mark.slow
@pytest.mark.skipif(
    not aws_cli_follows_aws_endpoint_url(), reason="no aws CLI that would talk to moto only"
)
def test_the_aws_cli_finds_the_same_leftovers_as_boto3(
    account: Account, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    via_boto3, _ = found(smoke.Boto3Api(target_of(account)), account)
    via_cli, _ = found(smoke.AwsCliApi(target_of(account)), account)
    assert via_cli == via_boto3
