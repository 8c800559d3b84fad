"""``clusterous setup``: the AWS wizard, interactive or driven entirely by flags.

Each answer comes from a flag, else from the existing profile of that name,
else from a prompt with a sensible default (or, with ``--yes``, from the
default alone). The work itself lives in ``clusterous.aws.wizard``; this module
only asks and prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import click

from clusterous.aws import caller_address, wizard
from clusterous.aws import session as aws_session
from clusterous.aws.keys import managed_key_path
from clusterous.aws.session import AwsCredentials
from clusterous.cli.context import App, pass_app
from clusterous.config import Profile, load_config
from clusterous.errors import InputError
from clusterous.home import Home

T = TypeVar("T")
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


class Asker:
    """Prompts when interactive; with --yes, takes the default or names the missing flag."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive

    def ask(
        self,
        text: str,
        default: str | None,
        flag: str,
        check: Callable[[str], str] = str,
        hide: bool = False,
    ) -> str:
        if not self.interactive:
            if default is None:
                raise InputError(f"{flag} is required with --yes", fix=f"pass {flag} VALUE")
            return check(default)
        return str(
            click.prompt(
                text,
                default=default,
                hide_input=hide,
                show_default=not hide,
                value_proc=_for_click(check),
            )
        )


def _for_click(check: Callable[[str], T]) -> Callable[[str], T]:
    """Let click re-ask when a typed answer is invalid, instead of failing the run."""

    def checked(value: str) -> T:
        try:
            return check(value)
        except InputError as problem:
            raise click.BadParameter(problem.render()) from None

    return checked


@click.command("setup")
@click.option(
    "--profile-name", metavar="NAME", help="Name of the profile to create or update [aws]."
)
@click.option(
    "--aws-profile",
    metavar="NAME",
    help="Use this profile of ~/.aws/config (recommended; SSO works).",
)
@click.option(
    "--access-key-id", metavar="KEY", help="Use these access keys instead of an AWS profile."
)
@click.option(
    "--secret-access-key",
    metavar="SECRET",
    help="Secret of --access-key-id. Better left out: it is then taken from "
    "AWS_SECRET_ACCESS_KEY or asked for, and stays out of the process list and shell history.",
)
@click.option("--region", metavar="REGION", help="AWS region [the AWS profile's, else us-east-1].")
@click.option(
    "--key-pair", metavar="NAME", help="EC2 key pair to use or create [clusterous-PROFILE]."
)
@click.option(
    "--key-file",
    type=click.Path(path_type=Path),
    help="Private key of an existing EC2 key pair (default: clusterous creates one).",
)
@click.option(
    "--bucket", metavar="NAME", help="S3 bucket for the image registry [clusterous-ACCOUNT-REGION]."
)
@click.option("--allowed-cidr", metavar="CIDR", help="Who may SSH to clusters [your address/32].")
@click.option("-y", "--yes", "--no-input", "no_input", is_flag=True, help="Never prompt.")
@pass_app
def setup(app: App, **options: object) -> None:
    """Create or update an AWS profile: credentials, region, key pair, bucket, allowed CIDR.

    Checks the credentials with AWS before saving anything; the new profile
    becomes the current one.
    """
    flags = Flags(**options)  # type: ignore[arg-type]
    if flags.secret_access_key:
        _warn(app, wizard.SECRET_ON_COMMAND_LINE)
    asker = Asker(interactive=not flags.no_input)
    name = flags.profile_name or asker.ask(
        "Profile name", wizard.DEFAULT_PROFILE_NAME, "--profile-name", wizard.check_new_profile_name
    )
    name = wizard.check_new_profile_name(name)
    earlier = _earlier_profile(app, name)
    credentials = _credentials(flags, earlier, asker)
    region = flags.region or asker.ask(
        "AWS region", _region_default(earlier, credentials), "--region"
    )
    _precheck(flags)
    connection = wizard.connect(credentials, region)
    _done(app, "credentials", f"account {connection.identity.account} ({connection.identity.arn})")
    request = _request(app.home, flags, name, credentials, connection, earlier, asker).checked()
    if warning := wizard.cidr_warning(request.allowed_cidr):
        _warn(app, warning)
    profile = wizard.complete_setup(app.home, request, connection, lambda s, d: _done(app, s, d))
    app.out.print(f"\nReady: 'clusterous create' now uses profile {profile.name!r}.")


def _done(app: App, step: str, detail: str) -> None:
    app.out.print(f"[green]✓[/green] {step}: {detail}")


def _warn(app: App, text: str) -> None:
    app.err.print(f"[yellow]![/yellow] warning: {text}")


def _earlier_profile(app: App, name: str) -> Profile | None:
    profile = load_config(app.home).profiles.get(name)
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
    source = click.prompt(
        "Credentials: an AWS CLI profile (recommended), access keys, or the environment",
        type=click.Choice(CREDENTIAL_SOURCES),
        default="profile" if known else "environment",
    )
    if source == "keys":
        return _keys(None, None, asker)
    if source == "environment":
        return AwsCredentials()
    if known:
        click.echo(f"AWS profiles found: {', '.join(known)}")
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
