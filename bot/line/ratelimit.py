"""Token buckets per Messaging API endpoint, so stepbot stays inside LINE's rate limits.

Defaults are LINE's published figures (push, reply, profile 2,000 requests/s; multicast
designed for 200/s; narrowcast and broadcast 60 per hour); `LINE_RATE_LIMITS` overrides them,
e.g. `push=1000/s,multicast=100/s`. A 429 from LINE pauses the endpoint for its Retry-After.
Real (monotonic) time, not the test clock: rate limits are about the wire.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

DEFAULT_LIMITS = {
    "push": (2000.0, 1.0),
    "reply": (2000.0, 1.0),
    "profile": (2000.0, 1.0),
    "multicast": (200.0, 1.0),
    "narrowcast": (60.0, 3600.0),
    "broadcast": (60.0, 3600.0),
}
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


class RateLimits:
    def __init__(self, limits: dict[str, tuple[float, float]] | None = None) -> None:
        self._buckets = {
            name: TokenBucket(rate, per) for name, (rate, per) in (limits or DEFAULT_LIMITS).items()
        }

    async def acquire(self, endpoint: str) -> None:
        bucket = self._buckets.get(endpoint)
        if bucket is not None:
            await bucket.acquire()

    def pause(self, endpoint: str, seconds: float) -> None:
        """LINE said 429: nobody calls this endpoint again before `seconds` have passed."""
        bucket = self._buckets.get(endpoint)
        if bucket is not None:
            bucket.paused_until = max(bucket.paused_until, time.monotonic() + seconds)
