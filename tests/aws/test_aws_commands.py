"""The cluster commands on an AWS profile, in-process, against moto."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from clusterous.aws.pricing import PriceBook
from clusterous.home import Home
from tests.aws.faults import Faults
from tests.aws.provider_fixtures import (
    CLUSTER,
    REGION,
    Account,
    account,
    boto,
    fault_server,
    faulty_aws,
    make_provider,
    tagged_resources,
)
from tests.aws.test_aws_create import create

pytestmark = pytest.mark.aws
__all__ = ["account", "fault_server", "faulty_aws"]


@pytest.fixture
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Moto's instances have made-up public addresses: never send a packet to one."""
    real = socket.create_connection

    def refuse(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] != "127.0.0.1":
            raise OSError(f"no route to {address[0]} (test)")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", refuse)


def test_create_with_a_short_timeout_rolls_back_and_says_which_step_failed(
    account: Account, cli_runner: Any, no_internet: None
) -> None:
    result = cli_runner("create", "--name", CLUSTER, "--workers", "2", "--timeout", "2", "--yes")
    assert result.exit_code == 1, result.output
    assert "failed while waiting for the controller" in result.stderr
    assert "everything made so far was removed" in result.stderr
    assert tagged_resources() == []


def test_dry_run_prints_types_counts_image_and_prices_from_the_cache(
    account: Account, cli_runner: Any, clusterous_home: Path
) -> None:
    seed_prices(clusterous_home, {"t3.medium": ("0.0456", "Hrs"), "gp3": ("0.0876", "GB-Mo")})
    result = cli_runner("create", "--name", CLUSTER, "--workers", "3", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    row = next(line for line in lines if "worker" in line)
    assert "t3.medium" in row and "3" in row and account.images["amd64"] in row
    assert "$0.1368/h" in row
    total = next(line for line in lines if "total" in line)
    assert "$0.2674/h" in total  # 5 t3.medium, 20 + 5 x 20 GiB gp3, 5 IPv4 addresses
    assert "Dry run: nothing was created." in result.stdout
    assert tagged_resources() == []


def test_dry_run_says_price_unknown_when_the_pricing_api_fails(
    account: Account, cli_runner: Any
) -> None:
    result = cli_runner("create", "--name", CLUSTER, "--workers", "1", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "price unknown" in result.stdout
    priced = [line for line in result.stdout.splitlines() if "$" in line]
    assert priced and all("IPv4" in line for line in priced)  # AWS's flat IPv4 price only


def test_destroy_after_the_local_state_is_lost_removes_everything(
    account: Account, cli_runner: Any, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    shutil.rmtree(Home(clusterous_home).cluster_dir(CLUSTER))
    result = cli_runner("destroy", CLUSTER, "--yes", "--delete-volume")
    assert result.exit_code == 0, result.output
    assert "nothing billable left" in result.stdout
    assert tagged_resources() == []
    again = cli_runner("destroy", CLUSTER, "--yes", "--delete-volume")
    assert again.exit_code == 0 and "Nothing to destroy" in again.stdout


def test_destroy_without_a_volume_answer_and_no_terminal_asks_for_one(
    account: Account, cli_runner: Any, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    result = cli_runner("destroy", CLUSTER, "--yes")
    assert result.exit_code == 2
    assert "--keep-volume or --delete-volume" in result.stderr
    assert tagged_resources() != []  # nothing was touched


def test_a_kept_volume_is_listed_then_removed(
    account: Account, cli_runner: Any, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    result = cli_runner("destroy", CLUSTER, "--yes", "--keep-volume")
    assert result.exit_code == 0, result.output
    assert "Kept: shared volume vol-" in result.stdout
    listed = json.loads(cli_runner("ls-volumes", "--json").stdout)
    assert [(v["cluster"], v["kept"], v["size_gib"]) for v in listed] == [(CLUSTER, True, 10)]
    volume = listed[0]["id"]
    removed = cli_runner("rm-volume", volume, "--yes")
    assert removed.exit_code == 0 and f"Deleted volume {volume}" in removed.stdout
    assert tagged_resources() == []
    missing = cli_runner("rm-volume", volume, "--yes")
    assert missing.exit_code == 2 and "ls-volumes" in missing.stderr


def test_rm_volume_refuses_a_volume_clusterous_did_not_make(
    account: Account, cli_runner: Any
) -> None:
    theirs = boto("ec2").create_volume(AvailabilityZone=f"{REGION}a", Size=5)["VolumeId"]
    result = cli_runner("rm-volume", theirs, "--yes")
    assert result.exit_code == 2
    assert boto("ec2").describe_volumes(VolumeIds=[theirs])["Volumes"]


def test_ls_clusters_finds_clusters_by_tag_in_the_region(
    account: Account, cli_runner: Any, clusterous_home: Path, faulty_aws: Faults
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    shutil.rmtree(Home(clusterous_home).cluster_dir(CLUSTER))
    listed = json.loads(cli_runner("ls-clusters", "--json").stdout)
    found = {c["name"]: c for c in listed}
    assert found[CLUSTER]["nodes"] == 5 and found[CLUSTER]["provider"] == "aws"


def _product(usd: str, unit: str = "Hrs") -> str:
    dimension = {"unit": unit, "pricePerUnit": {"USD": usd}}
    term = {"priceDimensions": {"D": dimension}}
    return json.dumps({"terms": {"OnDemand": {"T": term}}})


def test_dry_run_and_the_confirmation_show_every_line_that_bills_and_the_lease_bound(
    account: Account, cli_runner: Any, clusterous_home: Path, tmp_path: Path
) -> None:
    seed_prices(clusterous_home, {"t3.medium": ("0.0456", "Hrs"), "gp3": ("0.0876", "GB-Mo")})
    profile = tmp_path / "cluster.yml"
    profile.write_text(
        f"name: {CLUSTER}\nprovider: aws\nnode_groups:\n  master: {{count: 1}}\n"
        "  worker: {count: 3, spot: true}\nshared_volume: {size: 100}\n"
    )
    dry = cli_runner("create", str(profile), "--max-hours", "8", "--dry-run")
    assert dry.exit_code == 0, dry.output
    real = cli_runner("create", str(profile), "--max-hours", "8")  # no terminal: stops at asking
    assert real.exit_code != 0 and tagged_resources() == []
    for shown in (dry.stdout, real.stderr):
        rows = {line.split("│")[0].strip(): line for line in shown.splitlines() if "│" in line}
        assert "$0.0456/h" in rows["controller"] and "$0.0456/h" in rows["master"]
        assert "spot ≤ $0.1368/h" in rows["worker"]  # 3 spot nodes, at most on demand
        assert "100 GiB gp3" in rows["shared volume"]
        assert "$0.0120/h" in rows["shared volume"]  # 100 x 0.0876 / 730
        assert "5 x 20 GiB" in rows["root disks"] and "$0.0120/h" in rows["root disks"]
        assert "5 addresses" in rows["public IPv4"] and "$0.0250/h" in rows["public IPv4"]
        assert "$0.2770/h" in rows["total"]  # 5 x 0.0456 + 0.012 + 0.012 + 0.025
        assert "at most $2.22 for the 8 h lease" in shown
        assert "…" not in shown  # every cell whole in 80 columns


def test_an_unknown_disk_price_makes_the_total_unknown_never_a_guess(
    account: Account, cli_runner: Any, clusterous_home: Path
) -> None:
    seed_prices(clusterous_home, {"t3.medium": ("0.0456", "Hrs")})  # no gp3 price to be had
    result = cli_runner("create", "--name", CLUSTER, "--workers", "1", "--dry-run")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[0].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "price unknown" in rows["shared volume"] and "price unknown" in rows["root disks"]
    assert "price unknown" in rows["total"]
    assert "cost for the 8 h lease: price unknown" in result.stdout


def seed_prices(home: Path, prices: dict[str, tuple[str, str]]) -> None:
    """The price cache the dry run reads (moto has no Pricing API): instance types and EBS."""
    from botocore.stub import Stubber

    client = boto("pricing", "us-east-1")
    book = PriceBook(lambda: client, REGION, Home(home).cache_dir)
    with Stubber(client) as stub:
        for name, (usd, unit) in prices.items():
            stub.add_response("get_products", {"PriceList": [_product(usd, unit)]})
            if unit == "Hrs":
                assert book.hourly(name) == pytest.approx(float(usd))
            else:
                assert book.gb_month(name) == pytest.approx(float(usd))
