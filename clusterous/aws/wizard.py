"""What ``clusterous setup`` does for AWS, without any Click.

The command gathers answers (flags, the existing profile, prompts); this
module checks them, proves the credentials work (STS) before anything is
saved, makes sure the EC2 key pair and the registry bucket exist, and writes
the profile last, so a failed run leaves no half-saved profile. Every step is
idempotent: a key pair or bucket made by an earlier failed run is reused.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from clusterous.aws.account import AwsAccount, CallerIdentity
from clusterous.aws.keys import (
    check_key_file,
    managed_key_path,
    new_private_key,
    public_key_of,
    write_private_key,
)
from clusterous.aws.session import AwsCredentials, open_session
from clusterous.config import Config, Profile, check_profile_name, update_config
from clusterous.errors import InputError
from clusterous.home import Home

KEY_PAIR_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
DEFAULT_LEASE_HOURS = "8"
DEFAULT_PROFILE_NAME = "aws"
SECRET_VARIABLE = "AWS_SECRET_ACCESS_KEY"
SECRET_ON_COMMAND_LINE = (
    "--secret-access-key on the command line can be read by other users of this machine "
    "(in the process list) and stays in your shell history. Leave it out: it is then taken "
    f"from {SECRET_VARIABLE} or asked for unseen. Better still, use an AWS CLI profile: "
    "--aws-profile NAME (and clear this line from your history)."
)

StepDone = Callable[[str, str], None]  # (step, detail), e.g. ("bucket", "created clusterous-1")


def default_key_pair(profile_name: str) -> str:
    return f"clusterous-{profile_name}"


def default_bucket(account: str, region: str) -> str:
    return f"clusterous-{account}-{region}"


def check_max_hours(text: str) -> str:
    """A lease in hours, 0 (none) or more, up to 7 days: '8' -> '8', '1.50' -> '1.5'."""
    try:
        hours = float(text)
    except ValueError:
        hours = -1.0
    if not 0 <= hours <= 7 * 24:
        raise InputError(
            f"invalid lease {text!r}",
            "expected hours between 0 (no lease) and 168 (7 days)",
            "pass --max-hours 8, for example",
        )
    return f"{hours:g}"


def check_cidr(text: str) -> str:
    """A CIDR (or a bare address, meaning /32) in its normal form: '1.2.3.4' -> '1.2.3.4/32'."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise InputError(
            f"invalid CIDR {text!r}",
            "expected an address range such as 203.0.113.7/32",
            "pass your own address with --allowed-cidr A.B.C.D/32",
        ) from None
    if network.version != 4:
        raise InputError(
            f"--allowed-cidr {text.strip()} is an IPv6 range; clusters accept SSH over IPv4 only",
            "the cluster's network and firewall rules are IPv4",
            "pass your public IPv4 address: --allowed-cidr A.B.C.D/32 "
            "(https://checkip.amazonaws.com shows it)",
        )
    return str(network)


def cidr_warning(cidr: str) -> str | None:
    """What to tell a user who lets the whole Internet reach the clusters' SSH port."""
    if ipaddress.ip_network(cidr, strict=False).prefixlen != 0:
        return None
    return (
        f"--allowed-cidr {cidr} opens SSH (port 22) of every cluster of this profile to the "
        "whole Internet: anyone may try to log in (only your key is accepted, but bots will "
        "knock all day). To restrict it to your own address, run 'clusterous setup "
        "--allowed-cidr A.B.C.D/32' (https://checkip.amazonaws.com shows your address)."
    )


def check_bucket_name(name: str) -> str:
    if not BUCKET_RE.fullmatch(name) or ".." in name:
        raise InputError(
            f"invalid S3 bucket name {name!r}",
            "use 3-63 lowercase letters, digits, dots and dashes, starting and ending with a "
            "letter or digit",
            "for example: --bucket clusterous-registry-myteam",
        )
    return name


def check_key_pair_name(name: str) -> str:
    if not KEY_PAIR_RE.fullmatch(name):
        raise InputError(
            f"invalid key pair name {name!r}",
            "use up to 128 letters, digits, dots, dashes and underscores",
            "for example: --key-pair clusterous-aws",
        )
    return name


