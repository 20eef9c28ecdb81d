"""Web Push over real HTTP to a local push service that verifies VAPID and decrypts like a browser."""

from __future__ import annotations

import base64
import re
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from pywebpush import WebPusher

from todo_core.notify.webpush import (
    MAX_PAYLOAD_BYTES,
    PushSubscription,
    VapidKeys,
    generate_vapid_keys,
    load_or_create_vapid_keys,
    push_topic,
    send_push,
)

if TYPE_CHECKING:
    from tests.fix_push import LocalPushService

pytest_plugins = ["tests.fix_push"]
pytestmark = pytest.mark.anyio

SUBJECT = "mailto:ops@todo.example"
TOPIC_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module")
def vapid() -> VapidKeys:
    return generate_vapid_keys()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


async def test_payload_round_trips_encrypted_and_is_decrypted_by_the_browser(
    push_service: LocalPushService, vapid: VapidKeys
) -> None:
    sub = push_service.new_subscription()
    payload = {"type": "reminder", "task_id": "t-42", "title": "Zahnarzt 🦷 - mañana", "due": "2025-03-01T09:00:00Z"}

    outcome = await send_push(sub, payload, vapid=vapid, subject=SUBJECT)

    assert (outcome.status, outcome.ok, outcome.gone, outcome.error) == (201, True, False, "")
    [msg] = push_service.wait_for(1)
    assert msg.payload == payload
    assert msg.endpoint == sub.endpoint
    assert msg.vapid_key == vapid.public_key
    assert msg.headers["content-encoding"] == "aes128gcm"
    assert msg.received_at.tzinfo is not None
    assert push_service.rejected == []


async def test_vapid_claims_name_the_push_service_origin_subject_and_a_bounded_expiry(
    push_service: LocalPushService, vapid: VapidKeys
) -> None:
    sub = push_service.new_subscription()
    before = int(time.time())

    outcome = await send_push(sub, {"n": 1}, vapid=vapid, subject="https://todo.example/contact")

    assert outcome.ok
    [msg] = push_service.received
    assert msg.claims["aud"] == push_service.origin
    assert msg.claims["sub"] == "https://todo.example/contact"
    assert before + 12 * 3600 <= msg.claims["exp"] <= int(time.time()) + 12 * 3600
    assert msg.headers["authorization"].lower().startswith("vapid t=")


async def test_ttl_urgency_and_topic_headers_follow_rfc_8030(push_service: LocalPushService, vapid: VapidKeys) -> None:
    sub = push_service.new_subscription()
    long_topic = "reminder:task/0b7c2f1e-5d43-4a8e-9c1a-2f6d8e9b0a11@2025-03-01T09:00"

    assert (await send_push(sub, {"n": 1}, vapid=vapid, subject=SUBJECT, ttl=600, topic=long_topic)).ok
    assert (await send_push(sub, {"n": 2}, vapid=vapid, subject=SUBJECT, topic=long_topic, urgency="low")).ok
    assert (await send_push(sub, {"n": 3}, vapid=vapid, subject=SUBJECT, ttl=0, topic="task-42_due")).ok
    first, second, third = push_service.wait_for(3)

    assert first.headers["ttl"] == "600"
    assert first.headers["urgency"] == "high"
    assert TOPIC_RE.fullmatch(first.headers["topic"])
    assert first.headers["topic"] == second.headers["topic"] == push_topic(long_topic)  # same topic, same header
    assert second.headers["ttl"] == "3600"
    assert second.headers["urgency"] == "low"
    assert third.headers["ttl"] == "0"
    assert third.headers["topic"] == "task-42_due"  # already valid: kept as given
    assert push_topic("task-42:other") != push_topic("task-43:other")


async def test_without_topic_no_topic_header_is_sent(push_service: LocalPushService, vapid: VapidKeys) -> None:
    sub = push_service.new_subscription()
    assert (await send_push(sub, {"n": 1}, vapid=vapid, subject=SUBJECT)).ok
    assert "topic" not in push_service.received[0].headers


@pytest.mark.parametrize("status", [404, 410])
async def test_expired_subscription_is_reported_gone(
    push_service: LocalPushService, vapid: VapidKeys, status: int
) -> None:
    sub = push_service.new_subscription()
    push_service.set_status(sub.endpoint, status)

    outcome = await send_push(sub, {"n": 1}, vapid=vapid, subject=SUBJECT)

    assert (outcome.status, outcome.ok, outcome.gone) == (status, False, True)
    assert str(status) in outcome.error
    assert push_service.received == []


