"""Building and posting raw webhook bodies, for tests that go around the sandbox's friends."""

from __future__ import annotations

import io
import json
import secrets
from typing import Any

import aiohttp
from ulid import ULID

from bot import clock
from bot.line.signature import sign


def user_id() -> str:
    return "U" + secrets.token_hex(16)


def text_event(
    uid: str, text: str, *, reply_token: str | None = None, **extra: Any
) -> dict[str, Any]:
    event = {
        "type": "message",
        "mode": "active",
        "timestamp": clock.now_ms(),
        "source": {"type": "user", "userId": uid},
        "webhookEventId": str(ULID()),
        "deliveryContext": {"isRedelivery": False},
        "replyToken": reply_token or secrets.token_hex(16),
        "message": {
            "type": "text",
            "id": str(secrets.randbits(60)),
            "quoteToken": secrets.token_urlsafe(16),
            "text": text,
        },
    }
    event.update(extra)
    return event


def body_of(*events: dict[str, Any]) -> bytes:
    return json.dumps({"destination": "U" + "0" * 32, "events": list(events)}).encode()


async def post_signed(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    secret: str,
    signature: str | None = "auto",
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if signature == "auto":
        headers["X-Line-Signature"] = sign(secret, body)
    elif signature is not None:
        headers["X-Line-Signature"] = signature
    async with http.post(url, data=io.BytesIO(body), headers=headers) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text
