"""Router filters and ordering, on real SDK event objects."""

from __future__ import annotations

from typing import Any

from linebot.v3.webhooks import Event

from bot.handlers.context import EventContext
from bot.handlers.router import (
    PostbackData,
    Predicate,
    Router,
    TextContains,
    TextEquals,
    TextRegex,
)
from tests.events import text_event, user_id


def context(raw: dict[str, Any]) -> EventContext:
    return EventContext(
        services=None,  # type: ignore[arg-type]  # filters under test never touch services
        event=Event.from_dict(raw),
        raw=raw,
        webhook_event_id=raw["webhookEventId"],
    )


def postback(data: str) -> dict[str, Any]:
    raw = text_event(user_id(), "x")
    raw.pop("message")
    raw["type"] = "postback"
    raw["postback"] = {"data": data}
    return raw


async def test_text_filters() -> None:
    ctx = context(text_event(user_id(), " 営業時間 "))
    assert await TextEquals("営業時間", "hours").check(ctx)
    assert not await TextEquals("営業").check(ctx)
    assert await TextContains("業時").check(ctx)
    assert await TextRegex(r"営業\s*時間").check(ctx)
    assert not await TextRegex(r"^予約").check(ctx)
    assert not await PostbackData(equals="x").check(ctx)


async def test_postback_filters_and_composition() -> None:
    ctx = context(postback("action=buy&item=3"))
    assert await PostbackData(prefix="action=buy").check(ctx)
    assert not await PostbackData(equals="action=buy").check(ctx)
    assert not await TextEquals("action=buy").check(ctx)
    combined = PostbackData(prefix="action=") & ~PostbackData(prefix="action=sell")
    assert await combined.check(ctx)
    either = TextEquals("a") | PostbackData(equals="action=buy&item=3")
    assert await either.check(ctx)


async def test_first_matching_route_wins_then_included_routers() -> None:
    handled: list[str] = []
    root = Router("root")
    child = Router("child")

    async def record(name: str) -> Any:
        async def handler(ctx: EventContext) -> None:
            handled.append(name)

        return handler

    root.add("message", await record("hours"), TextEquals("営業時間"), name="hours")
    root.add("message", await record("any-hours"), TextContains("時間"), name="any-hours")
    root.include(child)
    child.add("message", await record("child"), Predicate(lambda ctx: True), name="child")
    child.add("postback", await record("pb"), name="pb")

    assert await root.dispatch(context(text_event(user_id(), "営業時間"))) == "root.hours"
    assert await root.dispatch(context(text_event(user_id(), "何時間?"))) == "root.any-hours"
    assert await root.dispatch(context(text_event(user_id(), "こんにちは"))) == "child.child"
    assert await root.dispatch(context(postback("x"))) == "child.pb"
    assert handled == ["hours", "any-hours", "child", "pb"]
