"""Web Push delivery: RFC 8030 (protocol), RFC 8292 (VAPID), RFC 8291 (aes128gcm message encryption).

A reminder becomes one POST to the subscription's endpoint at the browser vendor's push service.
The body is the JSON payload encrypted for the browser (only the browser can read it); the
``Authorization: vapid t=<JWT>, k=<public key>`` header proves the sender holds the application's
VAPID key, the same key the browser was given as ``applicationServerKey`` when it subscribed.

:func:`send_push` never raises for HTTP or network failures; it returns a :class:`PushOutcome`.
``outcome.gone`` (404/410) means the subscription no longer exists and must be deleted.
Nothing here logs keys, payloads or full endpoint URLs (an endpoint is a bearer capability).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02  # type: ignore[import-untyped]
from pywebpush import WebPusher  # type: ignore[import-untyped]

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "PushOutcome",
    "PushSubscription",
    "VapidKeys",
    "generate_vapid_keys",
    "load_or_create_vapid_keys",
    "push_topic",
    "send_push",
]

logger = logging.getLogger(__name__)

_URGENCIES: Final = frozenset({"very-low", "low", "normal", "high"})

#: Largest JSON payload (UTF-8 bytes) that fits the 4096-byte body push services accept (RFC 8291 §4):
#: 4096 - 86 (aes128gcm header with a 65-byte key id) - 16 (AEAD tag) - 1 (padding delimiter).
MAX_PAYLOAD_BYTES: Final = 3993

#: RFC 8292 §2: the JWT ``exp`` must be no more than 24 h ahead; 12 h leaves room for clock skew.
_VAPID_LIFETIME_S: Final = 12 * 60 * 60

_TOPIC_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
_VAPID_FILE: Final = "vapid.json"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class VapidKeys:
    """The application server's VAPID key pair (ECDSA P-256).

    ``public_key``: base64url (unpadded) uncompressed point, 65 bytes decoded (``0x04 || X || Y``);
    give it to the browser as ``pushManager.subscribe({applicationServerKey})``.
    ``private_key``: base64url (unpadded) raw private scalar, 32 bytes decoded, big-endian
    (the "raw" form ``py_vapid.Vapid.from_string`` accepts; PEM is not accepted). Kept out of ``repr``.
    """

    public_key: str
    private_key: str = field(repr=False)


@dataclass(frozen=True)
class PushSubscription:
    """A browser's subscription, as ``PushSubscription.toJSON()`` gives it: the endpoint URL
    and ``keys.p256dh`` (the browser's P-256 public key) / ``keys.auth`` (16-byte secret), base64url."""

    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class PushOutcome:
    """Result of one delivery attempt.

    ``status`` is the push service's HTTP status, or 0 when no response arrived (connection
    refused, DNS failure, timeout, TLS error). ``ok`` is true for 2xx (201 Created is normal).
    ``gone`` is true for 404/410: the subscription expired or was revoked and must be removed.
    ``error`` is a short description for logs (empty when ok); it never contains keys or payload.
    """

    status: int
    ok: bool
    gone: bool
    error: str = ""


def _keys_from_private(private: ec.EllipticCurvePrivateKey) -> VapidKeys:
    public_raw = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    scalar = private.private_numbers().private_value.to_bytes(32, "big")
    return VapidKeys(public_key=_b64url(public_raw), private_key=_b64url(scalar))


def _private_key(keys: VapidKeys) -> ec.EllipticCurvePrivateKey:
    raw = _b64url_decode(keys.private_key)
    if len(raw) != 32:
        raise ValueError("VAPID private key must be a base64url 32-byte P-256 scalar")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def generate_vapid_keys() -> VapidKeys:
    """A fresh P-256 key pair for VAPID."""
    return _keys_from_private(ec.generate_private_key(ec.SECP256R1()))


def _checked(keys: VapidKeys) -> VapidKeys:
    """``keys`` if the public key is the one derived from the private key, else ValueError."""
    if _keys_from_private(_private_key(keys)).public_key != keys.public_key:
        raise ValueError("VAPID public key does not match the private key")
    return keys


def load_or_create_vapid_keys(data_dir: Path) -> VapidKeys:
    """The VAPID keys kept in ``data_dir/vapid.json`` (mode 0600), created on first use.

    Meant for development and single-node runs, where keys must survive restarts (every browser
    subscription is bound to the public key). Creation is atomic: concurrent first starts agree on
    one key pair. Production should provide the keys as secrets instead.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / _VAPID_FILE
    if not path.exists():
        keys = generate_vapid_keys()
        text = json.dumps({"public_key": keys.public_key, "private_key": keys.private_key})
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".vapid-", suffix=".tmp")  # mkstemp creates it 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race: use its keys
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    if stat.S_IMODE(path.stat().st_mode) != 0o600:
        path.chmod(0o600)
    data = json.loads(path.read_text(encoding="utf-8"))
    return _checked(VapidKeys(public_key=str(data["public_key"]), private_key=str(data["private_key"])))


def push_topic(topic: str) -> str:
    """``topic`` as a valid RFC 8030 §5.4 ``Topic``: at most 32 characters of the base64url alphabet.

    A topic that already qualifies is kept; any other is replaced by its SHA-256, base64url, cut to
    32 characters, so the same input always maps to the same header (replacement still works).
    """
    if _TOPIC_RE.fullmatch(topic):
        return topic
    return _b64url(hashlib.sha256(topic.encode("utf-8")).digest())[:32]


def _origin(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("push endpoint must be an absolute http(s) URL")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _post(
    sub: PushSubscription,
    data: str,
    headers: dict[str, str],
    ttl: int,
    timeout: float,
) -> requests.Response:
    pusher = WebPusher({"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}})
    response: requests.Response = pusher.send(data, headers, ttl=ttl, content_encoding="aes128gcm", timeout=timeout)
    return response


async def send_push(
    sub: PushSubscription,
    payload: dict[str, Any],
    *,
    vapid: VapidKeys,
    subject: str,
    ttl: int = 3600,
    topic: str | None = None,
    urgency: str = "high",
    timeout: float = 10.0,  # noqa: ASYNC109 - bounds the HTTP call in the worker thread
) -> PushOutcome:
    """Encrypt ``payload`` (as JSON) for ``sub`` and POST it to the push service.

    ``subject`` is the VAPID ``sub`` claim, a ``mailto:`` or ``https:`` contact URI. ``ttl`` is how
    many seconds the push service may hold the message for an offline browser (0: deliver now or
    drop). ``topic`` (optional) lets a newer message replace an undelivered one with the same topic;
    it is made RFC 8030 compliant by :func:`push_topic`. ``urgency`` is one of ``very-low``,
    ``low``, ``normal``, ``high``. ``timeout`` bounds connecting and each read, in seconds.

    HTTP and network failures are returned as a :class:`PushOutcome`, never raised. Raises
    ``ValueError`` only for caller errors: bad subject/urgency/ttl/endpoint, malformed keys, or a
    payload larger than :data:`MAX_PAYLOAD_BYTES` once encoded.
    """
    if not subject.startswith(("mailto:", "https:")):
        raise ValueError("VAPID subject must be a mailto: or https: URI")
    if urgency not in _URGENCIES:
        raise ValueError(f"urgency must be one of {sorted(_URGENCIES)}")
    if ttl < 0:
        raise ValueError("ttl must be >= 0")
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if len(data.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"push payload exceeds {MAX_PAYLOAD_BYTES} bytes once JSON-encoded")
    p256dh = _b64url_decode(sub.p256dh)
    if len(p256dh) != 65 or p256dh[0] != 4:
        raise ValueError("subscription p256dh must be a base64url 65-byte uncompressed P-256 point")
    if len(_b64url_decode(sub.auth)) != 16:
        raise ValueError("subscription auth must be a base64url 16-byte secret")
    origin = _origin(sub.endpoint)

    claims = {"sub": subject, "aud": origin, "exp": int(time.time()) + _VAPID_LIFETIME_S}
    # no-strict: py_vapid's own `sub` regex rejects valid https: URIs with a path; we checked above.
    signer = Vapid02(private_key=_private_key(vapid), conf={"no-strict": True})
    headers: dict[str, str] = dict(signer.sign(claims))
    headers["Urgency"] = urgency
    if topic is not None:
        headers["Topic"] = push_topic(topic)

    try:
        response = await asyncio.to_thread(_post, sub, data, headers, ttl, timeout)
    except requests.RequestException as exc:
        logger.warning("web push to %s failed: %s", origin, type(exc).__name__)
        # requests puts the URL in its messages; keep the endpoint's path (a bearer capability) out.
        path = urlsplit(sub.endpoint).path
        detail = str(exc).replace(path, "/...") if len(path) > 1 else str(exc)
        return PushOutcome(status=0, ok=False, gone=False, error=f"{type(exc).__name__}: {detail}"[:300])

    status = response.status_code
    if 200 <= status < 300:
        logger.debug("web push to %s accepted: %d", origin, status)
        return PushOutcome(status=status, ok=True, gone=False)
    gone = status in (404, 410)
    body = response.text.strip().replace("\n", " ")[:200]
    logger.info("web push to %s rejected: %d%s", origin, status, " (subscription gone)" if gone else "")
    error = f"{status} {response.reason}" + (f": {body}" if body else "")
    return PushOutcome(status=status, ok=False, gone=gone, error=error)
