"""What the stand-in remembers: virtual friends, their chat transcripts, tokens and calls.

Kept in memory on purpose: the sandbox is a development and test tool and must run beside
any database (or none, when it serves as an independent stand-in).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import secrets
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from bot import clock

if TYPE_CHECKING:
    from bot.sandbox.richmenus import RichMenuStore

REPLY_TOKEN_TTL = timedelta(seconds=60)
RETRY_KEY_TTL = timedelta(hours=24)
CALL_LOG_SIZE = 10_000
SENT_LOG_SIZE = 1_000  # request ids remembered for `redelivery` narrowcast recipients
JST = timezone(timedelta(hours=9))  # LINE's monthly quota follows the Japanese calendar month

# Names the control API uses for the Messaging API endpoints the stand-in serves.
ENDPOINTS = (
    "reply",
    "push",
    "multicast",
    "narrowcast",
    "broadcast",
    "narrowcastProgress",
    "quota",
    "quotaConsumption",
    "profile",
    "botInfo",
    # Rich menus: LINE limits each method and path on its own ("per API function").
    "richMenuCreate",
    "richMenuValidate",
    "richMenuList",
    "richMenuGet",
    "richMenuDelete",
    "richMenuImageUpload",
    "richMenuImageDownload",
    "richMenuLink",
    "richMenuUnlink",
    "richMenuOfUser",
    "richMenuBulkLink",
    "richMenuBulkUnlink",
    "defaultRichMenuSet",
    "defaultRichMenuGet",
    "defaultRichMenuCancel",
    "richMenuAliasCreate",
    "richMenuAliasList",
    "richMenuAliasGet",
    "richMenuAliasUpdate",
    "richMenuAliasDelete",
)
FAULT_KINDS = ("500", "timeout", "accept-then-500")
PERIOD_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}
MAX_TIMEOUT_SECONDS = 600.0


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


@dataclass(frozen=True)
class RateLimit:
    """`requests` per one `period` (s, m or h), written `200/s` in the control API."""

    requests: int
    period: str = "s"

    @property
    def seconds(self) -> float:
        return PERIOD_SECONDS[self.period]

    def as_text(self) -> str:
        return f"{self.requests}/{self.period}"


# LINE's published figures; endpoints without their own row share "other API endpoints".
DEFAULT_LIMITS: dict[str, RateLimit] = {name: RateLimit(2000, "s") for name in ENDPOINTS} | {
    "multicast": RateLimit(200, "s"),
    "narrowcast": RateLimit(60, "h"),
    "broadcast": RateLimit(60, "h"),
    # Not counted when done in the LINE Official Account Manager; always counted here.
    "richMenuCreate": RateLimit(100, "h"),
    "richMenuDelete": RateLimit(100, "h"),
    "richMenuAliasDelete": RateLimit(100, "h"),
}
Problem = Callable[[str, str], None]  # (property, message) → collected for a 400
_LIMIT_TEXT = re.compile(r"^\s*(\d+)\s*/\s*(s|m|h)\s*$")


@dataclass
class TokenBucket:
    """A window's worth of burst, refilled continuously; monotonic time, not the test clock."""

    limit: RateLimit
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.limit.requests)

    def take(self) -> float:
        """Take a token: 0.0 if one was there, else the seconds until the next one."""
        now = time.monotonic()
        refill = self.limit.requests / self.limit.seconds
        self.tokens = min(float(self.limit.requests), self.tokens + (now - self.updated) * refill)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / refill


@dataclass(frozen=True)
class FaultSettings:
    """Which calls fail on purpose, and how: the failures a real bot must survive."""

    rate: float = 0.0
    kind: str = "500"
    endpoints: tuple[str, ...] = ()  # empty: every endpoint
    seed: int | None = None
    timeout_seconds: float = 20.0  # longer than LineClient's default 15 s request timeout

    def as_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "kind": self.kind,
            "endpoints": list(self.endpoints),
            "seed": self.seed,
            "timeoutSeconds": self.timeout_seconds,
        }


class SettingsError(ValueError):
    """Bad control-API settings; `details` uses LINE's `{message, property}` shape."""

    def __init__(self, details: list[dict[str, str]]) -> None:
        first = details[0]
        where = f"{first['property']}: " if first["property"] else ""
        more = f" (and {len(details) - 1} more, see details)" if len(details) > 1 else ""
        super().__init__(f"Invalid sandbox settings: {where}{first['message']}{more}")
        self.details = details


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_limit(value: Any, default: RateLimit) -> RateLimit | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return RateLimit(value, default.period)
    if isinstance(value, str):
        match = _LIMIT_TEXT.match(value)
        if match and int(match.group(1)) >= 1:
            return RateLimit(int(match.group(1)), match.group(2))
    return None


