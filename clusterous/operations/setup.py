"""Setting up an AWS profile: each answer from a flag, the earlier profile, or a question.

The rules for every default live here: an earlier profile of the same name
keeps its answers, keys are never required on the command line, the bucket
and key pair get names derived from the account and profile, and the allowed
CIDR defaults to the caller's own address. How a question is asked (a
terminal prompt, or refusing with the missing flag under --yes) is the CLI's
``Asker``. The AWS work itself is ``clusterous.aws.wizard``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from clusterous.aws import caller_address, wizard
from clusterous.aws import session as aws_session
from clusterous.aws.keys import managed_key_path
from clusterous.aws.session import AwsCredentials
from clusterous.config import Profile, load_config
from clusterous.errors import InputError
from clusterous.home import Home

CREDENTIAL_SOURCES = ("profile", "keys", "environment")


@dataclass(frozen=True)
class Flags:
    profile_name: str | None
    aws_profile: str | None
    access_key_id: str | None
    secret_access_key: str | None
    region: str | None
    key_pair: str | None
    key_file: Path | None
    bucket: str | None
    allowed_cidr: str | None
    no_input: bool
    max_hours: str | None = None


class Asker(Protocol):
    """How a question reaches the user; with --yes, a default or the missing flag's name."""

    interactive: bool

    def ask(
        self,
        text: str,
        default: str | None,
        flag: str,
        check: Callable[[str], str] = str,
        hide: bool = False,
    ) -> str: ...

    def choose(self, text: str, choices: tuple[str, ...], default: str) -> str: ...

    def say(self, text: str) -> None: ...


def setup_profile(
    home: Home, flags: Flags, asker: Asker, done: wizard.StepDone, warn: Callable[[str], None]
) -> Profile:
    """Ask, check the credentials with AWS, then make the key pair, bucket and profile."""
    if flags.secret_access_key:
        warn(wizard.SECRET_ON_COMMAND_LINE)
    name = flags.profile_name or asker.ask(
        "Profile name", wizard.DEFAULT_PROFILE_NAME, "--profile-name", wizard.check_new_profile_name
    )
    name = wizard.check_new_profile_name(name)
    earlier = _earlier_profile(home, name)
    credentials = _credentials(flags, earlier, asker)
    region = flags.region or asker.ask(
        "AWS region", _region_default(earlier, credentials), "--region"
    )
    _precheck(flags)
    connection = wizard.connect(credentials, region)
    done("credentials", f"account {connection.identity.account} ({connection.identity.arn})")
    request = _request(home, flags, name, credentials, connection, earlier, asker).checked()
    if warning := wizard.cidr_warning(request.allowed_cidr):
        warn(warning)
    return wizard.complete_setup(home, request, connection, done)


def _earlier_profile(home: Home, name: str) -> Profile | None:
    profile = load_config(home).profiles.get(name)
    return profile if profile is not None and profile.is_aws else None


def _precheck(flags: Flags) -> None:
    """Fail on a bad flag before talking to AWS."""
    if flags.allowed_cidr:
        wizard.check_cidr(flags.allowed_cidr)
    if flags.bucket:
        wizard.check_bucket_name(flags.bucket)
    if flags.key_pair:
        wizard.check_key_pair_name(flags.key_pair)


def _credentials(flags: Flags, earlier: Profile | None, asker: Asker) -> AwsCredentials:
    if flags.aws_profile and (flags.access_key_id or flags.secret_access_key):
        raise InputError(
            "--aws-profile cannot be combined with access keys",
            fix="use either --aws-profile NAME or --access-key-id/--secret-access-key",
        )
    if flags.aws_profile:
        return AwsCredentials(aws_profile=flags.aws_profile)
    if flags.access_key_id or flags.secret_access_key:
        return _keys(flags.access_key_id, flags.secret_access_key, asker)
    if earlier is not None:
        return AwsCredentials.of(earlier)
    return _ask_credentials(asker)


def _keys(key_id: str | None, secret: str | None, asker: Asker) -> AwsCredentials:
    key_id = key_id or asker.ask("AWS access key id", None, "--access-key-id")
    secret = secret or os.environ.get(wizard.SECRET_VARIABLE) or _ask_secret(asker)
    return AwsCredentials(access_key_id=key_id, secret_access_key=secret)


