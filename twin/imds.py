"""The instance metadata service of every twin node, answered by source address.

On EC2 each instance asks 169.254.169.254 for its id, launch index, region
and its role's credentials (IMDSv2: a token from a PUT first). A twin node's
boot unit DNATs that address to this server, on the gateway of the twin's
service network; the node's private address, which the twin gave it, says
which instance is asking. Credentials come from moto's STS (AssumeRole of the
instance profile's role), fetched when asked and renewed before they expire.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("twin.imds")

TOKEN_PATH = "/latest/api/token"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"
Credentials = Callable[[], dict[str, str]]  # AccessKeyId, SecretAccessKey, Token, Expiration


@dataclass(frozen=True)
class InstanceMetadata:
    instance_id: str
    launch_index: int
    region: str
    zone: str
    private_ip: str
    instance_type: str
    public_ip: str = ""
    role: str = ""  # the instance profile's role name ("" = none)
    credentials: Credentials | None = None

    def meta_data(self) -> dict[str, str]:
        """The plain meta-data paths (below /latest/meta-data/)."""
        found = {
            "instance-id": self.instance_id,
            "ami-launch-index": str(self.launch_index),
            "placement/region": self.region,
            "placement/availability-zone": self.zone,
            "local-ipv4": self.private_ip,
            "instance-type": self.instance_type,
            "local-hostname": hostname_of(self.private_ip),
            "hostname": hostname_of(self.private_ip),
        }
        if self.public_ip:
            found["public-ipv4"] = self.public_ip
        return found

    def identity_document(self) -> str:
        return json.dumps(
            {
                "instanceId": self.instance_id,
                "region": self.region,
                "availabilityZone": self.zone,
                "privateIp": self.private_ip,
                "instanceType": self.instance_type,
            }
        )


def hostname_of(private_ip: str) -> str:
    """EC2's host name for a private address: ip-10-0-0-4."""
    return "ip-" + private_ip.replace(".", "-")


class MetadataServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int]) -> None:
        self._by_address: dict[str, InstanceMetadata] = {}
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        super().__init__(address, MetadataHandler)

    def register(self, meta: InstanceMetadata) -> None:
        with self._lock:
            self._by_address[meta.private_ip] = meta

    def forget(self, private_ip: str) -> None:
        with self._lock:
            self._by_address.pop(private_ip, None)

    def instance_at(self, address: str) -> InstanceMetadata | None:
        with self._lock:
            return self._by_address.get(address)

    def new_token(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens.add(token)
        return token

    def valid(self, token: str | None) -> bool:
        with self._lock:
            return bool(token) and token in self._tokens


class MetadataHandler(BaseHTTPRequestHandler):
    server: MetadataServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return  # each answer is logged below, with the instance that asked

    def _reply(
        self,
        status: int,
        text: str,
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
    ) -> None:
        meta = self.server.instance_at(self.client_address[0])
        who = meta.instance_id if meta else self.client_address[0]
        log.info("%s %s %s -> %d", who, self.command, self.path, status)
        self._send(status, text, content_type, headers or {})

    def _send(self, status: int, text: str, content_type: str, headers: dict[str, str]) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ttl = self.headers.get(TTL_HEADER) or ""
        if self.path != TOKEN_PATH or not ttl.isdigit():
            self._reply(400, "Bad Request")
            return
        # SDKs read the TTL back from the answer (aws-sdk-go v1 falls back to IMDSv1 without it).
        self._reply(200, self.server.new_token(), headers={TTL_HEADER: ttl})

    def do_GET(self) -> None:
        meta = self.server.instance_at(self.client_address[0])
        if meta is None:
            log.warning("metadata asked by %s, which is no twin instance", self.client_address[0])
            self._reply(404, "Not Found")
            return
        if not self.server.valid(self.headers.get(TOKEN_HEADER)):
            self._reply(401, "Unauthorized")  # IMDSv2 required, as the provider launches it
            return
        found = answer(meta, self.path.split("?")[0])
        if found is None:
            self._reply(404, "Not Found")
        else:
            self._reply(200, *found)


def answer(meta: InstanceMetadata, path: str) -> tuple[str, str] | None:
    """(body, content type) for a metadata path, or None when EC2 would say 404."""
    if path == "/latest/dynamic/instance-identity/document":
        return meta.identity_document(), "application/json"
    if path.startswith(CREDENTIALS_PATH):
        return credentials_answer(meta, path[len(CREDENTIALS_PATH) :])
    if path == "/latest/meta-data/iam/info" and meta.role:
        info = {"Code": "Success", "InstanceProfileArn": "", "InstanceProfileId": ""}
        return json.dumps(info), "application/json"
    plain = meta.meta_data()
    key = path.removeprefix("/latest/meta-data/").rstrip("/")
    if key in plain:
        return plain[key], "text/plain"
    if path.rstrip("/") == "/latest/meta-data":
        return "\n".join(sorted({k.split("/")[0] for k in plain})), "text/plain"
    return None


def credentials_answer(meta: InstanceMetadata, rest: str) -> tuple[str, str] | None:
    if not meta.role or meta.credentials is None:
        return None
    if rest in ("", "/"):
        return meta.role, "text/plain"
    if rest.rstrip("/") != meta.role:
        return None
    keys = meta.credentials()
    body = {"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": keys.get("LastUpdated", "")}
    body.update({k: keys[k] for k in ("AccessKeyId", "SecretAccessKey", "Token", "Expiration")})
    return json.dumps(body), "application/json"
