"""/notifications (the inbox) and /push (Web Push: the VAPID key, the browser's subscriptions)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Depends, Header, Query, Response
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from todo_core.api.deps import CurrentUser, RuntimeDep
from todo_core.api.errors import ApiError
from todo_core.domain.errors import NotFound, ValidationError
from todo_core.notify import inbox
from todo_core.settings import Environment

router = APIRouter()

MAX_ENDPOINT = 2048
MAX_USER_AGENT = 512
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


async def get_pool(runtime: RuntimeDep) -> AsyncConnectionPool:
    return runtime.pool


Pool = Annotated[AsyncConnectionPool, Depends(get_pool)]


# -- models ----------------------------------------------------------------------------------------


class NotificationPublic(BaseModel):
    id: str
    task_id: str | None
    reminder_id: str | None
    kind: str
    title: str
    body: str
    data: dict[str, Any]
    late: bool
    created_at: str = Field(description="RFC 3339")
    read_at: str | None = Field(description="RFC 3339, null while unread")


class NotificationPage(BaseModel):
    items: list[NotificationPublic]
    next_cursor: str | None
    unread_count: int


class ReadAll(BaseModel):
    updated: int = Field(description="how many notifications were unread")


class VapidKey(BaseModel):
    public_key: str = Field(description="base64url P-256 point: pushManager.subscribe({applicationServerKey})")


def _b64url_bytes(value: str, name: str) -> bytes:
    if not _B64URL.match(value):
        raise ValueError(f"{name} must be base64url (A-Z a-z 0-9 - _)")
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} is not valid base64url") from None


class PushKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")

    p256dh: StrictStr = Field(max_length=200, description="the browser's P-256 public key, base64url (65 bytes)")
    auth: StrictStr = Field(max_length=100, description="the browser's auth secret, base64url (16 bytes)")

    @field_validator("p256dh")
    @classmethod
    def _point(cls, value: str) -> str:
        raw = _b64url_bytes(value, "p256dh")
        if len(raw) != 65 or raw[0] != 0x04:
            raise ValueError("p256dh must decode to a 65-byte uncompressed P-256 point (starting 0x04)")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            raise ValueError("p256dh is not a point on the P-256 curve") from None
        return value

    @field_validator("auth")
    @classmethod
    def _secret(cls, value: str) -> str:
        if len(_b64url_bytes(value, "auth")) != 16:
            raise ValueError("auth must decode to 16 bytes")
        return value


class PushSubscriptionIn(BaseModel):
    """What ``PushSubscription.toJSON()`` gives in the browser."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    endpoint: StrictStr = Field(min_length=1, max_length=MAX_ENDPOINT)
    keys: PushKeys
    expiration_time: int | None = Field(default=None, alias="expirationTime", description="ignored")


class PushSubscriptionOut(BaseModel):
    id: str
    endpoint: str


class PushEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: StrictStr = Field(min_length=1, max_length=MAX_ENDPOINT)


def _check_endpoint(endpoint: str, environment: Environment) -> str:
    """An absolute https URL (push services are https); outside production also http on loopback."""
    problem = None
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname
        _ = parts.port  # ValueError for a port that is not a number
    except ValueError:
        parts, host = None, None
    if parts is None or not host or any(c.isspace() for c in endpoint):
        problem = "must be an absolute https:// URL"
    elif "@" in parts.netloc:
        problem = "must not contain credentials"
    elif parts.scheme == "https":
        pass
    elif parts.scheme == "http" and environment is not Environment.PRODUCTION and host in LOOPBACK_HOSTS:
        pass
    else:
        problem = "must be an https:// URL" + (
            "" if environment is Environment.PRODUCTION else " (or http:// on 127.0.0.1/localhost outside production)"
        )
    if problem:
        raise ValidationError(f"endpoint: {problem}", [{"field": "endpoint", "message": problem}])
    return endpoint


# -- inbox -------------------------------------------------------------------------------------------


@router.get("/notifications", response_model=NotificationPage, tags=["notifications"])
async def list_notifications(
    user: CurrentUser,
    pool: Pool,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=inbox.MAX_PAGE)] = inbox.DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """The caller's notifications, newest first; ``unread=true`` for unread ones only."""
    before = inbox.decode_cursor(cursor) if cursor else None
    async with pool.connection() as conn:
        page = await inbox.list_notifications(conn, user.user_id, unread_only=unread, limit=limit, before=before)
        count = await inbox.unread_count(conn, user.user_id)
    return {"items": page.items, "next_cursor": page.next_cursor, "unread_count": count}


@router.post("/notifications/read-all", response_model=ReadAll, tags=["notifications"])
async def read_all(user: CurrentUser, pool: Pool) -> dict[str, Any]:
    async with pool.connection() as conn:
        return {"updated": await inbox.mark_all_read(conn, user.user_id)}


@router.post("/notifications/{notification_id}/read", response_model=NotificationPublic, tags=["notifications"])
async def read_one(notification_id: UUID, user: CurrentUser, pool: Pool) -> dict[str, Any]:
    async with pool.connection() as conn:
        return await inbox.mark_read(conn, user.user_id, notification_id)


# -- web push ----------------------------------------------------------------------------------------


@router.get("/push/vapid-public-key", response_model=VapidKey, tags=["push"])
async def vapid_public_key(user: CurrentUser, runtime: RuntimeDep) -> dict[str, Any]:
    key = runtime.settings.vapid_public_key
    if not key:
        raise ApiError(503, "push_unavailable", "Web Push is not configured on this server (no VAPID key)")
    return {"public_key": key}


@router.post("/push/subscriptions", status_code=201, response_model=PushSubscriptionOut, tags=["push"])
async def subscribe(
    body: PushSubscriptionIn,
    user: CurrentUser,
    runtime: RuntimeDep,
    pool: Pool,
    user_agent: Annotated[str, Header()] = "",
) -> dict[str, Any]:
    """Store the browser's push subscription for the caller (again: keys are updated; an endpoint that
    belonged to another account on the same browser moves to the caller)."""
    endpoint = _check_endpoint(body.endpoint, runtime.settings.environment)
    async with pool.connection() as conn:
        stored = await inbox.upsert_subscription(
            conn,
            user.user_id,
            endpoint=endpoint,
            p256dh=body.keys.p256dh,
            auth=body.keys.auth,
            user_agent=user_agent[:MAX_USER_AGENT],
        )
    return {"id": stored["id"], "endpoint": stored["endpoint"]}


@router.delete("/push/subscriptions", status_code=204, tags=["push"])
async def unsubscribe(
    user: CurrentUser,
    pool: Pool,
    body: PushEndpoint | None = None,
    endpoint: Annotated[str | None, Query(max_length=MAX_ENDPOINT)] = None,
) -> Response:
    """Forget one of the caller's subscriptions, by endpoint (JSON body ``{endpoint}`` or ``?endpoint=``)."""
    target = body.endpoint if body is not None else endpoint
    if not target:
        raise ValidationError("endpoint: required", [{"field": "endpoint", "message": "required (body or query)"}])
    async with pool.connection() as conn:
        if not await inbox.delete_subscription(conn, user.user_id, target):
            raise NotFound("push subscription not found")
    return Response(status_code=204)
