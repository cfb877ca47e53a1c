"""Tortoise configuration built from a DATABASE_URL."""

from __future__ import annotations

from typing import Any

from bot.db.sqlite_wal import INLINE_CHECKPOINT_PAGES

MODELS_MODULE = "bot.db.models"
MIGRATIONS_MODULE = "bot.db.migrations"


def normalize_url(url: str) -> str:
    """Accept the spellings people paste (postgresql://) and keep SQLite tolerant of contention."""
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://") :]
    if url.startswith("sqlite://") and "busy_timeout" not in url:
        sep = "&" if "?" in url else "?"
        url = (
            f"{url}{sep}busy_timeout=5000&journal_mode=WAL&synchronous=NORMAL"
            f"&wal_autocheckpoint={INLINE_CHECKPOINT_PAGES}"
        )
    return url


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": normalize_url(database_url)},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


TORTOISE_ORM = tortoise_config("sqlite://stepbot.db")
