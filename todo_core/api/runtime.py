"""What an API process holds while it runs: pool, services, token issuer. Built in lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from todo_core.auth import AccountService, TokenIssuer
from todo_core.service import TaskService
from todo_core.settings import Settings
from todo_core.store.db import make_pool, migrate

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    pool: AsyncConnectionPool
    tasks: TaskService
    accounts: AccountService
    tokens: TokenIssuer


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from todo_core.store.embedded import start_embedded

    return start_embedded(settings.data_dir)


def _ensure_vapid_keys(settings: Settings) -> None:
    """Web Push keys: from settings, or (outside production) generated once into data_dir."""
    from pydantic import SecretStr

    from todo_core.notify.webpush import load_or_create_vapid_keys
    from todo_core.settings import Environment

    if settings.vapid_public_key and settings.vapid_private_key is not None:
        return
    if settings.environment is Environment.PRODUCTION:
        log.warning("VAPID keys not configured: Web Push is off")
        return
    keys = load_or_create_vapid_keys(settings.data_dir)
    settings.vapid_public_key = keys.public_key
    settings.vapid_private_key = SecretStr(keys.private_key)


@asynccontextmanager
async def open_runtime(settings: Settings, *, run_migrations: bool = True) -> AsyncIterator[Runtime]:
    import asyncio

    url = await asyncio.to_thread(resolve_database_url, settings)
    _ensure_vapid_keys(settings)
    if run_migrations:
        await asyncio.to_thread(migrate, url)
    pool = make_pool(url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    await pool.open(wait=True, timeout=30)
    tokens = TokenIssuer(
        settings.signing_secret(),
        issuer=settings.jwt_issuer,
        ttl_seconds=settings.jwt_ttl_seconds,
        jwks_url=settings.jwks_url,
        audience=settings.jwks_audience,
    )
    try:
        yield Runtime(settings, pool, TaskService(pool), AccountService(pool, tokens), tokens)
    finally:
        await pool.close()
