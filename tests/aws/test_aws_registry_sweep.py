"""destroy empties the registry's S3 prefix (moto): objects, unfinished uploads, and nothing else.

The registry on the controller stores its layers under
``s3://BUCKET/clusterous/CLUSTER/``; they bill after the instances are gone,
so the sweep removes them (or keeps them with ``keep_images``, listed with
their size), and the re-listing looks at the prefix too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterous.aws import registry_store
from clusterous.home import Home
from clusterous.manager.destroy import destroy_cluster
from clusterous.manager.ledger import Ledger
from clusterous.manager.report import SilentReporter
from clusterous.providers.base import SweepResult
from clusterous.records import ClusterState
from tests.aws.faults import Faults
from tests.aws.provider_fixtures import (
    BUCKET,
    CLUSTER,
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

PREFIX = f"clusterous/{CLUSTER}/"
NEIGHBOUR = f"clusterous/{CLUSTER}-2/docker/registry/v2/blobs/keep-me"  # another cluster's


def destroy(home: Path, account: Account, keep_images: bool = False) -> SweepResult:
    provider = make_provider(home, account.profile)
    ledger = Ledger(Home(home), CLUSTER)
    return destroy_cluster(CLUSTER, provider, ledger, False, SilentReporter(), keep_images)


def put_layers(count: int, size: int = 10) -> None:
    s3 = boto("s3")
    for n in range(count):
        key = f"{PREFIX}docker/registry/v2/blobs/sha256/{n:04d}/data"
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x" * size)


def start_upload() -> str:
    key = f"{PREFIX}docker/registry/v2/repositories/app/_uploads/u1/data"
    answer = boto("s3").create_multipart_upload(Bucket=BUCKET, Key=key)
    return str(answer["UploadId"])


def keys(prefix: str = PREFIX) -> list[str]:
    pages = boto("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def uploads() -> list[str]:
    answer = boto("s3").list_multipart_uploads(Bucket=BUCKET, Prefix=PREFIX)
    return [u["UploadId"] for u in answer.get("Uploads", [])]


@pytest.fixture
def created(account: Account, clusterous_home: Path) -> ClusterState:
    state = create(clusterous_home, make_provider(clusterous_home, account.profile))
    boto("s3").put_object(Bucket=BUCKET, Key=NEIGHBOUR, Body=b"theirs")
    return state


def test_destroy_deletes_every_object_and_aborts_unfinished_uploads_under_the_prefix(
    created: ClusterState, account: Account, clusterous_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_store, "PAGE", 2)  # several listing pages,
    monkeypatch.setattr(registry_store, "DELETE_BATCH", 2)  # several DeleteObjects
    put_layers(5)
    start_upload()
    start_upload()
    start_upload()
    assert len(keys()) == 5 and len(uploads()) == 3

    result = destroy(clusterous_home, account)

    assert result.leftovers == []
    assert f"registry-prefix s3://{BUCKET}/{PREFIX}" in result.removed
    assert keys() == [] and uploads() == []
    assert keys(f"clusterous/{CLUSTER}-2/") == [NEIGHBOUR]  # a prefix is not a substring
    assert tagged_resources() == []


def test_keep_images_keeps_the_prefix_listed_as_kept_with_its_size(
    created: ClusterState, account: Account, clusterous_home: Path
) -> None:
    put_layers(3, size=2000)
    upload = start_upload()

    result = destroy(clusterous_home, account, keep_images=True)

    assert result.leftovers == []
    assert len(keys()) == 3 and uploads() == [upload]
    (kept,) = [k for k in result.kept if "registry images" in k]
    assert f"s3://{BUCKET}/{PREFIX}" in kept
    assert "3 object(s), 6.0 KB, 1 unfinished upload(s)" in kept
    assert not any(r.startswith("registry-prefix") for r in result.removed)
    assert tagged_resources() == []


def test_an_empty_prefix_is_nothing_to_remove_and_a_second_destroy_finds_nothing(
    created: ClusterState, account: Account, clusterous_home: Path
) -> None:
    first = destroy(clusterous_home, account)
    assert not any(r.startswith("registry-prefix") for r in first.removed)
    put_layers(1)  # written after the first destroy (say, by a registry still running)
    second = destroy(clusterous_home, account)
    assert second.removed == [f"registry-prefix s3://{BUCKET}/{PREFIX}"]
    assert second.leftovers == [] and keys() == []


def test_a_refused_delete_leaves_the_prefix_listed_with_the_reason(
    created: ClusterState, account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    put_layers(2)
    faulty_aws.set(
        {"action": "", "contains": "<Object><Key>", "code": "AccessDenied", "status": 403}
    )

    result = destroy(clusterous_home, account)

    (left,) = result.leftovers
    assert (left.kind, left.id) == ("registry-prefix", f"s3://{BUCKET}/{PREFIX}")
    assert faulty_aws.report()["injected"] >= 1
    assert "s3:DeleteObject" in left.why and len(keys()) == 2
    assert Ledger(Home(clusterous_home), CLUSTER).exists()  # kept until nothing is left


def test_a_prefix_s3_refuses_to_list_is_a_leftover_and_every_other_phase_still_runs(
    created: ClusterState, account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    put_layers(2)
    # a bucket policy denying s3:ListBucket: every listing of the prefix answers AccessDenied
    faulty_aws.set({"action": "", "code": "AccessDenied", "status": 403})  # S3's REST calls

    result = destroy(clusterous_home, account)

    assert faulty_aws.report()["injected"] >= 2  # the phase's listing and the re-listing
    (left,) = result.leftovers
    assert (left.kind, left.id) == ("registry-prefix", f"s3://{BUCKET}/{PREFIX}")
    assert "not allowed to call s3:ListBucket" in left.why
    assert f"aws s3 rm --recursive s3://{BUCKET}/{PREFIX}" in left.why  # what to do
    assert tagged_resources() == []  # volumes, network and IAM went all the same
    assert any(r.startswith("vpc ") for r in result.removed)
    faulty_aws.clear()
    assert len(keys()) == 2
    assert Ledger(Home(clusterous_home), CLUSTER).exists()  # kept until nothing is left
