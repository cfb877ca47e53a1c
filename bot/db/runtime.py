"""Opening the database: apply migrations, then start tortoise for the running process."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.connection import connections

from bot.db.config import tortoise_config


async def apply_migrations(database_url: str) -> None:
    """Upgrade the database in place to the newest migration (a no-op when already current)."""
    from tortoise.migrations.api import migrate

    config = tortoise_config(database_url)
    try:
        await migrate(config=config)
    finally:
        await Tortoise.close_connections()


async def open_database(database_url: str, *, migrate: bool = True) -> Any:
    """Migrate, then open the ORM with the global fallback so scheduler jobs can use it too.

    Returns the tortoise context; pass it to `close_database` on shutdown.
    """
    if migrate:
        await apply_migrations(database_url)
    return await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_database(ctx: Any) -> None:
    await ctx.close_connections()


async def database_alive() -> bool:
    """True when a trivial query succeeds (used by /healthz)."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:
        return False
    return True
