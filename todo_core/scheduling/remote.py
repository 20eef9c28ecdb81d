"""The ``task_events`` function's side of reminder timers in the cluster: ask the gateway's
scheduler, through Dapr service invocation, to bring a task's Dapr jobs in step with its reminders.

The gateway answers ``POST /internal/reminders/sync`` (agent_gateway/jobs.py). Any failure raises,
so the function retries the event and finally dead-letters it; the sync is idempotent (it reads
the task's current state), so a retry or a redelivery is harmless.
"""

from __future__ import annotations

from uuid import UUID

from todo_core.scheduling.dapr_jobs import DaprError, DaprInvoker
from todo_core.settings import Settings

SYNC_METHOD = "internal/reminders/sync"


class GatewayReminderSync:
    """``await sync(user_id, task_id)``: a :data:`todo_core.consumers.RemindersChanged` over Dapr."""

    def __init__(self, invoker: DaprInvoker, app_id: str) -> None:
        self.invoker = invoker
        self.app_id = app_id

    async def __call__(self, user_id: UUID, task_id: UUID) -> None:
        resp = await self.invoker.invoke(self.app_id, SYNC_METHOD, {"user_id": str(user_id), "task_id": str(task_id)})
        if not resp.is_success:  # 5xx already raised by the invoker
            raise DaprError(resp.status_code, f"{self.app_id}/{SYNC_METHOD}: {resp.text}")

    async def aclose(self) -> None:
        await self.invoker.close()


def gateway_reminder_sync(settings: Settings) -> GatewayReminderSync:
    """The reminders-changed hook of the event functions in cluster mode (its HTTP client lives as
    long as the worker; call ``aclose()`` when done with it)."""
    token = settings.dapr_api_token.get_secret_value() if settings.dapr_api_token is not None else None
    return GatewayReminderSync(DaprInvoker(settings.dapr_http_endpoint, api_token=token), settings.dapr_gateway_app_id)
