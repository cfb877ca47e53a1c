"""Keeping LINE's rich menus in step with the scenario, on start and on every reload.

A menu at LINE cannot be edited, only created and deleted, and both count against one
allowance of 100 per hour. So every menu is known by the hash of its content
(`RichMenuRecord`): an unchanged menu is found again and reused, a changed one is created
anew, aliases are pointed at the current menus, and menus stepbot made that no declared menu
uses any more are deleted. Menus the operator made by hand are never touched: ours are those
in our records or named with our prefix.

Two processes syncing the same scenario at once may both create a menu; the first to record
it wins and the other deletes its copy, so duplicates never last.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError

from bot import clock
from bot.db.models import RichMenuRecord
from bot.line.client import LineApiError, LineClient
from bot.richmenus.build import NAME_PREFIX, BuiltMenu, build_menus

if TYPE_CHECKING:
    from bot.scenario import Scenario

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    """What LINE has after a sync and what the sync did."""

    menus: dict[str, str] = field(default_factory=dict)
    """Menu key (`NAME`, or `NAME@n` per stamp count) → LINE rich menu id."""
    created: list[str] = field(default_factory=list)
    """Keys of menus created at LINE (with their image) this time."""
    reused: list[str] = field(default_factory=list)
    """Keys of menus LINE already had with the same content."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Every alias the scenario wants → the LINE id it points at."""
    aliases_set: list[str] = field(default_factory=list)
    """Aliases created or pointed at a new menu this time."""
    aliases_deleted: list[str] = field(default_factory=list)
    """Aliases of ours that no menu wants any more, deleted."""
    stale: list[str] = field(default_factory=list)
    """LINE ids of our menus that no declared menu uses (deleted unless `prune=False`)."""
    deleted: list[str] = field(default_factory=list)
    """LINE ids deleted."""

    def summary(self) -> str:
        """One line for the log."""
        waiting = len(self.stale) - len(self.deleted)
        return (
            f"rich menus synced: {len(self.menus)} in use ({len(self.created)} created, "
            f"{len(self.reused)} reused), {len(self.deleted)} deleted"
            + (f", {waiting} to delete" if waiting else "")
            + f"; aliases: {len(self.aliases_set)} set, {len(self.aliases_deleted)} deleted"
        )


async def sync_rich_menus(
    scenario: Scenario,
    client: LineClient,
    *,
    folder: Path,
    liff_id: str | None = None,
    prune: bool = True,
    font: Path | None = None,
) -> SyncResult:
    """Make LINE hold exactly the scenario's menus; image files are read from `folder` (the
    scenario file's). With `prune=False` stale menus are only listed in `stale`, so a caller
    can move friends to the new menus first and then call `prune_rich_menus`.

    Raises RichMenuError (a menu cannot be made) or LineApiError (LINE refused)."""
    wanted = await asyncio.to_thread(
        build_menus, scenario, folder=folder, liff_id=liff_id, font=font
    )
    records = {record.content_hash: record for record in await RichMenuRecord.all()}
    at_line = {str(m["richMenuId"]): m for m in await client.list_rich_menus()}
    by_name: dict[str, list[str]] = {}
    for menu_id, menu in at_line.items():
        by_name.setdefault(str(menu.get("name") or ""), []).append(menu_id)

    result = SyncResult()
    for built in wanted:
        record = records.get(built.content_hash)
        if record is not None and record.line_rich_menu_id in at_line:
            result.menus[built.key] = record.line_rich_menu_id
            result.reused.append(built.key)
            continue
        found = by_name.get(built.line_name)
        if found:  # made by an earlier sync that could not record it
            menu_id = found[0]
            if await client.get_rich_menu_image(menu_id) is None:
                await client.set_rich_menu_image(
                    menu_id, built.image.data, built.image.content_type
                )
            result.reused.append(built.key)
        else:
            menu_id = await _create(client, built)
            result.created.append(built.key)
        result.menus[built.key] = await _remember(client, built, menu_id, record)

    await _sync_aliases(client, wanted, records, result)
    keep = set(result.menus.values())
    ours = {r.line_rich_menu_id for r in records.values() if r.line_rich_menu_id}
    ours |= {i for i, m in at_line.items() if str(m.get("name") or "").startswith(NAME_PREFIX)}
    result.stale = sorted(i for i in ours if i in at_line and i not in keep)
    wanted_hashes = {built.content_hash for built in wanted}
    gone = [
        h
        for h, r in records.items()
        if h not in wanted_hashes and r.line_rich_menu_id not in at_line
    ]
    if gone:
        await RichMenuRecord.filter(content_hash__in=gone).delete()
    if prune:
        await prune_rich_menus(client, result)
    log.info(result.summary())
    return result


