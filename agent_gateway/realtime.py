"""Realtime for browser tabs: ``POST /events/ticket`` and the Server-Sent Events stream ``GET /events/stream``.

``EventSource`` cannot send an Authorization header, so a tab first trades its bearer token for a
ticket (an HS256 JWT with audience ``todo-realtime``, scope ``realtime``, valid 30 s) and opens
``/events/stream?ticket=...``. A ticket is not an access token and an access token is not a
ticket: tickets carry an audience that access tokens lack (``TokenIssuer.verify`` refuses any
``aud``, ``verify_ticket`` requires this one) and a scope other than ``api``. A ticket may open
several streams within its 30 s; after that a tab asks for a new one, also to reconnect.

The stream sends ``event: ready`` first (the subscription is live from then on), then every
realtime message of the user as ``event: <type>`` / ``data: <json>`` / ``id: <id>``, a ``: keep-alive``
comment every 15 s, and ``event: resync`` when messages may have been missed (refetch what is
shown). It ends on client disconnect, and on shutdown after ``event: reconnect`` (ask for a new
ticket, reconnect — another replica will answer).

Shutdown: uvicorn waits for open responses to finish *before* it runs the lifespan shutdown that
closes the hub, so a stream that only ended with the hub would hold every shutdown forever (and
Kubernetes would SIGKILL the pod). :func:`realtime_component` therefore wraps ``uvicorn.Server.shutdown``
(once per process) to drain the hub of the app being shut down first; the hub closing ends streams too.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID, uuid4

import jwt
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from todo_core.api.deps import CurrentUser
from todo_core.api.errors import ApiError
from todo_core.api.runtime import Runtime
from todo_core.domain.errors import Unauthorized
from todo_core.notify.realtime import RealtimeHub, RealtimeMessage, Subscription, SubscriptionClosed

log = logging.getLogger(__name__)

router = APIRouter(tags=["realtime"])

TICKET_AUDIENCE: Final = "todo-realtime"
TICKET_SCOPE: Final = "realtime"
TICKET_TTL_SECONDS: Final = 30
HEARTBEAT_SECONDS: Final = 15.0
#: How long a browser waits before reconnecting by itself (the SSE ``retry`` field), in ms.
RECONNECT_MS: Final = 2000


class TicketSigner:
    """Issues and checks realtime tickets with the deployment's HS256 signing secret."""

    def __init__(self, secret: str, *, issuer: str, ttl_seconds: int = TICKET_TTL_SECONDS) -> None:
        self._secret = secret
        self._issuer = issuer
        self.ttl_seconds = ttl_seconds

    def issue(self, user_id: UUID) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "iss": self._issuer,
            "aud": TICKET_AUDIENCE,
            "iat": now,
            "exp": now + timedelta(seconds=self.ttl_seconds),
            "scope": TICKET_SCOPE,
            "jti": uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, ticket: str) -> UUID:
        """The user the ticket was issued to; Unauthorized for anything that is not a valid, live ticket."""
        try:
            claims = jwt.decode(
                ticket,
                self._secret,
                algorithms=["HS256"],
                audience=TICKET_AUDIENCE,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            if claims.get("scope") != TICKET_SCOPE:
                raise Unauthorized("not a realtime ticket")
            return UUID(str(claims["sub"]))
        except Unauthorized:
            raise
        except jwt.ExpiredSignatureError:
            raise Unauthorized("ticket expired; ask POST /api/v1/events/ticket for a new one") from None
        except (jwt.PyJWTError, ValueError, KeyError):
            raise Unauthorized("invalid ticket") from None


def _signer(request: Request) -> TicketSigner:
    signer: TicketSigner | None = getattr(request.app.state, "realtime_tickets", None)
    if signer is None:
        settings = request.app.state.runtime.settings
        signer = TicketSigner(settings.signing_secret(), issuer=settings.jwt_issuer)
        request.app.state.realtime_tickets = signer
    return signer


class Ticket(BaseModel):
    ticket: str
    expires_in: int


@router.post("/events/ticket", response_model=Ticket)
async def issue_ticket(user: CurrentUser, request: Request) -> JSONResponse:
    """A 30-second ticket for ``GET /events/stream?ticket=`` (EventSource cannot send headers)."""
    signer = _signer(request)
    return JSONResponse(
        {"ticket": signer.issue(user.user_id), "expires_in": signer.ttl_seconds},
        headers={"Cache-Control": "no-store"},
    )


def _sse(event: str, data: Any, *, id_: str | None = None, retry: int | None = None) -> str:
    lines = [f"retry: {retry}"] if retry is not None else []
    lines += [f"event: {event}", "data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False)]
    if id_ is not None:
        lines.append(f"id: {id_}")
    return "\n".join(lines) + "\n\n"


def _message(msg: RealtimeMessage) -> str:
    return _sse(msg.type, msg.data, id_=msg.id)


async def _events(hub: RealtimeHub, user_id: UUID, heartbeat: float) -> AsyncIterator[str]:
    try:
        sub: Subscription = hub.subscribe(user_id)
    except SubscriptionClosed:
        yield _sse("reconnect", {"reason": "shutdown"}, retry=RECONNECT_MS)
        return
    try:
        # subscribed before "ready" goes out: whatever the tab does after seeing it, it hears about
        yield _sse("ready", {"user_id": str(user_id), "heartbeat_seconds": heartbeat}, retry=RECONNECT_MS)
        while True:
            try:
                msg = await sub.get(timeout=heartbeat)
            except SubscriptionClosed:
                yield _sse("reconnect", {"reason": "shutdown"})
                return
            yield ": keep-alive\n\n" if msg is None else _message(msg)
    finally:
        sub.close()


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream(request: Request, ticket: str | None = None) -> StreamingResponse:
    """The caller's realtime events as Server-Sent Events; authenticate with ``?ticket=`` from POST /events/ticket."""
    if not ticket:
        raise Unauthorized("missing ticket: ask POST /api/v1/events/ticket and pass it as ?ticket=")
    user_id = _signer(request).verify(ticket)
    hub: RealtimeHub | None = getattr(request.app.state, "realtime_hub", None)
    if hub is None or hub.draining:
        raise ApiError(503, "realtime_unavailable", "realtime events are not available right now; retry shortly")
    heartbeat = float(getattr(request.app.state, "realtime_heartbeat_seconds", HEARTBEAT_SECONDS))
    return StreamingResponse(
        _events(hub, user_id, heartbeat),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )


# -- lifetime --------------------------------------------------------------------------------------


def _drain_apps_of(server: Any) -> None:
    """Drain the realtime hub of every app in the server's ASGI chain (uvicorn wraps the app in middleware)."""
    node = getattr(getattr(server, "config", None), "loaded_app", None)
    for _ in range(16):
        if node is None:
            return
        state = getattr(node, "state", None)
        hub = getattr(state, "realtime_hub", None) if state is not None else None
        if isinstance(hub, RealtimeHub):
            hub.drain()
        node = getattr(node, "app", None)


def _install_uvicorn_drain_hook() -> None:
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - another ASGI server: the hub closing ends the streams
        return
    original: Callable[..., Awaitable[None]] = uvicorn.Server.shutdown
    if getattr(original, "_drains_realtime", False):
        return

    @functools.wraps(original)
    async def shutdown(self: uvicorn.Server, *args: Any, **kwargs: Any) -> None:
        _drain_apps_of(self)
        await original(self, *args, **kwargs)

    shutdown._drains_realtime = True  # type: ignore[attr-defined]
    uvicorn.Server.shutdown = shutdown  # type: ignore[method-assign]


@asynccontextmanager
async def _realtime(app: FastAPI, runtime: Runtime) -> AsyncIterator[RealtimeHub]:
    _install_uvicorn_drain_hook()
    app.state.realtime_tickets = TicketSigner(runtime.settings.signing_secret(), issuer=runtime.settings.jwt_issuer)
    async with RealtimeHub(runtime.pool.conninfo) as hub:
        app.state.realtime_hub = hub
        try:
            yield hub
        finally:
            app.state.realtime_hub = None
            stats = hub.stats()
            log.info(
                "realtime hub stopped",
                extra={"delivered": stats.delivered, "dropped": stats.dropped, "reconnects": stats.reconnects},
            )


def realtime_component(app: FastAPI, runtime: Runtime) -> AbstractAsyncContextManager[RealtimeHub]:
    """The realtime hub for the app's lifetime, on ``app.state.realtime_hub`` (a gateway component)."""
    return _realtime(app, runtime)
