"""Signed webhooks from other systems: `POST /integrations/hooks/SOURCE`.

A booking system, a form service or your own server posts a JSON event naming a friend and
an event name; rules (`when: {webhook: {source, event}}`) and step triggers react to it, and
the fields the source may set (`integrations.webhooks.SOURCE.fields`) are stored first, so a
date field schedules its reminder.

The body is signed with the source's secret: `X-Stepbot-Signature: sha256=<hex>`, the
HMAC-SHA256 of the raw body. Each event carries its own id, remembered per source for good,
so a replayed request (a retry, or one captured and sent again) is a `duplicate` and does
nothing. Nothing is stored for a request refused for its signature or its body, and a body
naming an unknown friend is refused (422) the same way, so it can be sent again once fixed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.crm.events import InboundReceived
from bot.crm.fields import FieldValueError, coerce
from bot.db.models import Friend
from bot.integrations import ledger
from bot.integrations.part import IntegrationPart
from bot.scenario.integrations import InboundSource, default_secret_env

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

HOOK_PATH = "/integrations/hooks/{source}"
SIGNATURE_HEADER = "X-Stepbot-Signature"
SIGNATURE_PREFIX = "sha256="
MAX_BODY_BYTES = 64 * 1024
MAX_ID_CHARS = 200
MAX_EVENT_CHARS = 100
FRIEND_KEYS = ("id", "line_user_id", "ref")


def sign_body(secret: str, body: bytes) -> str:
    """The `X-Stepbot-Signature` value for a body: `sha256=` and the hex HMAC-SHA256."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    return hmac.compare_digest(header.strip().lower(), sign_body(secret, body))


def provider(source: str) -> str:
    """The ledger's provider name for a source's events."""
    return f"hook:{source}"


