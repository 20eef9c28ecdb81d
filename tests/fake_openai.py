"""A fake OpenAI API: a real local HTTP server that the real ``openai`` client talks to, scripted per test.

Load as a plugin (``-p tests.fake_openai``). Fixture ``fake_openai`` (function scope) yields the
session's :class:`FakeOpenAI` with an empty script and record, and fails the test if scripted steps
were left unused. Point a client at ``fake_openai.base_url`` (``.../v1``) with any API key.

Script the model, one step per model request::

    fake_openai.script(
        [call("list_tasks", query="report")],                  # 1st request: call a tool
        lambda req: [call("complete_task", task_id=req.tool_outputs()[-1]["items"][0]["id"])],
        [say("Done: the report is complete.")],                # 3rd request: answer
    )

A step is a list of outputs (:func:`say` text, :func:`call` tool calls) or a function of the
:class:`Recorded` request returning one. Every request is recorded (path, headers, JSON body), so a
test can assert what the model was sent: ``instructions`` (system prompt), ``tool_names``,
``tools`` (schemas), ``tool_outputs()``.

Wire formats, as the OpenAI API sends them:

* ``POST /v1/responses`` — Responses API; ``stream: true`` answers SSE ``event: <type>`` /
  ``data: <json>``: ``response.created``, ``response.in_progress``, per output item
  ``response.output_item.added``, text (``response.content_part.added``,
  ``response.output_text.delta``…, ``response.output_text.done``, ``response.content_part.done``) or
  function-call arguments (``response.function_call_arguments.delta``/``.done``),
  ``response.output_item.done``, then ``response.completed`` with the whole response.
* ``POST .../chat/completions`` (also Azure's ``/openai/deployments/<d>/chat/completions``) — Chat
  Completions; ``stream: true`` answers ``data: <chunk>`` lines ending with ``data: [DONE]``.
* With no step left the answer is a 400 ``invalid_request_error`` (the client does not retry it).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fix_api import ServerThread, free_port


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Call:
    name: str
    arguments: dict[str, Any]


def say(text: str) -> Say:
    return Say(text)


def call(name: str, /, **arguments: Any) -> Call:
    return Call(name, arguments)


Output = Say | Call
Step = list[Output] | Callable[["Recorded"], list[Output]]


@dataclass
class Recorded:
    """One request the fake received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def api(self) -> str:
        return "responses" if self.path.endswith("/responses") else "chat"

    @property
    def instructions(self) -> str:
        """The system prompt the model was sent."""
        if self.api == "responses":
            text = self.body.get("instructions") or ""
            for item in self.body.get("input") or []:
                if isinstance(item, dict) and item.get("role") in ("system", "developer"):
                    text += _text(item.get("content"))
            return str(text)
        return "".join(
            _text(m.get("content")) for m in self.body.get("messages", []) if m.get("role") in ("system", "developer")
        )

    @property
    def tools(self) -> list[dict[str, Any]]:
        """Tool schemas as sent: ``{name, description, parameters}`` for either API."""
        out = []
        for tool in self.body.get("tools") or []:
            fn = tool.get("function", tool)
            out.append(
                {"name": fn.get("name"), "description": fn.get("description"), "parameters": fn.get("parameters")}
            )
        return out

    @property
    def tool_names(self) -> list[str]:
        return [str(t["name"]) for t in self.tools]

    def tool_outputs(self) -> list[Any]:
        """Results of tool calls in the request, oldest first, JSON-decoded when they are JSON."""
        if self.api == "responses":
            raw = [
                i.get("output")
                for i in self.body.get("input") or []
                if isinstance(i, dict) and i.get("type") == "function_call_output"
            ]
        else:
            raw = [m.get("content") for m in self.body.get("messages", []) if m.get("role") == "tool"]
        return [_decode(_text(r) if not isinstance(r, str) else r) for r in raw]

    def user_texts(self) -> list[str]:
        if self.api == "responses":
            items = self.body.get("input")
            if isinstance(items, str):
                return [items]
            return [_text(i.get("content")) for i in items or [] if isinstance(i, dict) and i.get("role") == "user"]
        return [_text(m.get("content")) for m in self.body.get("messages", []) if m.get("role") == "user"]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


def _chunks(text: str, size: int = 12) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


# -- Responses API ---------------------------------------------------------------------------------


def _response_object(rid: str, model: str, output: list[dict[str, Any]], status: str) -> dict[str, Any]:
    usage = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 120,
    }
    return {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "usage": usage if status == "completed" else None,
    }


