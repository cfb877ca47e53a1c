"""Codes friends send that belong to an integration: a shop customer's link code, an inflow
route's visit code. Routed before keyword auto-replies, so a code is never a keyword."""

from __future__ import annotations

from bot.handlers.context import EventContext
from bot.handlers.router import Filter, Router


class IsShopLinkCode(Filter):
    async def check(self, ctx: EventContext) -> bool:
        return ctx.text is not None and ctx.services.shop.looks_like_link_code(ctx.text)


class IsRouteCode(Filter):
    async def check(self, ctx: EventContext) -> bool:
        return ctx.text is not None and ctx.services.routes.looks_like_visit_code(ctx.text)


def integration_router() -> Router:
    router = Router("integrations")

    @router.message(IsShopLinkCode(), name="shop_link_code")
    async def shop_link(ctx: EventContext) -> None:
        if ctx.friend is None or ctx.text is None:
            return
        ctx.outcome = await ctx.services.shop.link_by_code(ctx.friend.id, ctx.text)

    @router.message(IsRouteCode(), name="route_code")
    async def route_code(ctx: EventContext) -> None:
        if ctx.friend is None or ctx.text is None:
            return
        ctx.outcome = await ctx.services.routes.claim_code(ctx.friend.id, ctx.text)

    return router
