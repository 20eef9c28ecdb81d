"""Chat with the agent: ``POST /api/v1/chat`` (Server-Sent Events) and the caller's threads.

``POST /chat {message, thread_id?}`` answers ``text/event-stream``; each event is
``event: <name>`` + ``data: <JSON>``:

* ``thread`` ``{thread_id, title}`` — first; the thread the turn belongs to (new when none was given);
* ``delta`` ``{text}`` — a piece of the assistant's answer as the model streams it;
* ``tool_call`` ``{call_id, name, arguments}`` — the agent calls an MCP tool;
* ``tool_result`` ``{call_id, name, ok, summary, task_ids}`` — what it did, in one line, with the ids
  of the tasks it touched (the UI links them);
* ``message`` ``{thread_id, text}`` — the final answer (stored in the thread); the stream ends;
* ``error`` ``{code, message}`` — the turn failed (model or tools unreachable, too many steps); the
  stream ends. Errors before the stream starts are the usual JSON errors (401, 404, 422).

``GET /chat/threads`` lists the caller's threads (newest activity first, ``limit``, ``cursor``);
``GET /chat/threads/{id}`` reads one with its messages; ``DELETE /chat/threads/{id}`` forgets one.
Another user's thread is a 404, whatever the id.

The agent is built per turn (``agent.open_agent``) and acts through this gateway's own ``/mcp``
with the caller's bearer token; the turn's memory is the thread's session (``ChatStore.session``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from uuid import UUID

import httpx
from agents import MaxTurnsExceeded, RunHooks, Runner
from agents.exceptions import AgentsException
from agents.models.interface import Model
from agents.result import RunResultStreaming
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from openai import APIError, AsyncOpenAI
from pydantic import BaseModel, ConfigDict, Field

from agent_gateway.agent import MAX_TURNS, ChatContext, build_model, open_agent, openai_client, run_config
from agent_gateway.chat_store import ChatStore, ThreadRow, thread_title
from agent_gateway.offline_model import summarize_tool_output
from todo_core.api.deps import CurrentUser, RuntimeDep
from todo_core.api.errors import ApiError
from todo_core.api.runtime import Runtime
from todo_core.auth import AccountService
from todo_core.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["chat"])
MESSAGE_MAX: Final = 4000
_bearer = HTTPBearer(auto_error=False)


@dataclass
class ChatRuntime:
    """What the chat routes share for the app's lifetime (``app.state.chat``)."""

    settings: Settings
    store: ChatStore
    accounts: AccountService
    client: AsyncOpenAI | None
    # -- where the agent reaches MCP; None: this server's own /mcp (the address the request came in on)
    mcp_url: str | None = None
    # -- tests and benchmarks may put their own model in (e.g. agents.testing.ScriptedModel)
    model_factory: Callable[[ChatContext], Model] | None = None
    # -- one turn at a time per thread in this process, so two turns never interleave a thread's memory
    _turn_locks: weakref.WeakValueDictionary[UUID, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary, repr=False
    )

    def turn_lock(self, thread_id: UUID) -> asyncio.Lock:
        lock = self._turn_locks.get(thread_id)
        if lock is None:
            lock = self._turn_locks[thread_id] = asyncio.Lock()
        return lock

    def model(self, context: ChatContext) -> Model:
        if self.model_factory is not None:
            return self.model_factory(context)
        return build_model(self.settings, self.client, context)

    def mcp_url_for(self, request: Request) -> str:
        if self.mcp_url:
            return self.mcp_url
        server = request.scope.get("server")
        if server and server[1]:
            host, port = server
            host = f"[{host}]" if ":" in str(host) else host
            return f"http://{host}:{port}/mcp"
        return f"http://127.0.0.1:{self.settings.port}/mcp"


@asynccontextmanager
async def _chat_runtime(app: FastAPI, runtime: Runtime) -> AsyncIterator[ChatRuntime]:
    settings = runtime.settings
    async with AsyncExitStack() as stack:
        http = None
        if settings.dapr_enabled:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        client = openai_client(settings)
        if client is not None:
            stack.push_async_callback(client.close)
        chat = ChatRuntime(settings, ChatStore(runtime.pool, settings, http=http), runtime.accounts, client)
        app.state.chat = chat
        log.info("chat agent ready", extra={"mode": "offline" if client is None else settings.llm_provider})
        yield chat


