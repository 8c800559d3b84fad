"""Reading the AWS calls the front endpoint forwards, and rewriting public addresses.

EC2 speaks the Query protocol: a form-encoded POST whose ``Action`` names the
call, lists flattened as ``InstanceId.1``, ``InstanceId.2``; answers are XML.
The region is the third field of the SigV4 credential scope. Nothing here
parses more than the twin needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
INSTANCE_ID = re.compile(r"<instanceId>(i-[0-9a-f]+)</instanceId>")
# PublicIpAddress is <ipAddress> in DescribeInstances; associations say <publicIp>.
PUBLIC_ADDRESS = re.compile(rb"<(ipAddress|publicIp)>(\d+\.\d+\.\d+\.\d+)</(?:ipAddress|publicIp)>")


@dataclass(frozen=True)
class Call:
    """One forwarded AWS request: its service, region, action and flat parameters."""

    service: str
    region: str
    action: str
    params: Mapping[str, str] = field(default_factory=dict)

    def values(self, name: str) -> list[str]:
        """``InstanceId.1``, ``InstanceId.2``, ... (or a single ``InstanceId``) in order."""
        numbered = sorted(
            (int(key.rsplit(".", 1)[1]), value)
            for key, value in self.params.items()
            if key.startswith(name + ".") and key.rsplit(".", 1)[1].isdigit()
        )
        found = [value for _, value in numbered]
        if name in self.params:
            found.insert(0, self.params[name])
        return found


def read_call(headers: Mapping[str, str], body: bytes) -> Call:
    """The service, region and (for Query-protocol calls) action of a request."""
    service, region = "", ""
    match = CREDENTIAL_SCOPE.search(headers.get("Authorization", "") or "")
    if match:
        region, service = match.group(1), match.group(2)
    params: dict[str, str] = {}
    content_type = headers.get("Content-Type", "") or ""
    if body and "x-www-form-urlencoded" in content_type:
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        params = {key: values[0] for key, values in parsed.items()}
    return Call(service, region, params.get("Action", ""), params)


def launched_instances(answer: bytes) -> list[str]:
    """The instance ids in a RunInstances answer, in launch order."""
    return INSTANCE_ID.findall(answer.decode("utf-8", "replace"))


def rewrite_public_addresses(answer: bytes, loopback_for: Callable[[str], str]) -> bytes:
    """Every public IPv4 address in an EC2 answer replaced by its loopback stand-in."""

    def swap(match: re.Match[bytes]) -> bytes:
        tag, address = match.group(1), match.group(2).decode()
        return b"<%s>%s</%s>" % (tag, loopback_for(address).encode(), tag)

    return PUBLIC_ADDRESS.sub(swap, answer)
