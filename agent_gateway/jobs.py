"""Dapr's side door into the gateway in cluster mode (mounted only when DAPR_ENABLED):

- ``POST /job/{name}`` — daprd's Jobs callback (body: the job's data). 200 ``{"status": "fired"}``
  or ``{"status": "noop"}`` (already fired, moved, cancelled, gone: nothing to retry); 400 for a
  name or data that is not a reminder job's; 500 when the database cannot be reached, so daprd
  retries (its failure policy), and 503 before the scheduler is up.
- ``POST /internal/reminders/sync`` ``{user_id, task_id}`` — the ``task_events`` function, through
  service invocation, asks for the task's jobs to be created/replaced/deleted. 200 with counts;
  503 when daprd refuses the job calls, 500 on a database failure (the function retries).
- ``GET /dapr/subscribe`` — ``[]``: daprd's subscription discovery at start (no Dapr subscriptions).

All want the ``dapr-api-token`` header daprd adds (its APP_API_TOKEN) to equal
``DAPR_APP_TOKEN`` when that is set (else 401). None is part of the public API (OpenAPI).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

import psycopg
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from pydantic import BaseModel

from todo_core.api.errors import ApiError
from todo_core.api.runtime import Runtime
from todo_core.scheduling.dapr_jobs import DaprError, DaprJobs
from todo_core.scheduling.dapr_scheduler import DaprReminderScheduler, InvalidJob
from todo_core.scheduling.remote import SYNC_METHOD

log = logging.getLogger(__name__)


async def _dapr_caller(request: Request, dapr_api_token: Annotated[str | None, Header()] = None) -> None:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    expected = runtime.settings.dapr_app_token if runtime is not None else None
    if expected is None:
        return
    given = (dapr_api_token or "").encode()
    if not hmac.compare_digest(given, expected.get_secret_value().encode()):
        raise ApiError(401, "unauthorized", "missing or wrong dapr-api-token")


def _scheduler(request: Request) -> DaprReminderScheduler:
    scheduler: DaprReminderScheduler | None = getattr(request.app.state, "dapr_scheduler", None)
    if scheduler is None:  # starting or stopping: daprd retries a 503
        raise ApiError(503, "unavailable", "the reminder scheduler is not running")
    return scheduler


SchedulerDep = Annotated[DaprReminderScheduler, Depends(_scheduler)]

router = APIRouter(include_in_schema=False, dependencies=[Depends(_dapr_caller)])


class SyncRequest(BaseModel):
    user_id: UUID
    task_id: UUID


@router.post("/job/{name}")
async def job_callback(name: str, request: Request, scheduler: SchedulerDep) -> dict[str, str]:
    raw = await request.body()
    try:
        data: Any = json.loads(raw) if raw else None
    except ValueError as exc:
        raise ApiError(400, "malformed_json", "the job data is not JSON") from exc
    try:
        status = await scheduler.on_job(name, data)
    except InvalidJob as exc:
        log.warning("job callback rejected", extra={"job": name[:100], "error": str(exc)})
        raise ApiError(400, "invalid_job", str(exc)) from exc
    except psycopg.Error as exc:
        log.error("job callback failed; daprd will retry", extra={"job": name, "error": repr(exc)})
        raise ApiError(500, "database_unavailable", "the reminder could not be fired; retry") from exc
    return {"status": status}


@router.get("/dapr/subscribe")
async def dapr_subscriptions() -> list[dict[str, Any]]:
    """daprd asks at start which topics the app subscribes to: none (the event functions read Kafka
    themselves). Answered here so that no other route (the UI's fallback) answers it with HTML."""
    return []


@router.post(f"/{SYNC_METHOD}")
async def sync_reminders(body: SyncRequest, scheduler: SchedulerDep) -> dict[str, int]:
    try:
        return await scheduler.sync(body.user_id, body.task_id)
    except DaprError as exc:
        log.error("reminder jobs not synced", extra={"task_id": str(body.task_id), "error": str(exc)})
        raise ApiError(503, "dapr_unavailable", "the Dapr sidecar refused the job calls; retry") from exc
    except psycopg.Error as exc:
        log.error("reminder jobs not synced", extra={"task_id": str(body.task_id), "error": repr(exc)})
        raise ApiError(500, "database_unavailable", "the task's reminders could not be read; retry") from exc


@contextlib.asynccontextmanager
async def dapr_scheduler_component(app: FastAPI, runtime: Runtime) -> AsyncIterator[DaprReminderScheduler]:
    """Dapr job client + scheduler for the app's lifetime, and the reconciler (when the scheduler
    is enabled on this replica; several replicas may run it, the fire gate keeps each reminder once)."""
    settings = runtime.settings
    token = settings.dapr_api_token.get_secret_value() if settings.dapr_api_token is not None else None
    jobs = DaprJobs(settings.dapr_http_endpoint, api_token=token)
    scheduler = DaprReminderScheduler(runtime.pool, jobs)
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    if settings.scheduler_enabled:
        task = asyncio.create_task(
            scheduler.run_reconciler(stop, settings.reminder_reconcile_seconds), name="reminder-reconciler"
        )
    app.state.dapr_scheduler = scheduler
    try:
        yield scheduler
    finally:
        app.state.dapr_scheduler = None
        stop.set()
        if task is not None:
            try:
                await asyncio.wait_for(task, timeout=15)
            except TimeoutError:
                log.warning("reminder reconciler did not stop in time")
            except Exception:
                log.exception("reminder reconciler failed")
        await jobs.close()
