"""Instances: one run_instances per launch, all or nothing; waits, states, termination."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clusterous.aws.ec2.common import GONE_CODES, NOT_FOUND_CODES, Ec2Api, epoch_of
from clusterous.aws.errors import aws_errors, error_code, error_message
from clusterous.aws.tags import CLUSTER_TAG, ROLE_TAG, tag_spec, tags_of
from clusterous.errors import ClusterousError

ALIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")
THROTTLING_CODES = frozenset({"RequestLimitExceeded", "Throttling", "ServiceUnavailable"})
THROTTLED_LAUNCH_ATTEMPTS = 10
STATUS_BATCH = 100
IAM_PROPAGATION_SECONDS = 120.0  # a new instance profile reaches EC2 within about a minute
IAM_RETRY_PAUSE = 5.0
CAPACITY_CODES = frozenset({"InsufficientInstanceCapacity", "Unsupported"})
SPOT_QUOTA_CODE = "MaxSpotInstanceCountExceeded"
QUOTAS = {
    "InstanceLimitExceeded": "Running On-Demand instances (EC2 service quota)",
    "VcpuLimitExceeded": "Running On-Demand vCPUs for this instance family (EC2 service quota)",
    SPOT_QUOTA_CODE: "All Standard Spot Instance Requests (EC2 service quota)",
}


class CapacityError(ClusterousError):
    """AWS has no capacity for an instance type in one availability zone right now."""

    def __init__(self, instance_type: str, zone: str, spot: bool, detail: str) -> None:
        self.instance_type = instance_type
        self.zone = zone
        self.spot = spot
        market = "spot" if spot else "on-demand"
        super().__init__(
            f"AWS has no {market} capacity for {instance_type} in {zone} right now",
            detail,
            "try again later, pick another instance type, or allow spot_fallback: on-demand",
        )


class QuotaError(ClusterousError):
    """An account quota stops the launch; ``spot`` when it is the quota of spot requests."""

    def __init__(
        self, quota: str, instance_type: str, region: str, detail: str, spot: bool = False
    ) -> None:
        self.quota = quota
        self.spot = spot
        super().__init__(
            f"launching {instance_type} in {region} exceeds your quota {quota!r}",
            detail,
            f"ask AWS for a higher limit in the Service Quotas console ({region}), "
            "or ask for fewer or smaller instances",
        )


@dataclass(frozen=True)
class Instance:
    id: str
    state: str
    instance_type: str
    zone: str
    launch_index: int
    private_ip: str = ""
    public_ip: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    key_name: str = ""
    spot: bool = False
    launched_at: float = 0.0  # epoch seconds: its last launch or start (EC2's LaunchTime)
    state_reason: str = ""  # EC2's StateReason message: why it stopped or terminated


@dataclass(frozen=True)
class LaunchSpec:
    """One run_instances call: ``count`` identical instances, all or nothing."""

    image_id: str
    instance_type: str
    count: int
    subnet_id: str
    zone: str
    security_group_id: str
    user_data: bytes
    tags: dict[str, str]
    root_device: str
    root_gib: int = 20
    key_name: str | None = None
    instance_profile: str | None = None
    spot: bool = False
    public_ip: bool = True
    instance_tags: dict[str, str] = field(default_factory=dict)  # on the instances only


class InstanceCalls(Ec2Api):
    def run_cluster_instances(self, spec: LaunchSpec) -> list[Instance]:
        """One run_instances for the whole batch (MinCount = MaxCount = count)."""
        from botocore.exceptions import ClientError

        with aws_errors("ec2:RunInstances", region=self.region, resource=spec.instance_type):
            try:
                answer = self._run_retrying_iam(spec)
            except ClientError as problem:
                failure = self._launch_failure(problem, spec)
                if failure is None:
                    raise
                raise failure from problem
        return [instance_of(i) for i in answer.get("Instances", [])]

    def _run_retrying_iam(self, spec: LaunchSpec) -> dict[str, Any]:
        """RunInstances, retried here rather than by botocore.

        botocore would retry InsufficientInstanceCapacity (an HTTP 500) ten
        times with growing pauses; the provider wants it at once, to try another
        zone. Throttling is retried here a few times; a fresh instance profile
        that EC2 does not know yet (IAM takes seconds to propagate), or a subnet
        or group EC2 does not see yet, until a deadline.
        """
        from botocore.exceptions import ClientError

        client = self.clients.get("ec2", attempts=1)
        deadline = self.clock() + IAM_PROPAGATION_SECONDS
        throttled = 0
        while True:
            try:
                answer: dict[str, Any] = client.run_instances(**run_arguments(spec))
                return answer
            except ClientError as problem:
                if error_code(problem) in THROTTLING_CODES:
                    throttled += 1
                    if throttled >= THROTTLED_LAUNCH_ATTEMPTS:
                        raise
                    self.sleep(min(20.0, 0.5 * 2**throttled))
                elif not_ready_yet(problem) and self.clock() + IAM_RETRY_PAUSE <= deadline:
                    self.sleep(IAM_RETRY_PAUSE)
                else:
                    raise

    def _launch_failure(self, problem: Exception, spec: LaunchSpec) -> ClusterousError | None:
        code = error_code(problem)
        detail = error_message(problem)
        if code in CAPACITY_CODES:
            return CapacityError(spec.instance_type, spec.zone, spec.spot, detail)
        if code in QUOTAS:
            spot = code == SPOT_QUOTA_CODE
            return QuotaError(QUOTAS[code], spec.instance_type, self.region, detail, spot)
        return None

    def wait_running(self, ids: Sequence[str], deadline: float) -> list[Instance]:
        """Poll until every instance is running (addresses assigned)."""
        while True:
            found = self.describe_instances(ids)
            states = {i.state for i in found}
            if len(found) == len(ids) and states == {"running"}:
                return found
            dead = [i.id for i in found if i.state in ("terminated", "shutting-down")]
            if dead:
                raise ClusterousError(
                    f"instances stopped right after launch: {', '.join(dead)}",
                    "AWS terminated them (a spot interruption, or a bad image)",
                    "see the EC2 console's state-transition reason, then create again",
                )
            if self.clock() >= deadline:
                raise ClusterousError(
                    "instances did not reach the running state in time",
                    ", ".join(f"{i.id}: {i.state}" for i in found),
                    "raise --timeout, or look at them in the EC2 console",
                )
            self.sleep(2)

    def describe_instances(self, ids: Sequence[str]) -> list[Instance]:
        if not ids:
            return []
        reservations = self.clients.pages(
            "ec2:DescribeInstances",
            "describe_instances",
            "Reservations",
            Filters=[{"Name": "instance-id", "Values": list(ids)}],
        )
        return [instance_of(i) for r in reservations for i in r.get("Instances", [])]

    def instance_states(self, ids: Sequence[str]) -> dict[str, str]:
        """States only (a much smaller answer than describe_instances, for polling)."""
        states: dict[str, str] = {}
        for start in range(0, len(ids), STATUS_BATCH):
            chunk = list(ids[start : start + STATUS_BATCH])
            answer = self.clients.call(
                "ec2:DescribeInstanceStatus",
                "describe_instance_status",
                ignore={"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"},
                InstanceIds=chunk,
                IncludeAllInstances=True,
            )
            if not answer:  # one id is long gone: ask the slow way, which tolerates it
                states.update({i.id: i.state for i in self.describe_instances(chunk)})
                continue
            for status in answer.get("InstanceStatuses", []):
                states[str(status["InstanceId"])] = str(status["InstanceState"]["Name"])
        return states

    def tagged_instance_ids(self, cluster: str) -> list[str]:
        """Ids of the cluster's instances from their tags alone (a small answer)."""
        tags = self.clients.pages(
            "ec2:DescribeTags",
            "describe_tags",
            "Tags",
            Filters=[
                {"Name": "resource-type", "Values": ["instance"]},
                {"Name": "key", "Values": [CLUSTER_TAG]},
                {"Name": "value", "Values": [cluster]},
            ],
        )
        return sorted({str(t["ResourceId"]) for t in tags})

    def find_instances(
        self, filters: list[dict[str, Any]], states: Sequence[str] = ALIVE_STATES
    ) -> list[Instance]:
        reservations = self.clients.pages(
            "ec2:DescribeInstances",
            "describe_instances",
            "Reservations",
            Filters=[*filters, {"Name": "instance-state-name", "Values": list(states)}],
        )
        return [instance_of(i) for r in reservations for i in r.get("Instances", [])]

    def terminate_instances(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), 500):
            self.clients.call(
                "ec2:TerminateInstances",
                "terminate_instances",
                ignore=GONE_CODES,
                InstanceIds=list(ids[start : start + 500]),
            )

    def stop_instances(self, ids: Sequence[str]) -> None:
        """StopInstances (``clusterous stop``): root disks and addresses in the VPC stay."""
        for start in range(0, len(ids), 500):
            self.clients.call(
                "ec2:StopInstances", "stop_instances", InstanceIds=list(ids[start : start + 500])
            )

    def start_instances(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), 500):
            self.clients.call(
                "ec2:StartInstances", "start_instances", InstanceIds=list(ids[start : start + 500])
            )

    def wait_state(
        self,
        ids: Sequence[str],
        wanted: str,
        deadline: float,
        progress: Callable[[dict[str, str]], None] | None = None,
    ) -> dict[str, str]:
        """Poll until every instance is in state ``wanted``; returns those that are not.

        ``progress`` hears each poll's states (instance id -> state). An
        instance that is gone counts as "terminated".
        """
        waiting = list(ids)
        while waiting:
            states = self.instance_states(waiting)
            seen = {i: states.get(i, "terminated") for i in waiting}
            if progress is not None:
                progress(seen)
            waiting = [i for i in waiting if seen[i] != wanted]
            if not waiting or self.clock() >= deadline:
                return {i: seen[i] for i in waiting}
            self.sleep(3)
        return {}

    def wait_terminated(self, ids: Sequence[str], deadline: float) -> list[str]:
        """Poll until every instance is terminated; returns those that are not."""
        waiting = list(ids)
        while waiting:
            states = self.instance_states(waiting)
            waiting = [i for i in waiting if states.get(i, "terminated") != "terminated"]
            if not waiting or self.clock() >= deadline:
                break
            self.sleep(3)
        return waiting


