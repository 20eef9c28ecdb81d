"""What every publisher and the relay share: an outbox record and the result of publishing a batch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One outbox row on its way out. ``payload`` is the CloudEvents 1.0 structured envelope."""

    id: int
    topic: str
    key: str
    payload: dict[str, Any]
    raw: bytes | None = None  # the envelope as stored, when the reader has it (saves a re-encode)

    @property
    def event_id(self) -> str:
        """The CloudEvent id ("" for a malformed row: it is still published, and its consumer
        dead-letters it, instead of stalling every row behind it)."""
        return str(self.payload.get("id", "")) if isinstance(self.payload, dict) else ""

    def value(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(slots=True)
class PublishResult:
    """Outbox ids the broker acknowledged, and the ones it did not (id -> reason)."""

    published: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


class Publisher(Protocol):
    async def publish(self, records: Sequence[OutboxRecord]) -> PublishResult:
        """Publish in the given order (order matters per key); never raises for broker errors."""
        ...

    async def close(self) -> None: ...


CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
