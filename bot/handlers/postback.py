"""Postback buttons that carry scenario actions (`do:`): look the token up, run the actions."""

from __future__ import annotations

import logging
from typing import Any

from bot.handlers.context import EventContext
from bot.handlers.router import PostbackData, Router
from bot.scenario import Scenario
from bot.scenario.actions import ACTION_TOKEN_PREFIX
from bot.scenario.schema import PostbackAction
from bot.scenario.walk import walk

log = logging.getLogger(__name__)

UNKNOWN_BUTTON = "このボタンは現在使われていません。"


def button_actions(scenario: Scenario) -> dict[str, list[Any]]:
    """Every `do` button in the scenario by the token its postback data carries."""
    found: dict[str, list[Any]] = {}
    for _, model in walk(scenario):
        if isinstance(model, PostbackAction) and model.do and model.data:
            found[model.data] = list(model.do)
    return found


def postback_router(scenario: Scenario) -> Router:
    router = Router("buttons")
    registry = button_actions(scenario)

    @router.postback(PostbackData(prefix=ACTION_TOKEN_PREFIX), name="actions")
    async def run_button(ctx: EventContext) -> None:
        data = ctx.postback_data or ""
        actions = registry.get(data)
        if ctx.friend is None:
            return
        if actions is None:
            # A button from an older scenario whose actions were changed or removed.
            log.info("postback %s matches no button of the current scenario", data)
            await ctx.answer([{"type": "text", "text": UNKNOWN_BUTTON}], source="postback")
            ctx.outcome = "stale button"
            return
        result = await ctx.services.actions.run(
            ctx.friend.id,
            actions,
            source="postback",
            dedupe=f"event:{ctx.webhook_event_id}:do",
        )
        ctx.outcome = f"button: {result.done} action(s)"

    return router
