"""Domain errors. Adapters map them to transport errors (HTTP status, MCP error, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DomainError(Exception):
    """Base class: a rule of the domain refused the command. Nothing was changed."""

    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    code: str = "domain_error"

    def __str__(self) -> str:
        return self.message


@dataclass
class ValidationError(DomainError):
    """Input breaks a rule (bounds, unknown time zone, invalid RRULE, ...). HTTP 422."""

    code: str = "validation_error"


@dataclass
class NotFound(DomainError):
    """The thing does not exist for this user (other users' things do not exist either). HTTP 404."""

    code: str = "not_found"


@dataclass
class Conflict(DomainError):
    """The command conflicts with current state (duplicate e-mail, key reuse, ...). HTTP 409."""

    code: str = "conflict"


@dataclass
class PreconditionFailed(DomainError):
    """Optimistic concurrency: the `version` the client saw is not the current one. HTTP 412."""

    code: str = "precondition_failed"


@dataclass
class Unauthorized(DomainError):
    """Missing, expired or invalid credentials. HTTP 401."""

    code: str = "unauthorized"
