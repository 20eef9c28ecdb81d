"""`reminder_fire` (Kafka trigger): inbox notification, Web Push and realtime event for a due reminder, exactly once."""

from __future__ import annotations

from typing import List  # noqa: UP035 - the real worker refuses PEP 585 generics in binding annotations

import azure.functions as func

from functions._events import retry_args, run_batch, trigger_args
from todo_core.domain.events import REMINDER_FIRE

bp = func.Blueprint()


@bp.function_name(name="reminder_fire")
@bp.retry(**retry_args())
@bp.kafka_trigger(**trigger_args("reminder_fire", REMINDER_FIRE))
async def reminder_fire(events: List[func.KafkaEvent], context: func.Context) -> None:  # noqa: UP006
    await run_batch("reminder_fire", events, context)
