"""`stepbot menus sync` and `stepbot menus preview NAME -o FILE`.

Sync does by hand what the server does on start and reload; preview draws one menu to a file
so an operator can see a layout (or an image menu's areas) before going live. Heavy imports
wait until a command runs: `stepbot --help` must stay quick.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def add_menus_command(sub: Any) -> None:
    """Register `menus` on the `stepbot` command's subparsers."""
    menus = sub.add_parser("menus", help="rich menus: sync them to LINE, or draw one to a file")
    actions = menus.add_subparsers(dest="action", required=True)
    sync = actions.add_parser(
        "sync", help="create, reuse and delete LINE's rich menus so they match the scenario"
    )
    sync.set_defaults(func=cmd_menus_sync)
    preview = actions.add_parser(
        "preview", help="draw a menu to a PNG/JPEG file (image menus: areas outlined in red)"
    )
    preview.add_argument("name", help="the menu's name under rich_menus; NAME@n for n stamps")
    preview.add_argument("-o", "--output", required=True, help="the file to write")
    preview.set_defaults(func=cmd_menus_preview)


def cmd_menus_sync(args: argparse.Namespace) -> int:
    from bot.app import SANDBOX_ACCESS_TOKEN
    from bot.cli import _load_scenario_or_exit, _settings
    from bot.db.runtime import close_database, open_database
    from bot.line.client import LineApiError, LineClient
    from bot.line.ratelimit import RateLimits, parse_limits
    from bot.logs import setup_logging
    from bot.richmenus.build import RichMenuError
    from bot.richmenus.sync import SyncResult, sync_rich_menus

    settings = _settings()
    setup_logging(settings.log_format)
    scenario = _load_scenario_or_exit(settings)

    async def run() -> SyncResult:
        ctx = await open_database(settings.database_url)
        api_url, data_url = settings.line_api_urls()
        client = LineClient(
            settings.channel_access_token or SANDBOX_ACCESS_TOKEN,
            api_url,
            data_url,
            limits=RateLimits(parse_limits(settings.line_rate_limits)),
        )
        await client.start()
        try:
            return await sync_rich_menus(
                scenario,
                client,
                folder=settings.scenario_path.parent,
                liff_id=settings.liff_id,
            )
        finally:
            await client.close()
            await close_database(ctx)

    try:
        result = asyncio.run(run())
    except RichMenuError as exc:
        print(f"stepbot: {exc}", file=sys.stderr)
        return 1
    except LineApiError as exc:
        message = f"LINE がリッチメニューを受け付けませんでした: {exc.describe()}"
        print(f"stepbot: {message}", file=sys.stderr)
        return 1
    print(result.summary())
    for key, menu_id in result.menus.items():
        print(f"{key}\t{menu_id}")
    return 0


def cmd_menus_preview(args: argparse.Namespace) -> int:
    from bot.cli import _load_scenario_or_exit, _settings
    from bot.richmenus.build import RichMenuError, read_image
    from bot.richmenus.fonts import FontMissing
    from bot.richmenus.render import RenderError, outline_areas, render_layout
    from bot.scenario.richmenus import STAMP_SEPARATOR, stamp_goal

    settings = _settings()
    scenario = _load_scenario_or_exit(settings)
    name, _, count = str(args.name).partition(STAMP_SEPARATOR)
    menu = scenario.rich_menus.get(name)
    if menu is None:
        known = ", ".join(scenario.rich_menus) or "none"
        print(f"stepbot: rich menu '{name}' is not declared (declared: {known})", file=sys.stderr)
        return 2
    goal = stamp_goal(scenario, menu)
    stamps = None
    if goal is not None:
        stamps = int(count) if count.isdigit() else 0
        stamps = min(stamps, goal)
    try:
        if menu.layout is not None:
            data = render_layout(menu, args.name, stamps=stamps, goal=goal).data
        else:
            image = read_image(menu, name, settings.scenario_path.parent, stamps)
            boxes = [
                (a.bounds.x, a.bounds.y, a.bounds.width, a.bounds.height) for a in menu.areas or ()
            ]
            data = outline_areas(image.data, boxes)
    except (FontMissing, RenderError, RichMenuError) as exc:
        print(f"stepbot: {exc}", file=sys.stderr)
        return 1
    Path(args.output).write_bytes(data)
    print(f"書き出しました: {args.output}", file=sys.stderr)
    return 0
