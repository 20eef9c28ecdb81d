"""Accounts: argon2 password hashes, HS256 access tokens, optional RS256 tokens from an external IdP."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from psycopg_pool import AsyncConnectionPool

from todo_core.domain.errors import Conflict, Unauthorized, ValidationError
from todo_core.domain.ids import new_id
from todo_core.domain.tasks import check_timezone
from todo_core.store import users as user_store
from todo_core.store.users import UserRow

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256
ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified identity of a request."""

    user_id: UUID
    scopes: tuple[str, ...] = ()


class TokenIssuer:
    def __init__(self, secret: str, *, issuer: str, ttl_seconds: int, jwks_url: str = "", audience: str = ""):
        self._secret = secret
        self._issuer = issuer
        self.ttl_seconds = ttl_seconds
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None
        self._audience = audience or None

    def issue(self, user_id: UUID, *, ttl_seconds: int | None = None, scope: str = "api") -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": str(user_id),
            "iss": self._issuer,
            "iat": now,
            "exp": now + timedelta(seconds=ttl_seconds or self.ttl_seconds),
            "scope": scope,
            "jti": uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str, *, scope: str = "api") -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") == "RS256" and self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=["RS256"],
                    audience=self._audience,
                    options={"require": ["exp", "sub"]},
                )
            else:
                claims = jwt.decode(
                    token,
                    self._secret,
                    algorithms=[ALGORITHM],
                    issuer=self._issuer,
                    options={"require": ["exp", "sub", "iss"]},
                )
                if claims.get("scope", "api") != scope:
                    raise Unauthorized("token not valid for this use")
            return Principal(user_id=UUID(str(claims["sub"])), scopes=tuple(str(claims.get("scope", "")).split()))
        except Unauthorized:
            raise
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except (jwt.PyJWTError, ValueError, KeyError):
            raise Unauthorized("invalid token") from None


class AccountService:
    def __init__(self, pool: AsyncConnectionPool, tokens: TokenIssuer) -> None:
        self._pool = pool
        self._tokens = tokens
        self._hasher = PasswordHasher()

    @staticmethod
    def _check_credentials(email: str, password: str) -> str:
        details = []
        email = email.strip() if isinstance(email, str) else ""
        if not EMAIL_RE.match(email) or len(email) > 254:
            details.append({"field": "email", "message": "must be a valid e-mail address"})
        if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            details.append({"field": "password", "message": f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"})
        if details:
            raise ValidationError("invalid registration", details)
        return email

    async def register(self, email: str, password: str, timezone: str = "UTC") -> tuple[UserRow, str]:
        email = self._check_credentials(email, password)
        tz = check_timezone(timezone or "UTC")
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        async with self._pool.connection() as conn, conn.transaction():
            user = await user_store.insert_user(
                conn, user_id=new_id(), email=email, password_hash=password_hash, timezone=tz
            )
        if user is None:
            raise Conflict("an account with this e-mail exists", [{"field": "email", "message": "taken"}])
        return user, self._tokens.issue(user.id)

    async def login(self, email: str, password: str) -> tuple[UserRow, str]:
        async with self._pool.connection() as conn:
            user = await user_store.user_by_email(conn, email.strip() if isinstance(email, str) else "")
        if user is None:
            # same cost as a real check, so timing does not reveal which e-mails exist
            await asyncio.to_thread(self._verify, _DUMMY_HASH, password)
            raise Unauthorized("wrong e-mail or password")
        if not await asyncio.to_thread(self._verify, user.password_hash, password):
            raise Unauthorized("wrong e-mail or password")
        if self._hasher.check_needs_rehash(user.password_hash):
            new_hash = await asyncio.to_thread(self._hasher.hash, password)
            async with self._pool.connection() as conn:
                await user_store.update_password_hash(conn, user.id, new_hash)
        return user, self._tokens.issue(user.id)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def get(self, user_id: UUID) -> UserRow:
        async with self._pool.connection() as conn:
            user = await user_store.user_by_id(conn, user_id)
        if user is None:
            raise Unauthorized("account no longer exists")
        return user

    async def set_timezone(self, user_id: UUID, timezone: str) -> UserRow:
        tz = check_timezone(timezone)
        async with self._pool.connection() as conn:
            await user_store.update_user_timezone(conn, user_id, tz)
        return await self.get(user_id)

    @property
    def tokens(self) -> TokenIssuer:
        return self._tokens


_DUMMY_HASH = PasswordHasher().hash("not-a-real-password")


def token_response(token: str, ttl: int) -> dict[str, Any]:
    return {"access_token": token, "token_type": "bearer", "expires_in": ttl}
