"""What the clock-and-zone check (``scripts/clock_check.py``) changes in the suites it runs.

Under the check (``TODO_CLOCK_CHECK=1``) hypothesis runs a tenth of its examples: the point there is
the clock and the zone, and the full search runs in the normal suite.
"""

from __future__ import annotations

import os

CLOCK_CHECK = os.environ.get("TODO_CLOCK_CHECK") == "1"


def examples(n: int) -> int:
    """The number of hypothesis examples for a test that asks for ``n``."""
    return max(10, n // 10) if CLOCK_CHECK else n
