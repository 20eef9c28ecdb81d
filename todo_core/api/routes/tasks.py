"""/tasks, /tasks/{id}, complete, reopen, /tags, /audit."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse

from todo_core.api.deps import Accounts, ApiActor, CurrentUser, Tasks
from todo_core.api.errors import ApiError
from todo_core.api.models import AuditPage, TagOut, TaskCreate, TaskPage, TaskPublic, TaskUpdate
from todo_core.domain.query import DEFAULT_LIMIT, build_query

router = APIRouter(tags=["tasks"])
_IF_MATCH = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    m = _IF_MATCH.match(if_match)
    if not m:
        raise ApiError(
            400,
            "bad_request",
            'If-Match must be the task\'s version, e.g. "3"',
            [{"field": "If-Match", "message": "expected a version number"}],
        )
    return int(m.group(1))


def _task_response(task: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(task, status_code=status, headers={"ETag": f'"{task["version"]}"', **(headers or {})})


IfMatch = Annotated[str | None, Header(alias="If-Match")]


@router.post("/tasks", status_code=201, response_model=TaskPublic)
async def create_task(
    body: TaskCreate,
    actor: ApiActor,
    tasks: Tasks,
    accounts: Accounts,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    timezone = body.timezone or (await accounts.get(actor.user_id)).timezone
    created = await tasks.create(actor, body.to_fields(timezone), idempotency_key=idempotency_key)
    headers = {"Location": f"/api/v1/tasks/{created.task['id']}"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return _task_response(created.task, 201, headers)


@router.get("/tasks", response_model=TaskPage)
async def list_tasks(
    user: CurrentUser,
    tasks: Tasks,
    q: str | None = None,
    status: str = "open",
    priority: str | None = None,
    tag: Annotated[list[str] | None, Query()] = None,
    tag_mode: str = "any",
    due_before: datetime | None = None,
    due_after: datetime | None = None,
    overdue: bool | None = None,
    has_due: bool | None = None,
    recurring: bool | None = None,
    sort: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> JSONResponse:
    query = build_query(
        q=q,
        status=status,
        priority=priority,
        tags=tag,
        tag_mode=tag_mode,
        due_before=due_before,
        due_after=due_after,
        overdue=overdue,
        has_due=has_due,
        recurring=recurring,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    page = await tasks.list_tasks(user.user_id, query)
    return JSONResponse({"items": [t.to_public() for t in page.items], "next_cursor": page.next_cursor})


@router.get("/tasks/{task_id}", response_model=TaskPublic)
async def get_task(task_id: UUID, user: CurrentUser, tasks: Tasks) -> JSONResponse:
    return _task_response((await tasks.get(user.user_id, task_id)).to_public())


@router.patch("/tasks/{task_id}", response_model=TaskPublic)
async def update_task(
    task_id: UUID, body: TaskUpdate, actor: ApiActor, tasks: Tasks, if_match: IfMatch = None
) -> JSONResponse:
    task = await tasks.update(actor, task_id, body.to_patch(), expected_version=_expected_version(if_match))
    return _task_response(task.to_public())


@router.post("/tasks/{task_id}/complete", response_model=TaskPublic)
async def complete_task(task_id: UUID, actor: ApiActor, tasks: Tasks, if_match: IfMatch = None) -> JSONResponse:
    task = await tasks.complete(actor, task_id, expected_version=_expected_version(if_match))
    return _task_response(task.to_public())


@router.post("/tasks/{task_id}/reopen", response_model=TaskPublic)
async def reopen_task(task_id: UUID, actor: ApiActor, tasks: Tasks, if_match: IfMatch = None) -> JSONResponse:
    task = await tasks.reopen(actor, task_id, expected_version=_expected_version(if_match))
    return _task_response(task.to_public())


@router.delete("/tasks/{task_id}", status_code=204)
async def delete_task(task_id: UUID, actor: ApiActor, tasks: Tasks, if_match: IfMatch = None) -> Response:
    await tasks.delete(actor, task_id, expected_version=_expected_version(if_match))
    return Response(status_code=204)


@router.get("/tags", response_model=list[TagOut])
async def list_tags(user: CurrentUser, tasks: Tasks) -> list[dict[str, Any]]:
    return await tasks.tags(user.user_id)


@router.get("/audit", response_model=AuditPage)
async def audit(
    user: CurrentUser,
    tasks: Tasks,
    task_id: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    rows = await tasks.audit_trail(user.user_id, task_id=task_id, limit=limit)
    return {
        "items": [
            {**r, "event_id": str(r["event_id"]), "task_id": str(r["task_id"]) if r["task_id"] else None} for r in rows
        ]
    }
