"""Benchmark: API calls and wall time of an AWS create and destroy, for 5 and 100 workers.

Runs the real provider and cluster manager against moto in server mode on
127.0.0.1 (nothing leaves the machine). Moto's instances never boot, so the
readiness of nodes is answered at once by a stand-in; everything else is the
code users run. Every HTTP request botocore sends is counted (retries
included). Prints a table and writes JSON to bench/results/aws_moto.json.

Targets (issue 5): calls(100 workers) <= calls(5 workers) + 5, and
wall time(100) <= 2 x wall time(5), for create and for destroy.

    python bench/aws_moto.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REGION = "eu-west-1"
IMAGE_PARAMETER = "/clusterous-bench/debian/12/{arch}"
RESULTS = Path(__file__).parent / "results" / "aws_moto.json"
SIZES = (5, 100)


def start_moto() -> Any:
    for name in (
        "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION",
        "MOTO_ENABLE_AMI_VALIDATION",
        "MOTO_ENABLE_KEYPAIR_VALIDATION",
    ):
        os.environ[name] = "true"
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        AWS_EC2_METADATA_DISABLED="true",
    )
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CA_BUNDLE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    return server


def seed_account() -> None:
    import boto3

    ec2 = boto3.client("ec2", region_name=REGION)
    ssm = boto3.client("ssm", region_name=REGION)
    for arch, machine in (("amd64", "x86_64"), ("arm64", "arm64")):
        image = ec2.register_image(
            Name=f"debian-12-{arch}",
            Architecture=machine,
            RootDeviceName="/dev/xvda",
            VirtualizationType="hvm",
        )["ImageId"]
        ssm.put_parameter(Name=IMAGE_PARAMETER.format(arch=arch), Value=image, Type="String")
    ec2.create_key_pair(KeyName="bench")
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="clusterous-bench", CreateBucketConfiguration={"LocationConstraint": REGION}
    )


@dataclass
class CallCounter:
    counts: Counter[str]

    def __call__(self, request: Any, **_: Any) -> None:
        host = request.url.split("/")[2].split(":")[0]
        if host != "127.0.0.1":
            raise RuntimeError(f"the benchmark tried to reach {request.url}")
        self.counts[request.headers.get("X-Amz-Target", b"").decode() or "query"] += 1


class ReadyAtOnce:
    """Readiness stand-in: moto's instances never boot, so every node 'joins' at once."""

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger

    @contextmanager
    def controller(self, state: Any, deadline: float) -> Iterator[ReadyAtOnce]:
        yield self

    def join_token(self) -> str:
        return "SWMTKN-1-bench"

    def wait_ready(self, nodes: Sequence[Any], deadline: float) -> None:
        ready = {n.name: replace(n, ready=True) for n in nodes}

        def mark(state: Any) -> None:
            state.nodes = [ready.get(n.name, n) for n in state.nodes]

        self.ledger.update(mark)

    def drain(self, nodes: Sequence[Any], deadline: float) -> None:
        pass

    def forget(self, nodes: Sequence[Any]) -> None:
        pass


def counted_session(profile: Any, counter: CallCounter) -> Callable[[], Any]:
    def make() -> Any:
        from clusterous.aws.session import session_for

        session = session_for(profile)
        session.boto.events.register("before-send", counter)
        return session

    return make


def one_round(workers: int, home_dir: Path) -> dict[str, float]:
    from clusterous.config import Profile
    from clusterous.home import Home
    from clusterous.manager.access import ClusterAccess
    from clusterous.manager.create import ClusterCreator, CreateOptions
    from clusterous.manager.destroy import destroy_cluster
    from clusterous.manager.ledger import Ledger
    from clusterous.manager.plan import default_groups, plan_cluster
    from clusterous.manager.report import SilentReporter
    from clusterous.providers.aws.provider import AwsProvider

    home = Home(home_dir)
    name = f"bench-{workers}"
    profile = Profile(
        name="bench",
        provider="aws",
        region=REGION,
        key_pair="bench",
        bucket="clusterous-bench",
        allowed_cidr="203.0.113.7/32",
    )
    counter = CallCounter(Counter())
    provider = AwsProvider(
        name,
        home,
        profile,
        session=counted_session(profile, counter),
        image_parameter=IMAGE_PARAMETER,
    )
    ledger = Ledger(home, name)
    started = time.perf_counter()
    plan = plan_cluster(name, provider, "bench", default_groups(workers, None, None))
    ClusterCreator(
        plan,
        provider,
        ledger,
        ClusterAccess.of(home, name),
        SilentReporter(),
        CreateOptions(),
        readiness=ReadyAtOnce(ledger),
    ).create()
    create_seconds = time.perf_counter() - started
    create_calls = sum(counter.counts.values())
    counter.counts.clear()
    started = time.perf_counter()
    result = destroy_cluster(name, provider, ledger, False, SilentReporter())
    destroy_seconds = time.perf_counter() - started
    if result.leftovers:
        raise SystemExit(f"destroy left {result.leftovers}")
    return {
        "create_calls": create_calls,
        "create_seconds": create_seconds,
        "destroy_calls": sum(counter.counts.values()),
        "destroy_seconds": destroy_seconds,
    }


def reset_moto() -> None:
    """Each round starts from an empty, freshly seeded account."""
    import urllib.request

    request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL"] + "/moto-api/reset", b"")
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()
    seed_account()


def measure(workers: int, repeat: int) -> dict[str, float]:
    rounds = []
    for _ in range(repeat):
        reset_moto()
        with tempfile.TemporaryDirectory() as home_dir:
            rounds.append(one_round(workers, Path(home_dir)))
    return {
        "workers": workers,
        "create_calls": rounds[0]["create_calls"],
        "destroy_calls": rounds[0]["destroy_calls"],
        "create_seconds": statistics.median(r["create_seconds"] for r in rounds),
        "destroy_seconds": statistics.median(r["destroy_seconds"] for r in rounds),
    }


def verdicts(small: dict[str, float], large: dict[str, float]) -> dict[str, bool]:
    return {
        f"{op}_calls": large[f"{op}_calls"] <= small[f"{op}_calls"] + 5
        for op in ("create", "destroy")
    } | {
        f"{op}_seconds": large[f"{op}_seconds"] <= 2 * small[f"{op}_seconds"]
        for op in ("create", "destroy")
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds per size (median time)")
    args = parser.parse_args(argv)
    server = start_moto()
    try:
        results = [measure(n, args.repeat) for n in SIZES]
    finally:
        server.stop()
    checks = verdicts(results[0], results[1])
    header = ("workers", "create calls", "create s", "destroy calls", "destroy s")
    print("{:>8} {:>13} {:>9} {:>14} {:>10}".format(*header))
    for r in results:
        print(
            f"{r['workers']:>8} {r['create_calls']:>13} {r['create_seconds']:>9.2f} "
            f"{r['destroy_calls']:>14} {r['destroy_seconds']:>10.2f}"
        )
    for check, ok in checks.items():
        print(f"target {check}: {'met' if ok else 'MISSED'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"results": results, "targets_met": checks}, indent=2) + "\n")
    print(f"written to {RESULTS}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main(sys.argv[1:]))
