"""``POST /chatkit``: the ChatKit protocol (``openai-chatkit`` server SDK) over the same agent and threads.

* :class:`ChatKitThreadStore` is ChatKit's ``Store`` over :class:`~agent_gateway.chat_store.ChatStore`:
  ChatKit threads are rows of ``chat_threads`` (so they show in ``GET /api/v1/chat/threads`` too) and
  ChatKit items are ``chat_items`` of kind ``chatkit``; everything is scoped by the verified user, and
  another user's thread id is ChatKit's ``NotFoundError`` (HTTP 404).
* :class:`TodoChatKitServer.respond` runs the same turn as ``POST /api/v1/chat``
  (:func:`agent_gateway.chat.start_turn`: the agent, MCP with the caller's token, the thread's session)
  and converts the run into ChatKit events with ``chatkit.agents.stream_agent_response``. Each tool
  result is shown as a workflow task ("Completed “Pay rent”").
* The route authenticates with the bearer token like every API route. Streaming requests answer
  ``text/event-stream`` (``data: <event JSON>``), the others JSON.

ChatKit's web component loads from OpenAI's CDN; the UI's own chat (``POST /api/v1/chat``) works
without it, and the tests speak the protocol directly.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID, uuid4

from agents import Agent, RunContextWrapper, RunHooks, Tool
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter, ValidationError

from agent_gateway.agent import ChatContext
from agent_gateway.chat import AccessToken, ChatDep, ChatRuntime, start_turn
from agent_gateway.chat_store import ChatStore, thread_cursor, thread_title
from agent_gateway.offline_model import summarize_tool_output
from todo_core.api.deps import CurrentUser
from todo_core.api.errors import ApiError

with warnings.catch_warnings():  # openai-chatkit warns about its own widget classes when it is imported
    warnings.filterwarnings("ignore", "Direct usage of named widget classes", DeprecationWarning)
    from chatkit.agents import AgentContext, stream_agent_response
    from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
    from chatkit.store import NotFoundError, Store
    from chatkit.types import (
        Attachment,
        ChatKitReq,
        CustomTask,
        Page,
        ThreadItem,
        ThreadMetadata,
        ThreadStreamEvent,
        UserMessageItem,
    )

log = logging.getLogger(__name__)

router = APIRouter(tags=["chatkit"])
REQUEST_MAX_BYTES = 64 * 1024
_ITEM = TypeAdapter[ThreadItem](ThreadItem)
_REQUEST = TypeAdapter[ChatKitReq](ChatKitReq)


@dataclass(frozen=True, slots=True)
class ChatKitContext:
    """Per request: the verified user, their token (for MCP) and where MCP is."""

    user_id: UUID
    access_token: str
    mcp_url: str


def _thread_uuid(thread_id: str) -> UUID:
    try:
        return UUID(thread_id)
    except ValueError:
        raise NotFoundError(f"thread {thread_id} not found") from None


class ChatKitThreadStore(Store[ChatKitContext]):
    """ChatKit's store over the chat tables; every call is for ``context.user_id`` only."""

    def __init__(self, store: ChatStore) -> None:
        self.chat = store

    def generate_thread_id(self, context: ChatKitContext) -> str:
        return str(uuid4())

    async def load_thread(self, thread_id: str, context: ChatKitContext) -> ThreadMetadata:
        row = await self.chat.get_thread(context.user_id, _thread_uuid(thread_id))
        if row is None:
            raise NotFoundError(f"thread {thread_id} not found")
        meta = {k: v for k, v in row.meta.items() if k in ("status", "allowed_image_domains", "metadata")}
        return ThreadMetadata(id=str(row.id), title=row.title or None, created_at=row.created_at, **meta)

    async def save_thread(self, thread: ThreadMetadata, context: ChatKitContext) -> None:
        meta = thread.model_dump(mode="json", include={"status", "allowed_image_domains", "metadata"})
        saved = await self.chat.save_thread(
            context.user_id, _thread_uuid(thread.id), title=thread.title or "", meta=meta
        )
        if not saved:
            raise NotFoundError(f"thread {thread.id} not found")

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: ChatKitContext
    ) -> Page[ThreadMetadata]:
        cursor = None
        if after:
            anchor = await self.chat.get_thread(context.user_id, _thread_uuid(after))
            if anchor is None:
                raise NotFoundError(f"thread {after} not found")
            cursor = thread_cursor(anchor)
        rows, next_cursor = await self.chat.list_threads(context.user_id, limit=limit, cursor=cursor)
        threads = [ThreadMetadata(id=str(r.id), title=r.title or None, created_at=r.created_at) for r in rows]
        return Page(data=threads, has_more=next_cursor is not None, after=threads[-1].id if threads else None)

    async def delete_thread(self, thread_id: str, context: ChatKitContext) -> None:
        await self.chat.delete_thread(context.user_id, _thread_uuid(thread_id))

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: ChatKitContext
    ) -> Page[ThreadItem]:
        tid = _thread_uuid(thread_id)
        if await self.chat.get_thread(context.user_id, tid) is None:
            raise NotFoundError(f"thread {thread_id} not found")
        rows = await self.chat.load_items(
            context.user_id, tid, "chatkit", limit=limit + 1, order="desc" if order == "desc" else "asc", after=after
        )
        items = [_ITEM.validate_python(data) for _, data in rows[:limit]]
        return Page(data=items, has_more=len(rows) > limit, after=items[-1].id if items else None)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: ChatKitContext) -> None:
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: ChatKitContext) -> None:
        tid = _thread_uuid(thread_id)
        if await self.chat.get_thread(context.user_id, tid) is None:
            raise NotFoundError(f"thread {thread_id} not found")
        await self.chat.add_items(context.user_id, tid, "chatkit", [(item.id, item.model_dump(mode="json"))])

    async def load_item(self, thread_id: str, item_id: str, context: ChatKitContext) -> ThreadItem:
        data = await self.chat.load_item(context.user_id, _thread_uuid(thread_id), "chatkit", item_id)
        if data is None:
            raise NotFoundError(f"item {item_id} not found")
        return _ITEM.validate_python(data)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: ChatKitContext) -> None:
        await self.chat.delete_item(context.user_id, _thread_uuid(thread_id), "chatkit", item_id)

    # attachments are not offered (the agent works on text)
    async def save_attachment(self, attachment: Attachment, context: ChatKitContext) -> None:
        raise NotImplementedError("attachments are not supported")

    async def load_attachment(self, attachment_id: str, context: ChatKitContext) -> Attachment:
        raise NotFoundError(f"attachment {attachment_id} not found")

    async def delete_attachment(self, attachment_id: str, context: ChatKitContext) -> None:
        raise NotFoundError(f"attachment {attachment_id} not found")


