"""ls-clusters --all-regions (moto): what clusterous left in any region, priced, with its remover.

The profile works in eu-west-1 and has a live cluster there; a kept shared
volume and an orphaned root disk are planted in ap-southeast-2, and a leftover
registry prefix in the bucket. Prices are stubbed at the Pricing edge (the
cache the Price List answers fill; moto has no Pricing API).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from clusterous.aws.pricing import PriceBook, s3_filters
from clusterous.home import Home
from clusterous.manager.ledger import Ledger
from clusterous.records import ClusterState
from tests.aws.faults import Faults
from tests.aws.provider_fixtures import (
    BUCKET,
    CLUSTER,
    REGION,
    Account,
    account,
    boto,
    fault_server,
    faulty_aws,
    make_provider,
)
from tests.aws.test_aws_create import create

pytestmark = pytest.mark.aws
__all__ = ["account", "fault_server", "faulty_aws"]

ELSEWHERE = "ap-southeast-2"
OLD = "old-run"
GP3 = 0.096  # USD per GB-month in ELSEWHERE (stubbed)
S3 = 0.023  # USD per GB-month in REGION (stubbed)
T3 = 0.0456


def price(usd: float, unit: str, tiered: bool = False) -> str:
    """A Price List product; ``tiered`` as S3's (cheaper past 50 TB a month)."""
    dimensions = {
        "SKU.TERM.1": {"unit": unit, "beginRange": "0", "pricePerUnit": {"USD": str(usd)}}
    }
    if tiered:
        higher = {"unit": unit, "beginRange": "51200", "pricePerUnit": {"USD": str(usd / 2)}}
        dimensions["SKU.TERM.2"] = higher
    term = {"priceDimensions": dimensions}
    return json.dumps({"product": {"sku": "SKU"}, "terms": {"OnDemand": {"SKU.TERM": term}}})


def seed_prices(home: Path) -> None:
    """Fill the price cache through a stubbed Pricing client, as the Price List would."""
    from botocore.stub import Stubber

    client = boto("pricing", "us-east-1")
    with Stubber(client) as stub:
        elsewhere = PriceBook(lambda: client, ELSEWHERE, Home(home).cache_dir)
        stub.add_response("get_products", {"PriceList": [price(GP3, "GB-Mo")]})
        assert elsewhere.gb_month("gp3") == pytest.approx(GP3)
        here = PriceBook(lambda: client, REGION, Home(home).cache_dir)
        stub.add_response(
            "get_products",
            {"PriceList": [price(S3, "GB-Mo", tiered=True)]},
            {
                "ServiceCode": "AmazonS3",
                "Filters": s3_filters(REGION),
                "FormatVersion": "aws_v1",
                "MaxResults": 10,
            },
        )
        assert here.s3_standard_quote().usd == pytest.approx(S3)  # the first tier, not the second
        stub.add_response("get_products", {"PriceList": [price(T3, "Hrs")]})
        assert here.hourly("t3.medium") == pytest.approx(T3)
        stub.add_response("get_products", {"PriceList": [price(GP3, "GB-Mo")]})
        assert here.gb_month("gp3") == pytest.approx(GP3)


def plant_volume(
    role: str, size: int, cluster: str = OLD, region: str = ELSEWHERE, **tags: str
) -> str:
    marks = {"clusterous:cluster": cluster, "clusterous:role": role, **tags}
    answer = boto("ec2", region).create_volume(
        AvailabilityZone=f"{region}a",
        Size=size,
        VolumeType="gp3",
        TagSpecifications=[
            {
                "ResourceType": "volume",
                "Tags": [{"Key": k, "Value": v} for k, v in marks.items()],
            }
        ],
    )
    return str(answer["VolumeId"])


def put(key: str, size: int) -> None:
    boto("s3").put_object(Bucket=BUCKET, Key=key, Body=b"x" * size)


NO_PRICE_LIST = {"action": "GetProducts", "code": "AccessDeniedException"}  # only the cache
ENABLED = (REGION, ELSEWHERE, "us-east-1", "us-west-2")


def enabled_regions(*regions: str) -> dict[str, Any]:
    """The account's enabled regions, as EC2 answers them (moto would list all 38: slow)."""
    items = "".join(
        f"<item><regionName>{r}</regionName><regionEndpoint>ec2.{r}.amazonaws.com"
        "</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item>"
        for r in regions
    )
    body = (
        '<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
        f"<requestId>faked</requestId><regionInfo>{items}</regionInfo></DescribeRegionsResponse>"
    )
    return {"action": "DescribeRegions", "code": "", "answer": body}


@pytest.fixture
def live(account: Account, clusterous_home: Path, faulty_aws: Faults) -> ClusterState:
    state = create(clusterous_home, make_provider(clusterous_home, account.profile))
    put(f"clusterous/{CLUSTER}/docker/registry/v2/blobs/live", 100)
    faulty_aws.set(NO_PRICE_LIST, enabled_regions(*ENABLED))
    return state


def scan(cli_runner: Any) -> dict[str, Any]:
    result = cli_runner("ls-clusters", "--all-regions", "--json")
    assert result.exit_code == 0, result.output

    found: dict[str, Any] = json.loads(result.stdout)
    return found


