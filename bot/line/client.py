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
    AsyncMessagingApiBlob,
    Configuration,
    CreateRichMenuAliasRequest,
    Message,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuBulkLinkRequest,
    RichMenuBulkUnlinkRequest,
    RichMenuRequest,
    UpdateRichMenuAliasRequest,
)
from yarl import URL

from bot.line.ratelimit import RateLimits

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 15.0
DEFAULT_429_PAUSE_S = 1.0
#: User ids LINE takes in one bulk link or unlink request.
MAX_BULK_USERS = 500


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


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for LINE's host (HTTPS_PROXY, NO_PROXY), read once."""
    try:
        proxy, _ = get_env_proxy_for_url(URL(url))
    except LookupError:
        return None
    return str(proxy)


async def _without_per_request_env_lookups(client: AsyncApiClient) -> None:
    """The SDK's aiohttp session trusts the environment, so every request reads ~/.netrc and
    the proxy variables in a worker thread: about a tenth of the bot's time when pushing at
    full speed. The proxy is resolved once at start instead (`proxy_for`); the session is
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
        # Rich-menu images live on LINE's api-data host; the SDK sends every call of a client
        # to its configuration's host, so images get a client of their own.
        self._data_config = Configuration(
            access_token=access_token, host=(data_base_url or base_url).rstrip("/")
        )
        self._timeout = timeout
        self.limits = limits or RateLimits()
        self._client: AsyncApiClient | None = None
        self._api: AsyncMessagingApi | None = None
        self._data_client: AsyncApiClient | None = None
        self._blob_api: AsyncMessagingApiBlob | None = None

    async def start(self) -> None:
        self._config.proxy = proxy_for(self._config.host)
        self._client = AsyncApiClient(self._config)
        await _without_per_request_env_lookups(self._client)
        self._api = AsyncMessagingApi(self._client)
        self._data_config.proxy = proxy_for(self._data_config.host)
        self._data_client = AsyncApiClient(self._data_config)
        await _without_per_request_env_lookups(self._data_client)
        self._blob_api = AsyncMessagingApiBlob(self._data_client)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._api = None
        if self._data_client is not None:
            await self._data_client.close()
            self._data_client = None
            self._blob_api = None

    @property
    def api(self) -> AsyncMessagingApi:
        if self._api is None:
            raise RuntimeError("LineClient.start() was not awaited")
        return self._api

    @property
    def blob_api(self) -> AsyncMessagingApiBlob:
        if self._blob_api is None:
            raise RuntimeError("LineClient.start() was not awaited")
        return self._blob_api

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

    # --- rich menus ------------------------------------------------------------------------
    # Bodies and answers are LINE's JSON (camelCase), as in LINE's API reference. Creating and
    # deleting share the `richmenu` allowance (100 per hour); see bot/line/ratelimit.py.

    async def _call_unless_missing(self, endpoint: str, call: Any) -> tuple[bool, Any]:
        """`_call` for lookups and deletes where LINE's 404 is an answer (no such menu,
        alias or link), not a failure: (False, None) then."""
        try:
            return True, await self._call(endpoint, call)
        except LineApiError as exc:
            if exc.status == 404:
                return False, None
            raise

    async def create_rich_menu(self, body: dict[str, Any]) -> str:
        """Create a menu from LINE's rich menu object; its id (the image comes separately)."""
        request = RichMenuRequest.from_dict(body)
        answer = await self._call(
            "richmenu",
            lambda: self.api.create_rich_menu(request, _request_timeout=self._timeout),
        )
        return str(answer.rich_menu_id)

    async def validate_rich_menu(self, body: dict[str, Any]) -> None:
        """Ask LINE whether it would accept `body` (LineApiError with its reasons if not)."""
        request = RichMenuRequest.from_dict(body)
        await self._call(
            "richmenu_other",
            lambda: self.api.validate_rich_menu_object(request, _request_timeout=self._timeout),
        )

    async def set_rich_menu_image(self, rich_menu_id: str, data: bytes, content_type: str) -> None:
        """Upload a menu's image (PNG or JPEG, once per menu: LINE refuses a second one)."""
        await self._call(
            "richmenu_other",
            lambda: self.blob_api.set_rich_menu_image(
                rich_menu_id,
                body=data,
                _headers={"Content-Type": content_type},
                _request_timeout=self._timeout,
            ),
        )

    async def get_rich_menu_image(self, rich_menu_id: str) -> bytes | None:
        """A menu's image, or None when it has none (or the menu does not exist)."""
        found, data = await self._call_unless_missing(
            "richmenu_other",
            lambda: self.blob_api.get_rich_menu_image(rich_menu_id, _request_timeout=self._timeout),
        )
        if not found:
            return None
        return bytes(data)

    async def get_rich_menu(self, rich_menu_id: str) -> dict[str, Any] | None:
        """One menu as LINE's rich menu response object, or None if LINE has no such menu."""
        found, menu = await self._call_unless_missing(
            "richmenu_other",
            lambda: self.api.get_rich_menu(rich_menu_id, _request_timeout=self._timeout),
        )
        if not found:
            return None
        return dict(menu.to_dict())

    async def list_rich_menus(self) -> list[dict[str, Any]]:
        """Every menu the channel has (made by the Messaging API), as LINE describes them."""
        answer = await self._call(
            "richmenu_other",
            lambda: self.api.get_rich_menu_list(_request_timeout=self._timeout),
        )
        return [dict(menu.to_dict()) for menu in answer.richmenus or []]

    async def delete_rich_menu(self, rich_menu_id: str) -> bool:
        """Delete a menu; False if LINE did not have it."""
        found, _ = await self._call_unless_missing(
            "richmenu",
            lambda: self.api.delete_rich_menu(rich_menu_id, _request_timeout=self._timeout),
        )
        return found

    async def link_rich_menu(self, user_id: str, rich_menu_id: str) -> None:
        """Show `rich_menu_id` to one friend (over the default menu)."""
        await self._call(
            "richmenu_link",
            lambda: self.api.link_rich_menu_id_to_user(
                user_id, rich_menu_id, _request_timeout=self._timeout
            ),
        )

    async def unlink_rich_menu(self, user_id: str) -> None:
        """Take a friend's own menu away (they see the default menu again)."""
        await self._call(
            "richmenu_link",
            lambda: self.api.unlink_rich_menu_id_from_user(user_id, _request_timeout=self._timeout),
        )

    async def get_user_rich_menu(self, user_id: str) -> str | None:
        """The menu linked to one friend, or None (LINE answers 404 when there is none)."""
        found, answer = await self._call_unless_missing(
            "richmenu_other",
            lambda: self.api.get_rich_menu_id_of_user(user_id, _request_timeout=self._timeout),
        )
        if not found:
            return None
        return str(answer.rich_menu_id)

    async def bulk_link_rich_menu(self, rich_menu_id: str, user_ids: list[str]) -> None:
        """Link a menu to many friends, 500 per request (LINE answers 202 and links them in
        the background, so a bad user id is not reported)."""
        for chunk in _chunks(user_ids, MAX_BULK_USERS):
            request = RichMenuBulkLinkRequest(richMenuId=rich_menu_id, userIds=chunk)
            await self._call(
                "richmenu_bulk",
                lambda request=request: self.api.link_rich_menu_id_to_users(
                    request, _request_timeout=self._timeout
                ),
            )

    async def bulk_unlink_rich_menu(self, user_ids: list[str]) -> None:
        """Unlink the menus of many friends, 500 per request (202, done in the background)."""
        for chunk in _chunks(user_ids, MAX_BULK_USERS):
            request = RichMenuBulkUnlinkRequest(userIds=chunk)
            await self._call(
                "richmenu_bulk",
                lambda request=request: self.api.unlink_rich_menu_id_from_users(
                    request, _request_timeout=self._timeout
                ),
            )

    async def set_default_rich_menu(self, rich_menu_id: str) -> None:
        """The menu friends without a menu of their own see."""
        await self._call(
            "richmenu_other",
            lambda: self.api.set_default_rich_menu(rich_menu_id, _request_timeout=self._timeout),
        )

    async def get_default_rich_menu(self) -> str | None:
        """The default menu's id, or None when there is none."""
        found, answer = await self._call_unless_missing(
            "richmenu_other",
            lambda: self.api.get_default_rich_menu_id(_request_timeout=self._timeout),
        )
        if not found:
            return None
        return str(answer.rich_menu_id)

    async def cancel_default_rich_menu(self) -> None:
        """No default menu any more."""
        await self._call(
            "richmenu_other",
            lambda: self.api.cancel_default_rich_menu(_request_timeout=self._timeout),
        )

    async def create_rich_menu_alias(self, alias: str, rich_menu_id: str) -> None:
        request = CreateRichMenuAliasRequest(richMenuAliasId=alias, richMenuId=rich_menu_id)
        await self._call(
            "richmenu_other",
            lambda: self.api.create_rich_menu_alias(request, _request_timeout=self._timeout),
        )

    async def update_rich_menu_alias(self, alias: str, rich_menu_id: str) -> None:
        request = UpdateRichMenuAliasRequest(richMenuId=rich_menu_id)
        await self._call(
            "richmenu_other",
            lambda: self.api.update_rich_menu_alias(alias, request, _request_timeout=self._timeout),
        )

    async def delete_rich_menu_alias(self, alias: str) -> bool:
        """Delete an alias; False if LINE did not have it."""
        found, _ = await self._call_unless_missing(
            "richmenu_other",
            lambda: self.api.delete_rich_menu_alias(alias, _request_timeout=self._timeout),
        )
        return found

    async def list_rich_menu_aliases(self) -> dict[str, str]:
        """Every alias of the channel: alias id → rich menu id."""
        answer = await self._call(
            "richmenu_other",
            lambda: self.api.get_rich_menu_alias_list(_request_timeout=self._timeout),
        )
        return {a.rich_menu_alias_id: a.rich_menu_id for a in answer.aliases or []}


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
