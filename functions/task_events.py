"""`task_events` (Kafka trigger): keeps reminder timers in step with task changes."""

from __future__ import annotations

from typing import List  # noqa: UP035 - the real worker refuses PEP 585 generics in binding annotations

import azure.functions as func

from functions._events import retry_args, run_batch, trigger_args
from todo_core.domain.events import TASK_EVENTS

bp = func.Blueprint()


@bp.function_name(name="task_events")
@bp.retry(**retry_args())
@bp.kafka_trigger(**trigger_args("task_events", TASK_EVENTS))
async def task_events(events: List[func.KafkaEvent], context: func.Context) -> None:  # noqa: UP006
    await run_batch("task_events", events, context)
