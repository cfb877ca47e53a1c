"""Writing many rows at once without building a model object per row: multi-row INSERTs in
chunks sized for each database's parameter limit. For hot paths (a step delivered to
100,000 friends) where tortoise's per-object work was a large share of the time."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from tortoise.connection import connections
from tortoise.models import Model

#: Host parameters per statement: SQLite allows 32,766 since 3.32 (999 before); asyncpg
#: allows 32,767.
_SQLITE_PARAMS = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
_POSTGRES_PARAMS = 32_767


def db_value(model: type[Model], name: str, value: object) -> object:
    """A Python value as tortoise stores it in this column (the same text format on SQLite,
    so rows written here compare and read back like the ORM's own)."""
    return model._meta.fields_map[name].to_db_value(value, model)


async def insert_many(table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """INSERT the rows (values already as the database stores them, see `db_value`). A
    constraint violation raises tortoise's IntegrityError, like `bulk_create`."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    width = len(columns)
    size = max(1, (_POSTGRES_PARAMS if postgres else _SQLITE_PARAMS) // width)
    names = ", ".join(columns)
    for start in range(0, len(rows), size):
        chunk = rows[start : start + size]
        if postgres:
            marks = ", ".join(
                "(" + ", ".join(f"${i * width + j + 1}" for j in range(width)) + ")"
                for i in range(len(chunk))
            )
        else:
            marks = ", ".join("(" + ", ".join("?" * width) + ")" for _ in chunk)
        await conn.execute_query(
            f"INSERT INTO {table} ({names}) VALUES {marks}", [v for row in chunk for v in row]
        )
