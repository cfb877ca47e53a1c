"""The router every event goes through: code routes first, then the scenario's."""

from __future__ import annotations

from typing import Any

from bot.handlers import follow
from bot.handlers.admin import admin_router
from bot.handlers.auto_reply import scenario_router
from bot.handlers.conversations import conversation_router
from bot.handlers.integrations import integration_router
from bot.handlers.postback import postback_router
from bot.handlers.router import Router
from bot.handlers.talk import talk_router


def build_router(scenario: Any) -> Router:
    root = Router("root")
    root.include(admin_router())
    root.include(follow.router)
    root.include(conversation_router())
    root.include(integration_router())
    root.include(postback_router(scenario))
    root.include(scenario_router(scenario))
    root.include(talk_router())
    return root
