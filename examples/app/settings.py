"""The application's own settings (the queue, cache and HTTP client read `QUEUE_*`, `CACHE_*`, ...).

Read from the environment or `.env`: `DATABASE_URL`, `EMAIL_API_URL`, `SYNC_API_URL`,
`REPORT_DELAY`.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AppSettings(BaseSettings):
    """Where the database and the external APIs are, and the app's timings."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str = "sqlite+aiosqlite:///./example.db"
    """SQLite by default; `postgresql+asyncpg://user:pass@host/db` for PostgreSQL (with asyncpg)."""
    email_api_url: str = "http://127.0.0.1:8025/email/send"
    """Where the email job POSTs a message."""
    sync_api_url: str = "http://127.0.0.1:8025/sync/changes"
    """Where the sync job POSTs an entity change."""
    report_delay: float = Field(default=300.0, ge=0)
    """Seconds a requested report waits before it is generated (lets the data settle)."""
