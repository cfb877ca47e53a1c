"""Token buckets per Messaging API endpoint, so stepbot stays inside LINE's rate limits.

Defaults are LINE's published figures (push, reply, profile 2,000 requests/s; multicast
designed for 200/s; narrowcast and broadcast 60 per hour; creating and deleting rich menus
100 per hour, shared; linking a rich menu to one user, bulk links and the other rich-menu
calls 2,000/s); `LINE_RATE_LIMITS` overrides them, e.g. `push=1000/s,multicast=100/s`. A 429
from LINE pauses the endpoint for its Retry-After. Real (monotonic) time, not the test clock:
rate limits are about the wire.

Rich-menu creation is counted in a sliding window instead of a bucket: a scenario with ten
new menus may create them at once, and only the 101st creation within an hour waits.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from dataclasses import dataclass, field

DEFAULT_LIMITS = {
    "push": (2000.0, 1.0),
    "reply": (2000.0, 1.0),
    "profile": (2000.0, 1.0),
    "multicast": (200.0, 1.0),
    "narrowcast": (60.0, 3600.0),
    "broadcast": (60.0, 3600.0),
    # Create and delete rich menu: one shared allowance, counted per hour.
    "richmenu": (100.0, 3600.0),
    # Link or unlink a rich menu to one user.
    "richmenu_link": (2000.0, 1.0),
    # Link or unlink a rich menu to up to 500 users at once.
    "richmenu_bulk": (2000.0, 1.0),
    # Images, get and list, aliases and the default menu.
    "richmenu_other": (2000.0, 1.0),
}
#: Endpoints counted in a sliding window: bursts allowed up to the limit per period.
WINDOWED = frozenset({"richmenu"})
_SPEC = re.compile(r"^\s*(\w+)\s*=\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_limits(text: str | None) -> dict[str, tuple[float, float]]:
    """`push=2000/s,broadcast=60/h` → {endpoint: (requests, per seconds)}; ValueError if bad."""
    limits = dict(DEFAULT_LIMITS)
    for part in (text or "").split(","):
        if not part.strip():
            continue
        match = _SPEC.match(part)
        if not match or match.group(1) not in DEFAULT_LIMITS:
            raise ValueError(
                f"LINE_RATE_LIMITS: expected endpoint=N/s|m|h with endpoint one of "
                f"{', '.join(DEFAULT_LIMITS)}, got {part.strip()!r}"
            )
        limits[match.group(1)] = (float(match.group(2)), _PER[match.group(3)])
    return limits


@dataclass
class TokenBucket:
    """`rate` requests per `per` seconds, allowing a burst of one second's worth."""

    rate: float
    per: float
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)
    paused_until: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    @property
    def capacity(self) -> float:
        return max(1.0, self.rate / self.per) if self.per <= 1 else 1.0

    async def acquire(self) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                if now < self.paused_until:
                    await asyncio.sleep(self.paused_until - now)
                    continue
                self.tokens = min(
                    self.capacity, self.tokens + (now - self.updated) * self.rate / self.per
                )
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) * self.per / self.rate)


@dataclass
class SlidingWindow:
    """At most `rate` requests in any `per` seconds, in bursts if need be: LINE counts rich
    menus created per hour, so a burst is fine and only the request over the limit waits."""

    rate: float
    per: float
    sent: deque[float] = field(default_factory=deque)
    paused_until: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def delay(self, now: float) -> float:
        """Seconds until one more request may go at `now` (0 when it may go at once)."""
        while self.sent and self.sent[0] <= now - self.per:
            self.sent.popleft()
        wait = max(0.0, self.paused_until - now)
        if len(self.sent) >= max(1, int(self.rate)):
            wait = max(wait, self.sent[0] + self.per - now)
        return wait

    async def acquire(self) -> None:
        async with self.lock:
            while (wait := self.delay(time.monotonic())) > 0:
                await asyncio.sleep(wait)
            self.sent.append(time.monotonic())


class RateLimits:
    def __init__(self, limits: dict[str, tuple[float, float]] | None = None) -> None:
        self._buckets: dict[str, TokenBucket | SlidingWindow] = {
            name: SlidingWindow(rate, per) if name in WINDOWED else TokenBucket(rate, per)
            for name, (rate, per) in (limits or DEFAULT_LIMITS).items()
        }

    async def acquire(self, endpoint: str) -> None:
        bucket = self._buckets.get(endpoint)
        if bucket is not None:
            await bucket.acquire()

    def delay(self, endpoint: str) -> float:
        """Seconds the next request to a windowed endpoint would wait now (0 for others)."""
        bucket = self._buckets.get(endpoint)
        if isinstance(bucket, SlidingWindow):
            return bucket.delay(time.monotonic())
        return 0.0

    def pause(self, endpoint: str, seconds: float) -> None:
        """LINE said 429: nobody calls this endpoint again before `seconds` have passed."""
        bucket = self._buckets.get(endpoint)
        if bucket is not None:
            bucket.paused_until = max(bucket.paused_until, time.monotonic() + seconds)
