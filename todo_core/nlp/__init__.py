"""Natural language for tasks, offline and deterministic: quick add (:func:`parse_draft`, behind
``POST /api/v1/parse``) and the chat interpreter (:func:`interpret`, the offline model of the agent).

Pure like :mod:`todo_core.domain`: no I/O, and every result depends only on the text, ``now`` (an
aware datetime) and the user's IANA zone. The conventions for ambiguous phrases are written down in
:mod:`todo_core.nlp.dates` (dates and times), :mod:`todo_core.nlp.recur` (repetition),
:mod:`todo_core.nlp.draft` (priorities, tags, reminders) and :mod:`todo_core.nlp.intents` (queries,
references, safety).
"""

from todo_core.nlp.draft import Draft, parse_draft
from todo_core.nlp.intents import (
    ByReference,
    Clarify,
    Interpretation,
    Plan,
    ToolCall,
    Unknown,
    interpret,
    resolve_reference,
)
from todo_core.nlp.text import Span

__all__ = [
    "ByReference",
    "Clarify",
    "Draft",
    "Interpretation",
    "Plan",
    "Span",
    "ToolCall",
    "Unknown",
    "interpret",
    "parse_draft",
    "resolve_reference",
]
