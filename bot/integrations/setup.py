"""Adding every integration's HTTP routes (webhooks, redirects, LIFF pages) to the app."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.appkeys import SERVICES
from bot.integrations.inbound import setup_inbound
from bot.integrations.routes import setup_routes
from bot.integrations.shopify import setup_shopify
from bot.integrations.stripe import setup_stripe

#: What the simulator's order button buys when the scenario names no product.
SANDBOX_ITEM = {"sku": "SANDBOX-001", "title": "テスト商品", "price": 3000, "quantity": 1}


def setup_integrations(app: web.Application) -> None:
    setup_stripe(app)
    setup_shopify(app)
    setup_inbound(app)
    setup_routes(app)
    if app[SERVICES].settings.sandbox:
        app.router.add_get("/sandbox/api/integrations", sandbox_integrations)


async def sandbox_integrations(request: web.Request) -> web.Response:
    """Which test events the simulator can send, and for what product: the scenario's first
    Stripe price and first Shopify product, so a simulated payment does what a real one would."""
    from bot.sandbox.payments import SANDBOX_PRICE, default_price

    services = request.app[SERVICES]
    settings, integrations = services.settings, services.scenario.integrations
    price = default_price(request) or SANDBOX_PRICE
    item: dict[str, Any] = dict(SANDBOX_ITEM)
    if integrations.shopify is not None and integrations.shopify.products:
        first = integrations.shopify.products[0]
        if first.sku is not None:
            item["sku"] = first.sku
        if first.product_id is not None:
            item["product_id"] = first.product_id
    return web.json_response(
        {
            "stripe": {"enabled": settings.stripe_webhook_secret is not None, "price": price},
            "shopify": {"enabled": settings.shopify_webhook_secret is not None, "item": item},
        }
    )
