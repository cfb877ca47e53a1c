"""Tags with history: each add opens a period, each remove closes it, re-adding opens anew."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tortoise.connection import connections
from tortoise.exceptions import IntegrityError

from bot import clock
from bot.crm.events import EventBus, TagAdded, TagRemoved
from bot.db.models import FriendTag, Tag

if TYPE_CHECKING:
    from bot.crm.segments import Segments

SOURCES = (
    "rule",
    "admin",
    "form",
    "step",
    "postback",
    "auto_reply",
    "broadcast",
    "integration",
    "inflow_route",
    "import",
    "survey",
)
DEFAULT_HISTORY_WINDOW = timedelta(days=7)


async def sync_declared(tags: dict[str, str | None]) -> None:
    """Create the scenario's tags that the database lacks and keep their folders current."""
    existing = {t.name: t for t in await Tag.filter(name__in=list(tags))}
    now = clock.now()
    for name, folder in tags.items():
        tag = existing.get(name)
        if tag is None:
            try:
                await Tag.create(name=name, folder=folder, created_at=now)
            except IntegrityError:
                continue
        elif tag.folder != folder and folder is not None:
            tag.folder = folder
            await tag.save(update_fields=["folder"])


async def get_or_create_tag(name: str, folder: str | None = None) -> Tag:
    tag = await Tag.get_or_none(name=name)
    if tag is not None:
        return tag
    try:
        return await Tag.create(name=name, folder=folder, created_at=clock.now())
    except IntegrityError:
        return await Tag.get(name=name)


async def has_tag(friend_id: int, name: str) -> bool:
    return await FriendTag.filter(
        friend_id=friend_id, tag__name=name, removed_at__isnull=True
    ).exists()


async def current_tags(friend_id: int) -> list[str]:
    rows = (
        await FriendTag.filter(friend_id=friend_id, removed_at__isnull=True)
        .order_by("added_at")
        .values_list("tag__name", flat=True)
    )
    return [str(r) for r in rows]


class TagService:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._ids: dict[str, int] = {}  # tag rows are never renamed: safe to remember

    async def tag_id(self, name: str) -> int:
        known = self._ids.get(name)
        if known is None:
            known = self._ids[name] = (await get_or_create_tag(name)).id
        return known

    async def add(
        self, friend_id: int, name: str, *, source: str, actor: str | None = None
    ) -> bool:
        """Give the tag; False (and no event) if the friend already has it."""
        tag_id = await self.tag_id(name)
        if await FriendTag.filter(
            friend_id=friend_id, tag_id=tag_id, removed_at__isnull=True
        ).exists():
            return False
        await FriendTag.create(
            friend_id=friend_id, tag_id=tag_id, added_at=clock.now(), source=source, actor=actor
        )
        await self.bus.publish(TagAdded(friend_id, source, actor, tag=name))
        return True

    async def _announce(
        self,
        event: type[TagAdded] | type[TagRemoved],
        friend_ids: list[int],
        name: str,
        source: str,
        actor: str | None,
    ) -> None:
        """Tell rules (and menus) about a bulk change in one batch."""
        async with self.bus.batch():
            for friend_id in friend_ids:
                await self.bus.publish(event(friend_id, source, actor, tag=name))

    async def add_many(
        self, friend_ids: list[int], name: str, *, source: str, actor: str | None = None
    ) -> list[int]:
        """`add` for many friends: one INSERT … SELECT per 10,000 ids that skips friends who
        hold the tag already; returns who got it."""
        tag_id = await self.tag_id(name)
        now = FriendTag._meta.fields_map["added_at"].to_db_value(clock.now(), FriendTag)
        db = connections.get("default")
        postgres = db.capabilities.dialect == "postgres"
        if postgres:
            ids_sql, marks = "SELECT unnest($1::int[]) AS id", ["$2", "$3", "$4", "$5", "$2"]
        else:
            ids_sql, marks = "SELECT DISTINCT value AS id FROM json_each(?)", ["?"] * 5
        sql = (
            "INSERT INTO friend_tags (friend_id, tag_id, added_at, removed_at, source, actor) "
            f"SELECT s.id, {marks[0]}, {marks[1]}, NULL, {marks[2]}, {marks[3]} "
            f"FROM ({ids_sql}) s WHERE NOT EXISTS (SELECT 1 FROM friend_tags t "
            f"WHERE t.friend_id = s.id AND t.tag_id = {marks[4]} AND t.removed_at IS NULL) "
            "RETURNING friend_id"
        )
        added: list[int] = []
        unique = list(dict.fromkeys(friend_ids))
        for start in range(0, len(unique), 10_000):
            chunk = unique[start : start + 10_000]
            if postgres:
                params: list[Any] = [chunk, tag_id, now, source, actor]
            else:
                params = [tag_id, now, source, actor, json.dumps(chunk), tag_id]
            rows = await db.execute_query_dict(sql, params)
            added += sorted(int(row["friend_id"]) for row in rows)
        await self._announce(TagAdded, added, name, source, actor)
        return added

    async def bulk_add(
        self,
        segments: Segments,
        cond: Any,
        name: str,
        *,
        source: str,
        actor: str | None = None,
    ) -> list[int]:
        """Give the tag to every friend of a segment who lacks it, in one INSERT … SELECT;
        then tell rules about each of them. Returns the friends who got it."""
        tag = await get_or_create_tag(name)
        fields = FriendTag._meta.fields_map
        now = fields["added_at"].to_db_value(clock.now(), FriendTag)
        head = [tag.id, now, source, actor]
        postgres = segments.dialect == "postgres"
        where_sql, where_params = segments.sql_for(cond, param_start=len(head) + 1)
        if postgres:
            marks = ["$1", "$2", "$3", "$4"]
            last = f"${len(head) + len(where_params) + 1}"
        else:
            marks = ["?"] * 4
            last = "?"
        sql = (
            "INSERT INTO friend_tags (friend_id, tag_id, added_at, removed_at, source, actor) "
            f"SELECT s.id, {marks[0]}, {marks[1]}, NULL, {marks[2]}, {marks[3]} "
            f"FROM ({where_sql}) s WHERE NOT EXISTS (SELECT 1 FROM friend_tags t "
            f"WHERE t.friend_id = s.id AND t.tag_id = {last} AND t.removed_at IS NULL) "
            "RETURNING friend_id"
        )
        rows = await connections.get("default").execute_query_dict(
            sql, [*head, *where_params, tag.id]
        )
        added = sorted(int(row["friend_id"]) for row in rows)
        await self._announce(TagAdded, added, name, source, actor)
        return added

    async def bulk_remove(
        self,
        segments: Segments,
        cond: Any,
        name: str,
        *,
        source: str,
        actor: str | None = None,
    ) -> list[int]:
        """Close the open period of every friend of a segment who holds the tag, in one
        UPDATE; then tell rules about each of them. Returns the friends who lost it."""
        tag_id = await self.tag_id(name)
        now = FriendTag._meta.fields_map["removed_at"].to_db_value(clock.now(), FriendTag)
        postgres = segments.dialect == "postgres"
        where_sql, where_params = segments.sql_for(cond, param_start=3)
        marks = ("$1", "$2") if postgres else ("?", "?")
        sql = (
            f"UPDATE friend_tags SET removed_at = {marks[0]} WHERE tag_id = {marks[1]} "
            f"AND removed_at IS NULL AND friend_id IN (SELECT s.id FROM ({where_sql}) s) "
            "RETURNING friend_id"
        )
        rows = await connections.get("default").execute_query_dict(
            sql, [now, tag_id, *where_params]
        )
        removed = sorted(int(row["friend_id"]) for row in rows)
        await self._announce(TagRemoved, removed, name, source, actor)
        return removed

    async def remove(
        self, friend_id: int, name: str, *, source: str, actor: str | None = None
    ) -> bool:
        """Close the open period; False (and no event) if the friend did not have the tag."""
        closed = await FriendTag.filter(
            friend_id=friend_id, tag_id=await self.tag_id(name), removed_at__isnull=True
        ).update(removed_at=clock.now())
        if not closed:
            return False
        await self.bus.publish(TagRemoved(friend_id, source, actor, tag=name))
        return True


