"""config.yml: the built-in local profile, round trips, locking and errors for people."""

from __future__ import annotations

import functools
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clusterous.config import (
    BUILTIN_LOCAL,
    Config,
    Profile,
    load_config,
    mask_partly,
    mask_secret,
    parse_config,
    render_config,
    resolve_profile,
    save_config,
    update_config,
)
from clusterous.errors import InputError, NotFoundError
from clusterous.home import Home

AWS = Profile(
    name="aws",
    provider="aws",
    region="eu-west-1",
    aws_profile="research",
    key_pair="clusterous-aws",
    key_file="/keys/clusterous-aws",
    bucket="clusterous-123456789012-eu-west-1",
    allowed_cidr="203.0.113.7/32",
)


@pytest.fixture
def home(clusterous_home: Path) -> Home:
    return Home(clusterous_home)


def write(home: Home, text: str) -> Path:
    home.ensure()
    home.config_path.write_text(text)
    return home.config_path


def test_without_a_file_only_the_builtin_local_profile_exists_and_is_current(home: Home) -> None:
    config = load_config(home)
    assert config.names() == ["local"]
    assert config.current() == BUILTIN_LOCAL
    assert BUILTIN_LOCAL.base_image == "debian:bookworm-slim"
    assert BUILTIN_LOCAL.default_instance_type == "small"


def test_saved_config_reads_back_equal_and_is_private(home: Home) -> None:
    config = Config().with_profile(AWS, make_current=True)
    save_config(home, config)
    assert load_config(home) == config
    assert stat.S_IMODE(home.config_path.stat().st_mode) == 0o600


def test_builtin_local_is_not_written_unless_customised(home: Home) -> None:
    save_config(home, Config().with_profile(AWS))
    assert "local:" not in home.config_path.read_text()
    custom = Profile(name="local", provider="local", base_image="debian:trixie-slim")
    save_config(home, Config().with_profile(custom))
    assert load_config(home).get("local").base_image == "debian:trixie-slim"


def test_get_of_an_unknown_profile_names_the_known_ones() -> None:
    config = Config().with_profile(AWS)
    with pytest.raises(NotFoundError) as caught:
        config.get("nope")
    assert "aws, local" in caught.value.render()
    assert "clusterous setup --profile-name nope" in caught.value.render()


def test_resolve_profile_prefers_the_override_to_the_current_one(home: Home) -> None:
    save_config(home, Config().with_profile(AWS))
    assert resolve_profile(home, None).name == "local"
    assert resolve_profile(home, "aws") == AWS
    with pytest.raises(NotFoundError):
        resolve_profile(home, "missing")


def test_the_current_profile_and_the_builtin_local_cannot_be_removed() -> None:
    config = Config().with_profile(AWS, make_current=True)
    with pytest.raises(InputError, match="current profile"):
        config.without("aws")
    with pytest.raises(InputError, match="built-in 'local'"):
        config.use("aws").without("local")
    assert config.use("local").without("aws").names() == ["local"]


def test_local_cannot_become_an_aws_profile() -> None:
    with pytest.raises(InputError, match="reserved"):
        Config().with_profile(Profile(name="local", provider="aws"))


def test_invalid_yaml_names_the_file_and_line(home: Home) -> None:
    path = write(home, "current_profile: local\nprofiles:\n  aws: [unclosed\n")
    with pytest.raises(InputError) as caught:
        load_config(home)
    text = caught.value.render()
    assert f"{path}:" in text
    assert "not valid YAML" in text
    assert "clusterous setup" in text


def test_a_bad_provider_names_the_line_and_field(home: Home) -> None:
    path = write(
        home,
        "current_profile: local\nprofiles:\n  cloud:\n    region: us-east-1\n    provider: gcp\n",
    )
    with pytest.raises(InputError) as caught:
        load_config(home)
    assert f"{path}:5: profiles.cloud.provider: expected 'local' or 'aws', got 'gcp'" in str(
        caught.value
    )


def test_a_bad_lease_names_the_line_and_field(home: Home) -> None:
    text = "current_profile: local\nprofiles:\n  cloud:\n    provider: aws\n    max_hours: soon\n"
    path = write(home, text)
    with pytest.raises(InputError, match=f"{path}:5: profiles.cloud.max_hours: expected hours"):
        load_config(home)


def test_the_lease_is_8_hours_on_aws_none_on_local_unless_set(home: Home) -> None:
    text = (
        "current_profile: local\nprofiles:\n  cloud:\n    provider: aws\n"
        "  short:\n    provider: aws\n    max_hours: '1.5'\n"
        "  forever:\n    provider: aws\n    max_hours: '0'\n"
    )
    write(home, text)
    profiles = load_config(home).profiles
    hours = {name: profiles[name].lease_hours for name in ("cloud", "short", "forever", "local")}
    assert hours == {"cloud": 8.0, "short": 1.5, "forever": None, "local": None}


