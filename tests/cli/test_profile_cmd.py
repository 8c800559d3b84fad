"""``clusterous profile ls | use | show | rm`` on an isolated home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterous.config import Config, Profile, load_config, save_config
from clusterous.home import Home

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEYS = Profile(
    name="keys",
    provider="aws",
    region="eu-west-1",
    access_key_id="AKIAIOSFODNN7EXAMPLE",
    secret_access_key=SECRET,
    key_pair="clusterous-keys",
    bucket="registry-bucket",
)


@pytest.fixture
def home(clusterous_home: Path) -> Home:
    home = Home(clusterous_home)
    save_config(home, Config().with_profile(KEYS))
    return home


def test_ls_marks_the_builtin_local_as_current_on_a_fresh_home(cli_runner, clusterous_home) -> None:
    result = cli_runner("profile", "ls")
    assert result.exit_code == 0, result.output
    assert [line.split() for line in result.stdout.splitlines() if "local" in line] == [
        ["*", "local", "local", "base_image=debian:bookworm-slim"]
    ]


def test_ls_json_lists_every_profile_with_the_current_flag_and_no_secret(cli_runner, home) -> None:
    result = cli_runner("profile", "ls", "--json")
    data = json.loads(result.stdout)
    assert [(p["name"], p["current"]) for p in data] == [("keys", False), ("local", True)]
    assert SECRET not in result.stdout


def test_use_makes_a_profile_current(cli_runner, home) -> None:
    result = cli_runner("profile", "use", "keys")
    assert result.exit_code == 0
    assert load_config(home).current_profile == "keys"
    listed = json.loads(cli_runner("profile", "ls", "--json").stdout)
    assert [p["name"] for p in listed if p["current"]] == ["keys"]


def test_use_of_an_unknown_profile_lists_the_known_ones(cli_runner, home) -> None:
    result = cli_runner("profile", "use", "nope")
    assert result.exit_code == 2
    assert "no profile named 'nope'" in result.stderr
    assert "known profiles: keys, local" in result.stderr


def test_show_masks_the_secret_and_part_of_the_access_key(cli_runner, home) -> None:
    result = cli_runner("profile", "show", "keys")
    assert result.exit_code == 0
    assert SECRET not in result.stdout
    assert "****EKEY" in result.stdout
    assert "AKIA****MPLE" in result.stdout
    assert "AKIAIOSFODNN7EXAMPLE" not in result.stdout


def test_show_defaults_to_the_global_profile_option_then_the_current(cli_runner, home) -> None:
    shown = json.loads(cli_runner("--profile", "keys", "profile", "show", "--json").stdout)
    assert (shown["name"], shown["current"]) == ("keys", False)
    assert json.loads(cli_runner("profile", "show", "--json").stdout)["name"] == "local"


def test_rm_refuses_the_current_profile_and_the_builtin_local(cli_runner, home) -> None:
    cli_runner("profile", "use", "keys")
    refused = cli_runner("profile", "rm", "keys")
    assert refused.exit_code == 2
    assert "current profile and cannot be removed" in refused.stderr
    assert "clusterous profile use local" in refused.stderr
    cli_runner("profile", "use", "local")
    assert "cannot be removed" in cli_runner("profile", "rm", "local").stderr
    assert load_config(home).names() == ["keys", "local"]


def test_rm_forgets_a_profile_and_says_what_stays_in_aws(cli_runner, home) -> None:
    result = cli_runner("profile", "rm", "keys")
    assert result.exit_code == 0
    assert "'clusterous-keys'" in result.stdout and "still in AWS" in result.stdout
    assert load_config(home).names() == ["local"]


def test_a_corrupt_config_is_reported_with_file_and_line_and_no_traceback(
    cli_runner, clusterous_home
) -> None:
    clusterous_home.mkdir()
    (clusterous_home / "config.yml").write_text("current_profile: local\nprofiles: [\n")
    result = cli_runner("profile", "ls")
    assert result.exit_code == 2
    assert f"{clusterous_home / 'config.yml'}:" in result.stderr
    assert "not valid YAML" in result.stderr
    assert "Traceback" not in result.output