def not_ready_yet(problem: Exception) -> bool:
    """A launch refused for what was made a moment ago: the instance profile, subnet, group."""
    code = error_code(problem)
    message = str(problem).lower()
    iam = code == "InvalidParameterValue" and (
        "iaminstanceprofile" in message or "instance profile" in message
    )
    return iam or code in NOT_FOUND_CODES


def instance_of(raw: dict[str, Any]) -> Instance:
    return Instance(
        id=str(raw["InstanceId"]),
        state=str(raw.get("State", {}).get("Name", "pending")),
        instance_type=str(raw.get("InstanceType", "")),
        zone=str(raw.get("Placement", {}).get("AvailabilityZone", "")),
        launch_index=int(raw.get("AmiLaunchIndex", 0)),
        private_ip=str(raw.get("PrivateIpAddress") or ""),
        public_ip=str(raw.get("PublicIpAddress") or ""),
        tags=tags_of(raw),
        key_name=str(raw.get("KeyName") or ""),
        spot=raw.get("InstanceLifecycle") == "spot",
        launched_at=epoch_of(raw.get("LaunchTime")),
        state_reason=str(raw.get("StateReason", {}).get("Message") or ""),
    )


def run_arguments(spec: LaunchSpec) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "ImageId": spec.image_id,
        "InstanceType": spec.instance_type,
        "MinCount": spec.count,
        "MaxCount": spec.count,
        "UserData": spec.user_data,
        "InstanceInitiatedShutdownBehavior": "terminate",  # the lease ends a node by shutdown
        "NetworkInterfaces": [
            {
                "DeviceIndex": 0,
                "SubnetId": spec.subnet_id,
                "Groups": [spec.security_group_id],
                "AssociatePublicIpAddress": spec.public_ip,
                "DeleteOnTermination": True,
            }
        ],
        "BlockDeviceMappings": [
            {
                "DeviceName": spec.root_device,
                "Ebs": {
                    "VolumeSize": spec.root_gib,
                    "VolumeType": "gp3",
                    "DeleteOnTermination": True,
                },
            }
        ],
        "MetadataOptions": {
            "HttpTokens": "required",  # IMDSv2 only
            "HttpPutResponseHopLimit": 1,  # bridged containers get no role credentials
            "HttpEndpoint": "enabled",
        },
        "TagSpecifications": [
            *tag_spec("instance", {**spec.tags, **spec.instance_tags}),
            *tag_spec("volume", {**spec.tags, ROLE_TAG: "root-disk"}),
        ],
    }
    if spec.key_name:
        arguments["KeyName"] = spec.key_name
    if spec.instance_profile:
        arguments["IamInstanceProfile"] = {"Name": spec.instance_profile}
    if spec.spot:
        arguments["InstanceMarketOptions"] = {
            "MarketType": "spot",
            "SpotOptions": {
                "SpotInstanceType": "one-time",
                "InstanceInterruptionBehavior": "terminate",
            },
        }
    return arguments