def by_id(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in found["findings"]}


def run_printed(cli_runner: Any, command: str) -> Any:
    words = shlex.split(command)
    assert words[0] == "clusterous"
    return cli_runner(*words[1:], "--yes")


def test_finds_a_volume_and_a_prefix_left_behind_with_their_price_and_removes_them(
    live: ClusterState, cli_runner: Any, clusterous_home: Path
) -> None:
    seed_prices(clusterous_home)
    kept = plant_volume("volume", 50, **{"clusterous:keep": "true"})
    root = plant_volume("root-disk", 20)
    ours_left = plant_volume("root-disk", 8, cluster=CLUSTER, region=REGION)  # say, rm-nodes'
    put(f"clusterous/{OLD}/docker/registry/v2/blobs/a", 3000)
    put(f"clusterous/{OLD}/docker/registry/v2/blobs/b", 2000)
    ghost_key = "clusterous/ghost/docker/registry/v2/repositories/app/_uploads/u1/data"
    boto("s3").create_multipart_upload(Bucket=BUCKET, Key=ghost_key)  # no object: parts only

    found = scan(cli_runner)

    assert found["regions"] == sorted(ENABLED)
    items = by_id(found)
    volume = items[kept]
    assert (volume["region"], volume["kind"], volume["cluster"]) == (ELSEWHERE, "volume", OLD)
    assert volume["live"] is False and volume["monthly_usd"] == pytest.approx(50 * GP3)
    assert "50 GiB gp3" in volume["what"] and "kept" in volume["what"]
    assert volume["remove_with"] == f"clusterous rm-volume {kept} --region {ELSEWHERE}"
    assert items[root]["remove_with"] == f"clusterous destroy {OLD} --region {ELSEWHERE}"
    assert "without its instance" in items[root]["what"]
    left = items[ours_left]  # outside the live cluster: removed alone, not by destroying it
    assert left["live"] is False and left["monthly_usd"] == pytest.approx(8 * GP3)
    assert left["remove_with"] == f"clusterous rm-volume {ours_left} --region {REGION}"
    prefix = items[f"s3://{BUCKET}/clusterous/{OLD}/"]
    assert prefix["live"] is False and prefix["region"] == REGION
    assert prefix["monthly_usd"] == pytest.approx(5000 / 2**30 * S3)
    # one destroy where the same cluster left EC2 things removes those and its prefix
    assert prefix["remove_with"] == f"clusterous destroy {OLD} --region {ELSEWHERE}"
    ours = [f for f in found["findings"] if f["cluster"] == CLUSTER and f["id"] != ours_left]
    assert ours and all(f["live"] for f in ours)  # the live cluster: shown, never a leftover
    assert {f["kind"] for f in ours} >= {"instance", "volume", "vpc", "registry-prefix"}
    assert all(f["remove_with"] == f"clusterous destroy {CLUSTER}" for f in ours)
    prices = {f["what"].split()[0]: f["monthly_usd"] for f in ours if f["kind"] == "instance"}
    assert prices == {"t3.medium": pytest.approx((T3 + 0.005) * 730), "t3.large": None}
    leftovers = {f["id"] for f in found["findings"] if not f["live"]}
    ghost = items[f"s3://{BUCKET}/clusterous/ghost/"]
    assert "1 unfinished upload(s)" in ghost["what"] and ghost["live"] is False
    assert ghost["remove_with"] == f"clusterous destroy ghost --region {REGION}"
    assert leftovers == {kept, root, ours_left, prefix["id"], ghost["id"]}
    assert found["leftover_monthly_usd"] == pytest.approx(
        round((50 + 20 + 8) * GP3 + 5000 / 2**30 * S3, 4)
    )

    for command in dict.fromkeys(items[i]["remove_with"] for i in sorted(leftovers)):
        done = run_printed(cli_runner, command)
        assert done.exit_code == 0, done.output

    again = scan(cli_runner)
    assert [f["id"] for f in again["findings"] if not f["live"]] == []
    assert boto("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"clusterous/{OLD}/")["KeyCount"] == 0
    assert "Uploads" not in boto("s3").list_multipart_uploads(Bucket=BUCKET, Prefix="clusterous/")


def test_the_table_shows_progress_leftovers_their_cost_and_numbered_commands(
    live: ClusterState, cli_runner: Any, clusterous_home: Path
) -> None:
    seed_prices(clusterous_home)
    kept = plant_volume("volume", 50, **{"clusterous:keep": "true"})
    result = cli_runner("ls-clusters", "--all-regions")
    assert result.exit_code == 0, result.output
    assert f"{ELSEWHERE}: 1 found" in result.stderr and "regions, 6 at a time" in result.stderr
    lines = result.stdout.splitlines()
    first = lines.index(next(line for line in lines if kept in line))
    assert lines[first].startswith(f"LEFTOVER  {ELSEWHERE}  {OLD}  volume {kept}  50 GiB gp3")
    assert lines[first].endswith("$4.80 a month")
    assert lines[first + 1] == f"  remove: clusterous rm-volume {kept} --region {ELSEWHERE}"
    (live_line,) = [line for line in lines if line.startswith("live")]
    assert f"{REGION}  {CLUSTER}  5 instance, 1 registry-prefix" in live_line
    assert "+ 3 of unknown price" in live_line  # the t3.large nodes: no price seeded
    assert f"  remove: clusterous destroy {CLUSTER}" in lines
    assert lines[-1].startswith("1 leftover(s), about $4.80 a month")


def test_a_region_that_refuses_is_skipped_with_a_note_and_the_others_still_count(
    live: ClusterState, cli_runner: Any, faulty_aws: Faults
) -> None:
    kept = plant_volume("volume", 5, **{"clusterous:keep": "true"})
    faulty_aws.set(
        {"action": "DescribeInstances", "code": "UnauthorizedOperation", "region": "us-west-2"},
        NO_PRICE_LIST,
        enabled_regions(*ENABLED),
    )
    put("clusterous/gone/docker/registry/v2/blobs/a", 10)  # all its cluster left
    found = scan(cli_runner)
    prefix = by_id(found)[f"s3://{BUCKET}/clusterous/gone/"]
    assert prefix["remove_with"] == f"clusterous destroy gone --region {REGION}"  # the profile's
    assert list(found["skipped"]) == ["us-west-2"]
    assert "not allowed to call ec2:DescribeInstances" in found["skipped"]["us-west-2"]
    assert by_id(found)[kept]["monthly_usd"] is None  # no price to be had: never guessed
    assert prefix["monthly_usd"] is None and found["leftovers_of_unknown_price"] == 2
    text = cli_runner("ls-clusters", "--all-regions")
    assert text.exit_code == 0 and "skipped us-west-2" in text.stderr
    assert "price unknown" in text.stdout


def test_without_describe_regions_every_region_of_the_partition_is_looked_through(
    live: ClusterState, cli_runner: Any, faulty_aws: Faults
) -> None:
    kept = plant_volume("volume", 5, **{"clusterous:keep": "true"})
    faulty_aws.set(
        NO_PRICE_LIST,
        {"action": "DescribeRegions", "code": "UnauthorizedOperation"},
        # the regions not enabled refuse (moto would answer, slowly, for all 34)
        *(
            {"action": "DescribeInstances", "code": "OptInRequired", "region": region}
            for region in known_regions_but(*ENABLED)
        ),
    )
    result = cli_runner("ls-clusters", "--all-regions", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert "not allowed to call ec2:DescribeRegions" in result.stderr
    assert set(found["regions"]) > set(ENABLED) and by_id(found)[kept]["live"] is False
    assert set(found["skipped"]) == set(found["regions"]) - set(ENABLED)


def known_regions_but(*regions: str) -> list[str]:
    import boto3

    known = boto3.session.Session().get_available_regions("ec2", partition_name="aws")
    return [r for r in known if r not in regions]


def test_a_leftover_named_like_a_cluster_here_gets_an_aws_command_and_destroy_refuses(
    live: ClusterState, cli_runner: Any
) -> None:
    twin = plant_volume("volume", 5, cluster=CLUSTER)
    finding = by_id(scan(cli_runner))[twin]
    assert finding["live"] is False
    assert (
        finding["remove_with"] == f"aws ec2 delete-volume --volume-id {twin} --region {ELSEWHERE}"
    )
    refused = cli_runner("destroy", CLUSTER, "--region", ELSEWHERE, "--yes", "--delete-volume")
    assert refused.exit_code == 2
    assert (
        f"cluster '{CLUSTER}' of this machine is in {REGION}, not in {ELSEWHERE}" in refused.stderr
    )


def test_a_leftover_named_like_a_local_cluster_here_is_never_destroyed_by_that_name(
    account: Account, faulty_aws: Faults, cli_runner: Any, clusterous_home: Path
) -> None:
    Ledger(Home(clusterous_home), OLD).create(ClusterState(OLD, "local", "local"))
    faulty_aws.set(NO_PRICE_LIST, enabled_regions(*ENABLED))
    twin = plant_volume("volume", 5)
    finding = by_id(scan(cli_runner))[twin]
    assert finding["live"] is False and finding["remove_with"].startswith("aws ec2 delete-volume")
    refused = cli_runner("destroy", OLD, "--region", ELSEWHERE, "--yes", "--delete-volume")
    assert refused.exit_code == 2 and "on the local provider" in refused.stderr
    assert Ledger(Home(clusterous_home), OLD).exists()  # the local cluster was not touched


def test_all_regions_on_a_local_profile_says_it_needs_an_aws_one(cli_runner: Any) -> None:
    result = cli_runner("ls-clusters", "--all-regions")
    assert result.exit_code == 2
    assert "looks through an AWS account" in result.stderr and "--profile" in result.stderr


def test_without_all_regions_ls_clusters_is_as_before(live: ClusterState, cli_runner: Any) -> None:
    plant_volume("volume", 5)
    listed = json.loads(cli_runner("ls-clusters", "--json").stdout)
    assert [c["name"] for c in listed] == [CLUSTER]
