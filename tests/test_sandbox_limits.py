"""The LINE stand-in's wider surface and its deliberate misbehaviour: narrowcast, broadcast,
the monthly quota, rate limits and injected faults, all switched on through the control API."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.cli import build_parser
from bot.line.client import LineApiError, LineClient
from bot.sandbox.platform import STATE_KEY
from bot.sandbox.setup import standalone_app
from bot.sandbox.state import SettingsError
from tests.dsl import FriendDriver, SandboxDriver

API = "/sandbox/line/v2/bot/message"
AUTH = {"Authorization": "Bearer any-token"}
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
QUOTA_REACHED = "You have reached your monthly limit."


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


async def send(
    http: aiohttp.ClientSession,
    url: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, Any, Any]:
    async with http.request(method, url, json=body, headers={**AUTH, **(headers or {})}) as resp:
        return resp.status, await resp.json(), resp.headers


async def progress_of(http: aiohttp.ClientSession, base_url: str, request_id: str) -> Any:
    url = f"{base_url}{API}/progress/narrowcast?requestId={request_id}"
    status, progress, _ = await send(http, url, method="GET")
    assert status == 200, progress
    return progress


def outcome(progress: dict[str, Any]) -> tuple[str, int, int]:
    return progress["phase"], progress["successCount"], progress["targetCount"]


async def configure(sandbox: SandboxDriver, **settings: Any) -> dict[str, Any]:
    return dict(await sandbox.post("/sandbox/api/settings", settings, expect=200))


async def joined_friend(sandbox: SandboxDriver, name: str) -> FriendDriver:
    friend = await sandbox.friend(name)
    await friend.follow()
    await friend.received(1)
    return friend


@pytest.fixture
async def line(base_url: str) -> AsyncIterator[LineClient]:
    client = LineClient("any-token", base_url + "/sandbox/line")
    await client.start()
    yield client
    await client.close()


@pytest.fixture
async def audience(sandbox: SandboxDriver) -> tuple[list[FriendDriver], list[FriendDriver]]:
    """Two following friends, one who never followed and one who blocked; stats zeroed."""
    following = [await joined_friend(sandbox, f"受信{i}") for i in range(2)]
    stranger = await sandbox.friend("未追加")
    blocker = await joined_friend(sandbox, "ブロック")
    await blocker.block()
    await sandbox.settle()  # the bot is done with these events (and its calls)
    await sandbox.post("/sandbox/api/reset-stats", {})
    return following, [stranger, blocker]


async def test_narrowcast_and_broadcast_reach_following_friends_only(
    sandbox: SandboxDriver,
    base_url: str,
    http: aiohttp.ClientSession,
    audience: tuple[list[FriendDriver], list[FriendDriver]],
) -> None:
    following, others = audience
    status, data, headers = await send(
        http, base_url + API + "/broadcast", {"messages": [text("全員へ")]}
    )
    assert (status, data) == (200, {})
    assert headers.get("x-line-request-id")

    status, data, headers = await send(
        http, base_url + API + "/narrowcast", {"messages": [text("絞り込み")]}
    )
    assert (status, data) == (202, {})
    progress = await progress_of(http, base_url, headers["x-line-request-id"])
    assert outcome(progress) == ("succeeded", 2, 2) and progress["failureCount"] == 0
    assert progress["acceptedTime"].endswith("Z") and progress["completedTime"].endswith("Z")

    for friend in following:
        assert await friend.texts(2) == ["全員へ", "絞り込み"]
    stats = await sandbox.get("/sandbox/api/stats")
    assert stats["deliveredByFriend"] == {f.user_id: 2 for f in following}
    assert stats["delivered"] == 4
    for other in others:
        assert other.user_id not in stats["deliveredByFriend"]

    # No audiences exist in the stand-in: naming one reaches nobody.
    status, _, headers = await send(
        http,
        base_url + API + "/narrowcast",
        {
            "messages": [text("オーディエンス")],
            "recipient": {"type": "audience", "audienceGroupId": 4389303728991},
        },
    )
    assert status == 202
    progress = await progress_of(http, base_url, headers["x-line-request-id"])
    assert outcome(progress) == ("succeeded", 0, 0)
    # limit.max caps the recipients; a redelivery names whom an earlier request reached.
    status, _, headers = await send(
        http,
        base_url + API + "/narrowcast",
        {"messages": [text("一人だけ")], "limit": {"max": 1}},
    )
    capped_id = headers["x-line-request-id"]
    assert outcome(await progress_of(http, base_url, capped_id)) == ("succeeded", 1, 1)
    status, _, headers = await send(
        http,
        base_url + API + "/narrowcast",
        {"messages": [text("再送")], "recipient": {"type": "redelivery", "requestId": capped_id}},
    )
    progress = await progress_of(http, base_url, headers["x-line-request-id"])
    assert outcome(progress) == ("succeeded", 1, 1)
    stats = await sandbox.get("/sandbox/api/stats")
    assert stats["deliveredByFriend"] == {following[0].user_id: 4, following[1].user_id: 2}

    status, data, _ = await send(
        http, f"{base_url}{API}/progress/narrowcast?requestId=nosuch", method="GET"
    )
    assert status == 404 and data["message"]
    status, data, _ = await send(
        http, base_url + API + "/narrowcast", {"messages": [], "filter": {}}
    )
    assert status == 400 and "messages" in [d["property"] for d in data["details"]]
    status, data, _ = await send(
        http,
        base_url + API + "/narrowcast",
        {"messages": [text("x")], "recipient": {"type": "audience", "audienceGroupId": "abc"}},
    )
    assert status == 400


async def test_retry_keys_work_for_narrowcast_and_broadcast(
    sandbox: SandboxDriver,
    base_url: str,
    http: aiohttp.ClientSession,
    audience: tuple[list[FriendDriver], list[FriendDriver]],
) -> None:
    following, _ = audience
    for endpoint, accepted in (("narrowcast", 202), ("broadcast", 200)):
        key = {"X-Line-Retry-Key": str(uuid.uuid4())}
        body = {"messages": [text(endpoint)]}
        status, _, first = await send(http, f"{base_url}{API}/{endpoint}", body, key)
        assert status == accepted
        status, data, again = await send(http, f"{base_url}{API}/{endpoint}", body, key)
        assert status == 409 and data["message"] == "The retry key is already accepted"
        assert again["x-line-accepted-request-id"] == first["x-line-request-id"]
        assert again["x-line-request-id"] != first["x-line-request-id"]
    for friend in following:
        assert await friend.texts(2) == ["narrowcast", "broadcast"]
    stats = await sandbox.get("/sandbox/api/stats")
    assert stats["deliveredByFriend"] == {f.user_id: 2 for f in following}


async def test_quota_counts_sent_messages_and_refuses_beyond_it(
    sandbox: SandboxDriver,
    base_url: str,
    http: aiohttp.ClientSession,
    audience: tuple[list[FriendDriver], list[FriendDriver]],
) -> None:
    following, _ = audience
    a, b = following

    async def usage() -> int:
        status, data, _ = await send(http, base_url + API + "/quota/consumption", method="GET")
        assert status == 200
        return int(data["totalUsage"])

    status, data, _ = await send(http, base_url + API + "/quota", method="GET")
    assert (status, data) == (200, {"type": "none"})  # no limit unless one is set
    assert await usage() == 0  # the welcome messages were replies: free
    await configure(sandbox, quota=5)
    status, data, _ = await send(http, base_url + API + "/quota", method="GET")
    assert data == {"type": "limited", "value": 5}

    token = (await sandbox.post(f"/sandbox/api/friends/{a.user_id}/reply-tokens", {}))[
        "replyTokens"
    ][0]
    status, _, _ = await send(
        http, base_url + API + "/reply", {"replyToken": token, "messages": [text("返信")]}
    )
    assert status == 200 and await usage() == 0
    two_bubbles = [text("一"), text("二")]
    status, _, _ = await send(
        http, base_url + API + "/push", {"to": a.user_id, "messages": two_bubbles}
    )
    assert status == 200 and await usage() == 1  # per recipient, not per bubble
    status, _, _ = await send(
        http, base_url + API + "/multicast", {"to": [a.user_id, b.user_id], "messages": [text("m")]}
    )
    assert status == 200 and await usage() == 3
    status, _, _ = await send(http, base_url + API + "/broadcast", {"messages": [text("b")]})
    assert status == 200 and await usage() == 5  # the two following friends

    key = {"X-Line-Retry-Key": str(uuid.uuid4())}
    for endpoint, body in (
        ("push", {"to": a.user_id, "messages": [text("over")]}),
        ("multicast", {"to": [a.user_id], "messages": [text("over")]}),
        ("broadcast", {"messages": [text("over")]}),
        ("narrowcast", {"messages": [text("over")]}),
    ):
        status, data, _ = await send(http, f"{base_url}{API}/{endpoint}", body, key)
        assert (status, data) == (429, {"message": QUOTA_REACHED}), endpoint
    assert await usage() == 5
    # upToRemainingQuota sends what is left; forbidPartialDelivery then cancels instead.
    await configure(sandbox, quota=6)
    limit = {"upToRemainingQuota": True, "forbidPartialDelivery": True}
    status, _, headers = await send(
        http, base_url + API + "/narrowcast", {"messages": [text("全部か無し")], "limit": limit}
    )
    assert status == 202
    progress = await progress_of(http, base_url, headers["x-line-request-id"])
    assert (progress["phase"], progress["errorCode"], progress["successCount"]) == ("failed", 5, 0)
    status, _, headers = await send(
        http,
        base_url + API + "/narrowcast",
        {"messages": [text("残りだけ")], "limit": {"upToRemainingQuota": True}},
    )
    assert status == 202 and await usage() == 6
    # A refused request did not take its retry key: the same key goes through later.
    await configure(sandbox, quota=None)
    status, data, _ = await send(http, base_url + API + "/quota", method="GET")
    assert data == {"type": "none"}
    status, _, _ = await send(
        http, base_url + API + "/push", {"to": a.user_id, "messages": [text("後で")]}, key
    )
    assert status == 200 and await usage() == 7
    # The quota is monthly (Japan time): a new month starts from zero.
    await sandbox.advance("32d")
    assert await usage() == 0


async def test_rate_limits_answer_429_with_lines_body_and_recover(
    sandbox: SandboxDriver,
    base_url: str,
    http: aiohttp.ClientSession,
    audience: tuple[list[FriendDriver], list[FriendDriver]],
) -> None:
    following, _ = audience
    url = base_url + API + "/multicast"
    body = {"to": [following[0].user_id], "messages": [text("速い")]}

    async def burst(count: int) -> list[tuple[int, Any, Any]]:
        return await asyncio.gather(*(send(http, url, body) for _ in range(count)))

    assert Counter(status for status, _, _ in await burst(20)) == {200: 20}  # off by default

    settings = await configure(sandbox, rateLimits=True, limits={"multicast": "5/h"}, retryAfter=1)
    assert settings["limits"]["multicast"] == "5/h" and settings["limits"]["push"] == "2000/s"
    results = await burst(20)
    assert Counter(status for status, _, _ in results) == {200: 5, 429: 15}
    for status, data, headers in results:
        if status == 429:
            assert data == {"message": RATE_LIMITED}
            assert headers["Retry-After"] == "1" and headers["x-line-request-id"]
    # Other endpoints keep their own buckets.
    status, _, _ = await send(
        http, base_url + API + "/push", {"to": following[0].user_id, "messages": [text("p")]}
    )
    assert status == 200
    stats = await sandbox.get("/sandbox/api/stats")
    assert stats["rateLimited"] == 15
    assert stats["byPath"]["POST /sandbox/line/v2/bot/message/multicast 429"] == 15

    # 5 per second: once the bucket is empty a 429 comes, and a second later calls pass again.
    await configure(sandbox, limits={"multicast": 5}, retryAfter=None)
    statuses = []
    while 429 not in statuses:
        assert len(statuses) < 100, "the bucket never ran dry"
        status, data, headers = await send(http, url, body)
        statuses.append(status)
    assert "Retry-After" not in headers
    await asyncio.sleep(1.2)
    assert (await send(http, url, body))[0] == 200

    await configure(sandbox, rateLimits=False)
    assert Counter(status for status, _, _ in await burst(20)) == {200: 20}


async def test_fault_500_delivers_nothing_and_the_retry_goes_through(
    sandbox: SandboxDriver,
    line: LineClient,
    audience: tuple[list[FriendDriver], list[FriendDriver]],
) -> None:
    friend = audience[0][0]
    await configure(sandbox, faults={"rate": 1, "kind": "500", "endpoints": ["push"]})
    key = str(uuid.uuid4())
    with pytest.raises(LineApiError) as failed:
        await line.push(friend.user_id, [text("一度目")], key)
    assert failed.value.status == 500 and failed.value.retryable
    assert failed.value.message == "Internal server error" and failed.value.request_id
    assert (await line.multicast([friend.user_id], [text("同報")], str(uuid.uuid4()))).status == 200

    await configure(sandbox, faults=None)
    result = await line.push(friend.user_id, [text("一度目")], key)
    assert result.status == 200 and not result.already_accepted
    assert await friend.texts(2) == ["同報", "一度目"]
    stats = await sandbox.get("/sandbox/api/stats")
    assert stats["faults"] == {"500": 1}
    assert stats["deliveredByFriend"] == {friend.user_id: 2}


async def test_accept_then_500_delivers_once_and_the_retry_gets_409(
    sandbox: SandboxDriver,
    line: LineClient,
    audience: tuple[list[FriendDriver], list[FriendDriver]],
) -> None:
    friend = audience[0][0]
    await configure(sandbox, faults={"rate": 1.0, "kind": "accept-then-500", "endpoints": ["push"]})
    key = str(uuid.uuid4())
    with pytest.raises(LineApiError) as failed:
        await line.push(friend.user_id, [text("届いている")], key)
    assert failed.value.status == 500 and failed.value.retryable
    assert await friend.texts(1) == ["届いている"]

    retried = await line.push(friend.user_id, [text("届いている")], key)  # still failing: 409
    assert retried.already_accepted and retried.status == 409
    assert retried.request_id == failed.value.request_id
    await configure(sandbox, faults={"rate": 0})
    again = await line.push(friend.user_id, [text("届いている")], key)
    assert again.already_accepted and again.request_id == failed.value.request_id
    stats = await sandbox.get("/sandbox/api/stats")
    assert stats["deliveredByFriend"] == {friend.user_id: 1}
    assert stats["faults"] == {"accept-then-500": 1}  # a 409 is answered before any delivery


async def test_a_hang_times_the_client_out_and_the_call_still_goes_through(
    sandbox: SandboxDriver,
    base_url: str,
    audience: tuple[list[FriendDriver], list[FriendDriver]],
) -> None:
    friend = audience[0][0]
    await configure(
        sandbox, faults={"rate": 1, "kind": "timeout", "timeoutSeconds": 1, "endpoints": ["push"]}
    )
    impatient = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2))
    async with impatient:
        with pytest.raises(TimeoutError):
            await send(
                impatient,
                base_url + API + "/push",
                {"to": friend.user_id, "messages": [text("遅れて")]},
            )
    assert await friend.texts(1, timeout=10) == ["遅れて"]


async def test_seeded_faults_repeat_exactly(
    sandbox: SandboxDriver, base_url: str, http: aiohttp.ClientSession
) -> None:
    faults = {"rate": 0.5, "kind": "500", "endpoints": ["quotaConsumption"], "seed": 7}

    async def run() -> list[int]:
        await configure(sandbox, faults=faults)
        url = base_url + API + "/quota/consumption"
        return [(await send(http, url, method="GET"))[0] for _ in range(30)]

    first = await run()
    assert set(first) == {200, 500}
    assert await run() == first
    status, _, _ = await send(http, base_url + API + "/quota", method="GET")
    assert status == 200  # not a listed endpoint
    stats = await sandbox.get("/sandbox/api/stats")
    assert stats["faults"] == {"500": 2 * first.count(500)}


async def test_settings_are_validated_and_all_or_nothing(
    sandbox: SandboxDriver, base_url: str, http: aiohttp.ClientSession
) -> None:
    url = base_url + "/sandbox/api/settings"
    defaults = await sandbox.get("/sandbox/api/settings")
    assert defaults["rateLimits"] is False and defaults["quota"] is None
    assert defaults["faults"]["rate"] == 0 and defaults["retryAfter"] is None
    assert defaults["limits"]["multicast"] == "200/s" and defaults["limits"]["broadcast"] == "60/h"

    bad: list[tuple[Any, str]] = [
        ({"rateLimits": "yes"}, "rateLimits"),
        ({"limits": {"multicast": 0}}, "limits.multicast"),
        ({"limits": {"multicast": "5 per second"}}, "limits.multicast"),
        ({"limits": {"nosuch": 5}}, "limits.nosuch"),
        ({"limits": [5]}, "limits"),
        ({"retryAfter": -1}, "retryAfter"),
        ({"faults": {"rate": 1.5}}, "faults.rate"),
        ({"faults": {"rate": True}}, "faults.rate"),
        ({"faults": {"kind": "502"}}, "faults.kind"),
        ({"faults": {"endpoints": ["push", "nosuch"]}}, "faults.endpoints"),
        ({"faults": {"seed": "abc"}}, "faults.seed"),
        ({"faults": {"timeoutSeconds": 0}}, "faults.timeoutSeconds"),
        ({"faults": {"often": True}}, "faults.often"),
        ({"quota": -1}, "quota"),
        ({"quota": 1.5}, "quota"),
        ({"rateLimit": True}, "rateLimit"),
    ]
    for body, prop in bad:
        data = await sandbox.post("/sandbox/api/settings", body, expect=400)
        assert prop in [d["property"] for d in data["details"]], (body, data)
        assert prop in data["message"]
    # One bad value and nothing changes, not even the good ones beside it.
    data = await sandbox.post(
        "/sandbox/api/settings", {"rateLimits": True, "quota": "lots"}, expect=400
    )
    assert [d["property"] for d in data["details"]] == ["quota"]
    for raw in (b"not json", b"[1, 2]"):
        async with http.post(url, data=raw) as resp:
            assert resp.status == 400 and (await resp.json())["message"]
    assert await sandbox.get("/sandbox/api/settings") == defaults

    changed = await configure(
        sandbox,
        rateLimits=True,
        limits={"push": "100/m", "multicast": 200},
        retryAfter="auto",
        faults={"rate": 0.25, "kind": "timeout", "endpoints": ["push"], "seed": 1},
        quota=None,
    )
    assert changed["limits"]["push"] == "100/m" and changed["limits"]["multicast"] == "200/s"
    assert changed["retryAfter"] == "auto" and changed["quota"] is None
    assert changed["faults"] == {
        "rate": 0.25,
        "kind": "timeout",
        "endpoints": ["push"],
        "seed": 1,
        "timeoutSeconds": 20.0,
    }
    partial = await configure(sandbox, faults={"rate": 0})
    assert partial["faults"]["kind"] == "timeout" and partial["rateLimits"] is True
    # What GET answers can be posted back as it is; null puts a section back to defaults.
    assert await configure(sandbox, **partial) == partial
    reset = await configure(sandbox, limits=None, faults=None, retryAfter=False)
    assert reset["limits"] == defaults["limits"] and reset["faults"] == defaults["faults"]
    assert reset["retryAfter"] is None


async def test_reset_stats_zeroes_the_counters_only(
    sandbox: SandboxDriver, audience: tuple[list[FriendDriver], list[FriendDriver]]
) -> None:
    following, _ = audience
    stats = await sandbox.get("/sandbox/api/stats")
    assert stats["calls"] == 0 and stats["delivered"] == 0 and stats["rateLimited"] == 0
    assert stats["byPath"] == {} and stats["deliveredByFriend"] == {} and stats["faults"] == {}
    assert (await sandbox.get("/sandbox/api/calls"))["calls"] == []
    transcript = await following[0].transcript()
    assert any(entry["direction"] == "out" for entry in transcript)


def test_cli_options_become_settings() -> None:
    args = build_parser().parse_args(
        [
            "sandbox",
            "--rate-limits",
            "--fault-rate",
            "0.2",
            "--fault-kind",
            "accept-then-500",
            "--fault-endpoints",
            "push,multicast",
            "--fault-seed",
            "3",
            "--quota",
            "none",
            "--retry-after",
            "auto",
        ]
    )
    assert (args.rate_limits, args.fault_rate, args.fault_kind) == (True, 0.2, "accept-then-500")
    assert (args.quota, args.retry_after, args.fault_seed) == (None, "auto", 3)
    defaults = build_parser().parse_args(["sandbox"])
    assert (defaults.rate_limits, defaults.fault_rate, defaults.quota) == (False, 0.0, None)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sandbox", "--quota", "many"])

    app = standalone_app(
        webhook_url="http://127.0.0.1:1/callback",
        channel_secret="s",
        settings={"rateLimits": True, "quota": 50, "faults": {"rate": 0.1}},
    )
    settings = app[STATE_KEY].settings
    assert settings.rate_limits and settings.quota == 50 and settings.faults.rate == 0.1
    with pytest.raises(SettingsError):
        standalone_app(
            webhook_url="http://127.0.0.1:1/callback",
            channel_secret="s",
            settings={"faults": {"kind": "sometimes"}},
        )
