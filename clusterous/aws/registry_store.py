"""The registry's storage in S3: what is under a cluster's prefix, and removing all of it.

The registry on the controller stores image layers under
``s3://<bucket>/clusterous/<cluster>/`` (``iam.registry_prefix``). Those
objects bill after the instances are gone (DESIGN section 5), and so do the
parts of an upload the registry began and never finished, which no object
listing shows. Both are listed here, and both are removed: objects in batches
of up to 1000 (``DeleteObjects``), unfinished uploads one by one. A bucket
that no longer exists holds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clusterous.aws.clients import Clients
from clusterous.aws.ec2.common import epoch_of
from clusterous.aws.iam import registry_prefix
from clusterous.errors import ClusterousError

NO_BUCKET = ("NoSuchBucket",)
GONE_UPLOAD = ("NoSuchUpload", "NoSuchBucket")
DELETE_BATCH = 1000  # the most keys one DeleteObjects takes
PAGE = 1000  # keys or uploads per listing page (S3's most)


@dataclass
class PrefixContents:
    """The objects under a prefix (key -> bytes) and its unfinished uploads (key, upload id)."""

    objects: dict[str, int] = field(default_factory=dict)
    uploads: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.objects and not self.uploads

    @property
    def size(self) -> int:
        return sum(self.objects.values())

    def describe(self) -> str:
        """``3 objects, 12.4 MB, 1 unfinished upload``."""
        parts = [f"{len(self.objects)} object(s), {human_bytes(self.size)}"]
        if self.uploads:
            parts.append(f"{len(self.uploads)} unfinished upload(s)")
        return ", ".join(parts)


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} bytes"  # pragma: no cover - the loop always returns


def cluster_prefixes(clients: Clients, bucket: str) -> dict[str, str]:
    """Every cluster's registry prefix in the bucket (cluster name -> ``clusterous/NAME/``):
    those holding objects, and those holding only unfinished uploads (their parts bill too)."""
    root = registry_prefix("")
    names = _object_prefixes(clients, bucket, root) | _upload_prefixes(clients, bucket, root)
    return {name: f"{root}{name}/" for name in sorted(names) if name}


def _object_prefixes(clients: Clients, bucket: str, root: str) -> set[str]:
    common = clients.pages(
        "s3:ListBucket",
        "list_objects_v2",
        "CommonPrefixes",
        ignore=NO_BUCKET,
        Bucket=bucket,
        Prefix=root,
        Delimiter="/",
    )
    return {str(c["Prefix"])[len(root) :].rstrip("/") for c in common}


def _upload_prefixes(clients: Clients, bucket: str, root: str) -> set[str]:
    uploads = clients.pages(
        "s3:ListBucketMultipartUploads",
        "list_multipart_uploads",
        "Uploads",
        ignore=NO_BUCKET,
        Bucket=bucket,
        Prefix=root,
        PaginationConfig={"PageSize": PAGE},
    )
    keys = [str(u["Key"])[len(root) :] for u in uploads]
    return {key.split("/", 1)[0] for key in keys if "/" in key}


def bucket_region(clients: Clients, bucket: str) -> str:
    """The region the bucket lives in (S3 answers no constraint for us-east-1, EU for eu-west-1)."""
    answer = clients.call("s3:GetBucketLocation", "get_bucket_location", Bucket=bucket)
    location = answer.get("LocationConstraint") or "us-east-1"
    return "eu-west-1" if location == "EU" else str(location)


class RegistryStore:
    """One bucket's prefix: list it, empty it."""

    def __init__(self, clients: Clients, bucket: str, prefix: str) -> None:
        self.clients = clients
        self.bucket = bucket
        self.prefix = prefix.rstrip("/") + "/"  # never clusterous/web-2 for clusterous/web

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def contents(self) -> PrefixContents:
        return PrefixContents(self._objects(), self._uploads())

    def empty(self) -> PrefixContents:
        """Abort the unfinished uploads, delete the objects; returns what could not go."""
        for key, upload in self._uploads():
            self.clients.call(
                "s3:AbortMultipartUpload",
                "abort_multipart_upload",
                ignore=GONE_UPLOAD,
                Bucket=self.bucket,
                Key=key,
                UploadId=upload,
            )
        keys = sorted(self._objects())
        failed: list[str] = []
        for start in range(0, len(keys), DELETE_BATCH):
            batch = [{"Key": k} for k in keys[start : start + DELETE_BATCH]]
            refused = self.clients.call(
                "s3:DeleteObject",
                "delete_objects",
                ignore=NO_BUCKET,
                Bucket=self.bucket,
                Delete={"Objects": batch, "Quiet": True},
            ).get("Errors", [])
            failed += [f"{e.get('Key')}: {e.get('Message', e.get('Code'))}" for e in refused]
        if failed:
            raise ClusterousError(
                f"S3 refused to delete {len(failed)} object(s) under {self.url}",
                failed[0],
                "run 'clusterous destroy' again, or delete them in the S3 console",
            )
        return self.contents()

    def stored(self) -> list[tuple[int, float]]:
        """Each object's size in bytes and when it was written (epoch seconds): what bills."""
        return [(int(o.get("Size", 0)), epoch_of(o.get("LastModified"))) for o in self._listing()]

    def _objects(self) -> dict[str, int]:
        return {o["Key"]: int(o.get("Size", 0)) for o in self._listing()}

    def _listing(self) -> list[dict[str, Any]]:
        return self.clients.pages(
            "s3:ListBucket",
            "list_objects_v2",
            "Contents",
            ignore=NO_BUCKET,
            Bucket=self.bucket,
            Prefix=self.prefix,
            PaginationConfig={"PageSize": PAGE},
        )

    def _uploads(self) -> list[tuple[str, str]]:
        uploads = self.clients.pages(
            "s3:ListBucketMultipartUploads",
            "list_multipart_uploads",
            "Uploads",
            ignore=NO_BUCKET,
            Bucket=self.bucket,
            Prefix=self.prefix,
            PaginationConfig={"PageSize": PAGE},
        )
        return [(u["Key"], u["UploadId"]) for u in uploads]