@dataclass(frozen=True)
class TagPeriod:
    friend_id: int
    tag: str
    added_at: datetime
    removed_at: datetime | None
    source: str
    actor: str | None


async def history(
    tag: str | None = None,
    *,
    friend_id: int | None = None,
    added_from: datetime | None = None,
    added_to: datetime | None = None,
    removed_from: datetime | None = None,
    removed_to: datetime | None = None,
    active: bool | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[TagPeriod]:
    """Tag history with filters; with no time filter at all, the last 7 days of additions."""
    query = FriendTag.all()
    if tag is not None:
        query = query.filter(tag__name=tag)
    if friend_id is not None:
        query = query.filter(friend_id=friend_id)
    if not any((added_from, added_to, removed_from, removed_to)) and friend_id is None:
        added_from = clock.now() - DEFAULT_HISTORY_WINDOW
    if added_from:
        query = query.filter(added_at__gte=added_from)
    if added_to:
        query = query.filter(added_at__lt=added_to)
    if removed_from:
        query = query.filter(removed_at__gte=removed_from)
    if removed_to:
        query = query.filter(removed_at__lt=removed_to)
    if active is True:
        query = query.filter(removed_at__isnull=True)
    elif active is False:
        query = query.filter(removed_at__isnull=False)
    rows = (
        await query.order_by("-added_at", "-id")
        .offset(offset)
        .limit(limit)
        .values("friend_id", "tag__name", "added_at", "removed_at", "source", "actor")
    )
    return [
        TagPeriod(
            r["friend_id"], r["tag__name"], r["added_at"], r["removed_at"], r["source"], r["actor"]
        )
        for r in rows
    ]


async def friends_tagged_between(tag: str, start: datetime, end: datetime) -> list[int]:
    """Friends whose tag was added in [start, end), whether or not they still have it."""
    rows = await FriendTag.filter(tag__name=tag, added_at__gte=start, added_at__lt=end).values_list(
        "friend_id", flat=True
    )
    return sorted({int(str(r)) for r in rows})
