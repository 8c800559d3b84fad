"""The ``clusterous`` root command, its global options and the exit-code contract.

Subcommands are loaded lazily from the COMMANDS table, which also holds the
short help that ``clusterous --help`` lists: printing help imports no command
module, and no command module imports pydantic, rich or the cloud and SSH
libraries before its function runs, so the CLI starts about as fast as click.
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
from clusterous.cancel import on_signals
from clusterous.cli.context import App
from clusterous.errors import ClusterousError, ExitCode
from clusterous.home import Home

# name -> ("module:attribute", the short help `clusterous --help` lists). Each
# command lives in its own module under cli/; the listing reads this table, so
# that `clusterous --help` imports no command module (a test keeps each line
# equal to its command's own first sentence).
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": (
        "clusterous.cli.validate_cmd:validate",
        "Check cluster profiles and environment files; report every problem.",
    ),
    "profile": (
        "clusterous.cli.profile_cmd:profile",
        "List, choose, show and remove configuration profiles.",
    ),
    "setup": (
        "clusterous.cli.setup_cmd:setup",
        "Create or update an AWS profile: credentials, region, key pair, bucket, allowed CIDR.",
    ),
    "create": (
        "clusterous.cli.create_cmd:create",
        "Create a cluster, from PROFILE_FILE or the default (1 master, N workers).",
    ),
    "status": (
        "clusterous.cli.status_cmd:status",
        "Show the state of cluster NAME (default: the current cluster).",
    ),
    "add-nodes": (
        "clusterous.cli.scale_cmd:add_nodes",
        "Add COUNT nodes to GROUP (default: 'worker').",
    ),
    "rm-nodes": (
        "clusterous.cli.scale_cmd:rm_nodes",
        "Remove COUNT nodes from GROUP (default: 'worker'), moving their tasks first.",
    ),
    "ssh": (
        "clusterous.cli.ssh_cmd:ssh",
        "Open a shell on NODE (default: the controller), or run COMMAND there.",
    ),
    "workon": (
        "clusterous.cli.workon_cmd:workon",
        "Make NAME the current cluster; rebuild its local files from the cluster if lost.",
    ),
    "ls-clusters": (
        "clusterous.cli.workon_cmd:ls_clusters",
        "List the clusters on this machine and those found by label with the profile.",
    ),
    "destroy": (
        "clusterous.cli.destroy_cmd:destroy",
        "Destroy cluster NAME (default: the current one), leaving nothing behind.",
    ),
    "extend": (
        "clusterous.cli.extend_cmd:extend",
        "Make the lease of cluster NAME end no sooner than HOURS from now.",
    ),
    "stop": (
        "clusterous.cli.stop_cmd:stop",
        "Stop the machines of cluster NAME; /data, its images and its definition stay.",
    ),
    "start": (
        "clusterous.cli.stop_cmd:start",
        "Start the stopped cluster NAME again, with its services and tunnels.",
    ),
    "ls-volumes": (
        "clusterous.cli.volumes_cmd:ls_volumes",
        "List the shared volumes clusterous made with the profile (AWS region, or this machine).",
    ),
    "rm-volume": (
        "clusterous.cli.volumes_cmd:rm_volume",
        "Delete the kept shared volume VOLUME_ID and every file on it.",
    ),
    "run": (
        "clusterous.cli.run_cmd:run",
        "Run the application described by ENV_FILE: copy, build, deploy, open tunnels.",
    ),
    "quit": (
        "clusterous.cli.quit_cmd:quit_",
        "Stop the environment's services and tunnels (the cluster stays).",
    ),
    "tunnel": (
        "clusterous.cli.tunnel_cmd:tunnel",
        "List the tunnels of the running environment; re-open those that died.",
    ),
    "submit": (
        "clusterous.cli.submit_cmd:submit",
        "Queue COMMAND as a batch job ({i} is the array index); print its id and return.",
    ),
    "jobs": (
        "clusterous.cli.jobs_cmd:jobs",
        "List the cluster's batch jobs with their task counts; show, wait, cancel, retry one.",
    ),
    "logs": (
        "clusterous.cli.logs_cmd:logs",
        "Print COMPONENT's output, each line prefixed with its node.",
    ),
    "dashboard": (
        "clusterous.cli.dashboard_cmd:dashboard",
        "Open the cluster's dashboard (nodes, services, logs) through an SSH tunnel.",
    ),
    "logging": (
        "clusterous.cli.dashboard_cmd:logging_",
        "Clusterous 1.0's name for 'dashboard': open the central logging page.",
    ),
    "connect": (
        "clusterous.cli.connect_cmd:connect",
        "Open a shell in a running container of COMPONENT (host keys pinned).",
    ),
    "build-image": (
        "clusterous.cli.image_cmd:build_image",
        "Build DIRECTORY's Dockerfile on the controller; push it as registry:5000/NAME.",
    ),
    "image-info": (
        "clusterous.cli.image_cmd:image_info",
        "Show what the cluster registry holds for image NAME (tags, digest, size, created).",
    ),
    "put": (
        "clusterous.cli.files_cmd:put",
        "Copy LOCAL (a file or directory) to the shared volume, at REMOTE (default: /data).",
    ),
    "get": (
        "clusterous.cli.files_cmd:get",
        "Copy REMOTE (a file or directory under /data) to LOCAL.",
    ),
    "ls": (
        "clusterous.cli.files_cmd:ls",
        "List REMOTE (default: /data) on the shared volume.",
    ),
    "rm": (
        "clusterous.cli.files_cmd:rm",
        "Remove REMOTE (a file or a whole directory) from the shared volume.",
    ),
}


class ClusterousGroup(click.Group):
    """A group that imports a subcommand only when it runs (or shows its own help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing of ``clusterous --help``, from the table: no command module imported."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, _summary(name).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[cmd_name][0].split(":")
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


def _summary(name: str) -> click.Command:
    """A stand-in holding only the command's short help, cut to width as click cuts it."""
    return click.Command(name, help=COMMANDS[name][1])


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
    # SIGTERM and SIGHUP end a command as Ctrl-C does, and all three cancel every wait.
    with on_signals():
        cli.main()
