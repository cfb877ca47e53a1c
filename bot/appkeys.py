"""Typed keys for what the aiohttp application holds."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot.dispatch import EventDispatcher
from bot.inbox import InboxWriter
from bot.services import Services

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
DISPATCHER: web.AppKey[EventDispatcher] = web.AppKey("dispatcher", EventDispatcher)
DB_CONTEXT: web.AppKey[Any] = web.AppKey("db_context", object)
INBOX_WRITER: web.AppKey[InboxWriter] = web.AppKey("inbox_writer", InboxWriter)
TICK_LOCK: web.AppKey[asyncio.Lock] = web.AppKey("tick_lock", asyncio.Lock)
