"""Dependencies as Annotated aliases: CurrentUser, Tasks, Accounts.

All are ``async def`` although none awaits: FastAPI runs plain ``def`` dependencies in a worker
thread, and four thread hops per request cost more than the work they do.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from todo_core.api.runtime import Runtime
from todo_core.auth import AccountService, Principal
from todo_core.domain.errors import Unauthorized
from todo_core.service import Actor, TaskService

_bearer = HTTPBearer(auto_error=False)


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def current_principal(
    runtime: RuntimeDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise Unauthorized("missing bearer token")
    return runtime.tokens.verify(creds.credentials)


CurrentUser = Annotated[Principal, Depends(current_principal)]


_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


async def api_actor(user: CurrentUser, request: Request) -> Actor:
    """The caller, and the request's W3C trace (``traceparent`` header) that its events continue."""
    header = request.headers.get("traceparent", "").strip().lower()
    valid = _TRACEPARENT.match(header) and header[3:35] != "0" * 32
    return Actor(user_id=user.user_id, channel="api", traceparent=header if valid else None)


ApiActor = Annotated[Actor, Depends(api_actor)]


async def task_service(runtime: RuntimeDep) -> TaskService:
    return runtime.tasks


async def account_service(runtime: RuntimeDep) -> AccountService:
    return runtime.accounts


Tasks = Annotated[TaskService, Depends(task_service)]
Accounts = Annotated[AccountService, Depends(account_service)]
