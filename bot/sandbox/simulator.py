"""The simulator's page and JSON API: pick or create a virtual friend, chat, watch live (SSE)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.sandbox.richmenus import SWITCH_SUCCESS, RichMenu
from bot.sandbox.state import SandboxState, SettingsError, VirtualFriend
from bot.sandbox.webhooks import WebhookSender

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_TEXT = 5000
MAX_POSTBACK_DATA = 300
MAX_ALIAS_ID = 32
LONG_POLL_MAX_S = 30.0


def _json_error(status: int, message: str) -> web.HTTPException:
    exc = web.HTTPBadRequest if status == 400 else web.HTTPNotFound
    return exc(
        text=json.dumps({"message": message}, ensure_ascii=False), content_type="application/json"
    )


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise _json_error(400, "JSON の本文が必要です") from None
    if not isinstance(body, dict):
        raise _json_error(400, "JSON オブジェクトが必要です")
    return body


class SimulatorHandlers:
    def __init__(self, state: SandboxState, sender: WebhookSender) -> None:
        self.state = state
        self.sender = sender

    def _friend(self, request: web.Request) -> VirtualFriend:
        friend = self.state.friends.get(request.match_info["user_id"])
        if friend is None:
            raise _json_error(404, "その友だちは見つかりません")
        return friend

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "simulator.html")

    async def list_friends(self, request: web.Request) -> web.Response:
        return web.json_response({"friends": [f.as_json() for f in self.state.friends.values()]})

    async def create_friend(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        name = str(body.get("displayName") or "").strip()
        if not name or len(name) > 100:
            raise _json_error(400, "displayName は1〜100文字で指定してください")
        language = str(body.get("language") or "ja")
        friend = self.state.add_friend(name, language)
        return web.json_response(friend.as_json(), status=201)

    async def create_friends_in_bulk(self, request: web.Request) -> web.Response:
        """Many friends who already follow, without webhooks: for load tests whose bot
        database is seeded directly with the same user ids."""
        body = await _json_body(request)
        count = body.get("count")
        if not isinstance(count, int) or not 1 <= count <= 1_000_000:
            raise _json_error(400, "count は1〜1000000の整数です")
        prefix = str(body.get("prefix") or "友だち")[:80]
        ids = []
        for n in range(count):
            friend = self.state.add_friend(f"{prefix}{n}")
            friend.following = friend.ever_followed = True
            ids.append(friend.user_id)
        return web.json_response({"userIds": ids}, status=201)

    async def follow(self, request: web.Request) -> web.Response:
        status = await self.sender.follow(self._friend(request))
        return web.json_response({"ok": status == 200, "webhookStatus": status})

    async def unfollow(self, request: web.Request) -> web.Response:
        friend = self._friend(request)
        if not friend.following:
            raise _json_error(400, "まだ友だち追加していません")
        status = await self.sender.unfollow(friend)
        return web.json_response({"ok": status == 200, "webhookStatus": status})

    def _require_following(self, friend: VirtualFriend) -> None:
        if not friend.following:
            raise _json_error(400, "友だち追加すると話せます")

    async def send_text(self, request: web.Request) -> web.Response:
        friend = self._friend(request)
        self._require_following(friend)
        body = await _json_body(request)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise _json_error(400, "text は1〜5000文字で指定してください")
        status = await self.sender.text(friend, text)
        return web.json_response({"ok": status == 200, "webhookStatus": status})

    async def send_sticker(self, request: web.Request) -> web.Response:
        friend = self._friend(request)
        self._require_following(friend)
        body = await _json_body(request)
        package, sticker = body.get("packageId"), body.get("stickerId")
        if not all(isinstance(v, str) and v.isdigit() for v in (package, sticker)):
            raise _json_error(400, "packageId と stickerId は数字の文字列で指定してください")
        status = await self.sender.sticker(friend, str(package), str(sticker))
        return web.json_response({"ok": status == 200, "webhookStatus": status})

    async def send_postback(self, request: web.Request) -> web.Response:
        friend = self._friend(request)
        self._require_following(friend)
        body = await _json_body(request)
        data = body.get("data")
        if not isinstance(data, str) or len(data) > MAX_POSTBACK_DATA:
            raise _json_error(400, "data は300文字以内の文字列で指定してください")
        display = body.get("displayText")
        params = body.get("params")
        if params is not None and not (
            isinstance(params, dict) and all(isinstance(v, str) for v in params.values())
        ):
            raise _json_error(400, "params は文字列の値を持つオブジェクトです")
        status = await self.sender.postback(
            friend, data, display if isinstance(display, str) else None, params
        )
        return web.json_response({"ok": status == 200, "webhookStatus": status})

    @staticmethod
    def _menu_json(menu: RichMenu) -> dict[str, Any]:
        image = f"/sandbox/api/richmenus/{menu.rich_menu_id}/image"
        return {**menu.as_json(), "imageUrl": image}

    async def friend_rich_menu(self, request: web.Request) -> web.Response:
        """The rich menu this friend sees now (a per-user link wins over the default), or null."""
        menu = self.state.rich_menus.shown_to(self._friend(request).user_id)
        return web.json_response(None if menu is None else self._menu_json(menu))

    async def switch_rich_menu(self, request: web.Request) -> web.Response:
        """A `richmenuswitch` tap: LINE links the alias's menu to the friend, then sends the
        postback with `params.status` (and `newRichMenuAliasId` when it worked)."""
        friend = self._friend(request)
        self._require_following(friend)
        body = await _json_body(request)
        alias_id, data = body.get("richMenuAliasId"), body.get("data")
        if not isinstance(alias_id, str) or len(alias_id) > MAX_ALIAS_ID:
            raise _json_error(400, "richMenuAliasId は32文字以内の文字列で指定してください")
        if not isinstance(data, str) or len(data) > MAX_POSTBACK_DATA:
            raise _json_error(400, "data は300文字以内の文字列で指定してください")
        status = self.state.rich_menus.switch(friend.user_id, alias_id)
        params = {"newRichMenuAliasId": alias_id} if status == SWITCH_SUCCESS else {}
        params["status"] = status
        webhook_status = await self.sender.postback(friend, data, None, params)
        menu = self.state.rich_menus.shown_to(friend.user_id)
        return web.json_response(
            {
                "ok": webhook_status == 200,
                "webhookStatus": webhook_status,
                "status": status,
                "richMenu": None if menu is None else self._menu_json(menu),
            }
        )

    async def rich_menu_image(self, request: web.Request) -> web.Response:
        menu = self.state.rich_menus.menus.get(request.match_info["rich_menu_id"])
        if menu is None or menu.image is None or menu.image_type is None:
            raise _json_error(404, "そのリッチメニューの画像はありません")
        # A rich menu's image can never be replaced, so browsers may keep it.
        headers = {"Cache-Control": "private, max-age=86400, immutable"}
        return web.Response(body=menu.image, content_type=menu.image_type, headers=headers)

    async def rich_menus(self, request: web.Request) -> web.Response:
        """Every menu, the default, each friend's link and the aliases (tests, debugging)."""
        return web.json_response(self.state.rich_menus.overview())

    async def transcript(self, request: web.Request) -> web.Response:
        """Entries after `after`; with `wait=N` and `count=K`, long-poll for K bot messages."""
        friend = self._friend(request)
        try:
            after = int(request.query.get("after", "0"))
            wait = min(float(request.query.get("wait", "0")), LONG_POLL_MAX_S)
            count = int(request.query.get("count", "1"))
        except ValueError:
            raise _json_error(400, "after, wait, count は数値です") from None
        if wait > 0:
            entries = await self.state.wait_for_entries(friend.user_id, after, count, wait)
        else:
            entries = self.state.entries_for(friend.user_id, after)
        return web.json_response({"entries": [e.as_json() for e in entries]})

    async def redeliver(self, request: web.Request) -> web.Response:
        event_id = request.match_info["event_id"]
        if event_id not in self.state.webhooks:
            raise _json_error(404, "その webhookEventId は送っていません")
        status = await self.sender.redeliver(event_id)
        return web.json_response({"ok": status == 200, "webhookStatus": status})

    async def reply_tokens(self, request: web.Request) -> web.Response:
        """Mint reply tokens for a friend, for load tests that post webhooks themselves."""
        friend = self._friend(request)
        body = await _json_body(request)
        count = body.get("count", 1)
        if not isinstance(count, int) or not 1 <= count <= 100_000:
            raise _json_error(400, "count は1〜100000の整数です")
        tokens = [self.state.issue_reply_token(friend.user_id) for _ in range(count)]
        return web.json_response({"replyTokens": tokens})

    async def stats(self, request: web.Request) -> web.Response:
        """Counts since the last reset, cheaper to poll than the full call list. Pollers that
        only wait for a total pass `byFriend=0`: the per-friend map of a 100,000-friend
        benchmark costs the stand-in more to encode than the sends it is measuring."""
        state = self.state
        span = None
        if state.last_delivery is not None and state.first_delivery is not None:
            span = state.last_delivery - state.first_delivery
        stats: dict[str, Any] = {
            "calls": sum(state.call_counts.values()),
            "byPath": dict(state.call_counts),
            "delivered": state.delivered_total,
            "deliverySpanSeconds": span,
            "rateLimited": state.rate_limited,
            "faults": dict(state.faults_injected),
        }
        if request.query.get("byFriend") != "0":
            stats["deliveredByFriend"] = dict(state.delivered_by_friend)
        return web.json_response(stats)

    async def reset_stats(self, request: web.Request) -> web.Response:
        """Zero the counters (and the call list) between benchmark rounds or test steps."""
        self.state.reset_stats()
        return web.json_response({"ok": True})

    async def get_settings(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.settings.as_json())

    async def post_settings(self, request: web.Request) -> web.Response:
        """Change some settings (a partial update); nothing changes if any value is bad."""
        try:
            settings = self.state.configure(json.loads(await request.read()))
        except ValueError as exc:  # SettingsError, or the body is not JSON at all
            details = exc.details if isinstance(exc, SettingsError) else []
            message = str(exc) if details else "The request body could not be parsed as JSON"
            return web.json_response({"message": message, "details": details}, status=400)
        return web.json_response(settings.as_json())

    async def calls(self, request: web.Request) -> web.Response:
        """Every Messaging API call the bot made, newest last (for tests and debugging)."""
        return web.json_response(
            {
                "calls": [
                    {
                        "method": c.method,
                        "path": c.path,
                        "status": c.status,
                        "body": c.body,
                        "headers": c.headers,
                        "requestId": c.request_id,
                        "at": c.at.isoformat(),
                    }
                    for c in self.state.calls
                ]
            }
        )

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue = self.state.subscribe()
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if not event:  # the server is shutting down
                    break
                kind = event.get("event", "entry")
                data = json.dumps(
                    {k: v for k, v in event.items() if k != "event"}, ensure_ascii=False
                )
                await response.write(f"event: {kind}\ndata: {data}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.state.unsubscribe(queue)
        return response

    def routes(self) -> list[web.RouteDef]:
        api = "/sandbox/api"
        return [
            web.get("/sandbox", self.page),
            web.static("/sandbox/static", STATIC_DIR),  # type: ignore[list-item]
            web.get(f"{api}/friends", self.list_friends),
            web.post(f"{api}/friends", self.create_friend),
            web.post(f"{api}/friends/bulk", self.create_friends_in_bulk),
            web.post(f"{api}/friends/{{user_id}}/follow", self.follow),
            web.post(f"{api}/friends/{{user_id}}/unfollow", self.unfollow),
            web.post(f"{api}/friends/{{user_id}}/messages", self.send_text),
            web.post(f"{api}/friends/{{user_id}}/stickers", self.send_sticker),
            web.post(f"{api}/friends/{{user_id}}/postbacks", self.send_postback),
            web.get(f"{api}/friends/{{user_id}}/transcript", self.transcript),
            web.get(f"{api}/friends/{{user_id}}/richmenu", self.friend_rich_menu),
            web.post(f"{api}/friends/{{user_id}}/richmenu/switch", self.switch_rich_menu),
            web.get(f"{api}/richmenus", self.rich_menus),
            web.get(f"{api}/richmenus/{{rich_menu_id}}/image", self.rich_menu_image),
            web.post(f"{api}/webhooks/{{event_id}}/redeliver", self.redeliver),
            web.post(f"{api}/friends/{{user_id}}/reply-tokens", self.reply_tokens),
            web.get(f"{api}/calls", self.calls),
            web.get(f"{api}/stats", self.stats),
            web.post(f"{api}/reset-stats", self.reset_stats),
            web.get(f"{api}/settings", self.get_settings),
            web.post(f"{api}/settings", self.post_settings),
            web.get(f"{api}/stream", self.stream),
        ]
