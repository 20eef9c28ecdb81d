"""Text plumbing for the interpreter: a lower-cased view with stable offsets, consumed spans, word lists.

Every recogniser works on :class:`Work`: ``view`` is the folded text (lower case, same length as the
original, so offsets map back) with already-recognised characters blanked out, and ``take`` marks a
span as recognised. What is never taken is what the user wrote about the task itself: the title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "NUM",
    "NUMBER_WORDS",
    "Span",
    "Work",
    "fold",
    "number",
]

MAX_TEXT = 2_000  # longer text is cut before any pattern runs (the HTTP API allows 1,000 characters)

_SAME_LENGTH = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00a0": " ", "\u2009": " ", "\u202f": " "})


def fold(text: str) -> str:
    """Lower case, curly quotes straightened, odd spaces made plain; always the same length as ``text``."""
    out = []
    for ch in text.translate(_SAME_LENGTH):
        low = ch.lower()
        out.append(low if len(low) == 1 else ch)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Span:
    """A recognised phrase: what kind of thing it was, where it was, and its text as written."""

    kind: str
    start: int
    end: int
    text: str


class Work:
    """The text being interpreted, its folded view and what has been recognised so far."""

    def __init__(self, text: str) -> None:
        self.text = text[:MAX_TEXT]
        self._folded = fold(self.text)
        self._taken = [False] * len(self.text)
        self.spans: list[Span] = []

    @property
    def view(self) -> str:
        """The folded text with recognised characters replaced by spaces (offsets unchanged)."""
        return "".join(" " if t else ch for ch, t in zip(self._folded, self._taken, strict=True))

    def take(self, kind: str, start: int, end: int) -> None:
        """Mark ``[start, end)`` as recognised (leading and trailing blanks are not part of the span)."""
        while start < end and (self.text[start].isspace() or self._taken[start]):
            start += 1
        while end > start and (self.text[end - 1].isspace() or self._taken[end - 1]):
            end -= 1
        if start >= end:
            return
        for i in range(start, end):
            self._taken[i] = True
        self.spans.append(Span(kind, start, end, self.text[start:end]))

    def rest(self) -> str:
        """The original text of what was not recognised, recognised parts turned into single spaces."""
        out: list[str] = []
        gap = False
        for ch, t in zip(self.text, self._taken, strict=True):
            if t:
                gap = True
                continue
            if gap:
                out.append(" ")
                gap = False
            out.append(ch)
        return "".join(out)


NUMBER_WORDS: dict[str, int] = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "forty-five": 45,
    "sixty": 60,
    "ninety": 90,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
}

# a count: digits or one of the words above (longest alternatives first so "a couple of" wins over "a")
NUM = "(?:\\d{1,4}|" + "|".join(re.escape(w) for w in sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"


def number(text: str) -> int:
    """The value of a :data:`NUM` match."""
    cleaned = " ".join(text.split())
    if cleaned.isdigit():
        return int(cleaned)
    return NUMBER_WORDS[cleaned]
