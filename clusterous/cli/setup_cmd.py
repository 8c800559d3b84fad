"""``clusterous setup``: the AWS wizard, interactive or driven entirely by flags.

Each answer comes from a flag, else from the existing profile of that name,
else from a prompt with a sensible default (or, with ``--yes``, from the
default alone). The rules live in ``clusterous.operations.setup``; this
module only asks and prints.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from clusterous.cli.context import App, pass_app
from clusterous.errors import InputError

T = TypeVar("T")


class ClickAsker:
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

    def choose(self, text: str, choices: tuple[str, ...], default: str) -> str:
        return str(click.prompt(text, type=click.Choice(choices), default=default))

    def say(self, text: str) -> None:
        click.echo(text)


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
@click.option(
    "--max-hours",
    metavar="HOURS",
    help="Lease of this profile's clusters: they end themselves HOURS after the last "
    "command (0: never) [8].",
)
@click.option("-y", "--yes", "--no-input", "no_input", is_flag=True, help="Never prompt.")
@pass_app
def setup(app: App, **options: object) -> None:
    """Create or update an AWS profile: credentials, region, key pair, bucket, allowed CIDR.

    Checks the credentials with AWS before saving anything; the new profile
    becomes the current one.
    """
    from clusterous.operations.setup import Flags, setup_profile

    flags = Flags(**options)  # type: ignore[arg-type]
    asker = ClickAsker(interactive=not flags.no_input)

    def done(step: str, detail: str) -> None:
        app.out.print(f"[green]✓[/green] {step}: {detail}")

    def warn(text: str) -> None:
        app.err.print(f"[yellow]![/yellow] warning: {text}")

    profile = setup_profile(app.home, flags, asker, done, warn)
    app.out.print(f"\nReady: 'clusterous create' now uses profile {profile.name!r}.")