class _ToolTasks(RunHooks[ChatContext]):
    """Shows each tool result as a ChatKit workflow task."""

    def __init__(self, agent_context: AgentContext[ChatKitContext]) -> None:
        self.agent_context = agent_context

    async def on_tool_end(
        self, context: RunContextWrapper[ChatContext], agent: Agent[ChatContext], tool: Tool, result: Any
    ) -> None:
        summary = summarize_tool_output(tool.name, result, timezone=context.context.timezone)
        await self.agent_context.add_workflow_task(CustomTask(title=summary.short[:200], status_indicator="complete"))


def _message_text(item: UserMessageItem) -> str:
    return " ".join(part.text for part in item.content if part.text).strip()


class TodoChatKitServer(ChatKitServer[ChatKitContext]):
    def __init__(self, chat: ChatRuntime) -> None:
        super().__init__(ChatKitThreadStore(chat.store))
        self.chat = chat

    async def respond(
        self, thread: ThreadMetadata, input_user_message: UserMessageItem | None, context: ChatKitContext
    ) -> AsyncIterator[ThreadStreamEvent]:
        if input_user_message is None:
            return
        text = _message_text(input_user_message)
        if not text:
            return
        if not thread.title:
            thread.title = thread_title(text)  # the server saves it and tells the client
        agent_context = AgentContext[ChatKitContext](thread=thread, store=self.store, request_context=context)
        async with start_turn(
            self.chat,
            user_id=context.user_id,
            token=context.access_token,
            thread_id=UUID(thread.id),
            mcp_url=context.mcp_url,
            message=text,
            hooks=_ToolTasks(agent_context),
        ) as result:
            async for event in stream_agent_response(agent_context, result):
                yield event


async def get_chatkit(chat: ChatDep, request: Request) -> TodoChatKitServer:
    server: TodoChatKitServer | None = getattr(request.app.state, "chatkit", None)
    if server is None or server.chat is not chat:
        server = TodoChatKitServer(chat)
        request.app.state.chatkit = server
    return server


@router.post("/chatkit", response_model=None)
async def chatkit_endpoint(
    request: Request,
    user: CurrentUser,
    token: AccessToken,
    server: Annotated[TodoChatKitServer, Depends(get_chatkit)],
) -> Response:
    body = await request.body()
    if len(body) > REQUEST_MAX_BYTES:
        raise ApiError(413, "payload_too_large", "request too large")
    try:
        parsed = _REQUEST.validate_json(body)
    except ValidationError as exc:
        raise ApiError(
            400, "bad_request", "not a ChatKit request", [{"message": str(exc.errors()[0]["msg"])}]
        ) from None
    context = ChatKitContext(user.user_id, token, server.chat.mcp_url_for(request))
    thread_id = getattr(parsed.params, "thread_id", None)
    try:
        if thread_id is not None:  # refuse another user's thread before any stream starts
            await server.store.load_thread(str(thread_id), context)
        result = await server.process(body, context)
    except NotFoundError:
        raise ApiError(404, "not_found", "thread not found") from None
    except NotImplementedError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    if isinstance(result, StreamingResult):
        return StreamingResponse(
            result, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
    assert isinstance(result, NonStreamingResult)
    return Response(content=result.json, media_type="application/json")


def mount_chatkit(app: FastAPI) -> None:
    app.include_router(router)
