"""Wiring the stand-in into an aiohttp application (inside stepbot, or on its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.config import SANDBOX_API_PREFIX
from bot.sandbox.platform import STATE_KEY, PlatformHandlers
from bot.sandbox.simulator import SimulatorHandlers
from bot.sandbox.state import SandboxState
from bot.sandbox.webhooks import WebhookSender

SENDER_KEY: web.AppKey[WebhookSender] = web.AppKey("sandbox_sender", WebhookSender)


def setup_sandbox(
    app: web.Application,
    *,
    webhook_url: str,
    channel_secret: str,
    expected_token: str | None = None,
    api_prefix: str = SANDBOX_API_PREFIX,
    settings: dict[str, Any] | None = None,
) -> SandboxState:
    """Serve the Messaging API under `api_prefix` and the simulator under /sandbox.

    `settings` takes the control API's JSON (rate limits, faults, quota); SettingsError if bad.
    """
    state = SandboxState()
    state.configure(settings or {})
    sender = WebhookSender(state, webhook_url, channel_secret)
    app[STATE_KEY] = state
    app[SENDER_KEY] = sender
    app.router.add_routes(PlatformHandlers(state, expected_token).routes(api_prefix))
    app.router.add_routes(SimulatorHandlers(state, sender).routes())

    async def sender_ctx(_: web.Application) -> AsyncIterator[None]:
        await sender.start()
        yield
        await sender.close()

    app.cleanup_ctx.append(sender_ctx)

    async def end_streams(_: web.Application) -> None:
        state.close_streams()

    app.on_shutdown.append(end_streams)
    return state


def standalone_app(
    *,
    webhook_url: str,
    channel_secret: str,
    expected_token: str | None = None,
    api_prefix: str = "",
    settings: dict[str, Any] | None = None,
) -> web.Application:
    """The stand-in alone, for pointing a stepbot (or anything else) at it."""
    app = web.Application()
    setup_sandbox(
        app,
        webhook_url=webhook_url,
        channel_secret=channel_secret,
        expected_token=expected_token,
        api_prefix=api_prefix,
        settings=settings,
    )
    return app
