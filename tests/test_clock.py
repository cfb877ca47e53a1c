"""The test clock: durations, moving time over HTTP, and its absence in production."""

from __future__ import annotations

from datetime import datetime, timedelta

import aiohttp
import pytest

from bot import clock
from bot.clock import parse_duration
from tests.conftest import make_settings, start_server


def test_durations_in_every_unit() -> None:
    assert parse_duration("30s") == timedelta(seconds=30)
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("1w") == timedelta(weeks=1)
    assert parse_duration("1d12h") == timedelta(days=1, hours=12)
    assert parse_duration("23h 39m") == timedelta(hours=23, minutes=39)
    for bad in ("7 days", "", "1x", "d1"):
        with pytest.raises(ValueError, match="30s, 15m, 2h, 7d, 1w or 1d12h"):
            parse_duration(bad)


async def test_advance_and_set_move_now(base_url: str, http: aiohttp.ClientSession) -> None:
    before = clock.now()
    async with http.post(base_url + "/_test/clock", json={"advance": "7d"}) as resp:
        assert resp.status == 200
        moved = datetime.fromisoformat((await resp.json())["now"])
    assert timedelta(days=7) <= moved - before < timedelta(days=7, minutes=1)
    async with http.post(
        base_url + "/_test/clock", json={"set": "2027-04-01T10:00:00+09:00"}
    ) as resp:
        now = datetime.fromisoformat((await resp.json())["now"])
    assert (
        now.year == 2027
        and abs((now - datetime.fromisoformat("2027-04-01T01:00:00+00:00")).total_seconds()) < 5
    )
    async with http.post(base_url + "/_test/clock", json={"advance": "-1d"}) as resp:
        assert resp.status == 400


async def test_without_the_variable_the_route_does_not_exist(
    database_url: str, http: aiohttp.ClientSession
) -> None:
    server = await start_server(make_settings(database_url, STEPBOT_TEST_CLOCK="0"))
    try:
        async with http.post(str(server.make_url("/_test/clock")), json={"advance": "1d"}) as resp:
            assert resp.status == 404
    finally:
        await server.close()
