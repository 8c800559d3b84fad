"""``clusterous validate FILE...``: check cluster profiles and environment files.

Nothing is created and nothing heavy is imported: the command only reads
files, so it is safe to run anywhere (an editor hook, CI) before ``create``.
"""

from __future__ import annotations

from pathlib import Path

import click

from clusterous.errors import FileInputError

# The file formats (and pydantic with them) are imported when the command runs,
# so that `clusterous validate --help` stays as light as `clusterous --help`.
KINDS = ("auto", "environment", "jobs", "profile")


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--show", is_flag=True, help="Also print what each valid file means, as YAML.")
@click.option(
    "--kind",
    type=click.Choice(sorted(KINDS)),
    default="auto",
    show_default=True,
    help="Read every FILE as this kind instead of telling from its keys.",
)
def validate(files: tuple[Path, ...], show: bool, kind: str) -> None:
    """Check cluster profiles and environment files; report every problem.

    Prints one line per valid file; problems go to stderr as
    FILE:LINE: field: message, and the exit code is 2 when there are any.
    """
    from clusterous.formats import Kind, validate_file
    from clusterous.formats.problems import Findings

    chosen = {"profile": Kind.PROFILE, "environment": Kind.ENVIRONMENT, "jobs": Kind.JOBS}.get(kind)
    findings = Findings()
    for path in files:
        try:
            result = validate_file(path, chosen)
        except FileInputError as failure:
            findings.absorb(failure)
            continue
        click.echo(f"{path}: ok ({result.summary()})")
        if show:
            click.echo(result.to_yaml().rstrip("\n"))
    findings.raise_if_any()
