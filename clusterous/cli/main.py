"""The ``clusterous`` root command, its global options and the exit-code contract.

Subcommands are loaded lazily from the COMMANDS table so that printing help or
validating a file never imports the heavy libraries (boto3, paramiko, docker).
Every error leaves through ClusterousGroup.main, which prints it for people and
maps it to the exit codes of DESIGN section 6; a traceback only with --verbose.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

import click

from clusterous import __version__
from clusterous.cli.context import App
from clusterous.errors import ClusterousError, ExitCode
from clusterous.home import Home

# name -> "module:attribute". Each command lives in its own module under cli/.
COMMANDS: dict[str, str] = {
    "validate": "clusterous.cli.validate_cmd:validate",
    "profile": "clusterous.cli.profile_cmd:profile",
    "setup": "clusterous.cli.setup_cmd:setup",
    "create": "clusterous.cli.create_cmd:create",
    "status": "clusterous.cli.status_cmd:status",
    "add-nodes": "clusterous.cli.scale_cmd:add_nodes",
    "rm-nodes": "clusterous.cli.scale_cmd:rm_nodes",
    "ssh": "clusterous.cli.ssh_cmd:ssh",
    "workon": "clusterous.cli.workon_cmd:workon",
    "ls-clusters": "clusterous.cli.workon_cmd:ls_clusters",
    "destroy": "clusterous.cli.destroy_cmd:destroy",
    "ls-volumes": "clusterous.cli.volumes_cmd:ls_volumes",
    "rm-volume": "clusterous.cli.volumes_cmd:rm_volume",
    "run": "clusterous.cli.run_cmd:run",
    "quit": "clusterous.cli.quit_cmd:quit_",
    "tunnel": "clusterous.cli.tunnel_cmd:tunnel",
    "logs": "clusterous.cli.logs_cmd:logs",
    "connect": "clusterous.cli.connect_cmd:connect",
    "build-image": "clusterous.cli.image_cmd:build_image",
    "image-info": "clusterous.cli.image_cmd:image_info",
    "put": "clusterous.cli.files_cmd:put",
    "get": "clusterous.cli.files_cmd:get",
    "ls": "clusterous.cli.files_cmd:ls",
    "rm": "clusterous.cli.files_cmd:rm",
}


class ClusterousGroup(click.Group):
    """A group that imports a subcommand only when it is used or listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> NoReturn:
        argv = list(sys.argv[1:] if args is None else args)
        verbose = any(a in ("-v", "--verbose") for a in argv)
        code = run_translating_errors(
            lambda: super(ClusterousGroup, self).main(
                args=argv, prog_name=prog_name or "clusterous", standalone_mode=False, **extra
            ),
            verbose,
        )
        sys.exit(code)


def run_translating_errors(call: Any, verbose: bool) -> int:
    """Run the CLI; turn every way out into a message and an exit code."""
    err = sys.stderr
    try:
        result = call()
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.exceptions.Abort:
        click.echo("\nInterrupted.", file=err)
        return ExitCode.INTERRUPTED
    except KeyboardInterrupt:
        click.echo("\nInterrupted.", file=err)
        return ExitCode.INTERRUPTED
    except click.ClickException as problem:
        problem.show(file=err)
        return ExitCode.BAD_INPUT if isinstance(problem, click.UsageError) else problem.exit_code
    except ClusterousError as problem:
        if verbose:
            traceback.print_exc(file=err)
        click.echo(click.style("Error: ", fg="red", bold=True) + problem.render(), file=err)
        return problem.exit_code
    except Exception as problem:  # a bug of ours: say so plainly
        if verbose:
            traceback.print_exc(file=err)
        click.echo(
            click.style("Internal error: ", fg="red", bold=True)
            + f"{type(problem).__name__}: {problem}\n"
            + "  -> run again with --verbose for the traceback, and please report it",
            file=err,
        )
        return ExitCode.FAILED
    return result if isinstance(result, int) else ExitCode.OK


@click.group(
    cls=ClusterousGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="clusterous")
@click.option(
    "--profile",
    "profile",
    metavar="NAME",
    envvar="CLUSTEROUS_PROFILE",
    help="Configuration profile to use (default: the current one; see 'clusterous profile ls').",
)
@click.option("-v", "--verbose", is_flag=True, help="Show details and tracebacks.")
@click.pass_context
def cli(ctx: click.Context, profile: str | None, verbose: bool) -> None:
    """On-demand compute clusters for scientists.

    Create a cluster on AWS EC2 or on your own Docker engine, run a
    Docker-packaged parallel application on it, scale it, and destroy it with
    nothing billable left behind.
    """
    quiet_library_logs(verbose)
    ctx.obj = App(home=Home.from_environment(), profile_override=profile, verbose=verbose)


def quiet_library_logs(verbose: bool) -> None:
    """Libraries log from their own threads (paramiko's transport, for one); people see our
    messages instead, and the libraries' only with --verbose."""
    import logging

    level = logging.DEBUG if verbose else logging.CRITICAL + 1
    for name in ("paramiko", "docker", "urllib3", "botocore", "boto3"):
        logging.getLogger(name).setLevel(level)


def main() -> NoReturn:
    cli.main()