@dataclass(frozen=True)
class SandboxSettings:
    """How the stand-in misbehaves on purpose; all of it off by default."""

    rate_limits: bool = False
    limits: dict[str, RateLimit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    retry_after: int | str | None = None  # seconds, "auto" (until the next token) or off
    faults: FaultSettings = field(default_factory=FaultSettings)
    quota: int | None = None  # None: no monthly limit (`"type": "none"`); set it to test one

    def as_json(self) -> dict[str, Any]:
        return {
            "rateLimits": self.rate_limits,
            "limits": {name: limit.as_text() for name, limit in self.limits.items()},
            "retryAfter": self.retry_after,
            "faults": self.faults.as_json(),
            "quota": self.quota,
        }

    def updated(self, body: Any) -> SandboxSettings:
        """These settings with the keys in `body` changed; SettingsError lists every problem."""
        if not isinstance(body, dict):
            raise SettingsError([{"message": "Expected a JSON object", "property": ""}])
        problems: list[dict[str, str]] = []

        def problem(prop: str, message: str) -> None:
            problems.append({"message": message, "property": prop})

        new = self
        for key, value in body.items():
            if key == "rateLimits":
                if isinstance(value, bool):
                    new = replace(new, rate_limits=value)
                else:
                    problem(key, "Must be true or false")
            elif key == "limits":
                new = replace(new, limits=self._limits(value, problem))
            elif key == "retryAfter":
                if value is None or value is False:
                    new = replace(new, retry_after=None)
                elif value is True or value == "auto":
                    new = replace(new, retry_after="auto")
                elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    new = replace(new, retry_after=value)
                else:
                    problem(key, 'Must be null, a whole number of seconds (0 or more) or "auto"')
            elif key == "faults":
                new = replace(new, faults=self._faults(value, problem))
            elif key == "quota":
                if value is None or (
                    isinstance(value, int) and not isinstance(value, bool) and value >= 0
                ):
                    new = replace(new, quota=value)
                else:
                    problem(key, "Must be null (no limit) or a whole number, 0 or more")
            else:
                known = "rateLimits, limits, retryAfter, faults, quota"
                problem(key, f"Unknown setting (known: {known})")
        if problems:
            raise SettingsError(problems)
        return new

    def _limits(self, value: Any, problem: Problem) -> dict[str, RateLimit]:
        if value is None:
            return dict(DEFAULT_LIMITS)
        limits = dict(self.limits)
        if not isinstance(value, dict):
            problem("limits", 'Must be an object such as {"multicast": 200}')
            return limits
        for name, raw in value.items():
            if name not in DEFAULT_LIMITS:
                problem(f"limits.{name}", f"Unknown endpoint (known: {', '.join(ENDPOINTS)})")
                continue
            parsed = _parse_limit(raw, DEFAULT_LIMITS[name])
            if parsed is None:
                problem(
                    f"limits.{name}",
                    'Must be a whole number of requests (1 or more) or text such as "5/s", '
                    '"100/m", "60/h"',
                )
            else:
                limits[name] = parsed
        return limits

    def _faults(self, value: Any, problem: Problem) -> FaultSettings:
        if value is None:
            return FaultSettings()
        faults = self.faults
        if not isinstance(value, dict):
            problem("faults", 'Must be an object such as {"rate": 0.2, "kind": "500"}')
            return faults
        for key, raw in value.items():
            prop = f"faults.{key}"
            if key == "rate":
                if _is_number(raw) and 0.0 <= raw <= 1.0:
                    faults = replace(faults, rate=float(raw))
                else:
                    problem(prop, "Must be a number from 0 to 1")
            elif key == "kind":
                if raw in FAULT_KINDS:
                    faults = replace(faults, kind=raw)
                else:
                    problem(prop, f"Must be one of {', '.join(FAULT_KINDS)}")
            elif key == "endpoints":
                if raw is None:
                    faults = replace(faults, endpoints=())
                elif isinstance(raw, list) and all(name in ENDPOINTS for name in raw):
                    faults = replace(faults, endpoints=tuple(dict.fromkeys(raw)))
                else:
                    problem(prop, f"Must be a list of endpoint names ({', '.join(ENDPOINTS)})")
            elif key == "seed":
                if raw is None or (isinstance(raw, int) and not isinstance(raw, bool)):
                    faults = replace(faults, seed=raw)
                else:
                    problem(prop, "Must be a whole number or null")
            elif key == "timeoutSeconds":
                if _is_number(raw) and 0 < raw <= MAX_TIMEOUT_SECONDS:
                    faults = replace(faults, timeout_seconds=float(raw))
                else:
                    problem(
                        prop,
                        f"Must be a number of seconds above 0, at most {MAX_TIMEOUT_SECONDS:g}",
                    )
            else:
                problem(
                    prop,
                    "Unknown fault setting (known: rate, kind, endpoints, seed, timeoutSeconds)",
                )
        return faults


@dataclass
class NarrowcastJob:
    """What `GET /v2/bot/message/progress/narrowcast` reports for one accepted request."""

    accepted_at: datetime
    target_count: int
    success_count: int = 0
    completed_at: datetime | None = None
    error_code: int | None = None
    failed_description: str | None = None

    def as_json(self) -> dict[str, Any]:
        def stamp(at: datetime) -> str:
            return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

        out: dict[str, Any] = {
            "phase": "failed" if self.error_code is not None else "succeeded",
            "successCount": self.success_count,
            "failureCount": 0,
            "targetCount": self.target_count,
            "acceptedTime": stamp(self.accepted_at),
        }
        if self.completed_at is not None:
            out["completedTime"] = stamp(self.completed_at)
        if self.error_code is not None:
            out["errorCode"] = self.error_code
            out["failedDescription"] = self.failed_description or ""
        return out


def _rich_menu_store() -> RichMenuStore:
    # Imported late: the rich-menu module builds on the platform module, which imports this one.
    from bot.sandbox.richmenus import RichMenuStore

    return RichMenuStore()


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
    settings: SandboxSettings = field(default_factory=SandboxSettings)
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    fault_rng: random.Random = field(default_factory=random.Random)
    rate_limited: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    delivered_by_friend: Counter[str] = field(default_factory=Counter)
    delivered_total: int = 0
    first_delivery: float | None = None
    """Monotonic time of the first message delivered since the last reset (and the last,
    below): the span benchmarks divide by, free of the bot's start-up time."""
    last_delivery: float | None = None
    quota_usage: dict[str, int] = field(default_factory=dict)  # "YYYY-MM" (JST) → messages
    narrowcasts: dict[str, NarrowcastJob] = field(default_factory=dict)
    sent_to: OrderedDict[str, list[str]] = field(default_factory=OrderedDict)
    rich_menus: RichMenuStore = field(default_factory=_rich_menu_store)
    _seq: int = 0
    _changed: asyncio.Condition | None = None
    _subscribers: set[asyncio.Queue[dict[str, Any]]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rich_menus.publish = self.publish

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
        if direction == "out":
            self.delivered_by_friend[user_id] += 1
            self.delivered_total += 1
            self.last_delivery = time.monotonic()
            if self.first_delivery is None:
                self.first_delivery = self.last_delivery
        self.publish({"userId": user_id, "entry": entry.as_json()})
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

    def publish(self, event: dict[str, Any]) -> None:
        """Hand an event to every open live stream (`"event"` names its kind; entry if absent)."""
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)

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

    def configure(self, body: Any) -> SandboxSettings:
        """Apply control-API settings (a partial update); SettingsError leaves all unchanged."""
        new = self.settings.updated(body)
        self.settings = new
        if "rateLimits" in body or "limits" in body:
            self.buckets.clear()  # start full, so a new limit is measured from now
        if "faults" in body:
            self.fault_rng = random.Random(new.faults.seed)  # same seed, same sequence
        return new

    def take_token(self, endpoint: str) -> float:
        """0.0 if the call is within the endpoint's rate limit (or limits are off), else the
        seconds until it would be."""
        if not self.settings.rate_limits:
            return 0.0
        bucket = self.buckets.get(endpoint)
        if bucket is None:
            bucket = self.buckets[endpoint] = TokenBucket(self.settings.limits[endpoint])
        wait = bucket.take()
        if wait:
            self.rate_limited += 1
        return wait

    def draw_fault(self, endpoint: str) -> str | None:
        """The fault kind to inject into this call, if the dice say so."""
        faults = self.settings.faults
        if faults.rate <= 0 or (faults.endpoints and endpoint not in faults.endpoints):
            return None
        if self.fault_rng.random() >= faults.rate:
            return None
        return faults.kind

    @staticmethod
    def _month() -> str:
        return clock.now().astimezone(JST).strftime("%Y-%m")

    def quota_used(self) -> int:
        return self.quota_usage.get(self._month(), 0)

    def quota_remaining(self) -> int | None:
        quota = self.settings.quota
        return None if quota is None else max(0, quota - self.quota_used())

    def use_quota(self, count: int) -> None:
        month = self._month()
        self.quota_usage[month] = self.quota_usage.get(month, 0) + count

    def remember_recipients(self, request_id: str, user_ids: list[str]) -> None:
        """Who a send request reached, for narrowcasts to a `redelivery` recipient."""
        self.sent_to[request_id] = user_ids
        while len(self.sent_to) > SENT_LOG_SIZE:
            self.sent_to.popitem(last=False)

    def reset_stats(self) -> None:
        """Zero the counters tests and benchmarks read; friends, transcripts, tokens and the
        month's quota usage stay."""
        self.calls.clear()
        self.call_counts.clear()
        self.delivered_by_friend.clear()
        self.delivered_total = 0
        self.first_delivery = self.last_delivery = None
        self.faults_injected.clear()
        self.rate_limited = 0
