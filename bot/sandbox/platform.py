"""The Messaging API endpoints, answered the way LINE answers them.

Bodies are parsed with line-bot-sdk's request models (the same OpenAPI definitions LINE
publishes) and then checked against limits the models do not carry (text length, recipients,
known user ids). Errors use LINE's shape: 400 `{"message": ..., "details": [...]}`.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from aiohttp import web
from linebot.v3.messaging import MulticastRequest, PushMessageRequest, ReplyMessageRequest
from pydantic.v1 import ValidationError

from bot import clock
from bot.sandbox.state import ApiCall, SandboxState, new_request_id

USER_ID = re.compile(r"^U[0-9a-f]{32}$")
MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_ALT_TEXT = 400
MAX_MULTICAST = 500
MAX_QUICK_REPLY_ITEMS = 13

STATE_KEY: web.AppKey[SandboxState] = web.AppKey("sandbox_state", SandboxState)
TOKEN_KEY: web.AppKey[str | None] = web.AppKey("sandbox_expected_token", str)


class LineError(Exception):
    def __init__(self, status: int, message: str, details: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []


def _property(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part == "__root__":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _validation_details(exc: ValidationError) -> list[dict[str, str]]:
    return [{"message": err["msg"], "property": _property(err["loc"])} for err in exc.errors()]


def _limit_details(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    details = []
    if not 1 <= len(messages) <= MAX_MESSAGES:
        details.append({"message": "Size must be between 1 and 5", "property": "messages"})
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        text = message.get("text")
        if message.get("type") == "text" and isinstance(text, str):
            if len(text) > MAX_TEXT:
                details.append(
                    {
                        "message": "Length must be between 0 and 5000",
                        "property": f"messages[{i}].text",
                    }
                )
            if not text:
                details.append({"message": "Must not be empty", "property": f"messages[{i}].text"})
        alt = message.get("altText")
        if isinstance(alt, str) and not 1 <= len(alt) <= MAX_ALT_TEXT:
            details.append(
                {
                    "message": "Length must be between 1 and 400",
                    "property": f"messages[{i}].altText",
                }
            )
        quick = message.get("quickReply")
        if isinstance(quick, dict) and len(quick.get("items") or []) > MAX_QUICK_REPLY_ITEMS:
            details.append(
                {
                    "message": "Size must be between 1 and 13",
                    "property": f"messages[{i}].quickReply.items",
                }
            )
    return details


def _bad_request(details: list[dict[str, str]]) -> LineError:
    return LineError(400, f"The request body has {len(details)} error(s)", details)


def _parse(model: Any, body: Any) -> Any:
    try:
        return model.from_dict(body)
    except ValidationError as exc:
        raise _bad_request(_validation_details(exc)) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise LineError(400, f"The request body could not be parsed: {exc}") from None


async def _read_json(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except ValueError:
        raise LineError(400, "The request body could not be parsed as JSON") from None


class PlatformHandlers:
    """Route handlers; every answer carries `x-line-request-id` and is recorded."""

    def __init__(self, state: SandboxState, expected_token: str | None) -> None:
        self.state = state
        self.expected_token = expected_token

    def _authorize(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.startswith("Bearer ") else ""
        if not token or (self.expected_token and token != self.expected_token):
            raise LineError(
                401,
                "Authentication failed. Confirm that the access token in the authorization "
                "header is valid.",
            )

    async def _answer(self, request: web.Request, handler: Any) -> web.Response:
        request_id = new_request_id()
        body: Any = None
        headers: dict[str, str] = {"x-line-request-id": request_id}
        try:
            self._authorize(request)
            if request.method == "POST":
                body = await _read_json(request)
            status, payload, extra = await handler(request, body, request_id)
            headers.update(extra)
        except LineError as exc:
            status = exc.status
            payload = {"message": exc.message}
            if exc.details:
                payload["details"] = exc.details
            if exc.status == 409:
                headers["x-line-accepted-request-id"] = exc.details[0]["property"]
                payload = {"message": exc.message}
        route = request.match_info.route.resource
        template = route.canonical if route is not None else request.path
        self.state.call_counts[f"{request.method} {template} {status}"] += 1
        self.state.calls.append(
            ApiCall(
                method=request.method,
                path=request.path,
                status=status,
                body=body,
                headers={
                    k: v
                    for k, v in request.headers.items()
                    if k.lower().startswith("x-line") or k.lower() == "content-type"
                },
                request_id=request_id,
                at=clock.now(),
            )
        )
        return web.json_response(payload, status=status, headers=headers)

    def _check_recipient(self, user_id: str, prop: str) -> None:
        if not USER_ID.match(user_id) or user_id not in self.state.friends:
            raise _bad_request([{"message": "Invalid user ID", "property": prop}])

    def _check_retry_key(self, request: web.Request, request_id: str) -> None:
        key = request.headers.get("X-Line-Retry-Key")
        if key is None:
            return
        try:
            uuid.UUID(key)
        except ValueError:
            raise LineError(400, "The retry key must be a UUID (hexadecimal format)") from None
        earlier = self.state.accept_retry_key(key, request_id)
        if earlier:
            raise LineError(
                409,
                "The retry key is already accepted",
                [{"message": "accepted", "property": earlier}],
            )

    async def _deliver(self, user_id: str, messages: list[dict[str, Any]]) -> list[dict[str, str]]:
        sent = []
        friend = self.state.friends.get(user_id)
        for message in messages:
            entry_id = str(10**17 + self.state._seq + 1)
            if friend is not None and friend.following:
                await self.state.record(user_id, "out", message)
            sent.append({"id": entry_id, "quoteToken": "q" + new_request_id()})
        return sent

    async def reply(self, request: web.Request, body: Any, request_id: str) -> Any:
        parsed = _parse(ReplyMessageRequest, body)
        details = _limit_details(body.get("messages") or [])
        if details:
            raise _bad_request(details)
        token = self.state.use_reply_token(parsed.reply_token)
        if token is None:
            raise LineError(400, "Invalid reply token")
        sent = await self._deliver(token.user_id, body["messages"])
        return 200, {"sentMessages": sent}, {}

    async def push(self, request: web.Request, body: Any, request_id: str) -> Any:
        parsed = _parse(PushMessageRequest, body)
        details = _limit_details(body.get("messages") or [])
        if details:
            raise _bad_request(details)
        self._check_recipient(parsed.to, "to")
        self._check_retry_key(request, request_id)
        sent = await self._deliver(parsed.to, body["messages"])
        return 200, {"sentMessages": sent}, {}

    async def multicast(self, request: web.Request, body: Any, request_id: str) -> Any:
        parsed = _parse(MulticastRequest, body)
        details = _limit_details(body.get("messages") or [])
        if not 1 <= len(parsed.to) <= MAX_MULTICAST:
            details.append({"message": "Size must be between 1 and 500", "property": "to"})
        if details:
            raise _bad_request(details)
        for i, user_id in enumerate(parsed.to):
            self._check_recipient(user_id, f"to[{i}]")
        self._check_retry_key(request, request_id)
        for user_id in parsed.to:
            await self._deliver(user_id, body["messages"])
        return 200, {}, {}

    async def profile(self, request: web.Request, body: Any, request_id: str) -> Any:
        friend = self.state.friends.get(request.match_info["user_id"])
        if friend is None or not friend.ever_followed:
            raise LineError(404, "Not found")
        payload = {
            "displayName": friend.display_name,
            "userId": friend.user_id,
            "language": friend.language,
        }
        if friend.picture_url:
            payload["pictureUrl"] = friend.picture_url
        if friend.status_message:
            payload["statusMessage"] = friend.status_message
        return 200, payload, {}

    async def bot_info(self, request: web.Request, body: Any, request_id: str) -> Any:
        return (
            200,
            {
                "userId": self.state.bot_user_id,
                "basicId": "@stepbot",
                "displayName": "stepbot sandbox",
                "chatMode": "bot",
                "markAsReadMode": "auto",
            },
            {},
        )

    def routes(self, prefix: str) -> list[web.RouteDef]:
        def bind(handler: Any) -> Any:
            async def route(request: web.Request) -> web.Response:
                return await self._answer(request, handler)

            return route

        return [
            web.post(f"{prefix}/v2/bot/message/reply", bind(self.reply)),
            web.post(f"{prefix}/v2/bot/message/push", bind(self.push)),
            web.post(f"{prefix}/v2/bot/message/multicast", bind(self.multicast)),
            web.get(f"{prefix}/v2/bot/profile/{{user_id}}", bind(self.profile)),
            web.get(f"{prefix}/v2/bot/info", bind(self.bot_info)),
        ]
