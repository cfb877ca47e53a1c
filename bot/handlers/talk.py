"""1:1 talk: a friend's message that no keyword answered reaches the admins (see
bot/admin/talk.py). Routed last, so anything automatic has had its chance."""

from __future__ import annotations

from bot.admin import talk
from bot.handlers.context import EventContext
from bot.handlers.router import Router


async def relay(ctx: EventContext) -> int:
    """Keep the friend's message and forward it; returns how many admins were told."""
    if ctx.friend is None or ctx.friend.blocked:
        return 0
    kind, text = talk.describe(dict(ctx.raw.get("message") or {}))
    return await talk.forward(ctx.services, ctx.friend, kind, text, ctx.webhook_event_id)


def talk_router() -> Router:
    router = Router("talk")

    @router.message(name="unanswered")
    async def unanswered(ctx: EventContext) -> None:
        told = await relay(ctx)
        ctx.outcome = f"1:1 talk, {told} admin(s) told"

    return router
