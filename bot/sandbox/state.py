"""What the stand-in remembers: virtual friends, their chat transcripts, tokens and calls.

Kept in memory on purpose: the sandbox is a development and test tool and must run beside
any database (or none, when it serves as an independent stand-in).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot import clock

REPLY_TOKEN_TTL = timedelta(seconds=60)
RETRY_KEY_TTL = timedelta(hours=24)
CALL_LOG_SIZE = 10_000


def new_user_id() -> str:
    return "U" + secrets.token_hex(16)


def new_request_id() -> str:
    return secrets.token_hex(16)


@dataclass
class VirtualFriend:
    user_id: str
    display_name: str
    language: str = "ja"
    picture_url: str | None = None
    status_message: str | None = None
    following: bool = False
    ever_followed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "displayName": self.display_name,
            "pictureUrl": self.picture_url,
            "language": self.language,
            "following": self.following,
        }


@dataclass
class TranscriptEntry:
    seq: int
    at: datetime
    user_id: str
    direction: str  # in | out | system
    message: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "direction": self.direction,
            "message": self.message,
        }


@dataclass
class ReplyToken:
    user_id: str
    issued_at: datetime
    used: bool = False


@dataclass
class ApiCall:
    """One request the bot made to the stand-in, kept for tests and debugging."""

    method: str
    path: str
    status: int
    body: Any
    headers: dict[str, str]
    request_id: str
    at: datetime


@dataclass
class SandboxState:
    friends: dict[str, VirtualFriend] = field(default_factory=dict)
    transcript: list[TranscriptEntry] = field(default_factory=list)
    reply_tokens: dict[str, ReplyToken] = field(default_factory=dict)
    retry_keys: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    calls: deque[ApiCall] = field(default_factory=lambda: deque(maxlen=CALL_LOG_SIZE))
    call_counts: Counter[str] = field(default_factory=Counter)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)
    bot_user_id: str = field(default_factory=new_user_id)
    _seq: int = 0
    _changed: asyncio.Condition | None = None
    _subscribers: set[asyncio.Queue[dict[str, Any]]] = field(default_factory=set)

    @property
    def changed(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def add_friend(self, display_name: str, language: str = "ja") -> VirtualFriend:
        friend = VirtualFriend(user_id=new_user_id(), display_name=display_name, language=language)
        self.friends[friend.user_id] = friend
        return friend

    async def record(
        self, user_id: str, direction: str, message: dict[str, Any]
    ) -> TranscriptEntry:
        self._seq += 1
        entry = TranscriptEntry(self._seq, clock.now(), user_id, direction, message)
        self.transcript.append(entry)
        event = {"userId": user_id, "entry": entry.as_json()}
        for queue in list(self._subscribers):
            queue.put_nowait(event)
        async with self.changed:
            self.changed.notify_all()
        return entry

    def entries_for(self, user_id: str, after: int = 0) -> list[TranscriptEntry]:
        return [e for e in self.transcript if e.user_id == user_id and e.seq > after]

    async def wait_for_entries(
        self, user_id: str, after: int, count: int, timeout: float
    ) -> list[TranscriptEntry]:
        """Wait until `count` new bot messages arrived for this friend (or the timeout)."""

        def ready() -> bool:
            out = [e for e in self.entries_for(user_id, after) if e.direction == "out"]
            return len(out) >= count

        try:
            async with self.changed:
                await asyncio.wait_for(self.changed.wait_for(ready), timeout)
        except TimeoutError:
            pass
        return self.entries_for(user_id, after)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        return queue

    def close_streams(self) -> None:
        """Ask every open live stream to end (server shutdown must not wait for browsers)."""
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait({})

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    def issue_reply_token(self, user_id: str) -> str:
        token = secrets.token_hex(16)
        self.reply_tokens[token] = ReplyToken(user_id=user_id, issued_at=clock.now())
        return token

    def use_reply_token(self, token: str) -> ReplyToken | None:
        """Single use and valid for a minute, as on LINE."""
        entry = self.reply_tokens.get(token)
        if entry is None or entry.used or clock.now() - entry.issued_at > REPLY_TOKEN_TTL:
            return None
        entry.used = True
        return entry

    def accept_retry_key(self, key: str, request_id: str) -> str | None:
        """Remember a retry key; return the earlier request id if it was accepted before."""
        now = clock.now()
        earlier = self.retry_keys.get(key)
        if earlier and now - earlier[1] < RETRY_KEY_TTL:
            return earlier[0]
        self.retry_keys[key] = (request_id, now)
        return None
