"""/parse: one sentence -> a task draft for quick add (ARCHITECTURE §3). Nothing is stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictStr, field_validator

from todo_core.api.deps import Accounts, CurrentUser
from todo_core.nlp import parse_draft

router = APIRouter(tags=["parse"])

MAX_PARSE_TEXT = 1_000


class ParseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: StrictStr = Field(max_length=MAX_PARSE_TEXT, description="the sentence, e.g. 'call mom tomorrow 5pm #family'")
    timezone: StrictStr | None = Field(default=None, description="IANA zone for the sentence; defaults to the user's")
    now: AwareDatetime | None = Field(
        default=None, description="the moment 'tomorrow' is counted from (RFC 3339 with offset); defaults to now"
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class DraftRecurrence(BaseModel):
    rrule: str
    anchor: Literal["schedule", "completion"]
    description: str


class Recognised(BaseModel):
    kind: str = Field(description="date, time, recurrence, priority, tag or reminder")
    text: str
    start: int = Field(description="offset of the phrase in the text (characters)")
    end: int


class DraftOut(BaseModel):
    title: str = Field(description="the text without the recognised phrases; may be empty")
    due_at: str | None = Field(description="RFC 3339 in the zone, or YYYY-MM-DD for an all-day task")
    all_day: bool
    timezone: str
    priority: Literal["high", "medium", "low", "none"] | None = Field(description="null when none was said")
    tags: list[str]
    recurrence: DraftRecurrence | None
    reminders: list[dict[str, Any]] = Field(description="{offset_minutes} or {at}, as POST /tasks takes them")
    recognised: list[Recognised]
    notes: list[str] = Field(description="what was read but left out, and why")
    task: dict[str, Any] = Field(description="the body for POST /tasks that creates this task")


@router.post("/parse", response_model=DraftOut)
async def parse(body: ParseIn, user: CurrentUser, accounts: Accounts) -> JSONResponse:
    timezone = body.timezone if body.timezone is not None else (await accounts.get(user.user_id)).timezone
    draft = parse_draft(body.text, now=body.now or datetime.now(UTC), timezone=timezone)
    return JSONResponse(draft.to_json())
