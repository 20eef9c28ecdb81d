"""`audit_append` (Kafka trigger): appends to the hash-chained audit log, idempotent by event id."""

from __future__ import annotations

from typing import List  # noqa: UP035 - the real worker refuses PEP 585 generics in binding annotations

import azure.functions as func

from functions._events import retry_args, run_batch, trigger_args
from todo_core.domain.events import AUDIT_APPEND

bp = func.Blueprint()


@bp.function_name(name="audit_append")
@bp.retry(**retry_args())
@bp.kafka_trigger(**trigger_args("audit_append", AUDIT_APPEND))
async def audit_append(events: List[func.KafkaEvent], context: func.Context) -> None:  # noqa: UP006
    await run_batch("audit_append", events, context)
