"""Virtual friends acting in LINE: complete, correctly signed webhook events sent over HTTP."""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import aiohttp
from ulid import ULID

from bot import clock
from bot.line.signature import sign
from bot.sandbox.state import SandboxState, VirtualFriend

log = logging.getLogger(__name__)


def _envelope(friend: VirtualFriend, event_type: str, *, reply_token: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": event_type,
        "mode": "active",
        "timestamp": clock.now_ms(),
        "source": {"type": "user", "userId": friend.user_id},
        "webhookEventId": str(ULID()),
        "deliveryContext": {"isRedelivery": False},
    }
    if reply_token:
        event["replyToken"] = reply_token
    return event


class WebhookSender:
    """Builds events for virtual friends and POSTs them, signed, to the bot's /callback."""

    def __init__(self, state: SandboxState, webhook_url: str, channel_secret: str) -> None:
        self.state = state
        self.webhook_url = webhook_url
        self.channel_secret = channel_secret
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, events: list[dict[str, Any]]) -> int:
        """Send a webhook body; return the HTTP status the bot answered."""
        if self._session is None:
            raise RuntimeError("WebhookSender.start() was not awaited")
        body = json.dumps(
            {"destination": self.state.bot_user_id, "events": events}, ensure_ascii=False
        ).encode("utf-8")
        for event in events:
            self.state.webhooks[event["webhookEventId"]] = event
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Line-Signature": sign(self.channel_secret, body),
        }
        try:
            async with self._session.post(self.webhook_url, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status
        except aiohttp.ClientError as exc:
            log.warning("sandbox could not deliver a webhook to %s: %s", self.webhook_url, exc)
            return 502

    async def redeliver(self, webhook_event_id: str) -> int:
        """Send an event again as LINE does after a failed delivery (same id, isRedelivery)."""
        event = dict(self.state.webhooks[webhook_event_id])
        event["deliveryContext"] = {"isRedelivery": True}
        return await self.post([event])

    async def follow(self, friend: VirtualFriend) -> int:
        unblocked = friend.ever_followed and not friend.following
        friend.following = True
        friend.ever_followed = True
        event = _envelope(
            friend, "follow", reply_token=self.state.issue_reply_token(friend.user_id)
        )
        event["follow"] = {"isUnblocked": unblocked}
        await self.state.record(
            friend.user_id, "system", {"type": "system", "text": "友だち追加しました"}
        )
        return await self.post([event])

    async def unfollow(self, friend: VirtualFriend) -> int:
        friend.following = False
        await self.state.record(
            friend.user_id, "system", {"type": "system", "text": "ブロックしました"}
        )
        return await self.post([_envelope(friend, "unfollow", reply_token=None)])

    async def _message(
        self, friend: VirtualFriend, content: dict[str, Any], shown: dict[str, Any]
    ) -> int:
        """A message event carrying `content` (LINE adds an id and a quote token); the
        transcript shows `shown`."""
        event = _envelope(
            friend, "message", reply_token=self.state.issue_reply_token(friend.user_id)
        )
        event["message"] = {
            "id": str(secrets.randbits(60)),
            "quoteToken": secrets.token_urlsafe(24),
            **content,
        }
        await self.state.record(friend.user_id, "in", shown)
        return await self.post([event])

    async def text(self, friend: VirtualFriend, text: str) -> int:
        content = {"type": "text", "text": text}
        return await self._message(friend, content, content)

    async def sticker(self, friend: VirtualFriend, package_id: str, sticker_id: str) -> int:
        """A sticker, as LINE sends it (the bot may answer or forward it)."""
        shown = {"type": "sticker", "packageId": package_id, "stickerId": sticker_id}
        return await self._message(friend, {**shown, "stickerResourceType": "STATIC"}, shown)

    async def postback(
        self,
        friend: VirtualFriend,
        data: str,
        display_text: str | None = None,
        params: dict[str, str] | None = None,
    ) -> int:
        event = _envelope(
            friend, "postback", reply_token=self.state.issue_reply_token(friend.user_id)
        )
        event["postback"] = {"data": data}
        if params:
            event["postback"]["params"] = params
        shown: dict[str, Any] = {"type": "postback", "data": data}
        if display_text:
            shown["displayText"] = display_text
        if params:
            shown["params"] = params
        await self.state.record(friend.user_id, "in", shown)
        return await self.post([event])