def _response_items(outputs: list[Output]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for out in outputs:
        if isinstance(out, Say):
            items.append(
                {
                    "id": f"msg_{uuid.uuid4().hex}",
                    "type": "message",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": out.text, "annotations": [], "logprobs": []}],
                }
            )
        else:
            items.append(
                {
                    "id": f"fc_{uuid.uuid4().hex}",
                    "type": "function_call",
                    "call_id": f"call_{uuid.uuid4().hex[:24]}",
                    "name": out.name,
                    "arguments": json.dumps(out.arguments),
                    "status": "completed",
                }
            )
    return items


def _responses_events(model: str, outputs: list[Output]) -> Iterator[dict[str, Any]]:
    rid = f"resp_{uuid.uuid4().hex}"
    items = _response_items(outputs)
    yield {"type": "response.created", "response": _response_object(rid, model, [], "in_progress")}
    yield {"type": "response.in_progress", "response": _response_object(rid, model, [], "in_progress")}
    for index, item in enumerate(items):
        if item["type"] == "message":
            yield {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {**item, "status": "in_progress", "content": []},
            }
            part = item["content"][0]
            base = {"item_id": item["id"], "output_index": index, "content_index": 0}
            yield {"type": "response.content_part.added", **base, "part": {**part, "text": ""}}
            for piece in _chunks(part["text"]):
                yield {"type": "response.output_text.delta", **base, "delta": piece, "logprobs": []}
            yield {"type": "response.output_text.done", **base, "text": part["text"], "logprobs": []}
            yield {"type": "response.content_part.done", **base, "part": part}
        else:
            yield {
                "type": "response.output_item.added",
                "output_index": index,
                "item": {**item, "status": "in_progress", "arguments": ""},
            }
            base = {"item_id": item["id"], "output_index": index}
            yield {"type": "response.function_call_arguments.delta", **base, "delta": item["arguments"]}
            yield {
                "type": "response.function_call_arguments.done",
                **base,
                "name": item["name"],
                "arguments": item["arguments"],
            }
        yield {"type": "response.output_item.done", "output_index": index, "item": item}
    yield {"type": "response.completed", "response": _response_object(rid, model, items, "completed")}


# -- Chat Completions ------------------------------------------------------------------------------


def _chat_chunks(model: str, outputs: list[Output], include_usage: bool) -> Iterator[dict[str, Any]]:
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    yield chunk({"role": "assistant", "content": ""})
    calls = [o for o in outputs if isinstance(o, Call)]
    for out in outputs:
        if isinstance(out, Say):
            for piece in _chunks(out.text):
                yield chunk({"content": piece})
    for index, c in enumerate(calls):
        head = {
            "index": index,
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": c.name, "arguments": ""},
        }
        yield chunk({"tool_calls": [head]})
        yield chunk({"tool_calls": [{"index": index, "function": {"arguments": json.dumps(c.arguments)}}]})
    yield chunk({}, "tool_calls" if calls else "stop")
    if include_usage:
        yield {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }


def _chat_completion(model: str, outputs: list[Output]) -> dict[str, Any]:
    calls = [o for o in outputs if isinstance(o, Call)]
    text = "".join(o.text for o in outputs if isinstance(o, Say))
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in calls
        ]
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop", "logprobs": None}
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


# -- the server ------------------------------------------------------------------------------------


@dataclass
class FakeOpenAI:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    _steps: list[Step] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, *steps: Step) -> None:
        with self._lock:
            self._steps.extend(steps)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._steps)

    def reset(self) -> None:
        with self._lock:
            self._steps.clear()
            self.requests.clear()

    def _next(self, recorded: Recorded) -> list[Output] | None:
        with self._lock:
            self.requests.append(recorded)
            if not self._steps:
                return None
            step = self._steps.pop(0)
        return step(recorded) if callable(step) else list(step)

    async def handle(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        recorded = Recorded(request.url.path, {k.lower(): v for k, v in request.headers.items()}, body)
        try:
            outputs = self._next(recorded)
        except Exception as exc:  # a responder that failed: make the test see why
            return _error(500, f"fake_openai: scripted step failed: {exc!r}")
        if outputs is None:
            return _error(400, "fake_openai: no scripted step left for this request")
        model = str(body.get("model", "fake-model"))
        stream = bool(body.get("stream"))
        if recorded.api == "responses":
            if not stream:
                rid = f"resp_{uuid.uuid4().hex}"
                return JSONResponse(_response_object(rid, model, _response_items(outputs), "completed"))
            events = list(_responses_events(model, outputs))
            return StreamingResponse(_sse_responses(events), media_type="text/event-stream")
        if not stream:
            return JSONResponse(_chat_completion(model, outputs))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = list(_chat_chunks(model, outputs, include_usage))
        return StreamingResponse(_sse_chat(chunks), media_type="text/event-stream")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": None}}, status)


async def _sse_responses(events: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    for seq, event in enumerate(events):
        data = json.dumps({**event, "sequence_number": seq})
        yield f"event: {event['type']}\ndata: {data}\n\n".encode()


async def _sse_chat(chunks: list[dict[str, Any]]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield f"data: {json.dumps(chunk)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def build_app(fake: FakeOpenAI) -> Starlette:
    async def responses(request: Request) -> Response:
        return await fake.handle(request)

    return Starlette(
        routes=[
            Route("/v1/responses", responses, methods=["POST"]),
            Route("/v1/chat/completions", responses, methods=["POST"]),
            Route("/openai/deployments/{deployment}/chat/completions", responses, methods=["POST"]),
            Route("/openai/v1/chat/completions", responses, methods=["POST"]),
            Route("/openai/v1/responses", responses, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    with ServerThread(build_app(fake), free_port()) as server:
        fake.url = server.url
        yield fake


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai_server.reset()
    yield fake_openai_server
    left = fake_openai_server.pending
    fake_openai_server.reset()
    if left:
        pytest.fail(f"fake_openai: {left} scripted step(s) were never requested")
