"""The gateway's MCP server (mcp 2.x ``MCPServer``) over streamable HTTP at ``/mcp``, bearer-authenticated.

Use::

    endpoint = mount_mcp(app)          # adds the /mcp route; app.state.mcp is the endpoint
    components.append(mcp_component)   # runs it (session manager, tools) for the app's lifetime

A client connects to ``<gateway>/mcp`` with ``Authorization: Bearer <access token>`` (the token of
``POST /api/v1/auth/login``). Every request is verified by the runtime's ``TokenIssuer`` (the same
check as the HTTP API: signature, issuer, expiry, scope ``api``); without a valid token the answer is
401 with ``WWW-Authenticate: Bearer ...`` and nothing reaches the MCP server. The tools take the user
from that verified token only (``mcp_tools.current_user``).

Choices:
- Stateless streamable HTTP with JSON responses: each POST stands alone, so any gateway replica can
  answer it (no sticky sessions, no session store), and a tool call is one HTTP round trip. The tools
  never call back into the client (no sampling or elicitation), so sessions would buy nothing.
- Auth is mcp's own bearer middleware (``BearerAuthBackend`` + ``RequireAuthMiddleware`` +
  ``AuthContextMiddleware``, which feeds ``get_access_token()``) around the transport, with a
  ``TokenVerifier`` that asks the runtime's ``TokenIssuer``. ``MCPServer(auth=AuthSettings(...))``
  would wire the same classes but insists on an OAuth issuer URL, which this service does not have.
- DNS-rebinding protection (Host/Origin allow-lists) is off: credentials are bearer tokens, never
  cookies, so a rebound page has nothing to ride on, and the Host of a cluster ingress is not
  127.0.0.1.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Literal, cast

from fastapi import FastAPI
from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import ConfigDict, ValidationError
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agent_gateway.mcp_tools import DESTRUCTIVE, READ_ONLY, TOOL_NAMES, TodoTools, arguments_message
from todo_core.api.runtime import Runtime
from todo_core.domain.errors import Unauthorized

MCP_PATH = "/mcp"
SERVER_NAME = "todo-cloud"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class RuntimeTokenVerifier:
    """mcp ``TokenVerifier`` over the runtime's ``TokenIssuer``: the subject is the user id."""

    def __init__(self, runtime: Callable[[], Runtime]) -> None:
        self._runtime = runtime

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            principal = self._runtime().tokens.verify(token)
        except Unauthorized:
            return None
        user = str(principal.user_id)
        return AccessToken(token=token, client_id=f"user:{user}", scopes=list(principal.scopes), subject=user)


# -- tools ---------------------------------------------------------------------------------------


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The same JSON schema in fewer tokens: ``$ref``s inlined, no ``title``s, ``X | None`` as ``X`` (an
    omitted argument and null mean the same), no ``default: null``, no ``additionalProperties`` (unknown
    arguments are refused all the same, with an error naming them)."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = defs[str(node["$ref"]).rsplit("/", 1)[-1]]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("title", "$defs", "additionalProperties") or (key == "default" and value is None):
                continue
            out[key] = {n: walk(v) for n, v in value.items()} if key == "properties" else walk(value)
        options = out.get("anyOf")
        if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
            other = next(o for o in options if o != {"type": "null"})
            del out["anyOf"]
            out = {**other, **out}
        return out

    return cast(dict[str, Any], walk(schema))


class TodoTool(Tool):
    """A tool whose argument errors read like its domain errors: ``priority: Input should be 'high', ...``."""

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        try:
            self.fn_metadata.validate_arguments(arguments)
        except ValidationError as exc:
            raise ToolError(f"Error executing tool {self.name}: {arguments_message(exc)}") from exc
        return await super().run(arguments, context, convert_result)


