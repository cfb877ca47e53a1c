"""The aiohttp application: routes and the startup/shutdown wiring of every part."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import clock, inbox
from bot.admin.export import setup_export_routes
from bot.admin.reload import follow_reloads, keep_liff_current, scenario_file_hash
from bot.appkeys import DB_CONTEXT, DISPATCHER, INBOX_WRITER, SERVICES, TICK_LOCK
from bot.automation.links import REDIRECT_PATH
from bot.config import Settings
from bot.db import sqlite_wal
from bot.db.runtime import close_database, database_alive, open_database
from bot.dispatch import EventDispatcher
from bot.handlers.setup import build_router
from bot.integrations.setup import setup_integrations
from bot.line.client import LineClient
from bot.line.ratelimit import RateLimits, parse_limits
from bot.line.webhook import MAX_BODY_BYTES
from bot.redirect import follow_link
from bot.scenario import Scenario, load_scenario
from bot.services import Services
from bot.webhook import callback
from liff import setup_liff

log = logging.getLogger(__name__)

SANDBOX_ACCESS_TOKEN = "stepbot-sandbox-access-token"
TICK_SECONDS = 5
INBOX_RECOVERY_AGE = timedelta(seconds=60)


async def tick(app: web.Application) -> None:
    """Periodic work: retries, expiry, decay, due steps, time-based rules, lost events.

    One at a time: the scheduler and the test clock both call it.
    """
    async with app[TICK_LOCK]:
        await _tick(app)


async def _tick(app: web.Application) -> None:
    await follow_reloads(app)
    services = app[SERVICES]
    await sqlite_wal.checkpoint(services.settings.database_url)
    await services.outbox.retry_due()
    await services.crm.points.expire_due()
    await services.expiry_notices.tick()
    await services.crm.scores.decay()
    await services.steps.run_due()
    await services.rules.tick()
    await services.broadcasts.tick()
    await services.chat_broadcasts.tick()
    await services.surveys.remind_due()
    await services.menus.reconcile()
    dispatcher = app[DISPATCHER]
    for event_id, user_id in await inbox.pending(older_than=INBOX_RECOVERY_AGE):
        dispatcher.submit(event_id, user_id)


async def _database_ctx(app: web.Application) -> AsyncIterator[None]:
    app[DB_CONTEXT] = await open_database(app[SERVICES].settings.database_url)
    await app[SERVICES].crm.sync()
    yield
    await close_database(app[DB_CONTEXT])


async def _line_ctx(app: web.Application) -> AsyncIterator[None]:
    line = app[SERVICES].line
    await line.start()
    yield
    await line.close()


async def _dispatcher_ctx(app: web.Application) -> AsyncIterator[None]:
    # What is loaded by now (line-bot-sdk's hundreds of models, the ORM, the scenario) lives
    # as long as the process: move it out of the collector's full passes, which otherwise
    # walk all of it and pause the loop for 100 ms under load.
    gc.collect()
    gc.freeze()
    dispatcher = app[DISPATCHER]
    released = await inbox.release_interrupted()
    pending = await inbox.pending()
    if released or pending:
        log.info("resuming %s unprocessed webhook events", len(pending))
    for event_id, user_id in pending:
        dispatcher.submit(event_id, user_id)
    yield
    if not await dispatcher.drain(timeout=30):
        log.warning("stopped with %s friends' events still being processed", dispatcher.busy)


async def _menus_ctx(app: web.Application) -> AsyncIterator[None]:
    """Rich menus come up beside the server (see bot/richmenus/lifecycle.py), again after
    each scenario reload; shutdown stops whichever bring-up is running."""
    services = app[SERVICES]
    await services.start_menus()
    yield
    await services.stop_menus()


class _Ticker:
    """Runs `tick` from APScheduler and lets shutdown wait for a tick in progress."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.running: asyncio.Task[None] | None = None

    async def run(self) -> None:
        self.running = asyncio.current_task()
        try:
            await tick(self.app)
        except Exception:
            log.exception("scheduled tick failed")
        finally:
            self.running = None

    async def wait(self, timeout: float = 30.0) -> None:
        if self.running is not None and not self.running.done():
            await asyncio.wait({self.running}, timeout=timeout)


async def _scheduler_ctx(app: web.Application) -> AsyncIterator[None]:
    ticker = _Ticker(app)
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        ticker.run,
        "interval",
        seconds=TICK_SECONDS,
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(),
    )
    scheduler.start()
    yield
    # No new ticks; let a tick in progress finish before the scheduler goes (its shutdown
    # cancels the tasks it started, which would cut a tick off halfway).
    scheduler.pause()
    await ticker.wait()
    scheduler.shutdown(wait=False)


async def healthz(request: web.Request) -> web.Response:
    if not await database_alive():
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def test_clock(request: web.Request) -> web.Response:
    """Move the test clock (`{"advance": "7d"}` or `{"set": ISO-8601}`) and run due work."""
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"message": "body must be JSON"}, status=400)
    try:
        if isinstance(body, dict) and "advance" in body:
            clock.clock.advance(clock.parse_duration(str(body["advance"])))
        elif isinstance(body, dict) and "set" in body:
            clock.clock.set(datetime.fromisoformat(str(body["set"])))
        else:
            raise ValueError('expected {"advance": "7d"} or {"set": "2026-04-01T10:00:00+09:00"}')
    except ValueError as exc:
        return web.json_response({"message": str(exc)}, status=400)
    await tick(request.app)
    return web.json_response({"now": clock.now().isoformat()})


def create_app(settings: Settings, scenario: Scenario | None = None) -> web.Application:
    """Build the server. The scenario is loaded here so a broken file stops startup at once."""
    content_hash = None
    if scenario is None:
        content_hash = scenario_file_hash(settings.scenario_path)
        scenario = load_scenario(settings.scenario_path)
    api_url, data_url = settings.line_api_urls()
    line = LineClient(
        settings.channel_access_token or SANDBOX_ACCESS_TOKEN,
        api_url,
        data_url,
        limits=RateLimits(parse_limits(settings.line_rate_limits)),
    )
    services = Services(
        settings=settings,
        scenario=scenario,
        router=build_router(scenario),
        line=line,
        scenario_hash=content_hash,
    )
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SERVICES] = services
    concurrency = 8 if settings.database_url.startswith("sqlite") else 32
    app[DISPATCHER] = EventDispatcher(services, concurrency=concurrency)
    app[INBOX_WRITER] = inbox.InboxWriter()
    app[TICK_LOCK] = asyncio.Lock()
    app.cleanup_ctx.extend([_database_ctx, _line_ctx, _dispatcher_ctx, _menus_ctx, _scheduler_ctx])
    app.router.add_post("/callback", callback)
    app.router.add_get("/healthz", healthz)
    app.router.add_get(REDIRECT_PATH + "{code}", follow_link)
    if settings.test_clock:
        app.router.add_post("/_test/clock", test_clock)
    if settings.sandbox:
        from bot.sandbox.setup import setup_sandbox

        setup_sandbox(
            app,
            webhook_url=settings.base_url + "/callback",
            channel_secret=settings.channel_secret,
            login_channel_id=settings.line_login_channel_id or "",
        )
    setup_liff(app)
    keep_liff_current(app)
    setup_integrations(app)
    setup_export_routes(app)
    return app
