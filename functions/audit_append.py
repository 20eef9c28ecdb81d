"""`audit_append` (Kafka trigger): appends to the hash-chained audit log, idempotent by event id."""

from __future__ import annotations

import azure.functions as func

from functions._events import retry_args, run_batch, trigger_args
from todo_core.domain.events import AUDIT_APPEND

bp = func.Blueprint()


@bp.function_name(name="audit_append")
@bp.retry(**retry_args())
@bp.kafka_trigger(**trigger_args("audit_append", AUDIT_APPEND))
async def audit_append(events: list[func.KafkaEvent], context: func.Context) -> None:
    await run_batch("audit_append", events, context)