async def test_unknown_endpoint_at_the_push_service_is_gone(push_service: LocalPushService, vapid: VapidKeys) -> None:
    real = push_service.new_subscription()
    never_subscribed = PushSubscription(
        endpoint=f"{push_service.origin}/push/unknown", p256dh=real.p256dh, auth=real.auth
    )

    outcome = await send_push(never_subscribed, {"n": 1}, vapid=vapid, subject=SUBJECT)

    assert (outcome.status, outcome.gone) == (404, True)


async def test_server_error_is_a_failure_but_not_gone(push_service: LocalPushService, vapid: VapidKeys) -> None:
    sub = push_service.new_subscription()
    push_service.set_status(sub.endpoint, 500)

    outcome = await send_push(sub, {"n": 1}, vapid=vapid, subject=SUBJECT)
    assert (outcome.status, outcome.ok, outcome.gone) == (500, False, False)

    push_service.set_status(sub.endpoint, None)  # the service recovers: the same subscription works again
    assert (await send_push(sub, {"n": 2}, vapid=vapid, subject=SUBJECT)).ok
    assert [m.payload for m in push_service.received] == [{"n": 2}]


async def test_unreachable_push_service_returns_status_0_without_raising(
    push_service: LocalPushService, vapid: VapidKeys, closed_port: int
) -> None:
    real = push_service.new_subscription()
    sub = PushSubscription(
        endpoint=f"http://127.0.0.1:{closed_port}/push/secret-id", p256dh=real.p256dh, auth=real.auth
    )

    outcome = await send_push(sub, {"n": 1}, vapid=vapid, subject=SUBJECT)

    assert (outcome.status, outcome.ok, outcome.gone) == (0, False, False)
    assert "ConnectionError" in outcome.error
    assert "secret-id" not in outcome.error  # the endpoint path is a capability: kept out of error text


async def test_a_push_service_that_never_answers_times_out(
    push_service: LocalPushService, vapid: VapidKeys, silent_port: int
) -> None:
    real = push_service.new_subscription()
    sub = PushSubscription(endpoint=f"http://127.0.0.1:{silent_port}/push/x", p256dh=real.p256dh, auth=real.auth)
    started = time.monotonic()

    outcome = await send_push(sub, {"n": 1}, vapid=vapid, subject=SUBJECT, timeout=0.5)

    assert (outcome.status, outcome.ok, outcome.gone) == (0, False, False)
    assert "Timeout" in outcome.error
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("wrong", ["p256dh", "auth"])
async def test_payload_encrypted_for_another_key_cannot_be_read(
    push_service: LocalPushService, vapid: VapidKeys, wrong: str
) -> None:
    sub = push_service.new_subscription()
    other = push_service.new_subscription()  # another browser's keys, same endpoint
    forged = PushSubscription(
        endpoint=sub.endpoint,
        p256dh=other.p256dh if wrong == "p256dh" else sub.p256dh,
        auth=other.auth if wrong == "auth" else sub.auth,
    )

    outcome = await send_push(forged, {"secret": "s3cr3t"}, vapid=vapid, subject=SUBJECT)

    assert (outcome.status, outcome.ok, outcome.gone) == (400, False, False)
    assert push_service.received == []
    [rejection] = push_service.rejected
    assert rejection.endpoint == sub.endpoint
    assert rejection.reason == "cannot decrypt: Decryption error: InvalidTag()"


async def test_largest_payload_fits_one_push_message_and_larger_is_refused(
    push_service: LocalPushService, vapid: VapidKeys
) -> None:
    sub = push_service.new_subscription()
    overhead = len('{"body":""}')
    biggest = {"body": "x" * (MAX_PAYLOAD_BYTES - overhead)}

    assert (await send_push(sub, biggest, vapid=vapid, subject=SUBJECT)).ok
    assert push_service.received[0].payload == biggest
    with pytest.raises(ValueError, match="payload exceeds"):
        await send_push(sub, {"body": "x" * (MAX_PAYLOAD_BYTES - overhead + 1)}, vapid=vapid, subject=SUBJECT)
    assert len(push_service.received) == 1


async def test_caller_errors_raise_before_anything_is_sent(push_service: LocalPushService, vapid: VapidKeys) -> None:
    sub = push_service.new_subscription()
    with pytest.raises(ValueError, match="subject"):
        await send_push(sub, {}, vapid=vapid, subject="ops@todo.example")
    with pytest.raises(ValueError, match="urgency"):
        await send_push(sub, {}, vapid=vapid, subject=SUBJECT, urgency="urgent")
    assert push_service.received == push_service.rejected == []


