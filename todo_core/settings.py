"""Settings of every deployable, from the environment (nested values with ``__``).

Required secrets have no default outside development; placeholders are rejected in production.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from todo_core.domain.events import TOPICS, dlq

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
    # -- Event bus: empty means embedded (the outbox table is the log); set it to use Kafka.
    kafka_bootstrap_servers: str = ""
    kafka_topic_prefix: str = ""  # isolates topics and consumer groups (tests); empty in the cluster
    kafka_partitions: int = Field(default=6, ge=1, le=1000)
    # per-topic partitions where the plan needs more (docs/scaling.md), JSON: {"reminder-fire": 24}
    kafka_topic_partitions: dict[str, int] = Field(default_factory=dict)
    kafka_dlq_partitions: int = Field(default=3, ge=1, le=1000)
    kafka_replication_factor: int = Field(default=1, ge=1, le=5)
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = ""
    kafka_username: str = ""
    kafka_password: SecretStr | None = None
    # -- Cluster mode: publish through Dapr pub/sub and schedule reminders with the Dapr Jobs API.
    dapr_enabled: bool = False
    dapr_http_endpoint: str = "http://127.0.0.1:3500"
    dapr_pubsub_name: str = "kafka-pubsub"
    dapr_gateway_app_id: str = "agent-gateway"
    # -- Token the gateway and functions send to their daprd (DAPR_API_TOKEN of the sidecar).
    dapr_api_token: SecretStr | None = None
    # -- Token daprd sends to the app in the dapr-api-token header (APP_API_TOKEN of the sidecar);
    # when set, the gateway's job callbacks and internal routes refuse calls without it.
    dapr_app_token: SecretStr | None = None
    # -- Cluster mode: seconds between passes firing (late) reminders whose Dapr job never came.
    reminder_reconcile_seconds: float = Field(default=30, gt=0)
    # -- Background workers of the gateway: outbox relay, reminder scheduler, local functions host.
    relay_enabled: bool = True
    scheduler_enabled: bool = True
    functions_host_enabled: bool = True
    # -- Outbox rows that have done their work are deleted after this many hours (dead letters are kept).
    outbox_retention_hours: float = Field(default=72, gt=0)
    # -- Scales the retry intervals the functions declare, in the local host only (tests shorten them).
    functions_retry_backoff_scale: float = Field(default=1.0, gt=0, le=1)
    # -- Web Push (VAPID). Generated into data_dir in development when unset.
    vapid_public_key: str = ""
    vapid_private_key: SecretStr | None = None
    vapid_subject: str = "mailto:admin@todo-cloud.local"
    # -- Chat agent. No API key means offline mode: a deterministic interpreter stands in for the model.
    llm_provider: Literal["openai", "azure"] = "openai"
    openai_api_key: SecretStr | None = None
    # -- OpenAI-compatible endpoint (empty: the provider's default); the model speaks the Responses API.
    openai_base_url: str = ""
    openai_model: str = "gpt-4.1-mini"
    # -- Azure OpenAI (llm_provider=azure): the key is openai_api_key; the deployment is called by Chat Completions.
    azure_openai_endpoint: str = ""
    azure_openai_api_version: str = "2024-10-21"
    azure_openai_deployment: str = ""
    # -- Cluster mode: the Dapr state store holding the chat agent's conversation memory.
    dapr_state_store: str = "statestore"
    host: str = "127.0.0.1"
    port: int = 8000
    # -- HTTP worker processes of the run command (each has its own connection pool).
    workers: int = Field(default=1, ge=1, le=16)
    log_level: str = "INFO"
    # -- Azure Monitor through OpenTelemetry (todo_core.observability): on when the Application Insights
    # connection string is set, unless OTEL_ENABLED=false; needs the optional azure-monitor-opentelemetry.
    applicationinsights_connection_string: SecretStr | None = None
    otel_enabled: bool | None = None
    otel_service_name: str = "todo-cloud"

    @model_validator(mode="after")
    def _known_topic_partitions(self) -> Settings:
        known = set(TOPICS) | {dlq(t) for t in TOPICS}
        unknown = sorted(set(self.kafka_topic_partitions) - known)
        if unknown:
            raise ValueError(f"KAFKA_TOPIC_PARTITIONS names unknown topics {unknown}; topics are {sorted(known)}")
        bad = sorted(t for t, n in self.kafka_topic_partitions.items() if not 1 <= n <= 1000)
        if bad:
            raise ValueError(f"KAFKA_TOPIC_PARTITIONS must be 1..1000 for {bad}")
        return self

    def partitions_of(self, topic: str) -> int:
        """Partitions of a topic (named without the prefix): its own entry, else the default for its kind."""
        default = self.kafka_dlq_partitions if topic.endswith(".dlq") else self.kafka_partitions
        return self.kafka_topic_partitions.get(topic, default)

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
