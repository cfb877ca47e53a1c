"""Which rich menu each friend sees, kept in step with LINE.

The scenario's `menu_rules` are compiled into one SQL `CASE` (first matching rule wins; a
stamp-card menu becomes `NAME@n` for the friend's stamp count), written to
`friends.rich_menu`. LINE is then told about every friend whose `rich_menu` differs from
`rich_menu_linked`: single friends by the per-user link, many by the bulk endpoint in
chunks of 500. Friends whose menu is the default one are unlinked (LINE then shows the
account's default menu), so new friends need no call at all.

Because the wanted menu is in the database, nothing is lost on a crash: the tick links
whatever is still out of step, and start-up recomputes everyone.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

from tortoise import connections

from bot.crm.events import (
    DomainEvent,
    EventBus,
    FieldChanged,
    Followed,
    PointsChanged,
    ScoreChanged,
    StampAdded,
    TagAdded,
    TagRemoved,
)
from bot.crm.segments import Segments
from bot.line.client import LineApiError
from bot.scenario import Scenario

log = logging.getLogger(__name__)

#: LINE's bulk link and unlink take at most this many user ids per request.
BULK_LIMIT = 500
#: The wanted menu of friends no rule gives a menu: no per-user menu.
NO_MENU = ""
_RELEVANT = (TagAdded, TagRemoved, FieldChanged, PointsChanged, ScoreChanged, StampAdded, Followed)


class MenuLinker(Protocol):
    """The LINE calls this needs (our LineClient)."""

    async def link_rich_menu(self, user_id: str, rich_menu_id: str) -> None: ...
    async def unlink_rich_menu(self, user_id: str) -> None: ...
    async def bulk_link_rich_menu(self, rich_menu_id: str, user_ids: list[str]) -> None: ...
    async def bulk_unlink_rich_menu(self, user_ids: list[str]) -> None: ...


class MenuAssigner:
    def __init__(self, scenario: Scenario, segments: Segments, line: MenuLinker) -> None:
        self.scenario = scenario
        self.segments = segments
        self.line = line
        self.catalog: dict[str, str] = {}
        """Menu key (NAME or NAME@n) → LINE rich menu id, from the last sync."""
        self._pending: set[int] = set()
        self._linking = asyncio.Lock()
        self.ready = asyncio.Event()
        """Set once start-up's sync finished (or gave up): tests and benchmarks wait on it."""
        rules = scenario.menu_rules
        self.default_menu = rules[-1].menu if rules and rules[-1].if_ is None else None

    @property
    def active(self) -> bool:
        """Menus are assigned by rules (or switched by actions) once they exist at LINE."""
        return bool(self.catalog)

    @property
    def assigns(self) -> bool:
        """Menus are computed per friend: by menu_rules, or admins get their own menu."""
        return bool(self.scenario.menu_rules) or self.scenario.admin.rich_menu is not None

    def subscribe(self, bus: EventBus) -> None:
        if not self.assigns:
            return
        self.bus = bus

        async def on_event(event: DomainEvent) -> None:
            if not isinstance(event, _RELEVANT) or not self.active:
                return
            if bus.batching:
                self._pending.add(event.friend_id)
                return
            await self.refresh([event.friend_id])

        async def on_batch_end() -> None:
            pending, self._pending = self._pending, set()
            if pending and self.active:
                await self.refresh(sorted(pending))

        bus.subscribe(on_event, on_batch_end)

    # --- what each friend should see --------------------------------------------------

    def _key_sql(self, menu: str, params: list[Any]) -> str:
        """The SQL value of a menu's key for friend `f` (NAME, or NAME@n for a stamp card)."""
        definition = self.scenario.rich_menus.get(menu)
        rally_name = definition.stamp_card if definition is not None else None
        if rally_name is None:
            params.append(menu)
            return self._cast(len(params))
        goal = self.scenario.stamp_rallies[rally_name].goal
        params.append(f"{menu}@")
        prefix = self._cast(len(params))
        params.append(rally_name)
        rally = self._mark(len(params))
        count = (
            f"COALESCE((SELECT CASE WHEN c.stamps > {int(goal)} THEN {int(goal)} "
            f"ELSE c.stamps END FROM stamp_cards c WHERE c.friend_id = f.id "
            f"AND c.rally = {rally}), 0)"
        )
        return f"({prefix} || CAST({count} AS TEXT))"

    def _mark(self, number: int) -> str:
        return "?" if self.segments.dialect == "sqlite" else f"${number}"

    def _cast(self, number: int) -> str:
        return f"CAST({self._mark(number)} AS TEXT)"

    def _wanted_sql(self, params: list[Any]) -> str:
        """CASE WHEN rule 1 THEN menu 1 … ELSE default (or no menu) END, over alias `f`."""
        parts: list[str] = []
        fallback: str | None = None
        admin_menu = self.scenario.admin.rich_menu
        if admin_menu is not None:
            admin_key = self._key_sql(admin_menu, params)
            parts.append(
                "WHEN EXISTS (SELECT 1 FROM admins a WHERE a.line_user_id = f.line_user_id) "
                f"THEN {admin_key}"
            )
            if not self.scenario.menu_rules:
                # Menus switched by actions stay; a former admin loses the admin menu.
                params.append(admin_menu)
                test = self._cast(len(params))
                params.append(NO_MENU)
                parts.append(f"WHEN f.rich_menu = {test} THEN {self._cast(len(params))}")
                fallback = "f.rich_menu"
        for rule in self.scenario.menu_rules:
            if rule.if_ is None:
                fallback = self._key_sql(rule.menu, params)
                break
            where, where_params = self.segments.compile(rule.if_, param_start=len(params) + 1)
            params.extend(where_params)
            parts.append(f"WHEN {where} THEN {self._key_sql(rule.menu, params)}")
        if fallback is None:
            params.append(NO_MENU)
            fallback = self._cast(len(params))
        if not parts:
            return fallback
        return f"CASE {' '.join(parts)} ELSE {fallback} END"

    def _among(self, friend_ids: list[int], params: list[Any]) -> str:
        if self.segments.dialect == "sqlite":
            params.append(json.dumps(friend_ids))
            return "f.id IN (SELECT value FROM json_each(?))"
        params.append(friend_ids)
        return f"f.id = ANY(${len(params)}::int[])"

    async def _assign(self, friend_ids: list[int] | None) -> None:
        """Write every (or these) friend's wanted menu, in one UPDATE."""
        if not self.assigns:
            return
        params: list[Any] = []
        wanted = self._wanted_sql(params)
        sql = f"UPDATE friends AS f SET rich_menu = {wanted}"
        if friend_ids is not None:
            sql += f" WHERE {self._among(friend_ids, params)}"
        await connections.get("default").execute_query(sql, params)

    # --- telling LINE ----------------------------------------------------------------

    async def refresh(self, friend_ids: list[int]) -> int:
        """Recompute these friends' menus and link the ones that changed (within the
        event that changed them, so a friend sees the new menu within a second)."""
        await self._assign(friend_ids)
        return await self.reconcile(friend_ids)

    async def refresh_all(self) -> int:
        """Recompute every friend's menu (start-up, new rules) and link what changed."""
        await self._assign(None)
        return await self.reconcile(None)

    async def switch(self, friend_id: int, menu: str) -> None:
        """The `switch_menu` action (scenarios without menu_rules)."""
        from bot.db.models import Friend

        await Friend.filter(id=friend_id).update(rich_menu=menu)
        await self.reconcile([friend_id])

    async def reconcile(self, friend_ids: Iterable[int] | None = None) -> int:
        """Link or unlink every friend (or these) whose wanted menu LINE does not show yet;
        returns how many friends were brought in step."""
        if not self.active:
            return 0
        # One at a time in this process: the tick's sweep and an event's own friends would
        # otherwise both link the same friends.
        async with self._linking:
            return await self._reconcile(friend_ids)

    async def _reconcile(self, friend_ids: Iterable[int] | None) -> int:
        params: list[Any] = []
        sql = (
            "SELECT f.id AS id, f.line_user_id AS user_id, f.rich_menu AS menu, "
            "f.rich_menu_linked AS linked FROM friends f WHERE f.blocked = "
            + ("0" if self.segments.dialect == "sqlite" else "FALSE")
            + " AND f.rich_menu IS NOT NULL"
            " AND (f.rich_menu_linked IS NULL OR f.rich_menu_linked <> f.rich_menu)"
        )
        if friend_ids is not None:
            ids = sorted(set(friend_ids))
            if not ids:
                return 0
            sql += f" AND {self._among(ids, params)}"
        rows = await connections.get("default").execute_query_dict(sql, params)
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            groups[str(row["menu"])].append(row)
        done = 0
        for menu, members in groups.items():
            done += await self._apply(menu, members)
        return done

    def _shows_default(self, menu: str) -> bool:
        """The default menu is the account's (set at sync), so showing it needs no link."""
        return menu in (NO_MENU, self.default_menu)

    async def _apply(self, menu: str, members: list[dict[str, Any]]) -> int:
        done = 0
        if self._shows_default(menu):
            # Never linked: they already see the default. Linked to another: unlink.
            fresh = [row for row in members if row["linked"] is None]
            await self._mark_linked(menu, [int(row["id"]) for row in fresh])
            done += len(fresh)
            linked = [row for row in members if row["linked"] is not None]
            for chunk in _chunks(linked):
                users = [str(row["user_id"]) for row in chunk]
                call = (
                    self.line.unlink_rich_menu(users[0])
                    if len(users) == 1
                    else self.line.bulk_unlink_rich_menu(users)
                )
                if await self._call(call, menu, len(users)):
                    await self._mark_linked(menu, [int(row["id"]) for row in chunk])
                    done += len(chunk)
            return done
        rich_menu_id = self.catalog.get(menu)
        if rich_menu_id is None:
            log.error(
                "rich menu %s is not at LINE (sync failed?); %s friend(s) wait", menu, len(members)
            )
            return 0
        for chunk in _chunks(members):
            users = [str(row["user_id"]) for row in chunk]
            call = (
                self.line.link_rich_menu(users[0], rich_menu_id)
                if len(users) == 1
                else self.line.bulk_link_rich_menu(rich_menu_id, users)
            )
            if await self._call(call, menu, len(users)):
                await self._mark_linked(menu, [int(row["id"]) for row in chunk])
                done += len(chunk)
        return done

    @staticmethod
    async def _call(call: Any, menu: str, count: int) -> bool:
        try:
            await call
        except LineApiError as exc:
            log.warning(
                "linking rich menu %s for %s friend(s) failed: %s", menu, count, exc.describe()
            )
            return False
        return True

    async def _mark_linked(self, menu: str, friend_ids: list[int]) -> None:
        if not friend_ids:
            return
        from bot.db.models import Friend

        for start in range(0, len(friend_ids), 5000):
            chunk = friend_ids[start : start + 5000]
            await Friend.filter(id__in=chunk, rich_menu=menu).update(rich_menu_linked=menu)


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), BULK_LIMIT):
        yield rows[start : start + BULK_LIMIT]
