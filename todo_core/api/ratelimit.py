"""A small in-process limiter for credential endpoints (per key, sliding window)."""

from __future__ import annotations

import time
from collections import deque


class SlidingWindow:
    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit, self.window = limit, window_seconds
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        now = time.monotonic()
        hits = self._hits.get(key)
        if not hits:
            return 0.0
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) < self.limit:
            return 0.0
        return hits[0] + self.window - now

    def hit(self, key: str) -> None:
        if len(self._hits) > 100_000:  # bound memory under a flood of distinct keys
            self._hits.clear()
        self._hits.setdefault(key, deque()).append(time.monotonic())

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)
