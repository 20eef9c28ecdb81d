"""Settings of every deployable, from the environment (nested values with ``__``).

Required secrets have no default outside development; placeholders are rejected in production.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"", "change-me", "changeme", "secret", "dev", "development"}


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    # -- Postgres. Empty means: start the embedded PostgreSQL in ``data_dir``.
    database_url: str = ""
    data_dir: Path = Path("var")
    db_pool_min: int = 1
    db_pool_max: int = 10
    # -- Apply pending SQL migrations at start (the cluster runs them in a Helm hook Job instead).
    migrate_on_start: bool = True
    # -- HS256 signing secret for access tokens. Generated into data_dir in development.
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "todo-cloud"
    jwt_ttl_seconds: int = Field(default=3600 * 12, ge=60)
    # -- Optional external identity provider (RS256 via JWKS).
    jwks_url: str = ""
    jwks_audience: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    # -- HTTP worker processes of the run command (each has its own connection pool).
    workers: int = Field(default=1, ge=1, le=16)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _reject_placeholders(self) -> Settings:
        if self.environment is Environment.PRODUCTION:
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
            if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < 32:
                raise ValueError("JWT_SECRET must be set to a random value of at least 32 characters")
            if not self.database_url:
                raise ValueError("DATABASE_URL is required in production")
        return self

    def signing_secret(self) -> str:
        """The HS256 secret; in development one is generated once and kept in data_dir."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        if self.environment is Environment.PRODUCTION:  # pragma: no cover - validator forbids it
            raise RuntimeError("JWT_SECRET missing")
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
