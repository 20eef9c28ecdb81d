"""Reminder timers as Dapr jobs (cluster mode; ARCHITECTURE §1, §7).

The always-on gateway owns the jobs: daprd calls back ``POST /job/<name>`` on the app that
scheduled a job, so the gateway both schedules (:meth:`DaprReminderScheduler.sync`, asked by the
``task_events`` function through service invocation) and receives (:meth:`on_job`). One job per
reminder, named ``reminder-<id>``, one-shot at the reminder's ``fire_at``.

Correctness never rests on the jobs being exact; the fire gate (:mod:`todo_core.scheduling.fire`)
decides:

- A job whose reminder was moved carries the old ``fire_at``: the gate compares it with the row
  and does nothing, and the replacement job (same name, ``overwrite``) fires at the new time.
- A job whose reminder was dropped from the task, or whose task was deleted, cannot be deleted
  here: the row is gone, and with it the only record of the job (``sync`` only sees the task's
  current reminders). Such a job fires into the gate, which finds no pending row and does
  nothing. Likewise a job that fires twice (daprd retries) finds the row already fired.
- A reminder whose job never came (Dapr down, a sync that failed for good) is fired by the
  reconciler once it is ``reconcile_grace`` overdue, marked late by the gate.

``sync`` runs under a per-task advisory lock, so two replicas syncing the same task one after the
other leave the jobs of the later state, never an interleaving of both.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from todo_core.scheduling.dapr_jobs import DaprJobs, reminder_job_name
from todo_core.scheduling.fire import EARLY_TOLERANCE, fire_due, fire_reminder

log = logging.getLogger(__name__)

RECONCILE_GRACE = timedelta(seconds=30)
_SYNC_LOCK_SEED = 0x5C4ED  # hash seed of the per-task advisory lock (its own key space)
_JOB_NAME = re.compile(r"^reminder-([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")
_PROTOBUF_VALUE_TYPE = "type.googleapis.com/google.protobuf.Value"


class InvalidJob(ValueError):
    """A job callback that is not one of ours (bad name) or carries data we did not write."""


def reminder_id_of(name: str) -> UUID:
    """The reminder of the job ``reminder-<uuid>``; InvalidJob for any other name."""
    m = _JOB_NAME.match(name)
    if m is None:
        raise InvalidJob(f"not a reminder job name: {name[:100]!r}")
    return UUID(m.group(1))


def job_data(reminder_id: UUID, task_id: UUID, user_id: UUID, fire_at: datetime) -> dict[str, str]:
    """What a reminder's job carries (and daprd hands back in the callback)."""
    return {
        "reminder_id": str(reminder_id),
        "task_id": str(task_id),
        "user_id": str(user_id),
        "fire_at": fire_at.isoformat(),
    }


def _unwrap(data: Any) -> Any:
    # daprd stores the data as a google.protobuf.Value; accept it still in its protojson wrapper,
    # or inside a job description ({"data": ...}), besides the plain object daprd sends.
    if isinstance(data, Mapping) and data.get("@type") == _PROTOBUF_VALUE_TYPE and "value" in data:
        data = data["value"]
    if isinstance(data, Mapping) and "reminder_id" not in data and isinstance(data.get("data"), Mapping):
        data = _unwrap(data["data"])
    return data


def parse_job_data(reminder_id: UUID, data: Any) -> datetime:
    """Check the callback's data belongs to the job's reminder; returns the ``fire_at`` it was scheduled for."""
    data = _unwrap(data)
    if not isinstance(data, Mapping):
        raise InvalidJob("job data is not a JSON object")
    if str(data.get("reminder_id", "")).lower() != str(reminder_id):
        raise InvalidJob("job data names another reminder")
    for key in ("task_id", "user_id"):
        if key in data:
            try:
                UUID(str(data[key]))
            except ValueError as exc:
                raise InvalidJob(f"job data {key} is not a UUID") from exc
    try:
        fire_at = datetime.fromisoformat(str(data["fire_at"]))
    except (KeyError, ValueError) as exc:
        raise InvalidJob("job data fire_at missing or not a timestamp") from exc
    if fire_at.tzinfo is None or fire_at.utcoffset() is None:
        raise InvalidJob("job data fire_at has no offset")
    return fire_at


