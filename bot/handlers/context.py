"""The context a handler receives: the event, the friend, and ways to answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from linebot.v3.webhooks import (
    Event,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
)

from bot import clock
from bot.automation.outbox import MAX_MESSAGES_PER_REQUEST, REPLY_TOKEN_FRESH
from bot.automation.personalize import mentions, mentions_fields, template_context
from bot.db.models import Admin, Friend
from bot.scenario import render_messages
from bot.services import Services


@dataclass
class EventContext:
    services: Services
    event: Event
    raw: dict[str, Any]
    webhook_event_id: str
    friend: Friend | None = None
    outcome: str = "ignored"
    admin_traffic: bool = False
    """An admin's command: not friend activity (no rules, no scores)."""
    _admin: Admin | None = field(default=None, init=False)
    _admin_loaded: bool = field(default=False, init=False)
    _reply_token_used: bool = field(default=False, init=False)
    _sent_batches: int = field(default=0, init=False)

    @property
    def event_type(self) -> str:
        return str(self.raw.get("type", ""))

    @property
    def user_id(self) -> str | None:
        source = self.raw.get("source") or {}
        value = source.get("userId") if isinstance(source, dict) else None
        return str(value) if value else None

    @property
    def text(self) -> str | None:
        if isinstance(self.event, MessageEvent) and isinstance(
            self.event.message, TextMessageContent
        ):
            return str(self.event.message.text)
        return None

    @property
    def postback_data(self) -> str | None:
        if isinstance(self.event, PostbackEvent):
            return str(self.event.postback.data)
        return None

    @property
    def answering_friend_id(self) -> int | None:
        return self.friend.id if self.friend is not None else None

    async def admin(self) -> Admin | None:
        """The sender's admin row, if they are one (looked up once per event)."""
        if not self._admin_loaded:
            user_id = self.user_id
            self._admin = await Admin.get_or_none(line_user_id=user_id) if user_id else None
            self._admin_loaded = True
        return self._admin

    @property
    def event_time(self) -> datetime:
        return datetime.fromtimestamp(int(self.raw.get("timestamp", 0)) / 1000, UTC)

    async def template_context(self, messages: list[Any]) -> dict[str, Any]:
        """Template names for the friend being answered (a first-time user may not be
        stored yet: their user id is still known)."""
        friend = self.friend
        fields = None
        if friend is not None and mentions_fields(messages):
            fields = await self.services.crm.fields.get_all(friend.id)
        if friend is not None and mentions(messages, "points"):
            # The row was loaded when the event arrived; actions since may have moved points.
            friend.points = await self.services.crm.points.balance(friend.id)
        zone = self.services.scenario.zone
        return template_context(friend, zone, line_user_id=self.user_id, fields=fields)

    async def send_scenario_messages(
        self, messages: list[Any], source: str, extra: dict[str, Any] | None = None
    ) -> None:
        """Render scenario message templates for this friend (plus `extra` names, such as a
        stamp count) and answer with them."""
        context = await self.template_context(messages)
        rendered = render_messages(messages, {**context, **(extra or {})})
        friend_id = self.friend.id if self.friend is not None else None
        await self.answer(await self.services.links.rewrite(rendered, source, friend_id), source)

    async def answer(self, messages: list[dict[str, Any]], source: str) -> None:
        """Send to the friend: by reply while the event's token is fresh, otherwise by push.

        Each batch of up to five messages is one outbox row, keyed by the event so that
        processing the same event again never sends it twice.
        """
        user_id = self.user_id
        if not user_id or not messages:
            return
        reply_token = self.raw.get("replyToken")
        for start in range(0, len(messages), MAX_MESSAGES_PER_REQUEST):
            chunk = messages[start : start + MAX_MESSAGES_PER_REQUEST]
            token = None
            expires: datetime | None = None
            if reply_token and not self._reply_token_used:
                token = str(reply_token)
                expires = self.event_time + REPLY_TOKEN_FRESH
                self._reply_token_used = True
            self._sent_batches += 1
            await self.services.outbox.send(
                user_id,
                chunk,
                source=source,
                reply_token=token,
                reply_expires_at=expires,
                dedupe_key=f"event:{self.webhook_event_id}:{self._sent_batches}",
            )

    def since_event(self) -> timedelta:
        return clock.now() - self.event_time