def chat_component(app: FastAPI, runtime: Runtime) -> AbstractAsyncContextManager[object]:
    """Gateway component: the chat runtime (thread store, model client) for the app's lifetime."""
    return _chat_runtime(app, runtime)


async def get_chat(request: Request) -> ChatRuntime:
    chat: ChatRuntime | None = getattr(request.app.state, "chat", None)
    if chat is None:
        raise ApiError(503, "unavailable", "chat is not running")
    return chat


ChatDep = Annotated[ChatRuntime, Depends(get_chat)]


async def access_token(
    user: CurrentUser, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    """The caller's verified bearer token (``CurrentUser`` checked it), forwarded to MCP as is."""
    assert creds is not None
    return creds.credentials


AccessToken = Annotated[str, Depends(access_token)]


# -- one turn -------------------------------------------------------------------------------------


@asynccontextmanager
async def start_turn(
    chat: ChatRuntime,
    *,
    user_id: UUID,
    token: str,
    thread_id: UUID,
    mcp_url: str,
    message: str,
    hooks: RunHooks[ChatContext] | None = None,
) -> AsyncIterator[RunResultStreaming]:
    """Run the agent on ``message`` in the thread's session; yields the streaming result.

    Enter and leave it in one task (the MCP connection lives in it). Turns of one thread wait for each other."""
    timezone = (await chat.accounts.get(user_id)).timezone
    session = chat.store.session(user_id, thread_id)
    async with chat.turn_lock(thread_id):
        context = ChatContext(user_id=user_id, timezone=timezone, now=datetime.now(UTC), thread_id=thread_id)
        async with open_agent(chat.model(context), mcp_url=mcp_url, access_token=token) as agent:
            result = Runner.run_streamed(
                agent,
                message,
                context=context,
                session=session,
                run_config=run_config(),
                max_turns=MAX_TURNS,
                hooks=hooks,
            )
            try:
                yield result
            finally:
                result.cancel()


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def _call_fields(raw: Any) -> tuple[str, str, str]:
    get = raw.get if isinstance(raw, dict) else lambda k, d=None: getattr(raw, k, d)
    return str(get("call_id") or get("id") or ""), str(get("name") or ""), str(get("arguments") or "{}")


def _error_of(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, MaxTurnsExceeded):
        return "max_turns", "The request took too many steps; try something simpler."
    if isinstance(exc, APIError):
        return "model_unavailable", "The language model could not be reached."
    if isinstance(exc, AgentsException | ExceptionGroup | OSError | httpx.HTTPError):
        return "agent_error", "The assistant could not complete this request."
    return "internal_error", "Something went wrong."


async def turn_events(
    chat: ChatRuntime, *, user_id: UUID, token: str, thread: ThreadRow, mcp_url: str, message: str
) -> AsyncIterator[bytes]:
    """The SSE events of one chat turn (module docstring)."""
    yield sse("thread", {"thread_id": str(thread.id), "title": thread.title})
    timezone = "UTC"
    names: dict[str, str] = {}
    final = ""
    try:
        async with start_turn(
            chat, user_id=user_id, token=token, thread_id=thread.id, mcp_url=mcp_url, message=message
        ) as result:
            timezone = result.context_wrapper.context.timezone
            async for event in result.stream_events():
                if event.type == "raw_response_event":
                    if event.data.type == "response.output_text.delta" and event.data.delta:
                        yield sse("delta", {"text": event.data.delta})
                elif event.type == "run_item_stream_event":
                    if event.name == "tool_called":
                        call_id, name, arguments = _call_fields(event.item.raw_item)
                        names[call_id] = name
                        try:
                            args = json.loads(arguments)
                        except json.JSONDecodeError:
                            args = arguments
                        yield sse("tool_call", {"call_id": call_id, "name": name, "arguments": args})
                    elif event.name == "tool_output":
                        call_id, _, _ = _call_fields(event.item.raw_item)
                        name = names.get(call_id, "")
                        summary = summarize_tool_output(name, getattr(event.item, "output", None), timezone=timezone)
                        yield sse(
                            "tool_result",
                            {
                                "call_id": call_id,
                                "name": name,
                                "ok": summary.ok,
                                "summary": summary.short,
                                "task_ids": summary.task_ids,
                            },
                        )
            final = str(result.final_output or "")
    except Exception as exc:
        code, text = _error_of(exc)
        log.warning(
            "chat turn failed",
            extra={"thread_id": str(thread.id), "code": code, "error": type(exc).__name__},
            exc_info=code == "internal_error",  # a bug: keep the traceback (it holds no token)
        )
        yield sse("error", {"code": code, "message": text})
        return
    await chat.store.touch(user_id, thread.id)
    yield sse("message", {"thread_id": str(thread.id), "text": final})


# -- transcript -----------------------------------------------------------------------------------


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def transcript(items: list[Any], timezone: str = "UTC") -> list[dict[str, Any]]:
    """A thread's session items as messages: user and assistant text, and each tool call with its result."""
    messages: list[dict[str, Any]] = []
    calls: dict[str, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message" and item.get("role") in ("user", "assistant"):
            messages.append({"role": item["role"], "text": _text(item.get("content"))})
        elif kind == "function_call":
            try:
                arguments = json.loads(item.get("arguments") or "{}")
            except json.JSONDecodeError:
                arguments = item.get("arguments")
            entry = {"role": "tool", "call_id": item.get("call_id"), "name": item.get("name"), "arguments": arguments}
            calls[str(item.get("call_id"))] = entry
            messages.append(entry)
        elif kind == "function_call_output" and str(item.get("call_id")) in calls:
            entry = calls[str(item["call_id"])]
            summary = summarize_tool_output(str(entry["name"]), item.get("output"), timezone=timezone)
            entry.update(ok=summary.ok, summary=summary.short, task_ids=summary.task_ids)
    return messages


# -- routes ---------------------------------------------------------------------------------------


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MESSAGE_MAX)
    thread_id: UUID | None = None


async def _own_thread(chat: ChatRuntime, user_id: UUID, thread_id: str) -> ThreadRow:
    try:
        tid = UUID(thread_id)
    except ValueError:
        raise ApiError(404, "not_found", "thread not found") from None
    thread = await chat.store.get_thread(user_id, tid)
    if thread is None:
        raise ApiError(404, "not_found", "thread not found")
    return thread


@router.post("/chat", response_class=StreamingResponse)
async def post_chat(
    body: ChatRequest, request: Request, user: CurrentUser, token: AccessToken, chat: ChatDep
) -> StreamingResponse:
    """One turn with the agent, streamed as Server-Sent Events."""
    message = body.message.strip()
    if not message:
        raise ApiError(422, "validation_error", "message must not be blank", [{"field": "message", "message": "blank"}])
    if body.thread_id is not None:
        thread = await _own_thread(chat, user.user_id, str(body.thread_id))
    else:
        thread = await chat.store.create_thread(user.user_id, title=thread_title(message))
    events = turn_events(
        chat, user_id=user.user_id, token=token, thread=thread, mcp_url=chat.mcp_url_for(request), message=message
    )
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.get("/chat/threads")
async def list_threads(
    user: CurrentUser,
    chat: ChatDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    try:
        rows, next_cursor = await chat.store.list_threads(user.user_id, limit=limit, cursor=cursor)
    except ValueError:
        raise ApiError(422, "validation_error", "invalid cursor", [{"field": "cursor", "message": "invalid"}]) from None
    return {"items": [r.to_public() for r in rows], "next_cursor": next_cursor}


@router.get("/chat/threads/{thread_id}")
async def read_thread(thread_id: str, user: CurrentUser, chat: ChatDep, runtime: RuntimeDep) -> dict[str, Any]:
    thread = await _own_thread(chat, user.user_id, thread_id)
    items = await chat.store.session(user.user_id, thread.id).get_items()
    timezone = (await runtime.accounts.get(user.user_id)).timezone
    return {**thread.to_public(), "messages": transcript(list(items), timezone)}


@router.delete("/chat/threads/{thread_id}", status_code=204)
async def delete_thread(thread_id: str, user: CurrentUser, chat: ChatDep) -> Response:
    thread = await _own_thread(chat, user.user_id, thread_id)
    await chat.store.delete_thread(user.user_id, thread.id)
    return Response(status_code=204)
