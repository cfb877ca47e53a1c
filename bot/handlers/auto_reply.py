"""Keyword auto-replies (自動応答) from the scenario: first match wins, then the default reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.handlers.context import EventContext
from bot.handlers.router import Filter, IsText, Router
from bot.handlers.talk import relay


@dataclass(frozen=True)
class MatchesAutoReply(Filter):
    """The text matches one scenario auto-reply (exact, contains or pattern)."""

    rule: Any

    async def check(self, ctx: EventContext) -> bool:
        return ctx.text is not None and bool(self.rule.matches(ctx.text))


def scenario_router(scenario: Any) -> Router:
    """One route per auto-reply, in file order, then the default reply for any other text."""
    router = Router("auto_reply")
    for index, rule in enumerate(scenario.auto_replies):
        label = rule.name or f"auto_replies[{index}]"

        async def reply(ctx: EventContext, rule: Any = rule, label: str = label) -> None:
            if rule.messages:
                await ctx.send_scenario_messages(rule.messages, source="auto_reply")
            if rule.do and ctx.friend is not None:
                await ctx.services.actions.run(
                    ctx.friend.id,
                    rule.do,
                    source=f"auto_reply:{label}",
                    dedupe=f"event:{ctx.webhook_event_id}:do",
                )
            ctx.outcome = f"auto-reply {label}"

        router.add("message", reply, MatchesAutoReply(rule), name=label)
    if scenario.default_reply:
        default_messages = scenario.default_reply

        async def default_reply(ctx: EventContext) -> None:
            await ctx.send_scenario_messages(default_messages, source="default_reply")
            # A default reply is no answer: the admins see the message (1:1 talk).
            told = await relay(ctx)
            ctx.outcome = f"default reply, {told} admin(s) told"

        router.add("message", default_reply, IsText(), name="default_reply")
    return router
