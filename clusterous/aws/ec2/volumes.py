"""EBS volumes: the shared volume (made, or brought by the user), and the root disks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clusterous.aws.ec2.common import GONE_CODES, NOT_FOUND_CODES, Ec2Api, epoch_of
from clusterous.aws.tags import tag_list, tag_spec, tags_of
from clusterous.errors import ClusterousError


@dataclass(frozen=True)
class Volume:
    id: str
    zone: str
    size_gib: int
    state: str
    attached_to: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0  # epoch seconds
    volume_type: str = ""


class VolumeCalls(Ec2Api):
    def create_shared_volume(self, zone: str, size_gib: int, tags: dict[str, str]) -> str:
        answer = self.clients.call(
            "ec2:CreateVolume",
            "create_volume",
            AvailabilityZone=zone,
            Size=size_gib,
            VolumeType="gp3",
            Encrypted=True,
            TagSpecifications=tag_spec("volume", tags),
        )
        return str(answer["VolumeId"])

    def describe_volume(self, volume_id: str) -> Volume | None:
        answer = self.clients.call(
            "ec2:DescribeVolumes",
            "describe_volumes",
            ignore={"InvalidVolume.NotFound", "InvalidParameterValue"},
            VolumeIds=[volume_id],
        )
        volumes = answer.get("Volumes", [])
        return volume_of(volumes[0]) if volumes else None

    def find_volumes(self, filters: list[dict[str, Any]]) -> list[Volume]:
        found = self.clients.pages(
            "ec2:DescribeVolumes", "describe_volumes", "Volumes", Filters=filters
        )
        return [volume_of(v) for v in found]

    def wait_volume(self, volume_id: str, state: str, deadline: float) -> None:
        while True:
            volume = self.describe_volume(volume_id)
            if volume is None or volume.state == state:
                return
            if self.clock() >= deadline:
                raise ClusterousError(
                    f"volume {volume_id} did not become {state} in time",
                    f"it is {volume.state}",
                    "look at it in the EC2 console, then run the command again",
                )
            self.sleep(2)

    def attach_volume(self, volume_id: str, instance_id: str, device: str) -> None:
        self.clients.call(
            "ec2:AttachVolume",
            "attach_volume",
            wait_out=NOT_FOUND_CODES,
            VolumeId=volume_id,
            InstanceId=instance_id,
            Device=device,
        )

    def detach_volume(self, volume_id: str, instance_id: str) -> None:
        self.clients.call(
            "ec2:DetachVolume",
            "detach_volume",
            ignore=GONE_CODES | {"InvalidAttachment.NotFound", "IncorrectState"},
            VolumeId=volume_id,
            InstanceId=instance_id,
        )

    def tag_volume(self, volume_id: str, tags: dict[str, str]) -> None:
        self.clients.call(
            "ec2:CreateTags",
            "create_tags",
            Resources=[volume_id],
            Tags=tag_list(tags),
        )

    def delete_volume(self, volume_id: str) -> None:
        self.clients.call(
            "ec2:DeleteVolume", "delete_volume", ignore=GONE_CODES, VolumeId=volume_id
        )


def volume_of(raw: dict[str, Any]) -> Volume:
    return Volume(
        id=str(raw["VolumeId"]),
        zone=str(raw.get("AvailabilityZone", "")),
        size_gib=int(raw.get("Size", 0)),
        state=str(raw.get("State", "")),
        attached_to=tuple(
            str(a["InstanceId"])
            for a in raw.get("Attachments", [])
            if a.get("State") in ("attaching", "attached")
        ),
        tags=tags_of(raw),
        created_at=epoch_of(raw.get("CreateTime")),
        volume_type=str(raw.get("VolumeType", "")),
    )
