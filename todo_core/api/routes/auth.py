"""/auth/register, /auth/login, /me."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request

from todo_core.api.deps import Accounts, CurrentUser
from todo_core.api.errors import ApiError
from todo_core.api.models import LoginIn, MeUpdate, RegisterIn, RegisterOut, TokenOut, UserPublic
from todo_core.api.ratelimit import SlidingWindow
from todo_core.domain.errors import Unauthorized

router = APIRouter(tags=["auth"])
_failed_logins = SlidingWindow(limit=10, window_seconds=300)


@router.post("/auth/register", status_code=201, response_model=RegisterOut)
async def register(body: RegisterIn, accounts: Accounts) -> RegisterOut:
    user, token = await accounts.register(body.email, body.password, body.timezone or "UTC")
    return RegisterOut(user=UserPublic(**user.to_public()), access_token=token, expires_in=accounts.tokens.ttl_seconds)


@router.post("/auth/login", response_model=TokenOut)
async def login(body: LoginIn, accounts: Accounts, request: Request) -> TokenOut:
    key = f"{body.email.strip().lower()}|{request.client.host if request.client else ''}"
    wait = _failed_logins.retry_after(key)
    if wait > 0:
        raise ApiError(
            429,
            "too_many_requests",
            "too many failed sign-ins; try again later",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    try:
        _, token = await accounts.login(body.email, body.password)
    except Unauthorized:
        _failed_logins.hit(key)
        raise
    _failed_logins.reset(key)
    return TokenOut(access_token=token, expires_in=accounts.tokens.ttl_seconds)


@router.get("/me", response_model=UserPublic)
async def me(user: CurrentUser, accounts: Accounts) -> UserPublic:
    row = await accounts.get(user.user_id)
    return UserPublic(**row.to_public())


@router.patch("/me", response_model=UserPublic)
async def update_me(body: MeUpdate, user: CurrentUser, accounts: Accounts) -> UserPublic:
    row = await accounts.set_timezone(user.user_id, body.timezone)
    return UserPublic(**row.to_public())