class DaprReminderScheduler:
    """Keeps one Dapr job per pending reminder, fires reminders from job callbacks, reconciles."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        jobs: DaprJobs,
        *,
        clock: Callable[[], datetime] | None = None,
        reconcile_grace: timedelta = RECONCILE_GRACE,
    ) -> None:
        self.pool = pool
        self.jobs = jobs
        self.clock = clock or (lambda: datetime.now(UTC))
        self.reconcile_grace = reconcile_grace
        self.fired_total = 0
        self.reconciled_total = 0

    async def sync(self, user_id: UUID, task_id: UUID) -> dict[str, int]:
        """Make the task's jobs match its reminders now: a job (created or replaced) per pending
        reminder with a time while the task is open, no job for any other reminder. A task that no
        longer exists has no rows and nothing is done (its leftover jobs fire into the gate)."""
        scheduled = deleted = 0
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%(t)s, %(seed)s))",
                {"t": str(task_id), "seed": _SYNC_LOCK_SEED},
            )
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(
                    "SELECT r.id, r.task_id, r.user_id, r.status, r.fire_at, t.status AS task_status"
                    " FROM reminders r JOIN tasks t ON t.id = r.task_id"
                    " WHERE r.task_id = %(t)s AND r.user_id = %(u)s AND t.user_id = %(u)s ORDER BY r.id",
                    {"t": task_id, "u": user_id},
                )
                rows = await cur.fetchall()
            # the lock is held while daprd is called: a later sync of the task waits for this one
            for row in rows:
                name = reminder_job_name(row["id"])
                if row["status"] == "pending" and row["fire_at"] is not None and row["task_status"] == "open":
                    data = job_data(row["id"], row["task_id"], row["user_id"], row["fire_at"])
                    await self.jobs.schedule(name, row["fire_at"], data, overwrite=True)
                    scheduled += 1
                else:
                    await self.jobs.delete(name)
                    deleted += 1
        log.info(
            "reminder jobs synced",
            extra={"task_id": str(task_id), "scheduled": scheduled, "deleted": deleted},
        )
        return {"scheduled": scheduled, "deleted": deleted}

    async def on_job(self, name: str, data: Any) -> str:
        """A job callback: ``"fired"`` when it wrote the reminder's fire event, ``"noop"`` when the
        gate found nothing to do (already fired, moved, cancelled, gone). InvalidJob when the name
        or data are not a reminder job's."""
        reminder_id = reminder_id_of(name)
        expected = parse_job_data(reminder_id, data)
        fired = await fire_reminder(
            self.pool, reminder_id, now=self.clock(), expected_fire_at=expected, early=EARLY_TOLERANCE
        )
        if fired is None:
            log.info("reminder job found nothing to fire", extra={"job": name})
            return "noop"
        self.fired_total += 1
        return "fired"

    async def reconcile_once(self) -> int:
        """Fire (late) every pending reminder ``reconcile_grace`` past its time: its job never came."""
        fired = await fire_due(self.pool, now=self.clock(), older_than=self.reconcile_grace)
        if fired:
            self.reconciled_total += len(fired)
            log.warning("reconciler fired overdue reminders", extra={"count": len(fired)})
        return len(fired)

    async def run_reconciler(self, stop: asyncio.Event, every: float) -> None:
        """Reconcile at once (reminders that came due while everything was down), then every ``every`` s."""
        while not stop.is_set():
            try:
                while await self.reconcile_once():
                    pass  # more than one batch may be overdue
            except (psycopg.Error, TimeoutError) as exc:  # the loop outlives a database outage
                log.warning("reminder reconciler failed a pass: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
            except TimeoutError:
                pass
