"""A real local Web Push service for the tests: the browser vendor's push service and the browser in one.

Load with ``-p tests.fix_push`` (or import the fixture into a test module).

Fixture:

* ``push_service`` (function) a started :class:`LocalPushService` on ``127.0.0.1:<free port>``:

  - ``new_subscription() -> PushSubscription``: a fresh browser subscription (P-256 key pair, 16-byte
    auth secret) with endpoint ``http://127.0.0.1:<port>/push/<random id>``.
  - ``received``: list of :class:`ReceivedPush` (endpoint, headers, VAPID claims, decrypted payload
    dict, aware ``received_at``), in arrival order.
  - ``rejected``: list of :class:`RejectedPush` (endpoint, status, reason) for refused requests.
  - ``wait_for(n, timeout=5.0)`` / ``await wait_for_async(n, timeout=5.0)``: block until ``n``
    messages were received, return them; ``AssertionError`` on timeout.
  - ``set_status(endpoint, status)``: make an endpoint answer ``status`` (410/404: subscription
    gone, 500, 429...) without looking at the request; ``set_status(endpoint, None)`` resets it.
  - ``url``/``origin``: ``http://127.0.0.1:<port>``.

Every POST is checked the way real push services check it: an RFC 8292 ``Authorization: vapid t=<JWT>,
k=<key>`` (ES256 signature against ``k``, ``aud`` = the endpoint origin, ``exp`` in the future and at
most 24 h ahead, ``sub`` a mailto:/https: URI), ``Content-Encoding: aes128gcm``, a ``TTL`` header,
valid ``Urgency``/``Topic`` when present (RFC 8030 §5.3/§5.4) and a body of at most 4096 bytes. The body
is then decrypted per RFC 8291 with the subscription's private key and auth secret and parsed as JSON.
Accepted messages are recorded and answered ``201 Created``; anything else gets 400/401/403/404/413
and is recorded only in ``rejected``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from todo_core.notify.webpush import PushSubscription

MAX_BODY = 4096
MAX_EXP_AHEAD_S = 24 * 60 * 60
_TOPIC_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_URGENCIES = frozenset({"very-low", "low", "normal", "high"})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ReceivedPush:
    endpoint: str
    headers: dict[str, str]  # lower-cased names
    claims: dict[str, Any]  # the verified VAPID JWT claims
    vapid_key: str  # the ``k`` parameter: the sender's VAPID public key, base64url
    payload: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True)
class RejectedPush:
    endpoint: str
    status: int
    reason: str


@dataclass
class _Browser:
    """What the browser keeps for one subscription."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes


