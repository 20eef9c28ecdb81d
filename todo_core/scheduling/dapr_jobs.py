"""Dapr Jobs API and service invocation over the sidecar's HTTP API.

Jobs: ``POST|GET|DELETE {base}/{version}/jobs/{name}``. Dapr 1.14-1.17 serve only
``v1.0-alpha1``; 1.18 adds the stable ``v1.0`` and keeps ``v1.0-alpha1`` (deprecated), so
``v1.0-alpha1`` is the default that works on every release with the Jobs API. When the job is
due, daprd calls ``POST /job/{name}`` on the app that scheduled it with the job's ``data`` as
the JSON body.

Two behaviours of real daprd callers should know: deleting an unknown job answers 204 (an
etcd delete of a missing key succeeds), and getting an unknown job answers 500 with
``errorCode`` ``SCHEDULER_GET_JOB`` rather than 404; :meth:`DaprJobs.get` maps that to None.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:3500"
JOBS_API_VERSION = "v1.0-alpha1"
_GET_JOB_ERROR_CODES = frozenset({"SCHEDULER_GET_JOB", "DAPR_SCHEDULER_GET_JOB", "ERR_SCHEDULER_GET_JOB"})
_PROTOBUF_VALUE_TYPE = "type.googleapis.com/google.protobuf.Value"


class DaprError(Exception):
    """The sidecar refused or failed a call. ``status`` is None when no HTTP answer arrived."""

    def __init__(self, status: int | None, body: str) -> None:
        super().__init__(f"dapr answered {status}: {body[:300]}" if status is not None else f"dapr call failed: {body}")
        self.status = status
        self.body = body


def reminder_job_name(reminder_id: UUID) -> str:
    """The Dapr job (and callback path ``/job/<name>``) of one reminder."""
    return f"reminder-{reminder_id}"


def rfc3339_utc(moment: datetime) -> str:
    """``2025-03-30T07:00:00Z`` (microseconds kept when present, so a job never fires early)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()} has no time zone; pass an aware datetime")
    utc = moment.astimezone(UTC)
    spec = "microseconds" if utc.microsecond else "seconds"
    return utc.isoformat(timespec=spec).replace("+00:00", "Z")


class _SidecarClient:
    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_token: str | None = None,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"dapr-api-token": api_token} if api_token else {}
        self._owns_client = client is None
        self._client = client if client is not None else httpx.AsyncClient(timeout=httpx.Timeout(timeout))

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = {**self._headers, **kwargs.pop("headers", {})}
        try:
            return await self._client.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise DaprError(None, f"{method} {url}: {type(exc).__name__}: {exc}") from exc


class DaprJobs(_SidecarClient):
    """Schedule, read and delete one-shot Dapr jobs."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_token: str | None = None,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        api_version: str = JOBS_API_VERSION,
    ) -> None:
        super().__init__(base_url, api_token=api_token, timeout=timeout, client=client)
        self.api_version = api_version.strip("/")

    def _url(self, name: str) -> str:
        if not name or "|" in name:
            raise ValueError(f"invalid job name {name!r}")
        return f"{self.base_url}/{self.api_version}/jobs/{quote(name, safe='')}"

    async def schedule(self, name: str, due_time: datetime, data: dict[str, Any], *, overwrite: bool = True) -> None:
        """Create (or, with ``overwrite``, replace) the job ``name`` firing once at ``due_time``."""
        body = {"dueTime": rfc3339_utc(due_time), "data": data, "overwrite": overwrite}
        resp = await self._request("POST", self._url(name), json=body)
        if not resp.is_success:  # daprd answers 204
            raise DaprError(resp.status_code, resp.text)
        log.debug("dapr job %s scheduled for %s", name, body["dueTime"])

    async def delete(self, name: str) -> bool:
        """Delete the job; False when the sidecar says it does not exist (daprd itself answers 204 either way)."""
        resp = await self._request("DELETE", self._url(name))
        if resp.status_code == 404:
            return False
        if not resp.is_success:
            raise DaprError(resp.status_code, resp.text)
        return True

    async def get(self, name: str) -> dict[str, Any] | None:
        """The job as daprd describes it (``name``, ``dueTime``, ``data``...), or None if there is none."""
        resp = await self._request("GET", self._url(name))
        if resp.status_code == 404 or (resp.status_code == 500 and _is_job_not_found(resp)):
            return None
        if not resp.is_success:
            raise DaprError(resp.status_code, resp.text)
        if not resp.content:
            return None
        try:
            job = resp.json()
        except ValueError as exc:
            raise DaprError(resp.status_code, f"not JSON: {resp.text[:200]}") from exc
        if not isinstance(job, dict):
            raise DaprError(resp.status_code, f"not a JSON object: {resp.text[:200]}")
        data = job.get("data")
        # daprd stores HTTP job data as a google.protobuf.Value inside an Any; protojson shows the wrapper.
        if isinstance(data, dict) and data.get("@type") == _PROTOBUF_VALUE_TYPE and "value" in data:
            job["data"] = data["value"]
        return job


def _is_job_not_found(resp: httpx.Response) -> bool:
    try:
        body = resp.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    return body.get("errorCode") in _GET_JOB_ERROR_CODES and "not found" in str(body.get("message", "")).lower()


class DaprInvoker(_SidecarClient):
    """Call another Dapr app's HTTP method through the sidecar (service invocation)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        api_token: str | None = None,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        retry_backoff: float = 0.2,
    ) -> None:
        super().__init__(base_url, api_token=api_token, timeout=timeout, client=client)
        self.retry_backoff = retry_backoff

    async def invoke(
        self,
        app_id: str,
        method: str,
        body: dict[str, Any],
        *,
        http_verb: str = "POST",
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The app's response (any status below 500); DaprError on 5xx or when the sidecar is unreachable.

        A connection that could not be opened is retried once after ``retry_backoff`` seconds:
        nothing reached the app, so the retry cannot run the method twice.
        """
        verb = http_verb.upper()
        url = f"{self.base_url}/v1.0/invoke/{quote(app_id, safe='')}/method/{method.lstrip('/')}"
        kwargs: dict[str, Any] = {"headers": {**self._headers, **(headers or {})}}
        if body or verb not in {"GET", "HEAD"}:
            kwargs["json"] = body
        try:
            resp = await self._send_with_one_retry(verb, url, kwargs, label=f"{app_id}/{method}")
        except httpx.HTTPError as exc:
            raise DaprError(None, f"{verb} {url}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 500:
            raise DaprError(resp.status_code, resp.text)
        return resp

    async def _send_with_one_retry(self, verb: str, url: str, kwargs: dict[str, Any], *, label: str) -> httpx.Response:
        try:
            return await self._client.request(verb, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            log.warning("dapr invoke %s: cannot connect (%s); retrying once", label, exc)
        await asyncio.sleep(self.retry_backoff)
        return await self._client.request(verb, url, **kwargs)
