"""Tracked links: `uri` actions in outgoing messages rewritten through our short redirect.

`GET /l/<code>` records the tap and forwards to the real URL. A code names the link (a row
per URL and source, so statistics say which message it was in) and, when tracking per
friend, the friend; it is signed, so nobody can count taps for someone else or forward our
redirect to a URL we did not send. Only `uri` actions are rewritten, never URLs typed in a
text: LINE fetches those for link previews, which would count as taps.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Iterator
from typing import Any

from tortoise.exceptions import IntegrityError

from bot import clock
from bot.crm.events import EventBus, LinkClicked
from bot.db.models import Friend, LinkClick, TrackedLink

log = logging.getLogger(__name__)

REDIRECT_PATH = "/l/"
SIGNATURE_BYTES = 8
MAX_URI_LENGTH = 1000  # LINE's limit for a uri action


def base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def _uri_actions(value: Any) -> Iterator[tuple[dict[str, Any], str]]:
    """Every (object, key) holding a web URL a tap opens: `uri` actions and imagemap links."""
    if isinstance(value, list):
        for item in value:
            yield from _uri_actions(item)
    elif isinstance(value, dict):
        if value.get("type") == "uri":
            for key in ("uri", "linkUri"):
                target = value.get(key)
                if isinstance(target, str) and target.startswith(("https://", "http://")):
                    yield value, key
        for item in value.values():
            if isinstance(item, list | dict):
                yield from _uri_actions(item)


class LinkTracker:
    """Rewrites links when sending and resolves codes when tapped."""

    def __init__(self, mode: str, base_url: str, secret: str, bus: EventBus) -> None:
        self.mode = mode
        self.base_url = base_url.rstrip("/")
        self.key = hmac.new(secret.encode(), b"stepbot tracked links", hashlib.sha256).digest()
        self.bus = bus
        self._ids: dict[tuple[str, str], int] = {}

    @property
    def per_friend(self) -> bool:
        return self.mode == "friend"

    # --- codes -----------------------------------------------------------------------------

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self.key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:SIGNATURE_BYTES]).decode().rstrip("=")

    def code(self, link_id: int, friend_id: int | None) -> str:
        payload = base36(link_id) if friend_id is None else f"{base36(link_id)}.{base36(friend_id)}"
        return f"{payload}.{self._signature(payload)}"

    def parse(self, code: str) -> tuple[int, int | None] | None:
        """The link and friend a code names, or None if it is malformed or not ours."""
        payload, _, signature = code.rpartition(".")
        if not payload or not hmac.compare_digest(signature, self._signature(payload)):
            return None
        parts = payload.split(".")
        try:
            numbers = [int(part, 36) for part in parts]
        except ValueError:
            return None
        if len(numbers) == 1:
            return numbers[0], None
        if len(numbers) == 2:
            return numbers[0], numbers[1]
        return None

    # --- sending ---------------------------------------------------------------------------

    async def _link_id(self, source: str, url: str) -> int:
        key = (source, url)
        cached = self._ids.get(key)
        if cached is not None:
            return cached
        link = await TrackedLink.get_or_none(source=source, url=url)
        if link is None:
            try:
                link = await TrackedLink.create(source=source, url=url, created_at=clock.now())
            except IntegrityError:  # another process created it first
                link = await TrackedLink.get(source=source, url=url)
        self._ids[key] = link.id
        return link.id

    async def rewrite(
        self, messages: list[dict[str, Any]], source: str, friend_id: int | None
    ) -> list[dict[str, Any]]:
        """Messages (LINE JSON, rendered) with their web links going through the redirect.
        Changed in place and returned; nothing changes when tracking is off."""
        if self.mode == "off":
            return messages
        owner = friend_id if self.per_friend else None
        for holder, key in list(_uri_actions(messages)):
            url = holder[key]
            link_id = await self._link_id(source[:150], url)
            tracked = f"{self.base_url}{REDIRECT_PATH}{self.code(link_id, owner)}"
            if len(tracked) <= MAX_URI_LENGTH:
                holder[key] = tracked
        return messages

    # --- tapping ---------------------------------------------------------------------------

    async def click(self, code: str) -> str | None:
        """Record a tap and say where to go; None for a code we did not hand out."""
        parsed = self.parse(code)
        if parsed is None:
            return None
        link_id, friend_id = parsed
        link = await TrackedLink.get_or_none(id=link_id)
        if link is None:
            return None
        if friend_id is not None and not await Friend.exists(id=friend_id):
            friend_id = None
        await LinkClick.create(link_id=link.id, friend_id=friend_id, at=clock.now())
        if friend_id is not None:
            await self.bus.publish(
                LinkClicked(friend_id, source="link", url=link.url, message=link.source)
            )
        return link.url
