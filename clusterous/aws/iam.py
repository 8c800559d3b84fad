"""The controller's IAM role and instance profile, scoped to the cluster's registry prefix.

The registry on the controller stores images in the profile's S3 bucket under
``clusterous/<cluster>/``; AWS credentials never go to the cluster (DESIGN
section 2), so the controller gets an instance role allowed exactly that prefix
and nothing else. IAM names are global to the account, so they carry the
region; they live under the path ``/clusterous/`` and carry the cluster tags,
so a sweep finds them by name and by tag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from clusterous.aws.clients import Clients
from clusterous.aws.tags import CLUSTER_TAG, tag_list, tags_of

IAM_PATH = "/clusterous/"
GONE = frozenset({"NoSuchEntity"})


@dataclass(frozen=True)
class ControllerIdentity:
    role: str
    instance_profile: str


def registry_prefix(cluster: str) -> str:
    return f"clusterous/{cluster}"


def role_name(cluster: str, region: str) -> str:
    return f"clusterous-{region}-{cluster}"[:64]


def trust_policy() -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def registry_policy(bucket: str, cluster: str) -> str:
    """Objects under the cluster's prefix; listing the bucket only within that prefix.

    Listing unfinished uploads cannot be limited to a prefix (the action has
    no ``s3:prefix`` condition key): it shows upload ids and keys, not data.
    """
    prefix = registry_prefix(cluster)
    statements = [
        {
            "Sid": "RegistryObjects",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": f"arn:aws:s3:::{bucket}/{prefix}/*",
        },
        {
            "Sid": "RegistryListing",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": f"arn:aws:s3:::{bucket}",
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*", prefix]}},
        },
        {
            # s3:prefix is no condition key of this action (AWS would never match it)
            "Sid": "RegistryUploads",
            "Effect": "Allow",
            "Action": ["s3:ListBucketMultipartUploads"],
            "Resource": f"arn:aws:s3:::{bucket}",
        },
        {
            "Sid": "RegistryBucketLocation",
            "Effect": "Allow",
            "Action": "s3:GetBucketLocation",
            "Resource": f"arn:aws:s3:::{bucket}",
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class Iam:
    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def create_controller_role(
        self, name: str, bucket: str, cluster: str, tags: dict[str, str]
    ) -> None:
        self.clients.call(
            "iam:CreateRole",
            "create_role",
            ignore=frozenset({"EntityAlreadyExists"}),
            RoleName=name,
            Path=IAM_PATH,
            AssumeRolePolicyDocument=trust_policy(),
            Description=f"clusterous cluster {cluster}: registry storage in s3://{bucket}",
            Tags=tag_list(tags),
        )
        self.clients.call(
            "iam:PutRolePolicy",
            "put_role_policy",
            RoleName=name,
            PolicyName="registry-storage",
            PolicyDocument=registry_policy(bucket, cluster),
        )

    def create_instance_profile(self, name: str, tags: dict[str, str]) -> None:
        self.clients.call(
            "iam:CreateInstanceProfile",
            "create_instance_profile",
            ignore=frozenset({"EntityAlreadyExists"}),
            InstanceProfileName=name,
            Path=IAM_PATH,
            Tags=tag_list(tags),
        )
        self.clients.call(
            "iam:AddRoleToInstanceProfile",
            "add_role_to_instance_profile",
            ignore=frozenset({"LimitExceeded", "EntityAlreadyExists"}),
            InstanceProfileName=name,
            RoleName=name,
        )

    def role_policy(self, name: str) -> dict[str, Any]:
        answer = self.clients.call(
            "iam:GetRolePolicy", "get_role_policy", RoleName=name, PolicyName="registry-storage"
        )
        document = answer["PolicyDocument"]
        return json.loads(document) if isinstance(document, str) else dict(document)

    def controller_identity_exists(self, name: str) -> bool:
        """Whether the role or the instance profile ``name`` exists (a sweep removes either)."""
        role = self.clients.call("iam:GetRole", "get_role", GONE, RoleName=name)
        profile = self.clients.call(
            "iam:GetInstanceProfile", "get_instance_profile", GONE, InstanceProfileName=name
        )
        return bool(role) or bool(profile)

    def delete_controller_identity(self, name: str) -> bool:
        """Instance profile, then the role's policies, then the role; gone is success.

        Returns whether there was anything to delete.
        """
        profile = self.clients.call(
            "iam:GetInstanceProfile", "get_instance_profile", GONE, InstanceProfileName=name
        )
        for role in profile.get("InstanceProfile", {}).get("Roles", []):
            self.clients.call(
                "iam:RemoveRoleFromInstanceProfile",
                "remove_role_from_instance_profile",
                ignore=GONE,
                InstanceProfileName=name,
                RoleName=role["RoleName"],
            )
        deleted = self.clients.call(
            "iam:DeleteInstanceProfile",
            "delete_instance_profile",
            ignore=GONE,
            InstanceProfileName=name,
        )
        policies = self.clients.call(
            "iam:ListRolePolicies", "list_role_policies", GONE, RoleName=name
        )
        for policy in policies.get("PolicyNames", []):
            self.clients.call(
                "iam:DeleteRolePolicy",
                "delete_role_policy",
                ignore=GONE,
                RoleName=name,
                PolicyName=policy,
            )
        deleted_role = self.clients.call(
            "iam:DeleteRole", "delete_role", ignore=GONE, RoleName=name
        )
        return bool(deleted) or bool(deleted_role)

    def find_cluster_identities(self, cluster: str | None = None) -> dict[str, str]:
        """Role and instance-profile names under our path → their cluster tag (by tag)."""
        found: dict[str, str] = {}
        roles = self.clients.pages("iam:ListRoles", "list_roles", "Roles", PathPrefix=IAM_PATH)
        ours = f"clusterous-{self.clients.region}-"
        for role in (r for r in roles if str(r["RoleName"]).startswith(ours)):
            tags = self.clients.call(
                "iam:ListRoleTags", "list_role_tags", GONE, RoleName=role["RoleName"]
            )
            owner = tags_of(tags).get(CLUSTER_TAG)
            if owner and (cluster is None or owner == cluster):
                found[f"role {role['RoleName']}"] = owner
        found.update(self._instance_profiles(cluster))
        return found

    def _instance_profiles(self, cluster: str | None) -> dict[str, str]:
        found: dict[str, str] = {}
        profiles = self.clients.pages(
            "iam:ListInstanceProfiles",
            "list_instance_profiles",
            "InstanceProfiles",
            PathPrefix=IAM_PATH,
        )
        ours = f"clusterous-{self.clients.region}-"
        for profile in (p for p in profiles if str(p["InstanceProfileName"]).startswith(ours)):
            owner = tags_of(profile).get(CLUSTER_TAG)
            if owner is None:
                owner = self._profile_owner(profile["InstanceProfileName"])
            if owner and (cluster is None or owner == cluster):
                found[f"instance-profile {profile['InstanceProfileName']}"] = owner
        return found

    def _profile_owner(self, name: str) -> str | None:
        tags = self.clients.call(
            "iam:ListInstanceProfileTags",
            "list_instance_profile_tags",
            GONE,
            InstanceProfileName=name,
        )
        return tags_of(tags).get(CLUSTER_TAG)
