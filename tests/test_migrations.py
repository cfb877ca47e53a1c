"""Real migrations: a database made by an older stepbot upgrades in place, keeping its data."""

from __future__ import annotations

from pathlib import Path

from tortoise import Tortoise
from tortoise.connection import connections
from tortoise.migrations.api import migrate

from bot import clock
from bot.db.config import tortoise_config
from bot.db.models import Friend, InboxEvent
from bot.db.runtime import apply_migrations, close_database, open_database

MIGRATIONS = sorted(
    p.stem for p in (Path(__file__).parent.parent / "bot/db/migrations").glob("0*.py")
)


async def test_oldest_schema_upgrades_in_place(database_url: str) -> None:
    await migrate(config=tortoise_config(database_url), target=f"models.{MIGRATIONS[0]}")
    await Tortoise.close_connections()
    conn_config = tortoise_config(database_url)
    ctx = await Tortoise.init(config=conn_config, _enable_global_fallback=True)
    try:
        await connections.get("default").execute_query(
            "INSERT INTO friends (line_user_id, display_name, blocked, created_at, updated_at) "
            "VALUES ('U0123456789abcdef0123456789abcdef', '古い友だち', false, "
            "'2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00')"
        )
    finally:
        await close_database(ctx)

    ctx = await open_database(database_url)  # applies every newer migration
    try:
        friend = await Friend.get(line_user_id="U0123456789abcdef0123456789abcdef")
        assert friend.display_name == "古い友だち"
        assert await InboxEvent.all().count() == 0  # newest tables are usable
        friend.updated_at = clock.now()
        await friend.save()
    finally:
        await close_database(ctx)
    await apply_migrations(database_url)  # already current: nothing to do, nothing lost
    ctx = await open_database(database_url, migrate=False)
    try:
        assert await Friend.all().count() == 1
    finally:
        await close_database(ctx)
