"""Bringing the scenario's rich menus up at start: sync them to LINE, make the default the
account's, move every friend to their menu, then delete what no menu uses any more.

It runs as a task beside the server, retrying until LINE answers: in sandbox mode LINE is
this very server, which only listens once start-up is over."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.db.models import Friend
from bot.line.client import LineApiError, LineClient
from bot.richmenus.assignment import MenuAssigner
from bot.richmenus.build import RichMenuError
from bot.richmenus.sync import prune_rich_menus, sync_rich_menus
from bot.scenario import Scenario

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 60.0


async def bring_up(
    scenario: Scenario,
    line: LineClient,
    menus: MenuAssigner,
    *,
    folder: Path,
    liff_id: str | None,
) -> None:
    """Sync, set the default, link everyone, prune; then `menus.ready` is set."""
    result = await sync_rich_menus(scenario, line, folder=folder, liff_id=liff_id, prune=False)
    menus.catalog = dict(result.menus)
    default = menus.default_menu
    if default is not None and default in result.menus:
        await line.set_default_rich_menu(result.menus[default])
    elif scenario.menu_rules:
        await line.cancel_default_rich_menu()
    if result.created:
        # A key created anew had other content before (or never existed): whoever LINE
        # shows the old menu under that key must be linked to the new one.
        await Friend.filter(rich_menu_linked__in=result.created).update(rich_menu_linked=None)
    moved = await menus.refresh_all()
    if moved:
        log.info("rich menus: %s friend(s) moved to their menu", moved)
    await prune_rich_menus(line, result)


async def keep_trying(attempt: Callable[[], Awaitable[None]], ready: asyncio.Event) -> None:
    """Run `attempt` (`bring_up` with its arguments) until it succeeds: connection errors
    and LINE's 5xx/429 are retried with backoff; a menu that cannot be built, or LINE
    refusing one, is logged once and left. `ready` is set either way."""
    wait = RETRY_FIRST_S
    try:
        while True:
            try:
                await attempt()
                return
            except RichMenuError as exc:
                log.error("rich menus not synced: %s", exc)
                return
            except LineApiError as exc:
                if not exc.retryable:
                    log.error("rich menus not synced: %s", exc.describe())
                    return
                log.warning("rich menu sync will retry in %.1fs: %s", wait, exc.describe())
            except OSError as exc:  # LINE (or the sandbox) not reachable yet
                log.info("rich menu sync will retry in %.1fs: %s", wait, exc)
            except Exception:
                log.exception("rich menus not synced")
                return
            await asyncio.sleep(wait)
            wait = min(wait * 2, RETRY_MAX_S)
    finally:
        ready.set()
