"""/chatkit speaks the ChatKit protocol (openai-chatkit server) over real HTTP, backed by the chat agent and threads.

The requests are the JSON the ChatKit web component sends (the component itself loads from a CDN,
so the test speaks the protocol directly). The model is the fake OpenAI server, so the run is the
same agent loop as ``POST /api/v1/chat``: tool calls through /mcp with the caller's token.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_chat import chat, start_gateway
from tests.fake_openai import FakeOpenAI, call, say
from tests.fix_api import UserClient, register

pytestmark = pytest.mark.e2e

API = "/api/v1"


@pytest.fixture(scope="module")
def chatkit_url(pg_url: str, tmp_path_factory: pytest.TempPathFactory, fake_openai_server: FakeOpenAI) -> Iterator[str]:
    yield from start_gateway(
        pg_url,
        tmp_path_factory.mktemp("chatkit"),
        openai_api_key="sk-fake-key",
        openai_base_url=fake_openai_server.base_url,
    )


def user_input(text: str) -> dict[str, Any]:
    return {"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}}


def stream(user: UserClient, request: dict[str, Any]) -> list[dict[str, Any]]:
    events = []
    with user.http.stream("POST", "/chatkit", json=request, timeout=60) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    return events


def call_json(user: UserClient, request: dict[str, Any]) -> Any:
    r = user.http.post("/chatkit", json=request)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def test_threads_create_streams_the_agents_answer_and_keeps_the_thread(
    chatkit_url: str, fake_openai: FakeOpenAI
) -> None:
    alice = register(chatkit_url, "Europe/Berlin")
    task = alice.create(title="Water the plants")
    fake_openai.script(
        [call("list_tasks", query="plants")],
        lambda req: [call("complete_task", task_id=req.tool_outputs()[-1]["items"][0]["id"])],
        [say("Watered: “Water the plants” is done.")],
    )
    events = stream(alice, {"type": "threads.create", "params": {"input": user_input("I watered the plants")}})
    types = [e["type"] for e in events]
    assert types[0] == "thread.created"
    thread_id = events[0]["thread"]["id"]
    assert "thread.item.updated" in types and "error" not in types
    done = [e["item"] for e in events if e["type"] == "thread.item.done"]
    user_msg = next(i for i in done if i["type"] == "user_message")
    assert user_msg["content"][0]["text"] == "I watered the plants"
    answer = next(i for i in done if i["type"] == "assistant_message")
    assert answer["content"][0]["text"] == "Watered: “Water the plants” is done."
    deltas = [
        e["update"]["delta"]
        for e in events
        if e["type"] == "thread.item.updated" and e["update"]["type"] == "assistant_message.content_part.text_delta"
    ]
    assert "".join(deltas) == answer["content"][0]["text"]
    workflow = next(i for i in done if i["type"] == "workflow")  # each tool result is a workflow task
    titles = [t["title"] for t in workflow["workflow"]["tasks"]]
    assert titles[0].startswith("1 task") and titles[1].startswith("Completed “Water the plants”")
    assert any(e["type"] == "thread.updated" and e["thread"]["title"] == "I watered the plants" for e in events)

    # the agent acted through MCP as alice
    assert alice.http.get(f"{API}/tasks/{task['id']}").json()["status"] == "done"
    assert "Europe/Berlin" in fake_openai.requests[0].instructions

    # ChatKit reads the thread back from the store
    thread = call_json(alice, {"type": "threads.get_by_id", "params": {"thread_id": thread_id}})
    assert thread["title"] == "I watered the plants"
    kinds = [i["type"] for i in thread["items"]["data"]]
    assert kinds[0] == "user_message" and kinds[-1] == "assistant_message"
    listed = call_json(alice, {"type": "threads.list", "params": {"limit": 10}})
    assert [t["id"] for t in listed["data"]] == [thread_id]

    # the same thread store as /api/v1/chat: listed there, with the agent's memory of the turn
    assert [t["id"] for t in alice.http.get(f"{API}/chat/threads").json()["items"]] == [thread_id]
    messages = alice.http.get(f"{API}/chat/threads/{thread_id}").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "tool", "tool", "assistant"]

    # and a ChatKit follow-up continues the same conversation
    fake_openai.script([say("You're welcome.")])
    more = stream(
        alice, {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input("thanks")}}
    )
    assert any(e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message" for e in more)
    assert fake_openai.requests[-1].user_texts() == ["I watered the plants", "thanks"]
    # ... which /api/v1/chat can continue too
    fake_openai.script([say("Still here.")])
    assert chat(alice, "and now?", thread_id)[-1][1]["text"] == "Still here."


def test_chatkit_is_per_user_and_needs_a_token(chatkit_url: str, fake_openai: FakeOpenAI) -> None:
    alice = register(chatkit_url)
    bob = register(chatkit_url)
    fake_openai.script([say("Hello Alice.")])
    events = stream(alice, {"type": "threads.create", "params": {"input": user_input("alice only")}})
    thread_id = events[0]["thread"]["id"]
    for request in (
        {"type": "threads.get_by_id", "params": {"thread_id": thread_id}},
        {"type": "items.list", "params": {"thread_id": thread_id}},
        {"type": "threads.update", "params": {"thread_id": thread_id, "title": "bob was here"}},
        {"type": "threads.delete", "params": {"thread_id": thread_id}},
        {"type": "threads.add_user_message", "params": {"thread_id": thread_id, "input": user_input("hi")}},
    ):
        r = bob.http.post("/chatkit", json=request)
        assert r.status_code == 404, (request["type"], r.text)
    assert call_json(bob, {"type": "threads.list", "params": {}})["data"] == []
    assert call_json(alice, {"type": "threads.get_by_id", "params": {"thread_id": thread_id}})["title"] == "alice only"
    assert httpx.post(f"{chatkit_url}/chatkit", json={"type": "threads.list", "params": {}}).status_code == 401
    assert alice.http.post("/chatkit", content=b"{not json").status_code == 400
    assert alice.http.post("/chatkit", json={"type": "threads.nope", "params": {}}).status_code == 400