def build_tools(tools: TodoTools) -> list[Tool]:
    """The MCP tools: names of the contract, lean schemas, unknown arguments refused."""
    built = []
    for name in TOOL_NAMES:
        fn = getattr(tools, name)
        tool = TodoTool.from_function(
            fn,
            name=name,
            description=inspect.cleandoc(fn.__doc__ or ""),
            annotations=ToolAnnotations(
                read_only_hint=name in READ_ONLY, destructive_hint=name in DESTRUCTIVE, open_world_hint=False
            ),
        )
        # a misspelt argument ("due_at", "user_id") is an error the model sees, not silently dropped
        loose = tool.fn_metadata.arg_model
        tool.fn_metadata.arg_model = type(
            loose.__name__, (loose,), {"model_config": ConfigDict(extra="forbid"), "__module__": __name__}
        )
        tool.parameters = compact_schema(tool.parameters)
        built.append(tool)
    return built


def build_server(runtime: Callable[[], Runtime], *, log_level: str = "INFO") -> MCPServer[Any]:
    level = cast(LogLevel, log_level.upper() if log_level.upper() in _LOG_LEVELS else "INFO")
    return MCPServer(SERVER_NAME, version="1.0.0", tools=build_tools(TodoTools(runtime)), log_level=level)


def tool_schemas() -> list[dict[str, Any]]:
    """What a model is sent per turn for these tools, as OpenAI function tools (name, description, parameters)."""
    return [
        {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
        for t in build_tools(TodoTools(_no_runtime))
    ]


def tool_schema_tokens() -> int:
    """Tokens the tool schemas cost per model turn: tiktoken's o200k_base when installed, else chars / 4."""
    text = json.dumps(tool_schemas(), separators=(",", ":"))
    try:
        encoding = importlib.import_module("tiktoken").get_encoding("o200k_base")
        return len(encoding.encode(text))
    except Exception:  # not installed, or no encoding file offline
        return round(len(text) / 4)


def _no_runtime() -> Runtime:
    raise RuntimeError("schema only: these tools are not bound to a runtime")


# -- HTTP ----------------------------------------------------------------------------------------


class MCPEndpoint:
    """The ASGI app at ``/mcp``. Answers 503 until ``run()`` (the app's lifespan) has started it."""

    def __init__(self, path: str = MCP_PATH) -> None:
        self.path = path
        self.server: MCPServer[Any] | None = None
        self._app: ASGIApp | None = None

    @asynccontextmanager
    async def run(self, runtime: Runtime) -> AsyncIterator[MCPEndpoint]:
        """Build the server for this runtime and run its session manager; a fresh one per lifespan."""
        server = build_server(lambda: runtime, log_level=runtime.settings.log_level)
        transport = server.streamable_http_app(
            streamable_http_path=self.path,
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        app: ASGIApp = AuthContextMiddleware(RequireAuthMiddleware(transport, required_scopes=[]))
        app = AuthenticationMiddleware(app, backend=BearerAuthBackend(RuntimeTokenVerifier(lambda: runtime)))
        async with server.session_manager.run():
            self.server, self._app = server, app
            try:
                yield self
            finally:
                self.server, self._app = None, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            response = JSONResponse(
                {"error": {"code": "unavailable", "message": "MCP server is not running", "details": []}}, 503
            )
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)


def mount_mcp(app: FastAPI, path: str = MCP_PATH) -> MCPEndpoint:
    """Serve MCP at ``path`` of the app (all methods); run it with ``mcp_component``."""
    endpoint = MCPEndpoint(path)
    app.state.mcp = endpoint
    app.router.routes.append(Route(path, endpoint, include_in_schema=False))  # every method, an ASGI app
    return endpoint


def mcp_component(app: FastAPI, runtime: Runtime) -> AbstractAsyncContextManager[object]:
    """Gateway component (``todo_core.api.main.Component``): runs the endpoint ``mount_mcp`` added."""
    endpoint: MCPEndpoint = app.state.mcp
    return endpoint.run(runtime)
