"""A small driver for scenario tests: virtual friends follow, say and tap through the sandbox,
and the test asserts what they received. Everything goes over HTTP, as in production."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bot import clock
from bot.db.models import InboxEvent


class FriendDriver:
    def __init__(self, sandbox: SandboxDriver, data: dict[str, Any]) -> None:
        self.sandbox = sandbox
        self.user_id: str = data["userId"]
        self.name: str = data["displayName"]
        self._seen = 0

    async def _act(self, action: str, body: dict[str, Any] | None = None) -> int:
        data = await self.sandbox.post(f"/sandbox/api/friends/{self.user_id}/{action}", body or {})
        return int(data["webhookStatus"])

    async def follow(self) -> int:
        return await self._act("follow")

    async def block(self) -> int:
        return await self._act("unfollow")

    async def say(self, text: str) -> int:
        return await self._act("messages", {"text": text})

    async def sticker(self, package_id: str = "446", sticker_id: str = "1988") -> int:
        return await self._act("stickers", {"packageId": package_id, "stickerId": sticker_id})

    async def tap(
        self, data: str, display_text: str | None = None, params: dict[str, str] | None = None
    ) -> int:
        body: dict[str, Any] = {"data": data}
        if display_text:
            body["displayText"] = display_text
        if params:
            body["params"] = params
        return await self._act("postbacks", body)

    async def transcript(self) -> list[dict[str, Any]]:
        data = await self.sandbox.get(f"/sandbox/api/friends/{self.user_id}/transcript")
        return list(data["entries"])

    async def received(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The bot messages that arrived since the last call; waits until `count` are there."""
        data = await self.sandbox.get(
            f"/sandbox/api/friends/{self.user_id}/transcript",
            after=self._seen,
            wait=timeout,
            count=count,
        )
        entries = data["entries"]
        if entries:
            self._seen = entries[-1]["seq"]
        messages = [e["message"] for e in entries if e["direction"] == "out"]
        if len(messages) < count:
            raise AssertionError(
                f"{self.name} expected {count} message(s) within {timeout}s, got {messages!r}"
            )
        return messages

    async def texts(self, count: int = 1, timeout: float = 5.0) -> list[str]:
        return [m.get("text", m.get("altText", "")) for m in await self.received(count, timeout)]

    async def nothing_more(self, settle: float = 0.3) -> None:
        """Assert no further bot message arrives after events are processed."""
        await self.sandbox.settle()
        await asyncio.sleep(settle)
        data = await self.sandbox.get(
            f"/sandbox/api/friends/{self.user_id}/transcript", after=self._seen
        )
        outs = [e["message"] for e in data["entries"] if e["direction"] == "out"]
        assert not outs, f"{self.name} received unexpected messages: {outs!r}"


class SandboxDriver:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session

    async def get(self, path: str, **params: Any) -> Any:
        async with self.session.get(self.base_url + path, params=params) as resp:
            assert resp.status == 200, f"GET {path}: {resp.status} {await resp.text()}"
            return await resp.json()

    async def post(self, path: str, body: Any, expect: int | None = None) -> Any:
        async with self.session.post(self.base_url + path, json=body) as resp:
            data = await resp.json()
            if expect is not None:
                assert resp.status == expect, f"POST {path}: {resp.status} {data}"
            elif resp.status >= 400:
                raise AssertionError(f"POST {path}: {resp.status} {data}")
            return data

    async def friend(self, name: str = "テスト太郎") -> FriendDriver:
        data = await self.post("/sandbox/api/friends", {"displayName": name})
        return FriendDriver(self, data)

    async def id_token(self, user_id: str, **claims: str) -> str:
        """An ID token the sandbox's LIFF side issues for a virtual friend (as LIFF would)."""
        data = await self.post("/sandbox/api/liff/token", {"userId": user_id, **claims}, expect=200)
        return str(data["idToken"])

    async def visit_route(self, name: str, user_id: str) -> dict[str, Any]:
        """A friend opens an inflow route's link in LINE: `/r/NAME` sends them through the
        LIFF page, which posts their ID token and the visit code; its answer."""
        async with self.session.get(f"{self.base_url}/r/{name}", allow_redirects=False) as resp:
            assert resp.status == 302, await resp.text()
            code = parse_qs(urlsplit(resp.headers["Location"]).query)["v"][0]
        token = await self.id_token(user_id)
        async with self.session.post(
            f"{self.base_url}/liff/api/go/{name}",
            json={"visit": code},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            assert resp.status == 200, await resp.text()
            answer: dict[str, Any] = await resp.json()
            return answer

    async def calls(self, path_suffix: str = "") -> list[dict[str, Any]]:
        data = await self.get("/sandbox/api/calls")
        return [c for c in data["calls"] if c["path"].endswith(path_suffix)]

    async def advance(self, duration: str) -> str:
        return str((await self.post("/_test/clock", {"advance": duration}))["now"])

    async def set_time(self, local: str) -> str:
        """Move the test clock to a time (ISO 8601 with offset); the server ticks once there."""
        return str((await self.post("/_test/clock", {"set": local}))["now"])

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until every stored webhook event has been processed (in-process servers)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while await InboxEvent.filter(status__in=["pending", "processing"]).exists():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("webhook events still unprocessed after the timeout")
            await asyncio.sleep(0.02)


async def friend_id_of(driver: FriendDriver) -> int:
    """The bot's short id (#123) for a virtual friend, once the bot has seen them."""
    from bot.db.models import Friend

    await driver.sandbox.settle()
    return (await Friend.get(line_user_id=driver.user_id)).id


def quick_reply_data(message: dict[str, Any], label: str) -> tuple[str, str | None]:
    """The postback data (and display text) of the quick-reply item with this label."""
    for item in message["quickReply"]["items"]:
        action = item["action"]
        if action.get("label") == label:
            return action["data"], action.get("displayText")
    raise AssertionError(f"no quick reply labelled {label!r} in {message!r}")


def quick_reply_labels(message: dict[str, Any]) -> list[str]:
    """The labels of a message's quick-reply buttons, in order (none: [])."""
    return [item["action"]["label"] for item in message.get("quickReply", {}).get("items", [])]


def quick_reply_text(message: dict[str, Any], label: str) -> str:
    """What tapping a quick reply that sends its label (a `message` action) says."""
    for item in message["quickReply"]["items"]:
        action = item["action"]
        if action["label"] == label:
            assert action["type"] == "message", f"{label!r} is a {action['type']} button"
            return str(action["text"])
    raise AssertionError(f"no quick reply labelled {label!r} in {message!r}")


def button_data(message: dict[str, Any], label: str) -> tuple[str, str | None]:
    """The postback data of the template button with this label."""
    for action in message["template"]["actions"]:
        if action.get("label") == label:
            return action["data"], action.get("displayText")
    raise AssertionError(f"no button labelled {label!r} in {message!r}")


def start_at(local: str) -> None:
    """Where a test's story begins: set the test clock (ISO 8601 with offset), no tick."""
    clock.clock.set(datetime.fromisoformat(local))


async def joined_many(sandbox: SandboxDriver, names: list[str]) -> list[tuple[FriendDriver, int]]:
    """Several friends who followed and got the welcome, in order."""
    return [await joined(sandbox, name) for name in names]


async def joined(sandbox: SandboxDriver, name: str) -> tuple[FriendDriver, int]:
    """A new virtual friend who followed and got the welcome; with the bot's id for them."""
    friend = await sandbox.friend(name)
    await friend.follow()
    await friend.received(1)
    return friend, await friend_id_of(friend)
