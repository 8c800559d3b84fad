"""Fixtures shared by every test: an isolated home, a CLI runner, and moto.

Every test gets its own ``CLUSTEROUS_HOME`` so no test can read or damage the
developer's real ``~/.clusterous``. The moto server lives here rather than in
tests/aws/ because the CLI tests of ``clusterous setup`` drive real boto3 code
against it too (recipe: ../shared/notes/aws-testing.md).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from tests.docker_engine import docker_unusable

if TYPE_CHECKING:
    import docker

# moto reads these when it is imported: set them before any test imports it.
for _name in (
    "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION",
    "MOTO_ENABLE_AMI_VALIDATION",
    "MOTO_ENABLE_KEYPAIR_VALIDATION",
):
    os.environ.setdefault(_name, "true")

MOTO_ACCOUNT = "123456789012"  # moto's default account id
OTHER_ACCOUNT = "333344445555"
ALLOWED_AWS_HOSTS = frozenset({"127.0.0.1"})


# ---------------------------------------------------------------- order


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart the Docker engine run last: every container on it stops."""
    items.sort(key=lambda item: item.get_closest_marker("engine_restart") is not None)


# ---------------------------------------------------------------- home and CLI


@pytest.fixture(autouse=True)
def clusterous_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty CLUSTEROUS_HOME for every test."""
    root = tmp_path / "clusterous-home"
    monkeypatch.setenv("CLUSTEROUS_HOME", str(root))
    monkeypatch.delenv("CLUSTEROUS_PROFILE", raising=False)
    return root


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


CliRunner = Callable[..., CliResult]


@pytest.fixture
def cli_runner() -> CliRunner:
    """Run ``clusterous ARGS...`` in-process, with optional typed ``input``."""
    from click.testing import CliRunner as ClickRunner

    from clusterous.cli.main import cli

    def run(*args: str, input: str | None = None) -> CliResult:
        result = ClickRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


# ---------------------------------------------------------------- moto server


@dataclass(frozen=True)
class MotoServer:
    endpoint: str

    def post(self, path: str, body: bytes = b"") -> None:
        request = urllib.request.Request(
            self.endpoint + path,
            data=body,
            method="POST",
            headers={"Content-Type": "text/plain"},  # else the body is parsed away as a form
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def reset(self) -> None:
        self.post("/moto-api/reset")

    def enforce_iam(self, after_requests: int = 0) -> None:
        """Make moto check signatures and IAM policies (after ``after_requests`` calls)."""
        self.post("/moto-api/reset-auth", str(after_requests).encode())

    def stop_enforcing_iam(self) -> None:
        self.post("/moto-api/reset-auth", b"inf")

    def client_in_account(self, service: str, account: str, region: str = "us-east-1") -> Any:
        """A boto3 client acting as another AWS account (moto's x-moto-account-id header)."""
        import boto3

        client = boto3.client(service, region_name=region)

        def as_other_account(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account

        client.meta.events.register("before-sign", as_other_account)
        return client

    def restricted_keys(self, allowed_actions: list[str]) -> tuple[str, str]:
        """Access keys of a new IAM user allowed only ``allowed_actions`` (once IAM is enforced)."""
        import boto3

        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="restricted")
        statement = {"Effect": "Allow", "Action": allowed_actions, "Resource": "*"}
        iam.put_user_policy(
            UserName="restricted",
            PolicyName="only-these",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        )
        key = iam.create_access_key(UserName="restricted")["AccessKey"]
        return str(key["AccessKeyId"]), str(key["SecretAccessKey"])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server for the whole run, on 127.0.0.1 only, on a free port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield MotoServer(endpoint=f"http://{host}:{port}")
    finally:
        server.stop()


def refuse_remote_hosts(request: Any, **_: Any) -> None:
    """botocore before-send hook: no test may ever talk to a real AWS endpoint."""
    host = urlsplit(request.url).hostname
    if host not in ALLOWED_AWS_HOSTS:
        raise RuntimeError(f"test tried to reach {request.url}; only moto on 127.0.0.1 is allowed")


def guard_botocore_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register ``refuse_remote_hosts`` on every botocore session, the code's own included."""
    import botocore.session

    original_init = botocore.session.Session.__init__

    def guarded_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.register("before-send", refuse_remote_hosts)

    monkeypatch.setattr(botocore.session.Session, "__init__", guarded_init)


@pytest.fixture
def aws(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """AWS as seen by the code under test: moto, fake keys, nothing from the real machine."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CA_BUNDLE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    guard_botocore_sessions(monkeypatch)
    moto_server.reset()
    try:
        yield moto_server
    finally:
        moto_server.stop_enforcing_iam()
        moto_server.reset()


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The local Docker engine; without one a test fails in CI and skips elsewhere."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        docker_unusable(str(error))
    try:
        yield client
    finally:
        client.close()
