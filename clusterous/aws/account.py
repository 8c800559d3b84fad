"""Account-level AWS calls, named for what the setup wizard needs.

Who am I (STS), is this EC2 key pair there, import one, make sure the
registry's S3 bucket exists and is tagged. Each method wraps its boto3 calls
in ``aws_errors`` so callers only ever see ClusterousErrors, and each one is
idempotent: asking twice reuses what the first call made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clusterous.aws.errors import aws_errors, error_code
from clusterous.aws.session import AwsSession
from clusterous.aws.tags import tag_list, tags_of
from clusterous.errors import InputError

REGISTRY_BUCKET_TAGS = {"clusterous:role": "registry-bucket"}
KEY_PAIR_TAGS = {"clusterous:role": "key-pair"}
US_EAST_1 = "us-east-1"


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    arn: str


@dataclass(frozen=True)
class KeyPairInfo:
    name: str
    key_pair_id: str


class AwsAccount:
    """The account behind one AwsSession."""

    def __init__(self, session: AwsSession) -> None:
        self.session = session

    @property
    def region(self) -> str:
        return self.session.region

    def _errors(self, action: str, resource: str | None = None) -> Any:
        return aws_errors(
            action,
            aws_profile=self.session.credentials.aws_profile,
            region=self.region,
            resource=resource,
        )

    # ------------------------------------------------------------ identity

    def caller_identity(self) -> CallerIdentity:
        with self._errors("sts:GetCallerIdentity"):
            answer = self.session.client("sts").get_caller_identity()
        return CallerIdentity(account=str(answer["Account"]), arn=str(answer["Arn"]))

    # ------------------------------------------------------------ key pairs

    def find_key_pair(self, name: str) -> KeyPairInfo | None:
        with self._errors("ec2:DescribeKeyPairs", name):
            pairs = _describe_key_pairs(self.session.client("ec2"), name)
        return pairs[0] if pairs else None

    def import_key_pair(self, name: str, public_key: str) -> KeyPairInfo:
        """Import an OpenSSH public key; importing a name that exists returns that pair."""
        ec2 = self.session.client("ec2")
        with self._errors("ec2:ImportKeyPair", name):
            try:
                answer = ec2.import_key_pair(
                    KeyName=name,
                    PublicKeyMaterial=public_key.encode(),
                    TagSpecifications=[
                        {"ResourceType": "key-pair", "Tags": tag_list(KEY_PAIR_TAGS)}
                    ],
                )
            except Exception as problem:
                if error_code(problem) != "InvalidKeyPair.Duplicate":
                    raise
                return _describe_key_pairs(ec2, name)[0]
        return KeyPairInfo(name=str(answer["KeyName"]), key_pair_id=str(answer["KeyPairId"]))

    # ------------------------------------------------------------ buckets

    def ensure_bucket(self, name: str) -> bool:
        """Make sure ``name`` exists in our region and carries the registry tag.

        Returns True when this call created it. A bucket of ours is reused; a
        name owned by another account raises BucketTakenError.
        """
        existed = self._bucket_exists(name)
        # CreateBucket is the ownership check: AWS answers BucketAlreadyExists for a name of
        # another account even when that bucket is readable (HeadBucket would succeed)
        created = self._create_bucket(name) and not existed
        self._check_bucket_region(name)
        self._merge_bucket_tags(name, REGISTRY_BUCKET_TAGS)
        return created

    def _bucket_exists(self, name: str) -> bool:
        s3 = self.session.client("s3")
        with self._errors("s3:ListBucket", name):
            try:
                s3.head_bucket(Bucket=name)
            except Exception as problem:
                code = error_code(problem)
                if code in ("404", "NoSuchBucket", "NotFound"):
                    return False
                if code in ("403", "AccessDenied", "Forbidden"):
                    return True
                raise
        return True

    def _create_bucket(self, name: str) -> bool:
        s3 = self.session.client("s3")
        with self._errors("s3:CreateBucket", name):
            try:
                s3.create_bucket(**create_bucket_arguments(name, self.region))
            except Exception as problem:
                if error_code(problem) != "BucketAlreadyOwnedByYou":
                    raise
                return False
        return True

    def _check_bucket_region(self, name: str) -> None:
        with self._errors("s3:GetBucketLocation", name):
            answer = self.session.client("s3").get_bucket_location(Bucket=name)
        region = answer.get("LocationConstraint") or US_EAST_1
        if region != self.region:
            raise InputError(
                f"the S3 bucket {name!r} is in region {region}, not in {self.region}",
                "the registry's storage must be in the cluster's region",
                f"choose another --bucket, or use --region {region}",
            )

    def _merge_bucket_tags(self, name: str, wanted: dict[str, str]) -> None:
        """Add our tags without dropping the ones the bucket already has."""
        s3 = self.session.client("s3")
        with self._errors("s3:GetBucketTagging", name):
            current = _bucket_tags(s3, name)
        if all(current.get(key) == value for key, value in wanted.items()):
            return
        with self._errors("s3:PutBucketTagging", name):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list({**current, **wanted})})


def create_bucket_arguments(name: str, region: str) -> dict[str, Any]:
    """us-east-1 takes no LocationConstraint (AWS refuses one); every other region needs it."""
    if region == US_EAST_1:
        return {"Bucket": name}
    return {"Bucket": name, "CreateBucketConfiguration": {"LocationConstraint": region}}


def _describe_key_pairs(ec2: Any, name: str) -> list[KeyPairInfo]:
    try:
        answer = ec2.describe_key_pairs(KeyNames=[name])
    except Exception as problem:
        if error_code(problem) == "InvalidKeyPair.NotFound":
            return []
        raise
    return [
        KeyPairInfo(name=str(pair["KeyName"]), key_pair_id=str(pair.get("KeyPairId", "")))
        for pair in answer.get("KeyPairs", [])
    ]


def _bucket_tags(s3: Any, name: str) -> dict[str, str]:
    try:
        answer = s3.get_bucket_tagging(Bucket=name)
    except Exception as problem:
        if error_code(problem) == "NoSuchTagSet":
            return {}
        raise
    return tags_of(answer, "TagSet")