class _Reject(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _parse_vapid_authorization(value: str) -> tuple[str, str]:
    """``vapid t=<jwt>, k=<key>`` (parameters in any order, optional spaces) -> (t, k)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "vapid":
        raise _Reject(401, f"authorization scheme {scheme!r} is not vapid")
    params: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, val = part.strip().partition("=")
        if sep:
            params[name.strip().lower()] = val.strip()
    if "t" not in params or "k" not in params:
        raise _Reject(401, "vapid authorization needs t= and k=")
    return params["t"], params["k"]


def verify_vapid(authorization: str | None, origin: str) -> tuple[dict[str, Any], str]:
    """Check an RFC 8292 Authorization header for ``origin``; return (claims, k) or raise _Reject."""
    if not authorization:
        raise _Reject(401, "missing Authorization")
    token, key = _parse_vapid_authorization(authorization)
    try:
        raw_key = b64url_decode(key)
        if len(raw_key) != 65 or raw_key[0] != 4:
            raise ValueError("not an uncompressed point")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw_key)
    except ValueError as exc:
        raise _Reject(401, f"bad vapid k: {exc}") from exc
    try:
        if jwt.get_unverified_header(token).get("alg") != "ES256":
            raise _Reject(403, "vapid JWT must be ES256")
        claims: dict[str, Any] = jwt.decode(
            token,
            public,
            algorithms=["ES256"],
            audience=origin,
            options={"require": ["aud", "exp", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise _Reject(403, f"vapid JWT rejected: {type(exc).__name__}: {exc}") from exc
    if int(claims["exp"]) > time.time() + MAX_EXP_AHEAD_S:
        raise _Reject(403, "vapid exp more than 24 h ahead")
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub.startswith(("mailto:", "https:")):
        raise _Reject(403, "vapid sub must be a mailto: or https: URI")
    return claims, key


class LocalPushService:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._browsers: dict[str, _Browser] = {}
        self._status: dict[str, int] = {}
        self.received: list[ReceivedPush] = []
        self.rejected: list[RejectedPush] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.url = self.origin
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="push-service", daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- the browser side -----------------------------------------------------------------------
    def new_subscription(self) -> PushSubscription:
        private = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        endpoint = f"{self.origin}/push/{uuid.uuid4().hex}"
        with self._lock:
            self._browsers[endpoint] = _Browser(endpoint, private, auth)
        public = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return PushSubscription(endpoint=endpoint, p256dh=b64url(public), auth=b64url(auth))

    def set_status(self, endpoint: str, status: int | None) -> None:
        with self._lock:
            if status is None:
                self._status.pop(endpoint, None)
            else:
                self._status[endpoint] = status

    def wait_for(self, n: int, timeout: float = 5.0) -> list[ReceivedPush]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.received) >= n, timeout=timeout):
                raise AssertionError(f"expected {n} push messages within {timeout}s, got {len(self.received)}")
            return list(self.received)

    async def wait_for_async(self, n: int, timeout: float = 5.0) -> list[ReceivedPush]:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self.received) >= n:
                    return list(self.received)
            if time.monotonic() >= deadline:
                raise AssertionError(f"expected {n} push messages within {timeout}s, got {len(self.received)}")
            await asyncio.sleep(0.02)

    # -- the push service side ------------------------------------------------------------------
    def _accept(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        """Handle one POST; returns (status, location or reason)."""
        endpoint = self.origin + path
        try:
            with self._lock:
                browser = self._browsers.get(endpoint)
                forced = self._status.get(endpoint)
            if forced is not None:
                raise _Reject(forced, "status set by test")
            if browser is None:
                raise _Reject(404, "no such subscription")
            claims, key = verify_vapid(headers.get("authorization"), self.origin)
            if headers.get("content-encoding", "").lower() != "aes128gcm":
                raise _Reject(400, f"content-encoding {headers.get('content-encoding')!r} is not aes128gcm")
            ttl = headers.get("ttl")
            if ttl is None or not ttl.isdigit():
                raise _Reject(400, f"TTL header missing or invalid: {ttl!r}")
            urgency = headers.get("urgency")
            if urgency is not None and urgency not in _URGENCIES:
                raise _Reject(400, f"invalid Urgency {urgency!r}")
            topic = headers.get("topic")
            if topic is not None and not _TOPIC_RE.fullmatch(topic):
                raise _Reject(400, f"invalid Topic {topic!r}")
            if len(body) > MAX_BODY:
                raise _Reject(413, f"body of {len(body)} bytes exceeds {MAX_BODY}")
            try:
                plain = http_ece.decrypt(
                    body, private_key=browser.private_key, auth_secret=browser.auth_secret, version="aes128gcm"
                )
            except Exception as exc:
                raise _Reject(400, f"cannot decrypt: {exc}") from exc
            try:
                payload = json.loads(plain)
            except ValueError as exc:
                raise _Reject(400, "payload is not JSON") from exc
            if not isinstance(payload, dict):
                raise _Reject(400, "payload is not a JSON object")
        except _Reject as rej:
            with self._lock:
                self.rejected.append(RejectedPush(endpoint, rej.status, rej.reason))
            return rej.status, rej.reason
        message = ReceivedPush(
            endpoint=endpoint,
            headers=headers,
            claims=claims,
            vapid_key=key,
            payload=payload,
            received_at=datetime.now(UTC),
        )
        with self._lock:
            self.received.append(message)
            self._lock.notify_all()
        return 201, f"{self.origin}/message/{uuid.uuid4().hex}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, detail = service._accept(self.path, headers, body)
                text = b"" if status == 201 else detail.encode("utf-8")
                try:
                    phrase = HTTPStatus(status).phrase
                except ValueError:
                    phrase = ""
                self.send_response(status, phrase)
                if status == 201:
                    self.send_header("Location", detail)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def push_service() -> Iterator[LocalPushService]:
    service = LocalPushService()
    service.start()
    try:
        yield service
    finally:
        service.stop()
