"""``clusterous profile ls | use | show | rm``: look at and switch configuration profiles.

Profiles are made by ``clusterous setup``; these commands only list, pick,
show (secrets masked) and forget them. Removing a profile deletes nothing in
AWS: its key pair and bucket stay, and the message says so.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from clusterous.cli.context import App, pass_app
from clusterous.config import Profile, load_config, update_config

if TYPE_CHECKING:
    from rich.table import Table

SUMMARY_FIELDS = ("region", "aws_profile", "key_pair", "bucket", "base_image")


@click.group("profile")
def profile() -> None:
    """List, choose, show and remove configuration profiles."""


@profile.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_app
def ls_profiles(app: App, as_json: bool) -> None:
    """List profiles; the current one is marked with '*'."""
    config = load_config(app.home)
    rows = [(name == config.current_profile, config.profiles[name]) for name in config.names()]
    if as_json:
        data = [{"current": current, **p.public_view()} for current, p in rows]
        click.echo(json.dumps(data, indent=2))
        return
    app.out.print(_table(rows))


def _table(rows: list[tuple[bool, Profile]]) -> Table:
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("", "NAME", "PROVIDER", "DETAILS"):
        table.add_column(column)
    for current, p in rows:
        view = p.public_view()
        details = ", ".join(f"{key}={view[key]}" for key in SUMMARY_FIELDS if key in view)
        table.add_row("*" if current else "", p.name, p.provider, details)
    return table


@profile.command("use")
@click.argument("name")
@pass_app
def use_profile(app: App, name: str) -> None:
    """Make NAME the current profile."""
    update_config(app.home, lambda config: config.use(name))
    app.out.print(f"Current profile: {name}")


@profile.command("show")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_app
def show_profile(app: App, name: str | None, as_json: bool) -> None:
    """Show the settings of NAME (default: the profile in use); secrets are masked."""
    config = load_config(app.home)
    chosen = config.get(name or app.profile_override or config.current_profile)
    view = chosen.public_view()
    if as_json:
        click.echo(json.dumps({"current": chosen.name == config.current_profile, **view}, indent=2))
        return
    width = max(len(key) for key in view)
    for key, value in view.items():
        app.out.print(f"{key.ljust(width)}  {value}", markup=False)


@profile.command("rm")
@click.argument("name")
@pass_app
def rm_profile(app: App, name: str) -> None:
    """Forget profile NAME (not the current one, not the built-in 'local')."""
    removed = load_config(app.home).get(name)
    update_config(app.home, lambda config: config.without(name))
    app.out.print(f"Removed profile {name!r}.")
    if removed.is_aws:
        app.out.print(
            f"Its key pair {removed.key_pair!r} and bucket {removed.bucket!r} are still in AWS; "
            "delete them in the AWS console if nothing else uses them.",
            markup=False,
        )