def _forged_authorization(kind: str, origin: str, vapid: VapidKeys) -> str:
    """A VAPID Authorization header that a push service must refuse."""
    signing = ec.derive_private_key(int.from_bytes(b64url_decode(vapid.private_key), "big"), ec.SECP256R1())
    claims: dict[str, object] = {"aud": origin, "sub": SUBJECT, "exp": int(time.time()) + 3600}
    key = vapid.public_key
    if kind == "signature":
        signing = ec.generate_private_key(ec.SECP256R1())  # signed by a key other than k
    elif kind == "aud":
        claims["aud"] = "https://push.other.example"
    elif kind == "expired":
        claims["exp"] = int(time.time()) - 60
    elif kind == "too-far":
        claims["exp"] = int(time.time()) + 25 * 3600
    elif kind == "sub":
        claims["sub"] = "ops@todo.example"
    token = jwt.encode(claims, signing, algorithm="ES256")
    return f"vapid t={token}, k={key}"


@pytest.mark.parametrize("kind", ["signature", "aud", "expired", "too-far", "sub"])
def test_push_service_refuses_bad_vapid(push_service: LocalPushService, vapid: VapidKeys, kind: str) -> None:
    sub = push_service.new_subscription()
    pusher = WebPusher({"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}})
    headers = {"Authorization": _forged_authorization(kind, push_service.origin, vapid)}

    response = pusher.send('{"n": 1}', headers, ttl=60, content_encoding="aes128gcm", timeout=5)

    assert isinstance(response, requests.Response)
    assert response.status_code == 403
    assert push_service.received == []


def test_push_service_accepts_a_well_formed_pyjwt_token(push_service: LocalPushService, vapid: VapidKeys) -> None:
    """Control for the refusals above: the same hand-made request with good claims is delivered."""
    sub = push_service.new_subscription()
    pusher = WebPusher({"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}})
    headers = {"Authorization": _forged_authorization("none", push_service.origin, vapid)}

    response = pusher.send('{"n": 1}', headers, ttl=60, content_encoding="aes128gcm", timeout=5)

    assert isinstance(response, requests.Response)
    assert response.status_code == 201
    assert push_service.received[0].payload == {"n": 1}


def test_vapid_keys_are_a_p256_pair_in_the_browser_format() -> None:
    keys = generate_vapid_keys()
    public = b64url_decode(keys.public_key)
    private = b64url_decode(keys.private_key)

    assert len(public) == 65 and public[0] == 0x04
    assert len(private) == 32
    derived = ec.derive_private_key(int.from_bytes(private, "big"), ec.SECP256R1()).public_key()
    assert ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public) == derived
    assert "=" not in keys.public_key and "=" not in keys.private_key
    assert keys.private_key not in repr(keys)
    assert generate_vapid_keys().public_key != keys.public_key


async def test_load_or_create_keeps_one_key_pair_in_a_private_file(
    tmp_path: Path, push_service: LocalPushService
) -> None:
    data_dir = tmp_path / "data"

    first = load_or_create_vapid_keys(data_dir)
    again = load_or_create_vapid_keys(data_dir)

    path = data_dir / "vapid.json"
    assert again == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir()] == ["vapid.json"]  # no temp files left behind
    assert load_or_create_vapid_keys(tmp_path / "elsewhere") != first
    # the stored pair really works: the push service verifies a message signed with it
    assert (await send_push(push_service.new_subscription(), {"n": 1}, vapid=again, subject=SUBJECT)).ok
    assert push_service.received[0].vapid_key == first.public_key


def test_load_or_create_tightens_a_loosened_file_mode(tmp_path: Path) -> None:
    keys = load_or_create_vapid_keys(tmp_path)
    (tmp_path / "vapid.json").chmod(0o644)

    assert load_or_create_vapid_keys(tmp_path) == keys
    assert stat.S_IMODE((tmp_path / "vapid.json").stat().st_mode) == 0o600


def test_load_or_create_refuses_a_mismatched_key_pair(tmp_path: Path) -> None:
    keys = load_or_create_vapid_keys(tmp_path)
    other = generate_vapid_keys()
    (tmp_path / "vapid.json").write_text(f'{{"public_key": "{other.public_key}", "private_key": "{keys.private_key}"}}')

    with pytest.raises(ValueError, match="does not match"):
        load_or_create_vapid_keys(tmp_path)
