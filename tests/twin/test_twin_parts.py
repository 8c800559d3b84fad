"""The twin's own logic, without Docker: reading AWS calls, address stand-ins, IMDS answers."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from twin.addresses import PublicAddresses
from twin.awsquery import launched_instances, read_call, rewrite_public_addresses
from twin.imds import InstanceMetadata, MetadataServer, answer
from twin.materialise import boot_files
from twin.shutdown import shut_down_instance

AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKID/20261202/eu-west-1/ec2/aws4_request, "
    "SignedHeaders=host, Signature=abc"
)
FORM = {"Authorization": AUTH, "Content-Type": "application/x-www-form-urlencoded"}


def test_a_query_call_names_its_service_region_action_and_numbered_values() -> None:
    body = b"Action=TerminateInstances&InstanceId.2=i-2&InstanceId.1=i-1&Version=2016-11-15"
    call = read_call(FORM, body)
    assert (call.service, call.region, call.action) == ("ec2", "eu-west-1", "TerminateInstances")
    assert call.values("InstanceId") == ["i-1", "i-2"]


def test_a_call_that_is_not_a_form_has_no_action() -> None:
    call = read_call({"Authorization": AUTH.replace("/ec2/", "/s3/")}, b"\x00binary layer")
    assert (call.service, call.action) == ("s3", "")


def test_run_instances_answers_list_the_new_instances_in_order() -> None:
    answer_xml = b"<instancesSet><item><instanceId>i-0a</instanceId></item>"
    answer_xml += b"<item><instanceId>i-0b</instanceId></item></instancesSet>"
    assert launched_instances(answer_xml) == ["i-0a", "i-0b"]


def test_public_addresses_become_stable_loopback_stand_ins_and_private_ones_stay() -> None:
    addresses = PublicAddresses()
    xml = (
        b"<privateIpAddress>10.0.0.4</privateIpAddress><ipAddress>54.1.2.3</ipAddress>"
        b"<association><publicIp>54.1.2.3</publicIp></association><ipAddress>3.3.3.3</ipAddress>"
    )
    rewritten = rewrite_public_addresses(xml, addresses.loopback_for)
    assert rewritten == (
        b"<privateIpAddress>10.0.0.4</privateIpAddress><ipAddress>127.77.0.1</ipAddress>"
        b"<association><publicIp>127.77.0.1</publicIp></association>"
        b"<ipAddress>127.77.0.2</ipAddress>"
    )
    assert addresses.loopback_for("54.1.2.3") == "127.77.0.1"


def meta(role: str = "clusterous-eu-west-1-lab") -> InstanceMetadata:
    keys = {"AccessKeyId": "A", "SecretAccessKey": "S", "Token": "T", "Expiration": "E"}
    return InstanceMetadata(
        "i-1",
        2,
        "eu-west-1",
        "eu-west-1a",
        "127.0.0.1",
        "t3.medium",
        role=role,
        credentials=lambda: dict(keys),
    )


def test_metadata_paths_answer_as_ec2_does() -> None:
    assert answer(meta(), "/latest/meta-data/instance-id") == ("i-1", "text/plain")
    assert answer(meta(), "/latest/meta-data/ami-launch-index") == ("2", "text/plain")
    assert answer(meta(), "/latest/meta-data/placement/region") == ("eu-west-1", "text/plain")
    assert answer(meta(), "/latest/meta-data/nothing-here") is None


def test_role_credentials_are_listed_then_given_for_that_role_only() -> None:
    listing = answer(meta(), "/latest/meta-data/iam/security-credentials/")
    assert listing == ("clusterous-eu-west-1-lab", "text/plain")
    found = answer(meta(), "/latest/meta-data/iam/security-credentials/clusterous-eu-west-1-lab")
    assert found is not None
    assert json.loads(found[0])["AccessKeyId"] == "A"
    assert answer(meta(), "/latest/meta-data/iam/security-credentials/other") is None
    assert answer(meta(role=""), "/latest/meta-data/iam/security-credentials/") is None


@pytest.fixture
def imds() -> Iterator[str]:
    server = MetadataServer(("127.0.0.1", 0))
    server.register(meta())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_imdsv2_needs_a_token_and_tells_its_ttl_back(imds: str) -> None:
    put = urllib.request.Request(
        f"{imds}/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"},
    )
    with urllib.request.urlopen(put) as reply:
        token = reply.read().decode()
        assert reply.headers["X-aws-ec2-metadata-token-ttl-seconds"] == "21600"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{imds}/latest/meta-data/instance-id")
    assert refused.value.code == 401
    get = urllib.request.Request(
        f"{imds}/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": token}
    )
    with urllib.request.urlopen(get) as reply:
        assert reply.read() == b"i-1"


def test_a_node_redirects_the_metadata_address_before_cloud_init_runs() -> None:
    files = boot_files("10.0.0.1", ("100.77.0.1", 8123))
    script = files["usr/local/sbin/clusterous-twin-network"][0].decode()
    assert (
        "-d 169.254.169.254/32 -p tcp --dport 80 -j DNAT --to-destination 100.77.0.1:8123" in script
    )
    drop_ins = [path for path in files if path.endswith(".service.d/clusterous-twin.conf")]
    assert sorted(drop_ins) == [
        "etc/systemd/system/cloud-init-local.service.d/clusterous-twin.conf",
        "etc/systemd/system/cloud-init.service.d/clusterous-twin.conf",
    ]
    assert "etc/clusterous/data-from-host" in files


def die_event(exit_code: str, instance: str = "i-0a") -> dict[str, object]:
    labels = {"clusterous.twin": "t1", "clusterous.twin.instance": instance}
    return {"Action": "die", "Actor": {"Attributes": {"exitCode": exit_code, **labels}}}


def test_only_a_node_that_exits_with_status_0_shut_itself_down() -> None:
    assert shut_down_instance(die_event("0"), "clusterous.twin") == "i-0a"
    assert shut_down_instance(die_event("130"), "clusterous.twin") == ""  # the engine stopped it
    assert shut_down_instance(die_event("137"), "clusterous.twin") == ""  # the twin removed it
    assert shut_down_instance({**die_event("0"), "Action": "start"}, "clusterous.twin") == ""
