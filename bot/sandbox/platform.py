"""The Messaging API endpoints, answered the way LINE answers them.

Bodies are parsed with line-bot-sdk's request models (the same OpenAPI definitions LINE
publishes) and then checked against limits the models do not carry (text length, recipients,
known user ids). Errors use LINE's shape: 400 `{"message": ..., "details": [...]}`.

On request (the control API's settings) it also enforces LINE's rate limits and the monthly
quota, and injects faults, so a bot's handling of 429s, 500s and timeouts can be tested.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from linebot.v3.messaging import (
    AudienceRecipient,
    BroadcastRequest,
    MulticastRequest,
    NarrowcastRequest,
    OperatorRecipient,
    PushMessageRequest,
    RedeliveryRecipient,
    ReplyMessageRequest,
)
from pydantic.v1 import ValidationError

from bot import clock
from bot.sandbox.state import (
    RETRY_KEY_TTL,
    ApiCall,
    NarrowcastJob,
    SandboxState,
    new_request_id,
)

USER_ID = re.compile(r"^U[0-9a-f]{32}$")
MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_ALT_TEXT = 400
MAX_MULTICAST = 500
MAX_QUICK_REPLY_ITEMS = 13

# LINE's own wording for these answers.
RATE_LIMITED = "The API rate limit has been exceeded. Try again later."
QUOTA_REACHED = "You have reached your monthly limit."
INTERNAL_ERROR = "Internal server error"

MAX_RAW_BODY = 2 * 1000 * 1000  # LINE answers 413 to a request body above 2 MB
PAYLOAD_TOO_LARGE = "Payload Too Large"

Result = tuple[int, Any, dict[str, str]]
Handler = Callable[[web.Request, Any, str], Awaitable[Result]]
Bind = Callable[..., Callable[[web.Request], Awaitable[web.Response]]]


@dataclass(frozen=True)
class Binary:
    """A non-JSON answer (a rich-menu image), sent as is with its content type."""

    data: bytes
    content_type: str


STATE_KEY: web.AppKey[SandboxState] = web.AppKey("sandbox_state", SandboxState)
TOKEN_KEY: web.AppKey[str | None] = web.AppKey("sandbox_expected_token", str)


class LineError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details  # None: no "details" key; [] is sent, as some LINE errors do
        self.headers = headers or {}


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
    if not isinstance(body, dict):
        raise LineError(400, "The request body must be a JSON object")
    try:
        return model.from_dict(body)
    except ValidationError as exc:
        raise _bad_request(_validation_details(exc)) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise LineError(400, f"The request body could not be parsed: {exc}") from None


_NOT_JSON = object()


async def _read_raw(request: web.Request) -> bytes:
    """The body as bytes, read past aiohttp's own 1 MiB cap up to LINE's 2 MB."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > MAX_RAW_BODY:
            raise LineError(413, PAYLOAD_TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        return None  # endpoints such as rich-menu links take no body
    try:
        return json.loads(raw)
    except ValueError:
        return _NOT_JSON


class PlatformHandlers:
    """Route handlers; every answer carries `x-line-request-id` and is recorded."""

    def __init__(self, state: SandboxState, expected_token: str | None) -> None:
        self.state = state
        self.expected_token = expected_token
        self._late_calls: set[asyncio.Future[web.Response]] = set()

    def _authorize(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        token = auth[7:].strip() if auth.startswith("Bearer ") else ""
        if not token or (self.expected_token and token != self.expected_token):
            raise LineError(
                401,
                "Authentication failed. Confirm that the access token in the authorization "
                "header is valid.",
            )

    def _check_rate_limit(self, endpoint: str) -> None:
        wait = self.state.take_token(endpoint)
        if not wait:
            return
        headers = {}
        retry_after = self.state.settings.retry_after
        if retry_after == "auto":
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        elif retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        raise LineError(429, RATE_LIMITED, headers=headers)

    async def _answer(
        self, request: web.Request, endpoint: str, handler: Handler, raw: bool = False
    ) -> web.Response:
        """Auth, rate limit, injected fault, then the endpoint itself; record the outcome.

        `raw` endpoints (image uploads) get the body as bytes instead of parsed JSON.
        """
        request_id = new_request_id()
        body: Any = None
        headers: dict[str, str] = {"x-line-request-id": request_id}
        try:
            self._authorize(request)
            if raw:
                body = await _read_raw(request)
            elif request.method == "POST":
                body = _decode(await request.read())
            self._check_rate_limit(endpoint)
            fault = self.state.draw_fault(endpoint)
            if fault in ("500", "timeout"):
                self.state.faults_injected[fault] += 1
            if fault == "500":
                raise LineError(500, INTERNAL_ERROR)
        except LineError as exc:
            return self._respond(request, body, request_id, *self._error(exc, headers), headers)
        if fault == "timeout":
            # The client gives up first; the call then goes through, as LINE would carry on.
            # A task of its own, so a client hanging up (which may cancel this handler)
            # does not stop it.
            late = asyncio.ensure_future(self._late(request, body, request_id, handler, headers))
            self._late_calls.add(late)
            late.add_done_callback(self._late_calls.discard)
            return await asyncio.shield(late)
        status, payload = await self._run(request, body, request_id, handler, headers, fault)
        return self._respond(request, body, request_id, status, payload, headers)

    async def _late(
        self,
        request: web.Request,
        body: Any,
        request_id: str,
        handler: Handler,
        headers: dict[str, str],
    ) -> web.Response:
        await asyncio.sleep(self.state.settings.faults.timeout_seconds)
        status, payload = await self._run(request, body, request_id, handler, headers, None)
        return self._respond(request, body, request_id, status, payload, headers)

    async def _run(
        self,
        request: web.Request,
        body: Any,
        request_id: str,
        handler: Handler,
        headers: dict[str, str],
        fault: str | None,
    ) -> tuple[int, Any]:
        try:
            if body is _NOT_JSON:
                raise LineError(400, "The request body could not be parsed as JSON")
            status, payload, extra = await handler(request, body, request_id)
        except LineError as exc:
            return self._error(exc, headers)
        headers.update(extra)
        if fault == "accept-then-500":  # done (delivered, key used) but the client sees 500
            self.state.faults_injected[fault] += 1
            return 500, {"message": INTERNAL_ERROR}
        return status, payload

    @staticmethod
    def _error(exc: LineError, headers: dict[str, str]) -> tuple[int, Any]:
        payload: dict[str, Any] = {"message": exc.message}
        if exc.details is not None:
            payload["details"] = exc.details
        headers.update(exc.headers)
        return exc.status, payload

    def _respond(
        self,
        request: web.Request,
        body: Any,
        request_id: str,
        status: int,
        payload: Any,
        headers: dict[str, str],
    ) -> web.Response:
        route = request.match_info.route.resource
        template = route.canonical if route is not None else request.path
        self.state.call_counts[f"{request.method} {template} {status}"] += 1
        if isinstance(body, bytes):  # an image: its type and size are what a test looks at
            body = {"contentType": request.content_type, "size": len(body)}
        self.state.calls.append(
            ApiCall(
                method=request.method,
                path=request.path,
                status=status,
                body=None if body is _NOT_JSON else body,
                headers={
                    k: v
                    for k, v in request.headers.items()
                    if k.lower().startswith("x-line") or k.lower() == "content-type"
                },
                request_id=request_id,
                at=clock.now(),
            )
        )
        if isinstance(payload, Binary):
            return web.Response(
                body=payload.data, status=status, headers=headers, content_type=payload.content_type
            )
        return web.json_response(payload, status=status, headers=headers)

    def _check_recipient(self, user_id: str, prop: str) -> None:
        if not USER_ID.match(user_id) or user_id not in self.state.friends:
            raise _bad_request([{"message": "Invalid user ID", "property": prop}])

    def _retry_key(self, request: web.Request) -> str | None:
        """The request's retry key, refused with 409 if a request with it was accepted.

        The key is only taken (`_accept`) once the request passed every check, so a request
        refused for the quota can be retried with the same key.
        """
        key = request.headers.get("X-Line-Retry-Key")
        if key is None:
            return None
        try:
            uuid.UUID(key)
        except ValueError:
            raise LineError(400, "The retry key must be a UUID (hexadecimal format)") from None
        earlier = self.state.retry_keys.get(key)
        if earlier and clock.now() - earlier[1] < RETRY_KEY_TTL:
            raise LineError(
                409,
                "The retry key is already accepted",
                headers={"x-line-accepted-request-id": earlier[0]},
            )
        return key

    def _accept(self, key: str | None, request_id: str, quota_cost: int) -> None:
        """Commit a request: take its retry key and count it against the month's quota."""
        if key is not None:
            self.state.accept_retry_key(key, request_id)
        self.state.use_quota(quota_cost)

    def _check_quota(self, cost: int) -> None:
        remaining = self.state.quota_remaining()
        if remaining is not None and cost > remaining:
            raise LineError(429, QUOTA_REACHED)

    def _check_messages(self, body: Any) -> None:
        details = _limit_details(body.get("messages") or [])
        if details:
            raise _bad_request(details)

    async def _deliver(self, user_id: str, messages: list[dict[str, Any]]) -> list[dict[str, str]]:
        sent = []
        friend = self.state.friends.get(user_id)
        for message in messages:
            entry_id = str(10**17 + self.state._seq + 1)
            if friend is not None and friend.following:
                await self.state.record(user_id, "out", message)
            sent.append({"id": entry_id, "quoteToken": "q" + new_request_id()})
        return sent

    async def reply(self, request: web.Request, body: Any, request_id: str) -> Result:
        """Replies are free: they never count against the monthly quota."""
        parsed = _parse(ReplyMessageRequest, body)
        self._check_messages(body)
        token = self.state.use_reply_token(parsed.reply_token)
        if token is None:
            raise LineError(400, "Invalid reply token")
        sent = await self._deliver(token.user_id, body["messages"])
        return 200, {"sentMessages": sent}, {}

    async def push(self, request: web.Request, body: Any, request_id: str) -> Result:
        parsed = _parse(PushMessageRequest, body)
        self._check_messages(body)
        self._check_recipient(parsed.to, "to")
        key = self._retry_key(request)
        self._check_quota(1)
        self._accept(key, request_id, 1)
        sent = await self._deliver(parsed.to, body["messages"])
        self.state.remember_recipients(request_id, [parsed.to])
        return 200, {"sentMessages": sent}, {}

    async def multicast(self, request: web.Request, body: Any, request_id: str) -> Result:
        parsed = _parse(MulticastRequest, body)
        details = _limit_details(body.get("messages") or [])
        if not 1 <= len(parsed.to) <= MAX_MULTICAST:
            details.append({"message": "Size must be between 1 and 500", "property": "to"})
        if details:
            raise _bad_request(details)
        for i, user_id in enumerate(parsed.to):
            self._check_recipient(user_id, f"to[{i}]")
        key = self._retry_key(request)
        self._check_quota(len(parsed.to))
        self._accept(key, request_id, len(parsed.to))
        for user_id in parsed.to:
            await self._deliver(user_id, body["messages"])
        self.state.remember_recipients(request_id, list(parsed.to))
        return 200, {}, {}

    def _following(self) -> list[str]:
        return [uid for uid, friend in self.state.friends.items() if friend.following]

    def _match(self, recipient: Any, everyone: set[str]) -> set[str]:
        """Who a narrowcast `recipient` names, among following friends.

        The stand-in has no audiences, so an audience names nobody; a redelivery names whom
        that earlier request reached; operators combine the two with and/or/not.
        """
        if isinstance(recipient, AudienceRecipient):
            return set()
        if isinstance(recipient, RedeliveryRecipient):
            return set(self.state.sent_to.get(recipient.request_id or "", ())) & everyone
        if isinstance(recipient, OperatorRecipient):
            out = set(everyone)
            for part in recipient.var_and or []:
                out &= self._match(part, everyone)
            if recipient.var_or:
                out &= set().union(*(self._match(part, everyone) for part in recipient.var_or))
            if recipient.var_not is not None:
                out -= self._match(recipient.var_not, everyone)
            return out
        return set()

    async def _send_to_all(self, user_ids: list[str], messages: list[dict[str, Any]]) -> None:
        for user_id in user_ids:
            await self._deliver(user_id, messages)

    async def narrowcast(self, request: web.Request, body: Any, request_id: str) -> Result:
        """Accepted (202) and, unlike on LINE, sent before answering: progress is final at once.

        Demographic filters are accepted but not evaluated (virtual friends have no age,
        gender or area); `limit.max` keeps the first friends, where LINE picks at random.
        """
        parsed = _parse(NarrowcastRequest, body)
        self._check_messages(body)
        limit = parsed.limit
        if limit is not None and limit.forbid_partial_delivery and not limit.up_to_remaining_quota:
            raise _bad_request(
                [
                    {
                        "message": "Can be true only if upToRemainingQuota is true",
                        "property": "limit.forbidPartialDelivery",
                    }
                ]
            )
        key = self._retry_key(request)
        following = self._following()
        if parsed.recipient is not None:
            named = self._match(parsed.recipient, set(following))
            following = [uid for uid in following if uid in named]
        targets = following[: limit.max] if limit is not None and limit.max else following
        job = NarrowcastJob(accepted_at=clock.now(), target_count=len(targets))
        remaining = self.state.quota_remaining()
        if remaining is not None and len(targets) > remaining:
            if limit is None or not limit.up_to_remaining_quota:
                raise LineError(429, QUOTA_REACHED)
            if limit.forbid_partial_delivery:
                job.error_code = 5
                job.failed_description = (
                    "Message delivery was canceled to prevent delivering to only part of "
                    "the target audience"
                )
                targets = []
            else:
                targets = targets[:remaining]
        self._accept(key, request_id, len(targets))
        await self._send_to_all(targets, body["messages"])
        job.success_count = len(targets)
        job.completed_at = clock.now()
        self.state.narrowcasts[request_id] = job
        self.state.remember_recipients(request_id, targets)
        return 202, {}, {}

    async def narrowcast_progress(self, request: web.Request, body: Any, request_id: str) -> Result:
        wanted = request.query.get("requestId")
        if not wanted:
            raise LineError(400, "The request parameter 'requestId' is required")
        job = self.state.narrowcasts.get(wanted)
        if job is None:
            raise LineError(404, "Not found")
        return 200, job.as_json(), {}

    async def broadcast(self, request: web.Request, body: Any, request_id: str) -> Result:
        _parse(BroadcastRequest, body)
        self._check_messages(body)
        key = self._retry_key(request)
        targets = self._following()
        self._check_quota(len(targets))
        self._accept(key, request_id, len(targets))
        await self._send_to_all(targets, body["messages"])
        self.state.remember_recipients(request_id, targets)
        return 200, {}, {}

    async def quota(self, request: web.Request, body: Any, request_id: str) -> Result:
        quota = self.state.settings.quota
        payload = {"type": "none"} if quota is None else {"type": "limited", "value": quota}
        return 200, payload, {}

    async def quota_consumption(self, request: web.Request, body: Any, request_id: str) -> Result:
        return 200, {"totalUsage": self.state.quota_used()}, {}

    async def profile(self, request: web.Request, body: Any, request_id: str) -> Result:
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

    async def bot_info(self, request: web.Request, body: Any, request_id: str) -> Result:
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
        from bot.sandbox.richmenus import RichMenuHandlers  # it builds on this module

        def bind(
            endpoint: str, handler: Handler, raw: bool = False
        ) -> Callable[[web.Request], Awaitable[web.Response]]:
            async def route(request: web.Request) -> web.Response:
                return await self._answer(request, endpoint, handler, raw)

            return route

        api = f"{prefix}/v2/bot"
        return [
            *RichMenuHandlers(self.state).routes(api, bind),
            web.post(f"{api}/message/reply", bind("reply", self.reply)),
            web.post(f"{api}/message/push", bind("push", self.push)),
            web.post(f"{api}/message/multicast", bind("multicast", self.multicast)),
            web.post(f"{api}/message/narrowcast", bind("narrowcast", self.narrowcast)),
            web.get(
                f"{api}/message/progress/narrowcast",
                bind("narrowcastProgress", self.narrowcast_progress),
            ),
            web.post(f"{api}/message/broadcast", bind("broadcast", self.broadcast)),
            web.get(f"{api}/message/quota", bind("quota", self.quota)),
            web.get(
                f"{api}/message/quota/consumption",
                bind("quotaConsumption", self.quota_consumption),
            ),
            web.get(f"{api}/profile/{{user_id}}", bind("profile", self.profile)),
            web.get(f"{api}/info", bind("botInfo", self.bot_info)),
        ]
