"""`recurrence_due` (Kafka trigger): creates the next occurrence of a completed recurring task, exactly once."""

from __future__ import annotations

from typing import List  # noqa: UP035 - the real worker refuses PEP 585 generics in binding annotations

import azure.functions as func

from functions._events import retry_args, run_batch, trigger_args
from todo_core.domain.events import RECURRENCE_DUE

bp = func.Blueprint()


@bp.function_name(name="recurrence_due")
@bp.retry(**retry_args())
@bp.kafka_trigger(**trigger_args("recurrence_due", RECURRENCE_DUE))
async def recurrence_due(events: List[func.KafkaEvent], context: func.Context) -> None:  # noqa: UP006
    await run_batch("recurrence_due", events, context)