async def prune_rich_menus(client: LineClient, result: SyncResult) -> None:
    """Delete the stale menus a sync found (waiting for the hourly allowance if needed)."""
    for menu_id in result.stale:
        if menu_id in result.deleted:
            continue
        try:
            await client.delete_rich_menu(menu_id)
        except LineApiError as exc:
            if exc.status != 400:
                raise
            log.warning("rich menu %s could not be deleted: %s", menu_id, exc.describe())
            continue
        result.deleted.append(menu_id)
        await RichMenuRecord.filter(line_rich_menu_id=menu_id).delete()


async def _create(client: LineClient, built: BuiltMenu) -> str:
    """Create the menu and upload its image; a menu left without its image is deleted."""
    menu_id = await client.create_rich_menu(built.body)
    try:
        await client.set_rich_menu_image(menu_id, built.image.data, built.image.content_type)
    except Exception:
        await _delete_quietly(client, menu_id)
        raise
    return menu_id


async def _delete_quietly(client: LineClient, menu_id: str) -> None:
    try:
        await client.delete_rich_menu(menu_id)
    except LineApiError as exc:
        log.warning("rich menu %s left at LINE: %s", menu_id, exc.describe())


async def _remember(
    client: LineClient, built: BuiltMenu, menu_id: str, previous: RichMenuRecord | None
) -> str:
    """Record `menu_id` for the menu's hash and return it, unless another process recorded
    its own copy first: then ours is deleted and theirs returned."""
    values: dict[str, Any] = {
        "menu_key": built.key,
        "line_rich_menu_id": menu_id,
        "alias": built.alias,
        "created_at": clock.now(),
    }
    if previous is None:
        try:
            await RichMenuRecord.create(content_hash=built.content_hash, **values)
            return menu_id
        except IntegrityError:
            pass
    else:
        query = RichMenuRecord.filter(content_hash=built.content_hash)
        if previous.line_rich_menu_id is None:
            query = query.filter(line_rich_menu_id__isnull=True)
        else:
            query = query.filter(line_rich_menu_id=previous.line_rich_menu_id)
        if await query.update(**values):
            return menu_id
    winner = await RichMenuRecord.get_or_none(content_hash=built.content_hash)
    if winner is None or not winner.line_rich_menu_id or winner.line_rich_menu_id == menu_id:
        await RichMenuRecord.update_or_create(content_hash=built.content_hash, defaults=values)
        return menu_id
    log.info("rich menu %s was made twice at once; keeping %s", built.key, winner.line_rich_menu_id)
    await _delete_quietly(client, menu_id)
    return winner.line_rich_menu_id


async def _sync_aliases(
    client: LineClient,
    wanted: list[BuiltMenu],
    records: dict[str, RichMenuRecord],
    result: SyncResult,
) -> None:
    """Point every wanted alias at its current menu; delete our aliases nobody wants."""
    current = await client.list_rich_menu_aliases()
    for built in wanted:
        if built.alias is None:
            continue
        menu_id = result.menus[built.key]
        result.aliases[built.alias] = menu_id
        have = current.get(built.alias)
        if have == menu_id:
            continue
        if have is None:
            try:
                await client.create_rich_menu_alias(built.alias, menu_id)
            except LineApiError as exc:
                if exc.status != 400:
                    raise
                # Made meanwhile (another process): point it here all the same.
                await client.update_rich_menu_alias(built.alias, menu_id)
        else:
            await client.update_rich_menu_alias(built.alias, menu_id)
        result.aliases_set.append(built.alias)
    ours = {r.alias for r in records.values() if r.alias} - set(result.aliases)
    for alias in sorted(ours):
        if alias in current and await client.delete_rich_menu_alias(alias):
            result.aliases_deleted.append(alias)