def test_an_unknown_current_profile_is_reported_at_its_line(home: Home) -> None:
    path = write(home, "# hand edited\ncurrent_profile: gone\nprofiles: {}\n")
    with pytest.raises(InputError, match=f"{path}:2: current_profile: names no known profile"):
        load_config(home)


def test_an_unknown_setting_is_reported_with_the_known_ones(home: Home) -> None:
    write(home, "profiles:\n  aws:\n    provider: aws\n    regoin: us-east-1\n")
    with pytest.raises(InputError, match=r":4: profiles\.aws\.regoin: unknown setting"):
        load_config(home)


def test_a_non_text_value_is_refused(home: Home) -> None:
    write(home, "profiles:\n  aws:\n    provider: aws\n    region: 12\n")
    with pytest.raises(InputError, match=r":4: profiles\.aws\.region: expected text"):
        load_config(home)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_an_empty_file_is_an_error_with_the_fix_not_a_loss_of_every_profile(
    home: Home, text: str
) -> None:
    path = write(home, text)
    with pytest.raises(InputError) as caught:
        load_config(home)
    rendered = caught.value.render()
    assert f"{path}: the file is empty" in rendered
    assert f"rm {path}" in rendered
    assert "clusterous setup" in rendered


def test_a_non_utf8_file_names_the_file_the_line_and_the_byte(home: Home) -> None:
    path = home.config_path
    home.ensure()
    path.write_bytes(b"current_profile: local\nprofiles:\n  caf\xe9: {}\n")
    with pytest.raises(InputError) as caught:
        load_config(home)
    rendered = caught.value.render()
    assert f"{path}:3: not UTF-8 text (byte 38 is 0xe9)" in rendered
    assert "clusterous setup" in rendered


def test_a_control_character_is_reported_as_invalid_yaml_naming_the_file(home: Home) -> None:
    path = write(home, "current_profile: local\x07\n")
    with pytest.raises(InputError, match=f"{path}: not valid YAML"):
        load_config(home)


def test_a_truncated_file_names_what_is_missing(home: Home) -> None:
    whole = render_config(Config().with_profile(AWS, make_current=True))
    path = write(home, whole[: whole.index("profiles:")])
    with pytest.raises(InputError, match=f"{path}:2: current_profile: names no known profile"):
        load_config(home)


@pytest.mark.parametrize(
    ("scenario", "content"),
    [
        ("empty", b""),
        ("truncated", b"current_profile: aws\nprofiles:\n  aws:\n    provider: a"),
        ("not_utf8", b"current_profile: local\xff\n"),
        ("schema_broken", b"- a list\n- not a mapping\n"),
    ],
)
def test_a_damaged_config_gives_the_cli_a_clear_message_and_exit_2(
    home: Home, cli_runner: Callable[..., Any], scenario: str, content: bytes
) -> None:
    home.ensure()
    home.config_path.write_bytes(content)
    result = cli_runner("profile", "ls")
    assert result.exit_code == 2, (scenario, result.output)
    assert str(home.config_path) in result.stderr
    assert "Internal error" not in result.output
    assert "Traceback" not in result.output


def test_concurrent_updates_lose_nothing(home: Home) -> None:
    def add(prefix: str) -> None:
        for i in range(15):
            profile = Profile(name=f"{prefix}{i}", provider="aws", region="us-east-1")
            update_config(home, functools.partial(Config.with_profile, profile=profile))

    threads = [threading.Thread(target=add, args=(prefix,)) for prefix in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(load_config(home).names()) == 1 + 3 * 15


def test_public_view_masks_secrets() -> None:
    profile = Profile(
        name="keys",
        provider="aws",
        access_key_id="AKIAIOSFODNN7EXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )
    view = profile.public_view()
    assert view["secret_access_key"] == "****EKEY"
    assert view["access_key_id"] == "AKIA****MPLE"
    assert "wJalr" not in str(view)
    assert mask_secret("short") == "****"
    assert mask_partly("short") == "****"


texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30
)
names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True).filter(
    lambda n: n != "local"
)


@given(
    name=names,
    region=texts,
    bucket=st.none() | texts,
    secret=st.none() | texts,
    instance_type=st.none() | texts,
)
def test_any_profile_survives_a_round_trip_through_yaml(
    name: str, region: str, bucket: str | None, secret: str | None, instance_type: str | None
) -> None:
    profile = Profile(
        name=name,
        provider="aws",
        region=region,
        bucket=bucket,
        secret_access_key=secret,
        default_instance_type=instance_type,
    )
    config = Config().with_profile(profile, make_current=True)
    assert parse_config(render_config(config), Path("config.yml")) == config