class Refused(Exception):
    """A request we will not process: the status, and what to tell the sender."""

    def __init__(self, status: int, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": message}
        if problems:
            self.body["problems"] = problems


@dataclass
class HookEvent:
    """A body that passed every check: the event, its friend and the field values."""

    id: str
    event: str
    friend_id: int
    fields: dict[str, Any] = field(default_factory=dict)
    data: Any = None


class InboundHooks(IntegrationPart):
    def source(self, name: str) -> InboundSource:
        spec = self.scenario.integrations.webhooks.get(name)
        if spec is None:
            raise Refused(404, f"unknown webhook source '{name}' (not in integrations.webhooks)")
        return spec

    def secret(self, name: str) -> str | None:
        """The source's secret: its `secret_env`, or STEPBOT_HOOK_SECRET_<NAME>."""
        spec = self.scenario.integrations.webhooks.get(name)
        env = (spec.secret_env if spec else None) or default_secret_env(name)
        return self.settings.secret(env)

    def verify(self, name: str, body: bytes, header: str | None) -> None:
        """Refused unless the source exists, has a secret, and signed this body."""
        spec = self.source(name)
        secret = self.secret(name)
        if not secret:
            env = spec.secret_env or default_secret_env(name)
            raise Refused(503, f"{env} is not set: stepbot cannot verify events of '{name}'")
        if not header:
            raise Refused(401, f"missing {SIGNATURE_HEADER} header (sha256=<hex HMAC of the body>)")
        if not signature_ok(secret, body, header):
            raise Refused(
                401,
                f"invalid {SIGNATURE_HEADER}: expected sha256= and the hex HMAC-SHA256 of the "
                "raw body with this source's secret",
            )

    async def parse(self, name: str, body: bytes) -> HookEvent:
        """Check the body; Refused (400/422) naming every problem found."""
        spec = self.source(name)
        try:
            data = json.loads(body)
        except ValueError:
            raise Refused(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise Refused(422, "the body must be a JSON object")
        problems: list[str] = []
        event_id = data.get("id")
        if isinstance(event_id, int) and not isinstance(event_id, bool):
            event_id = str(event_id)
        if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > MAX_ID_CHARS:
            problems.append(
                f"id: a unique id for this event is required (at most {MAX_ID_CHARS} characters)"
            )
        event = data.get("event")
        if not isinstance(event, str) or not event.strip() or len(event) > MAX_EVENT_CHARS:
            problems.append(
                f"event: the event name is required (at most {MAX_EVENT_CHARS} characters)"
            )
        elif spec.events is not None and event not in spec.events:
            problems.append(
                f"event: '{event}' is not one of {name}'s events ({', '.join(spec.events)})"
            )
        values = self._fields(name, spec, data.get("fields"), problems)
        extra = data.get("data")
        if extra is not None and not isinstance(extra, dict):
            problems.append("data: must be an object when given")
        unknown = sorted(set(data) - {"id", "event", "friend", "fields", "data"})
        if unknown:
            problems.append(
                f"unknown keys: {', '.join(unknown)} (expected id, event, friend, fields, data)"
            )
        friend_id = await self._friend(data.get("friend"), problems)
        if problems:
            raise Refused(422, "the event cannot be accepted", problems)
        assert isinstance(event_id, str) and isinstance(event, str) and friend_id is not None
        return HookEvent(event_id, event, friend_id, values, extra)

    def _fields(
        self, name: str, spec: InboundSource, given: Any, problems: list[str]
    ) -> dict[str, Any]:
        if given is None:
            return {}
        if not isinstance(given, dict):
            problems.append('fields: must be an object such as {"予約日": "2026-12-01"}')
            return {}
        values: dict[str, Any] = {}
        for key, value in given.items():
            if key not in spec.fields:
                allowed = ", ".join(spec.fields) or "none"
                problems.append(f"fields.{key}: {name} may not set this field (allowed: {allowed})")
                continue
            try:
                values[key] = coerce(key, self.crm.fields.declaration(key), value)
            except FieldValueError as exc:
                problems.append(f"fields.{key}: {exc}")
        return values

    async def _friend(self, given: Any, problems: list[str]) -> int | None:
        """`{"id": 12}`, `{"line_user_id": "U…"}` or `{"ref": "sb-…"}` (exactly one)."""
        if (
            not isinstance(given, Mapping)
            or len(given) != 1
            or next(iter(given)) not in FRIEND_KEYS
        ):
            problems.append(
                'friend: one of {"id": 12}, {"line_user_id": "U…"} or {"ref": "sb-…"} is required'
            )
            return None
        key, value = next(iter(given.items()))
        friend: Friend | None = None
        if key == "id":
            if isinstance(value, str) and value.strip().lstrip("#").isdigit():
                value = int(value.strip().lstrip("#"))
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append("friend.id: must be the friend's number, e.g. 12")
                return None
            friend = await Friend.get_or_none(id=value)
        elif key == "line_user_id":
            if not isinstance(value, str) or not value:
                problems.append("friend.line_user_id: must be a LINE user id (U…)")
                return None
            friend = await Friend.get_or_none(line_user_id=value)
        else:
            friend_id = self.refs.parse(value if isinstance(value, str) else None)
            if friend_id is None:
                problems.append("friend.ref: not a reference stepbot made")
                return None
            friend = await Friend.get_or_none(id=friend_id)
        if friend is None:
            problems.append(
                f"friend: no friend matches {json.dumps(dict(given), ensure_ascii=False)}"
            )
            return None
        return friend.id

    async def receive(self, name: str, hook: HookEvent) -> str:
        """Process a checked event once: `done`, or `duplicate` when its id was seen."""
        async with ledger.processing(provider(name), hook.id, hook.event) as claim:
            if not claim.fresh:
                return "duplicate"
            await self._apply(name, hook)
            detail = json.dumps(
                {"fields": list(hook.fields), "data": hook.data}, ensure_ascii=False, default=str
            )
            await ledger.finish(claim.row, "done", friend_id=hook.friend_id, detail=detail)
        log.info("webhook %s %s (%s) for friend #%s", name, hook.event, hook.id, hook.friend_id)
        return "done"

    async def _apply(self, name: str, hook: HookEvent) -> None:
        """Fields first (a date schedules its reminder), then rules and steps react."""
        for key, value in hook.fields.items():
            await self.crm.fields.set(hook.friend_id, key, value, source=f"webhook:{name}")
        await self.crm.bus.publish(
            InboundReceived(hook.friend_id, source="webhook", hook=name, event=hook.event)
        )


# --- HTTP --------------------------------------------------------------------------------


async def receive_hook(request: web.Request, services: Services) -> web.Response:
    name = request.match_info["source"]
    hooks = services.hooks
    try:
        hooks.source(name)
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise Refused(413, f"body larger than {MAX_BODY_BYTES} bytes")
        try:
            body = await request.read()  # the app's client_max_size bounds a chunked body
        except web.HTTPRequestEntityTooLarge:
            raise Refused(413, f"body larger than {MAX_BODY_BYTES} bytes") from None
        if len(body) > MAX_BODY_BYTES:
            raise Refused(413, f"body larger than {MAX_BODY_BYTES} bytes")
        hooks.verify(name, body, request.headers.get(SIGNATURE_HEADER))
        hook = await hooks.parse(name, body)
    except Refused as exc:
        if exc.status in (401, 503):
            log.warning("webhook %s refused from %s: %s", name, request.remote, exc)
        return web.json_response(exc.body, status=exc.status, dumps=_dumps)
    try:
        status = await hooks.receive(name, hook)
    except Exception:
        log.exception("webhook %s %s failed; the sender should retry", name, hook.id)
        return web.json_response(
            {"error": "processing failed; send the event again to finish it"}, status=500
        )
    return web.json_response({"status": status, "friend_id": hook.friend_id})


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def setup_inbound(app: web.Application) -> None:
    """Add the signed webhook endpoint and (in sandbox mode) its test helper."""
    from bot.appkeys import SERVICES  # bot.appkeys imports the services, which import this

    services = app[SERVICES]

    async def hook(request: web.Request) -> web.Response:
        return await receive_hook(request, services)

    app.router.add_post(HOOK_PATH, hook)
    if services.settings.sandbox:
        from bot.sandbox.payments import setup_hooks_sandbox

        setup_hooks_sandbox(app)
