"""The one source of "now".

Every time-dependent decision (reply-token freshness, due deliveries, tag ages) asks this
module, so tests and demos can move time with `POST /_test/clock` instead of sleeping.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhdw])+$")


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `15m`, `2h`, `7d`, `1w` or combinations such as `1d12h` into a timedelta
    (ValueError if malformed)."""
    compact = (text or "").replace(" ", "")
    if not _DURATION.match(compact):
        raise ValueError(f"expected a duration such as 30s, 15m, 2h, 7d, 1w or 1d12h, got {text!r}")
    total = timedelta()
    for amount, unit in _PART.findall(compact):
        total += timedelta(**{_UNITS[unit]: float(amount)})
    return total


class Clock:
    """Wall-clock time plus an offset that only the test clock ever changes."""

    def __init__(self) -> None:
        self._offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta():
            raise ValueError("the test clock only moves forward")
        self._offset += delta
        return self.now()

    def set(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            raise ValueError("the time must include a UTC offset, e.g. 2026-04-01T10:00:00+09:00")
        self._offset = when - datetime.now(UTC)
        return self.now()

    def reset(self) -> None:
        self._offset = timedelta()


clock = Clock()


def now() -> datetime:
    """Current time (timezone-aware, UTC)."""
    return clock.now()


def now_ms() -> int:
    """Current time as LINE's millisecond timestamps."""
    return int(clock.now().timestamp() * 1000)
