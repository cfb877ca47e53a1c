"""The one LINE adapter: line-bot-sdk's asyncio client, with errors turned into one type.

Create it inside the running event loop (`start()` opens an aiohttp session). Callers pass
messages as LINE JSON dicts; they are turned into SDK models here so every body we send is
serialised by line-bot-sdk and conforms to LINE's schema.
"""

from __future__ import annotations

import json
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    Message,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
)
from yarl import URL

from bot.line.ratelimit import RateLimits

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 15.0
DEFAULT_429_PAUSE_S = 1.0


@dataclass
class SendResult:
    status: int
    request_id: str | None
    sent_message_ids: list[str] = field(default_factory=list)
    already_accepted: bool = False


class LineApiError(Exception):
    """LINE refused or could not be reached. `retryable` says whether trying again can help."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        details: list[Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.request_id = request_id
        self.details = details or []
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500

    def describe(self) -> str:
        parts = [f"HTTP {self.status}" if self.status else "no answer", self.message]
        if self.details:
            parts.append(json.dumps(self.details, ensure_ascii=False))
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        return ": ".join(parts[:2]) + "".join(f" ({p})" for p in parts[2:])


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name) or headers.get(name.lower())
    return str(value) if value is not None else None


def _from_api_exception(exc: ApiException) -> LineApiError:
    message = exc.reason or "LINE answered with an error"
    details: list[Any] = []
    try:
        body = json.loads(exc.body) if exc.body else {}
        if isinstance(body, dict):
            message = str(body.get("message") or message)
            details = list(body.get("details") or [])
    except (TypeError, ValueError):
        if exc.body:
            message = str(exc.body)[:500]
    retry_after: float | None = None
    raw_retry = _header(exc.headers, "Retry-After")
    if raw_retry:
        try:
            retry_after = float(raw_retry)
        except ValueError:
            retry_after = None
    return LineApiError(
        message,
        status=exc.status,
        request_id=_header(exc.headers, "x-line-request-id"),
        details=details,
        retry_after=retry_after,
    )


def to_sdk_messages(messages: list[dict[str, Any]]) -> list[Message]:
    return [Message.from_dict(m) for m in messages]


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for LINE's host (HTTPS_PROXY, NO_PROXY), read once."""
    try:
        proxy, _ = get_env_proxy_for_url(URL(url))
    except LookupError:
        return None
    return str(proxy)


async def _without_per_request_env_lookups(client: AsyncApiClient) -> None:
    """The SDK's aiohttp session trusts the environment, so every request reads ~/.netrc and
    the proxy variables in a worker thread: about a tenth of the bot's time when pushing at
    full speed. The proxy is resolved once at start instead (`_proxy_for`); the session is
    replaced by one that does not look again (same pool size, default TLS checks)."""
    rest = client.rest_client
    limit = rest.pool_manager.connector.limit if rest.pool_manager.connector else 100
    await rest.pool_manager.close()
    rest.pool_manager = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=ssl.create_default_context()),
        trust_env=False,
    )


class LineClient:
    """Messaging API calls the bot makes; all of them go through line-bot-sdk."""

    def __init__(
        self,
        access_token: str,
        base_url: str,
        data_base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        limits: RateLimits | None = None,
    ) -> None:
        self._config = Configuration(access_token=access_token, host=base_url.rstrip("/"))
        self._timeout = timeout
        self.limits = limits or RateLimits()
        self._client: AsyncApiClient | None = None
        self._api: AsyncMessagingApi | None = None

    async def start(self) -> None:
        self._config.proxy = _proxy_for(self._config.host)
        self._client = AsyncApiClient(self._config)
        await _without_per_request_env_lookups(self._client)
        self._api = AsyncMessagingApi(self._client)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._api = None

    @property
    def api(self) -> AsyncMessagingApi:
        if self._api is None:
            raise RuntimeError("LineClient.start() was not awaited")
        return self._api

    async def _call(self, endpoint: str, call: Any) -> Any:
        """Wait for the endpoint's rate limit, make the call, turn errors into LineApiError."""
        await self.limits.acquire(endpoint)
        try:
            return await call()
        except ApiException as exc:
            if exc.status == 409:
                return exc
            error = _from_api_exception(exc)
            if error.status == 429:
                self.limits.pause(endpoint, error.retry_after or DEFAULT_429_PAUSE_S)
            raise error from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LineApiError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None

    @staticmethod
    def _result(response: Any) -> SendResult:
        if isinstance(response, ApiException):  # 409: this retry key was accepted before
            return SendResult(
                status=409,
                request_id=_header(response.headers, "x-line-accepted-request-id"),
                already_accepted=True,
            )
        data = response.data
        sent = [m.id for m in (getattr(data, "sent_messages", None) or [])]
        return SendResult(
            status=response.status_code,
            request_id=_header(response.headers, "x-line-request-id"),
            sent_message_ids=sent,
        )

    async def reply(self, reply_token: str, messages: list[dict[str, Any]]) -> SendResult:
        request = ReplyMessageRequest(
            replyToken=reply_token, messages=to_sdk_messages(messages), notificationDisabled=False
        )
        response = await self._call(
            "reply",
            lambda: self.api.reply_message_with_http_info(request, _request_timeout=self._timeout),
        )
        return self._result(response)

    async def push(self, to: str, messages: list[dict[str, Any]], retry_key: str) -> SendResult:
        request = PushMessageRequest(
            to=to, messages=to_sdk_messages(messages), notificationDisabled=False
        )
        response = await self._call(
            "push",
            lambda: self.api.push_message_with_http_info(
                request, x_line_retry_key=retry_key, _request_timeout=self._timeout
            ),
        )
        return self._result(response)

    async def multicast(
        self, to: list[str], messages: list[dict[str, Any]], retry_key: str
    ) -> SendResult:
        request = MulticastRequest(
            to=to, messages=to_sdk_messages(messages), notificationDisabled=False
        )
        response = await self._call(
            "multicast",
            lambda: self.api.multicast_with_http_info(
                request, x_line_retry_key=retry_key, _request_timeout=self._timeout
            ),
        )
        return self._result(response)

    async def get_profile(self, user_id: str) -> dict[str, Any]:
        profile = await self._call(
            "profile", lambda: self.api.get_profile(user_id, _request_timeout=self._timeout)
        )
        return {
            "display_name": profile.display_name,
            "picture_url": profile.picture_url,
            "status_message": profile.status_message,
            "language": profile.language,
        }