def _ask_secret(asker: Asker) -> str:
    """Typed unseen, never required on the command line where others could read it."""
    if not asker.interactive:
        raise InputError(
            "the secret access key is required with --yes",
            f"it was not in the environment variable {wizard.SECRET_VARIABLE}",
            f"export {wizard.SECRET_VARIABLE} (or run without --yes to type it unseen); "
            "better, use an AWS CLI profile: --aws-profile NAME",
        )
    return asker.ask("AWS secret access key", None, "--secret-access-key", hide=True)


def _ask_credentials(asker: Asker) -> AwsCredentials:
    if not asker.interactive:
        return AwsCredentials()  # the default chain: environment variables, instance role
    known = aws_session.known_aws_profiles()
    source = asker.choose(
        "Credentials: an AWS CLI profile (recommended), access keys, or the environment",
        CREDENTIAL_SOURCES,
        "profile" if known else "environment",
    )
    if source == "keys":
        return _keys(None, None, asker)
    if source == "environment":
        return AwsCredentials()
    if known:
        asker.say(f"AWS profiles found: {', '.join(known)}")
    default = os.environ.get("AWS_PROFILE") or (known[0] if known else None)
    return AwsCredentials(aws_profile=asker.ask("AWS profile", default, "--aws-profile"))


def _region_default(earlier: Profile | None, credentials: AwsCredentials) -> str:
    if earlier is not None and earlier.region:
        return earlier.region
    return aws_session.default_region(credentials)


def _request(
    app_home: Home,
    flags: Flags,
    name: str,
    credentials: AwsCredentials,
    connection: wizard.Connection,
    earlier: Profile | None,
    asker: Asker,
) -> wizard.SetupRequest:
    region = connection.account.region
    key_pair = flags.key_pair or asker.ask(
        "EC2 key pair",
        earlier.key_pair if earlier else wizard.default_key_pair(name),
        "--key-pair",
        wizard.check_key_pair_name,
    )
    bucket = flags.bucket or asker.ask(
        "S3 bucket for the image registry",
        _bucket_default(earlier, connection),
        "--bucket",
        wizard.check_bucket_name,
    )
    return wizard.SetupRequest(
        profile_name=name,
        credentials=credentials,
        region=region,
        key_pair=key_pair,
        key_file=_key_file(flags, earlier, managed_key_path(app_home, key_pair)),
        bucket=bucket,
        allowed_cidr=flags.allowed_cidr or _ask_cidr(earlier, asker),
        max_hours=flags.max_hours or _ask_max_hours(earlier, asker),
    )


def _ask_max_hours(earlier: Profile | None, asker: Asker) -> str:
    """The lease: a cluster ends itself after this many hours without a command."""
    default = earlier.max_hours if earlier and earlier.max_hours else wizard.DEFAULT_LEASE_HOURS
    return asker.ask(
        "Hours a cluster lives after the last command (its lease; 0: until destroyed)",
        default,
        "--max-hours",
        wizard.check_max_hours,
    )


def _bucket_default(earlier: Profile | None, connection: wizard.Connection) -> str:
    if earlier is not None and earlier.bucket and earlier.region == connection.account.region:
        return earlier.bucket
    return wizard.default_bucket(connection.identity.account, connection.account.region)


def _key_file(flags: Flags, earlier: Profile | None, managed: Path) -> Path | None:
    """A key file the user brought earlier stays in use for the same key pair."""
    if flags.key_file is not None:
        return flags.key_file
    if earlier is None or earlier.key_path in (None, managed):
        return None
    return earlier.key_path if earlier.key_pair == managed.name else None


def _ask_cidr(earlier: Profile | None, asker: Asker) -> str:
    default = earlier.allowed_cidr if earlier and earlier.allowed_cidr else None
    if default is None:
        address = caller_address.learn_public_address()
        default = f"{address}/32" if address else None
    if default is None and not asker.interactive:
        raise InputError(
            "cannot learn your public IP address to allow SSH from it",
            "no answer from https://checkip.amazonaws.com",
            "pass the address range you connect from: --allowed-cidr A.B.C.D/32",
        )
    return asker.ask(
        "CIDR allowed to SSH to clusters", default, "--allowed-cidr", wizard.check_cidr
    )
