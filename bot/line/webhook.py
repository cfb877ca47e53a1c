"""Parsing a webhook body into events, with errors a sender can act on.

The body is checked the way line-bot-sdk needs it (it is strict: a text message without
`quoteToken` silently becomes an unknown event) and every problem is reported with the event's
index, so a misbehaving stand-in or proxy gets a 400 that says what to fix instead of a 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from linebot.v3.webhooks import Event

MAX_BODY_BYTES = 1024 * 1024


class WebhookBodyError(ValueError):
    """The body cannot be accepted; the message is safe to return to the sender."""


@dataclass(frozen=True)
class ParsedEvent:
    """One event: the raw JSON (what we store) and the SDK object, or None for unknown types."""

    raw: dict[str, Any]
    event: Event | None
    webhook_event_id: str
    event_type: str
    timestamp: int
    is_redelivery: bool
    user_id: str | None
    payload: str  # the event as JSON text: what the inbox stores and the dispatcher queues


_REQUIRED = {"type": str, "webhookEventId": str, "timestamp": int, "mode": str}


def _check_envelope(index: int, raw: Any) -> None:
    if not isinstance(raw, dict):
        raise WebhookBodyError(f"events[{index}] must be an object")
    for key, kind in _REQUIRED.items():
        value = raw.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise WebhookBodyError(
                f"events[{index}].{key} is required and must be a {kind.__name__}"
            )
    context = raw.get("deliveryContext")
    if not isinstance(context, dict) or not isinstance(context.get("isRedelivery"), bool):
        raise WebhookBodyError(f"events[{index}].deliveryContext.isRedelivery is required")


def _user_id(raw: dict[str, Any]) -> str | None:
    source = raw.get("source")
    if isinstance(source, dict) and isinstance(source.get("userId"), str):
        return str(source["userId"])
    return None


def parse_event(index: int, raw: Any) -> ParsedEvent:
    _check_envelope(index, raw)
    try:
        event: Event | None = Event.from_dict(raw)
    except ValueError as exc:
        if "discriminator" not in str(exc):
            first_line = str(exc).splitlines()
            detail = "; ".join(line.strip() for line in first_line[1:3]) or str(exc)
            raise WebhookBodyError(
                f"events[{index}] ({raw['type']}) does not match LINE's schema: {detail}"
            ) from None
        event = None  # a type this SDK does not know: stored, then ignored
    return ParsedEvent(
        raw=raw,
        payload=json.dumps(raw, ensure_ascii=False),
        event=event,
        webhook_event_id=raw["webhookEventId"],
        event_type=raw["type"],
        timestamp=raw["timestamp"],
        is_redelivery=raw["deliveryContext"]["isRedelivery"],
        user_id=_user_id(raw),
    )


def parse_webhook_body(body: bytes) -> tuple[str | None, list[ParsedEvent]]:
    """Return (destination, events) or raise WebhookBodyError with a clear reason."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise WebhookBodyError("body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise WebhookBodyError(
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise WebhookBodyError("body must be a JSON object with an 'events' list")
    events = data.get("events")
    if not isinstance(events, list):
        raise WebhookBodyError("body must have an 'events' list")
    destination = data.get("destination")
    if destination is not None and not isinstance(destination, str):
        raise WebhookBodyError("'destination' must be a string")
    return destination, [parse_event(i, raw) for i, raw in enumerate(events)]
