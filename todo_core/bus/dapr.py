"""Publish outbox records through the Dapr sidecar's pub/sub HTTP API.

The records already carry a CloudEvents 1.0 envelope, so every event goes out with
``application/cloudevents+json`` and ``metadata.rawPayload=true``: daprd puts the envelope on the
topic byte for byte, as the Kafka publisher does. Without ``rawPayload`` daprd (1.16) does not wrap
a CloudEvent again, but it adds ``topic``/``pubsubname``/``traceid``/``tracestate`` and, when the
event has no ``traceid``, overwrites its ``traceparent`` with the span of the publish request, so
the functions would continue daprd's trace instead of the command's.

Batches use the bulk publish API (``POST /v1.0-alpha1/publish/bulk/{pubsub}/{topic}``, still
alpha in every Dapr release so far). A sidecar without that route (404/405/501 that is not a
pub/sub error) makes the publisher fall back, for good, to one
``POST /v1.0/publish/{pubsub}/{topic}?metadata.partitionKey=<key>&metadata.rawPayload=true`` per record.

Ordering. Dapr documents that a bulk request does not guarantee the order of its entries, and a
bulk answer can fail an early entry while a later one of the same key went through. So one
bulk request never holds two records of the same key: a topic group is cut into chunks, in
order, and a key seen again starts the next chunk. Once a record fails, every later record of
the same key in the batch is reported failed without being sent, so the relay retries them in
their order.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from todo_core.bus.base import CLOUDEVENTS_CONTENT_TYPE, OutboxRecord, Publisher, PublishResult

log = logging.getLogger(__name__)

BULK_UNAVAILABLE_STATUSES = frozenset({404, 405, 501})
RAW_PAYLOAD = {"metadata.rawPayload": "true"}  # the envelope as written: no fields added or replaced by daprd
_REASON_BODY_CHARS = 300


class DaprPublisher:
    """:class:`~todo_core.bus.base.Publisher` over Dapr pub/sub (HTTP)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:3500",
        pubsub: str = "kafka-pubsub",
        *,
        timeout: float = 10.0,
        api_token: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.pubsub = pubsub
        self._headers = {"dapr-api-token": api_token} if api_token else {}
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=httpx.Timeout(timeout))
        self._bulk_supported = True

    @property
    def bulk_supported(self) -> bool:
        """False once the sidecar answered that it has no bulk publish route."""
        return self._bulk_supported

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def publish(self, records: Sequence[OutboxRecord]) -> PublishResult:
        result = PublishResult()
        first_failed: dict[str, int] = {}  # key -> id of the first record of that key that failed
        for topic, group in _consecutive_by_topic(records):
            for chunk in _chunks_with_distinct_keys(group):
                live: list[OutboxRecord] = []
                for r in chunk:
                    if r.key in first_failed:
                        result.failed[r.id] = f"not sent: record {first_failed[r.key]} of the same key failed first"
                    else:
                        live.append(r)
                if not live:
                    continue
                outcome = await self._publish_bulk(topic, live) if self._bulk_supported else None
                if outcome is None:
                    if self._bulk_supported:  # the sidecar has no bulk route: fall back for good
                        self._bulk_supported = False
                        log.warning("dapr bulk publish unavailable at %s; publishing one by one", self.base_url)
                    outcome = await self._publish_singly(topic, live)
                for r in live:
                    reason = outcome.get(r.id)
                    if reason is None:
                        result.published.append(r.id)
                    else:
                        result.failed[r.id] = reason
                        first_failed.setdefault(r.key, r.id)
        if result.failed:
            log.warning(
                "dapr publish to %s: %d published, %d failed", self.pubsub, len(result.published), len(result.failed)
            )
        return result

    # -- transport ---------------------------------------------------------------------------

    def _topic_path(self, topic: str) -> str:
        return f"{quote(self.pubsub, safe='')}/{quote(topic, safe='')}"

    async def _publish_bulk(self, topic: str, records: Sequence[OutboxRecord]) -> dict[int, str | None] | None:
        """One bulk request. Returns id -> failure reason (None = published), or None if bulk is unavailable."""
        url = f"{self.base_url}/v1.0-alpha1/publish/bulk/{self._topic_path(topic)}"
        entries = [
            {
                "entryId": str(r.id),
                "event": r.payload,
                "contentType": CLOUDEVENTS_CONTENT_TYPE,
                "metadata": {"partitionKey": r.key},
            }
            for r in records
        ]
        body = json.dumps(entries, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {**self._headers, "Content-Type": "application/json"}
        try:
            resp = await self._client.post(url, content=body, headers=headers, params=RAW_PAYLOAD)
        except httpx.HTTPError as exc:
            reason = f"dapr bulk publish to {topic!r} failed: {type(exc).__name__}: {exc}"
            return dict.fromkeys((r.id for r in records), reason)
        if resp.is_success:
            return dict.fromkeys(r.id for r in records)
        if resp.status_code in BULK_UNAVAILABLE_STATUSES and not _is_dapr_pubsub_error(resp):
            return None
        failed = _failed_entries(resp)
        if failed is None:  # nothing usable in the answer: the whole request failed
            reason = f"dapr bulk publish to {topic!r} answered HTTP {resp.status_code}: {_snippet(resp)}"
            return dict.fromkeys((r.id for r in records), reason)
        return {
            r.id: (f"dapr bulk publish to {topic!r} failed entry: {failed[str(r.id)]}" if str(r.id) in failed else None)
            for r in records
        }

    async def _publish_singly(self, topic: str, records: Sequence[OutboxRecord]) -> dict[int, str | None]:
        """One request per record (``records`` hold distinct keys, so one failure blocks nothing here)."""
        url = f"{self.base_url}/v1.0/publish/{self._topic_path(topic)}"
        headers = {**self._headers, "Content-Type": CLOUDEVENTS_CONTENT_TYPE}
        outcome: dict[int, str | None] = {}
        for r in records:
            try:
                resp = await self._client.post(
                    url, content=r.value(), headers=headers, params={**RAW_PAYLOAD, "metadata.partitionKey": r.key}
                )
            except httpx.HTTPError as exc:
                outcome[r.id] = f"dapr publish to {topic!r} failed: {type(exc).__name__}: {exc}"
                continue
            if resp.is_success:
                outcome[r.id] = None
            else:
                outcome[r.id] = f"dapr publish to {topic!r} answered HTTP {resp.status_code}: {_snippet(resp)}"
        return outcome


def _consecutive_by_topic(records: Sequence[OutboxRecord]) -> Iterator[tuple[str, list[OutboxRecord]]]:
    group: list[OutboxRecord] = []
    for r in records:
        if group and group[0].topic != r.topic:
            yield group[0].topic, group
            group = []
        group.append(r)
    if group:
        yield group[0].topic, group


def _chunks_with_distinct_keys(records: Sequence[OutboxRecord]) -> Iterator[list[OutboxRecord]]:
    """Cut ``records`` in order into runs in which no key appears twice."""
    chunk: list[OutboxRecord] = []
    keys: set[str] = set()
    for r in records:
        if r.key in keys:
            yield chunk
            chunk, keys = [], set()
        chunk.append(r)
        keys.add(r.key)
    if chunk:
        yield chunk


def _json_body(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _is_dapr_pubsub_error(resp: httpx.Response) -> bool:
    """A 404 from daprd's pub/sub handler (e.g. unknown component) rather than a missing route."""
    body = _json_body(resp)
    return isinstance(body, dict) and str(body.get("errorCode", "")).startswith("ERR_PUBSUB")


def _failed_entries(resp: httpx.Response) -> dict[str, str] | None:
    """entryId -> error from a bulk answer, or None when the answer does not list failed entries."""
    body = _json_body(resp)
    if not isinstance(body, dict):
        return None
    entries = body.get("failedEntries")
    if not isinstance(entries, list) or not entries:
        return None
    failed: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict) or "entryId" not in entry:
            return None
        failed[str(entry["entryId"])] = str(entry.get("error") or body.get("errorCode") or f"HTTP {resp.status_code}")
    return failed


def _snippet(resp: httpx.Response) -> str:
    text = resp.text.strip()
    return text[:_REASON_BODY_CHARS] if text else "(empty body)"


if TYPE_CHECKING:
    _conforms: Publisher = DaprPublisher()
