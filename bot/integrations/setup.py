"""Adding every integration's HTTP routes (webhooks, redirects, LIFF pages) to the app."""

from __future__ import annotations

from aiohttp import web

from bot.integrations.inbound import setup_inbound
from bot.integrations.routes import setup_routes
from bot.integrations.shopify import setup_shopify
from bot.integrations.stripe import setup_stripe


def setup_integrations(app: web.Application) -> None:
    setup_stripe(app)
    setup_shopify(app)
    setup_inbound(app)
    setup_routes(app)
