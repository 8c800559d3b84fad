"""Fault injection for moto: a WSGI middleware that answers chosen AWS calls with errors.

It wraps moto's own application in an in-process server (sharing moto's
state with the session's moto server) and is configured over HTTP at
``/clusterous-faults``, so a CLI subprocess sees the same faults. It also logs
every call (service, action, body), for tests that assert which calls were
made. Rules: fail the n-th call of an action, calls in a given availability
zone, calls signed for a region, or calls whose body contains a text (or
answer them with a given body instead: an account's own answer, e.g. its few
enabled regions); or throttle a share of all calls.
"""

from __future__ import annotations

import io
import json
import random
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

CONFIG_PATH = "/clusterous-faults"
THROTTLE_CODES = {
    "ec2": "RequestLimitExceeded",
    "iam": "Throttling",
    "sts": "Throttling",
    "ssm": "ThrottlingException",
}

StartResponse = Callable[..., Any]


@dataclass
class Rule:
    action: str
    code: str
    status: int = 400
    message: str = "injected by the test"
    skip: int = 0  # let this many matching calls through first
    times: int = 1_000_000  # then fail this many
    zone: str | None = None
    contains: str | None = None
    region: str | None = None  # only calls signed for this region
    answer: str | None = None  # instead of an error, this body (200 OK): AWS's answer faked
    seen: int = 0
    failed: int = 0


@dataclass
class Call:
    service: str
    action: str
    body: str


@dataclass
class FaultState:
    rules: list[Rule] = field(default_factory=list)
    throttle: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    calls: list[Call] = field(default_factory=list)
    injected: int = 0


class FaultInjector:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.state = FaultState()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == CONFIG_PATH:
            return self._configure(environ, start_response)
        body = _read_body(environ)
        service, action = _service(environ), _action(environ, body)
        region = _scope(environ)[1]
        with self.lock:
            self.state.calls.append(Call(service, action, body))
            fault = self._fault(service, action, body, region)
        if fault is None:
            return self.app(environ, start_response)
        if fault[0] == 200:
            start_response("200 OK", [("Content-Type", "text/xml")])
            return [fault[2].encode()]
        return _error(service, fault[0], fault[1], fault[2], start_response)

    def _fault(
        self, service: str, action: str, body: str, region: str
    ) -> tuple[int, str, str] | None:
        """(status, code, message) of the error to answer; status 200: ``message`` is the body."""
        for rule in self.state.rules:
            if rule.action != action or not _matches(rule, body):
                continue
            if rule.region is not None and rule.region != region:
                continue
            rule.seen += 1
            if rule.seen > rule.skip and rule.failed < rule.times:
                rule.failed += 1
                self.state.injected += 1
                if rule.answer is not None:
                    return 200, "", rule.answer
                return rule.status, rule.code, rule.message
        throttled = service in THROTTLE_CODES and self.state.rng.random() < self.state.throttle
        if throttled:
            self.state.injected += 1
            return 503, THROTTLE_CODES[service], "Request limit exceeded (injected)"
        return None

    def _configure(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            config = json.loads(_read_body(environ) or "{}")
            with self.lock:
                self.state = FaultState(
                    rules=[Rule(**r) for r in config.get("rules", [])],
                    throttle=float(config.get("throttle", 0.0)),
                    rng=random.Random(config.get("seed", 0)),
                )
        with self.lock:
            report = {
                "injected": self.state.injected,
                "calls": [c.__dict__ for c in self.state.calls],
            }
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(report).encode()]


def _matches(rule: Rule, body: str) -> bool:
    if rule.contains is not None and rule.contains not in body:
        return False
    return rule.zone is None or _zone_of_request(body) == rule.zone


def _zone_of_request(body: str) -> str | None:
    """The zone of the subnet a RunInstances request names (looked up in moto's state)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    fields = parse_qs(body)
    subnet = (fields.get("NetworkInterface.1.SubnetId") or fields.get("SubnetId") or [""])[0]
    if not subnet:
        return None
    for backend in ec2_backends[DEFAULT_ACCOUNT_ID].values():
        try:
            return str(backend.get_subnet(subnet).availability_zone)
        except Exception:
            continue
    return None


def _read_body(environ: dict[str, Any]) -> str:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    return raw.decode("utf-8", errors="replace")


def _service(environ: dict[str, Any]) -> str:
    return _scope(environ)[0]


def _scope(environ: dict[str, Any]) -> tuple[str, str]:
    """The service and region a request is signed for (its credential scope)."""
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    if "Credential=" in auth:
        scope = auth.split("Credential=")[1].split(",")[0].split("/")
        if len(scope) >= 4:
            return scope[3], scope[2]
    return "", ""


def _action(environ: dict[str, Any], body: str) -> str:
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return target.split(".")[-1]
    return (parse_qs(body).get("Action") or [""])[0]


def _error(
    service: str, status: int, code: str, message: str, start_response: StartResponse
) -> list[bytes]:
    reason = {400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error"}
    line = f"{status} {reason.get(status, 'Service Unavailable')}"
    if service in ("ssm", "pricing"):
        start_response(line, [("Content-Type", "application/x-amz-json-1.1")])
        return [json.dumps({"__type": code, "message": message}).encode()]
    if service == "ec2":
        text = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            "</Error></Errors><RequestID>injected</RequestID></Response>"
        )
    else:
        text = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
        )
    start_response(line, [("Content-Type", "text/xml")])
    return [text.encode()]


class FaultServer:
    """moto behind the FaultInjector, on 127.0.0.1, in a thread."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        self.injector = FaultInjector(DomainDispatcherApplication(create_backend_app))
        self.server = make_server("127.0.0.1", 0, self.injector, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join()


@dataclass
class Faults:
    """The test's handle: configure rules over HTTP, read the call log back."""

    endpoint: str

    def _post(self, config: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.endpoint + CONFIG_PATH,
            data=json.dumps(config).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            result: dict[str, Any] = json.loads(answer.read())
            return result

    def set(self, *rules: dict[str, Any], throttle: float = 0.0, seed: int = 0) -> None:
        self._post({"rules": list(rules), "throttle": throttle, "seed": seed})

    def clear(self) -> None:
        self.set()

    def report(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.endpoint + CONFIG_PATH, timeout=10) as answer:
            result: dict[str, Any] = json.loads(answer.read())
            return result

    def calls(self, action: str | None = None) -> list[dict[str, str]]:
        calls: list[dict[str, str]] = self.report()["calls"]
        return [c for c in calls if action is None or c["action"] == action]

    def forms(self, action: str) -> Iterator[dict[str, list[str]]]:
        for call in self.calls(action):
            yield parse_qs(call["body"])
