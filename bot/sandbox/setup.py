"""Wiring the stand-in into an aiohttp application (inside stepbot, or on its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot.config import SANDBOX_API_PREFIX, SANDBOX_LIFF_ID
from bot.sandbox.liff import IdTokenIssuer, LiffHandlers
from bot.sandbox.platform import STATE_KEY, PlatformHandlers
from bot.sandbox.simulator import SimulatorHandlers
from bot.sandbox.state import SandboxState
from bot.sandbox.webhooks import WebhookSender

SENDER_KEY: web.AppKey[WebhookSender] = web.AppKey("sandbox_sender", WebhookSender)
ID_TOKENS_KEY: web.AppKey[IdTokenIssuer] = web.AppKey("sandbox_id_tokens", IdTokenIssuer)
#: The LINE Login channel the sandbox's LIFF app belongs to (the `aud` of its ID tokens).
SANDBOX_LOGIN_CHANNEL_ID = SANDBOX_LIFF_ID.split("-", 1)[0]


def setup_sandbox(
    app: web.Application,
    *,
    webhook_url: str,
    channel_secret: str,
    expected_token: str | None = None,
    api_prefix: str = SANDBOX_API_PREFIX,
    settings: dict[str, Any] | None = None,
    login_channel_id: str = SANDBOX_LOGIN_CHANNEL_ID,
) -> SandboxState:
    """Serve the Messaging API under `api_prefix` and the simulator under /sandbox.

    `settings` takes the control API's JSON (rate limits, faults, quota); SettingsError if bad.
    LIFF ID tokens are issued for `login_channel_id` and verified under `api_prefix` too.
    """
    state = SandboxState()
    state.configure(settings or {})
    sender = WebhookSender(state, webhook_url, channel_secret)
    app[STATE_KEY] = state
    app[SENDER_KEY] = sender
    app.router.add_routes(PlatformHandlers(state, expected_token).routes(api_prefix))
    app.router.add_routes(SimulatorHandlers(state, sender).routes())
    id_tokens = IdTokenIssuer(login_channel_id)
    app[ID_TOKENS_KEY] = id_tokens
    app.router.add_routes(LiffHandlers(state, id_tokens).routes(api_prefix))

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
    login_channel_id: str = SANDBOX_LOGIN_CHANNEL_ID,
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
        login_channel_id=login_channel_id,
    )
    return app
