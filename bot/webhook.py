"""POST /callback: verify, store, acknowledge. Processing happens after the 200."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.appkeys import DISPATCHER, INBOX_WRITER, SERVICES
from bot.line.signature import verify_signature
from bot.line.webhook import MAX_BODY_BYTES, WebhookBodyError, parse_webhook_body

log = logging.getLogger(__name__)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


async def callback(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
    signature = request.headers.get("X-Line-Signature")
    if not signature:
        log.warning("webhook without X-Line-Signature from %s", request.remote)
        return _error(400, "missing X-Line-Signature header")
    if not verify_signature(services.settings.channel_secret, body, signature):
        log.warning("webhook with a wrong signature from %s", request.remote)
        return _error(400, "invalid signature (X-Line-Signature does not match the body)")
    try:
        _, events = parse_webhook_body(body)
    except WebhookBodyError as exc:
        log.warning("unreadable webhook body: %s", exc)
        return _error(400, str(exc))
    if events:
        dispatcher = request.app[DISPATCHER]
        dispatcher.ack_started()
        try:
            new_ids = await request.app[INBOX_WRITER].store(events)
        finally:
            dispatcher.ack_finished()
        for event in sorted(events, key=lambda e: e.timestamp):
            if event.event is not None and event.webhook_event_id in new_ids:
                dispatcher.submit_claimed(event.webhook_event_id, event.user_id, event.payload)
    return web.json_response({})
