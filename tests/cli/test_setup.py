"""``clusterous setup`` end to end: real boto3 code against moto in server mode."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import boto3
import pytest

from clusterous.aws import caller_address
from clusterous.config import load_config
from clusterous.home import Home

pytestmark = [pytest.mark.aws, pytest.mark.usefixtures("aws")]

PUBLIC_ADDRESS = "93.184.216.34"
ACCOUNT = "123456789012"
FLAGS = ["setup", "--yes", "--region", "eu-west-1", "--allowed-cidr", "10.1.2.3/32"]


@pytest.fixture(autouse=True)
def public_address(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """This machine has no internet: the address the wizard learns is ours to choose."""
    answer: list[str | None] = [PUBLIC_ADDRESS]
    monkeypatch.setattr(caller_address, "learn_public_address", lambda: answer[0])
    return answer


@pytest.fixture
def home(clusterous_home: Path) -> Home:
    return Home(clusterous_home)


def key_pairs(region: str = "eu-west-1") -> list[str]:
    ec2: Any = boto3.client("ec2", region_name=region)
    return sorted(pair["KeyName"] for pair in ec2.describe_key_pairs()["KeyPairs"])


def bucket_tags(name: str) -> dict[str, str]:
    s3: Any = boto3.client("s3", region_name="eu-west-1")
    return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}


def saved_names(home: Home) -> list[str]:
    return load_config(home).names()


def test_flags_alone_create_key_pair_bucket_and_a_current_profile(cli_runner, home) -> None:
    result = cli_runner(*FLAGS, "--bucket", "registry-bucket-1")
    assert result.exit_code == 0, result.output
    for step in (f"✓ credentials: account {ACCOUNT}", "✓ key pair", "✓ bucket", "✓ saved profile"):
        assert step in result.stdout
    profile = load_config(home).current()
    assert (profile.name, profile.provider, profile.region) == ("aws", "aws", "eu-west-1")
    assert (profile.key_pair, profile.bucket) == ("clusterous-aws", "registry-bucket-1")
    assert profile.allowed_cidr == "10.1.2.3/32"
    key = home.root / "keys" / "clusterous-aws"
    assert profile.key_file == str(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert key_pairs() == ["clusterous-aws"]
    assert bucket_tags("registry-bucket-1") == {"clusterous:role": "registry-bucket"}
    assert stat.S_IMODE(home.config_path.stat().st_mode) == 0o600


def test_the_interactive_wizard_offers_sensible_defaults(cli_runner, home) -> None:
    # profile name, credential source, region, key pair, bucket, CIDR, lease: defaults but region
    answers = "\n" + "environment\n" + "eu-west-1\n" + "\n" + "\n" + "\n" + "\n"
    result = cli_runner("setup", input=answers)
    assert result.exit_code == 0, result.output
    assert "[clusterous-aws]" in result.stdout
    assert f"[clusterous-{ACCOUNT}-eu-west-1]" in result.stdout
    profile = load_config(home).get("aws")
    assert profile.bucket == f"clusterous-{ACCOUNT}-eu-west-1"
    assert profile.allowed_cidr == f"{PUBLIC_ADDRESS}/32"
    assert profile.aws_profile is None and profile.access_key_id is None
    assert "lease; 0: until destroyed) [8]" in result.stdout
    assert (profile.max_hours, profile.lease_hours) == ("8", 8.0)


def test_an_invalid_typed_lease_is_asked_again(cli_runner, home) -> None:
    answers = "\nenvironment\nus-east-1\n\n\n\n-3\n1.50\n"
    result = cli_runner("setup", input=answers)
    assert result.exit_code == 0, result.output
    assert "invalid lease '-3'" in result.output
    assert load_config(home).get("aws").max_hours == "1.5"


def test_a_lease_flag_of_over_seven_days_is_refused(cli_runner, home) -> None:
    result = cli_runner(*FLAGS, "--max-hours", "200")
    assert result.exit_code == 2
    assert "invalid lease '200'" in result.stderr and "--max-hours" in result.stderr
    assert saved_names(home) == ["local"]


def test_an_invalid_typed_cidr_is_asked_again(cli_runner, home) -> None:
    answers = "\nenvironment\nus-east-1\n\n\nnot-a-cidr\n192.0.2.0/24\n\n"
    result = cli_runner("setup", input=answers)
    assert result.exit_code == 0, result.output
    assert "invalid CIDR 'not-a-cidr'" in result.output
    assert load_config(home).get("aws").allowed_cidr == "192.0.2.0/24"


def test_a_rerun_updates_the_profile_and_reuses_the_key_pair(cli_runner, home) -> None:
    assert cli_runner(*FLAGS, "--bucket", "registry-bucket-1").exit_code == 0
    result = cli_runner("setup", "--yes", "--allowed-cidr", "172.16.0.0/12")
    assert result.exit_code == 0, result.output
    assert "clusterous-aws (reused)" in result.stdout
    assert "registry-bucket-1 (reused)" in result.stdout
    profile = load_config(home).get("aws")
    assert (profile.region, profile.allowed_cidr) == ("eu-west-1", "172.16.0.0/12")
    assert key_pairs() == ["clusterous-aws"]


def test_an_existing_ec2_key_pair_without_its_private_key_is_refused(cli_runner, home) -> None:
    ec2: Any = boto3.client("ec2", region_name="eu-west-1")
    ec2.create_key_pair(KeyName="theirs")
    result = cli_runner(*FLAGS, "--key-pair", "theirs")
    assert result.exit_code == 2
    assert "'theirs' already exists in eu-west-1, but its private key is not here" in result.stderr
    assert "--key-file" in result.stderr
    assert saved_names(home) == ["local"]


def test_an_existing_key_pair_is_used_with_its_key_file(cli_runner, home, tmp_path) -> None:
    ec2: Any = boto3.client("ec2", region_name="eu-west-1")
    material = ec2.create_key_pair(KeyName="theirs", KeyType="ed25519")["KeyMaterial"]
    key_file = tmp_path / "theirs.pem"
    key_file.write_text(material)
    key_file.chmod(0o600)
    result = cli_runner(*FLAGS, "--key-pair", "theirs", "--key-file", str(key_file))
    assert result.exit_code == 0, result.output
    assert "theirs (reused)" in result.stdout
    assert load_config(home).get("aws").key_file == str(key_file)
    assert key_pairs() == ["theirs"]


def test_a_missing_key_file_is_refused_before_any_change(cli_runner, home, tmp_path) -> None:
    result = cli_runner(*FLAGS, "--key-file", str(tmp_path / "nope.pem"))
    assert result.exit_code == 2
    assert "nope.pem' not found" in result.stderr
    assert key_pairs() == []
    assert saved_names(home) == ["local"]


def test_a_bad_region_is_refused_with_a_suggestion(cli_runner) -> None:
    result = cli_runner("setup", "--yes", "--region", "eu-wst-1", "--allowed-cidr", "10.0.0.1")
    assert result.exit_code == 2
    assert "unknown region 'eu-wst-1'; did you mean eu-west-1" in result.stderr
    assert "Traceback" not in result.output


def test_a_bad_cidr_flag_is_refused(cli_runner, home) -> None:
    result = cli_runner("setup", "--yes", "--region", "eu-west-1", "--allowed-cidr", "10.0.0/33")
    assert result.exit_code == 2
    assert "invalid CIDR '10.0.0/33'" in result.stderr
    assert saved_names(home) == ["local"]


def test_without_a_learnable_address_the_cidr_flag_is_required(
    cli_runner, home, public_address
) -> None:
    public_address[0] = None
    result = cli_runner("setup", "--yes", "--region", "eu-west-1")
    assert result.exit_code == 2
    assert "cannot learn your public IP address" in result.stderr
    assert "--allowed-cidr" in result.stderr
    assert saved_names(home) == ["local"]


def test_a_taken_bucket_saves_nothing_and_the_next_run_reuses_the_key_pair(
    cli_runner, home, aws
) -> None:
    aws.client_in_account("s3", "333344445555", "eu-west-1").create_bucket(
        Bucket="popular-name", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    result = cli_runner(*FLAGS, "--bucket", "popular-name")
    assert result.exit_code == 2
    assert "'popular-name' is taken by another AWS account" in result.stderr
    assert "choose another name with --bucket" in result.stderr
    assert saved_names(home) == ["local"]
    again = cli_runner(*FLAGS, "--bucket", "my-own-registry")
    assert again.exit_code == 0, again.output
    assert "clusterous-aws (reused)" in again.stdout
    assert key_pairs() == ["clusterous-aws"]


def test_a_missing_permission_is_named_and_nothing_is_saved(cli_runner, home, aws) -> None:
    key_id, secret = aws.restricted_keys(["sts:GetCallerIdentity", "ec2:DescribeKeyPairs"])
    aws.enforce_iam()
    keys = ["--access-key-id", key_id, "--secret-access-key", secret]
    result = cli_runner(*FLAGS, *keys)
    assert result.exit_code == 1
    assert "your AWS identity is not allowed to call ec2:ImportKeyPair" in result.stderr
    assert saved_names(home) == ["local"]


def test_rejected_keys_fail_before_anything_is_made(cli_runner, home, aws) -> None:
    aws.enforce_iam()
    keys = ["--access-key-id", "AKIAUNKNOWN000000000", "--secret-access-key", "x" * 40]
    result = cli_runner(*FLAGS, *keys)
    assert result.exit_code == 1
    assert "AWS does not accept these credentials" in result.stderr
    assert not (home.root / "keys").exists()
    assert saved_names(home) == ["local"]


def test_the_local_name_is_reserved(cli_runner) -> None:
    result = cli_runner(*FLAGS, "--profile-name", "local")
    assert result.exit_code == 2
    assert "reserved" in result.stderr


def test_an_aws_profile_and_keys_together_are_refused(cli_runner) -> None:
    result = cli_runner(*FLAGS, "--aws-profile", "x", "--access-key-id", "y")
    assert result.exit_code == 2
    assert "cannot be combined" in result.stderr


def test_an_ipv6_allowed_cidr_is_refused_naming_the_flag_and_the_fix(cli_runner, home) -> None:
    result = cli_runner(
        "setup", "--yes", "--region", "eu-west-1", "--allowed-cidr", "2001:db8::/64"
    )
    assert result.exit_code == 2, result.output
    assert "--allowed-cidr 2001:db8::/64 is an IPv6 range" in result.stderr
    assert "--allowed-cidr A.B.C.D/32" in result.stderr
    assert "aws" not in load_config(home).profiles


def test_an_allowed_cidr_open_to_the_world_is_accepted_with_a_warning_and_the_fix(
    cli_runner, home
) -> None:
    result = cli_runner("setup", "--yes", "--region", "eu-west-1", "--allowed-cidr", "0.0.0.0/0")
    assert result.exit_code == 0, result.stderr
    warning = " ".join(result.stderr.split())
    assert "opens SSH (port 22)" in warning and "whole Internet" in warning
    assert "--allowed-cidr A.B.C.D/32" in warning
    assert load_config(home).get("aws").allowed_cidr == "0.0.0.0/0"


def test_a_secret_key_on_the_command_line_is_used_with_a_warning_about_the_process_list(
    cli_runner, home
) -> None:
    keys = ["--access-key-id", "AKIAEXAMPLE000000000", "--secret-access-key", "s" * 40]
    result = cli_runner(*FLAGS, *keys)
    assert result.exit_code == 0, result.stderr
    warning = " ".join(result.stderr.split())
    assert "process list" in warning and "shell history" in warning
    assert "--aws-profile NAME" in warning
    assert load_config(home).get("aws").secret_access_key == "s" * 40


def test_with_only_the_key_id_given_the_secret_comes_from_the_environment_unwarned(
    cli_runner, home, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "e" * 40)
    result = cli_runner(*FLAGS, "--access-key-id", "AKIAEXAMPLE000000000")
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr
    assert load_config(home).get("aws").secret_access_key == "e" * 40


def test_with_yes_and_no_secret_anywhere_the_fix_is_the_environment_not_argv(
    cli_runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = cli_runner(*FLAGS, "--access-key-id", "AKIAEXAMPLE000000000")
    assert result.exit_code == 2
    assert "export AWS_SECRET_ACCESS_KEY" in result.stderr
    assert "Traceback" not in result.stderr