def check_new_profile_name(name: str) -> str:
    check_profile_name(name)
    if name == "local":
        raise InputError(
            "the profile name 'local' is reserved for your own Docker engine",
            fix="choose another name, for example --profile-name aws",
        )
    return name


@dataclass(frozen=True)
class SetupRequest:
    """Every answer the wizard needs, after flags, defaults and prompts."""

    profile_name: str
    credentials: AwsCredentials
    region: str
    key_pair: str
    bucket: str
    allowed_cidr: str
    key_file: Path | None = None  # the private key of an existing EC2 key pair
    max_hours: str = DEFAULT_LEASE_HOURS  # the lease of the profile's clusters; "0": none

    def checked(self) -> SetupRequest:
        """Check what can be checked without AWS, so bad input fails before any call."""
        check_new_profile_name(self.profile_name)
        check_key_pair_name(self.key_pair)
        check_bucket_name(self.bucket)
        key_file = check_key_file(self.key_file.expanduser()) if self.key_file else None
        return replace(
            self,
            allowed_cidr=check_cidr(self.allowed_cidr),
            key_file=key_file,
            max_hours=check_max_hours(self.max_hours),
        )


@dataclass(frozen=True)
class Connection:
    account: AwsAccount
    identity: CallerIdentity


def connect(credentials: AwsCredentials, region: str) -> Connection:
    """Open the session and prove the credentials work (sts:GetCallerIdentity)."""
    account = AwsAccount(open_session(credentials, region))
    return Connection(account=account, identity=account.caller_identity())


@dataclass(frozen=True)
class KeyPairResult:
    private_key: Path
    how: Literal["created", "imported", "reused"]


def ensure_key_pair(
    home: Home, account: AwsAccount, name: str, key_file: Path | None
) -> KeyPairResult:
    """Make sure EC2 has key pair ``name`` and we hold its private key; never duplicate it."""
    private_key = key_file or managed_key_path(home, name)
    if account.find_key_pair(name) is not None:
        if not private_key.is_file():
            raise _missing_private_key(name, account.region, private_key)
        return KeyPairResult(check_key_file(private_key), "reused")
    how: Literal["created", "imported"] = "imported"
    if not private_key.is_file():
        # written before the import: if the import fails, the next run imports this key
        write_private_key(private_key, new_private_key())
        how = "created"
    account.import_key_pair(name, public_key_of(private_key))
    return KeyPairResult(private_key, how)


def _missing_private_key(name: str, region: str, expected: Path) -> InputError:
    return InputError(
        f"EC2 key pair {name!r} already exists in {region}, but its private key is not here",
        f"looked for {expected}",
        f"pass its private key with --key-file PATH, or choose another --key-pair "
        f"(for example --key-pair {name}-2)",
    )


def complete_setup(
    home: Home, request: SetupRequest, connection: Connection, done: StepDone
) -> Profile:
    """Key pair, bucket, then the profile (made current) — in that order, saved last."""
    account = connection.account
    key = ensure_key_pair(home, account, request.key_pair, request.key_file)
    done("key pair", f"{request.key_pair} ({key.how}), private key {key.private_key}")
    created = account.ensure_bucket(request.bucket)
    done("bucket", f"{request.bucket} ({'created' if created else 'reused'})")
    profile = _profile(request, key.private_key)
    update_config(home, lambda config: _saved(config, profile))
    done("saved profile", f"{profile.name} (now the current profile)")
    return profile


def _profile(request: SetupRequest, private_key: Path) -> Profile:
    credentials = request.credentials
    return Profile(
        name=request.profile_name,
        provider="aws",
        region=request.region,
        aws_profile=credentials.aws_profile,
        access_key_id=credentials.access_key_id,
        secret_access_key=credentials.secret_access_key,
        key_pair=request.key_pair,
        key_file=str(private_key.absolute()),
        bucket=request.bucket,
        allowed_cidr=request.allowed_cidr,
        max_hours=request.max_hours,
    )


def _saved(config: Config, profile: Profile) -> Config:
    """Keep settings of an earlier profile of that name that setup does not ask about."""
    earlier = config.profiles.get(profile.name)
    if earlier is not None and earlier.is_aws:
        profile = replace(profile, default_instance_type=earlier.default_instance_type)
    return config.with_profile(profile, make_current=True)
