"""Flex pieces the admin's cards share: text, a titled bubble, LINE's limits and colours."""

from __future__ import annotations

from typing import Any

MUTED = "#888888"
ACCENT = "#06c755"
WARNING = "#e5533d"
ALT_TEXT_CHARS = 400  # LINE's limit


def clip(text: str, limit: int) -> str:
    """The text on one Flex line budget: cut with … when longer than `limit` characters."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text(value: str, **style: Any) -> dict[str, Any]:
    # LINE refuses an empty text component; callers pass something to show.
    return {"type": "text", "text": value or "-", "wrap": True, **style}


def titled_message(
    title: str,
    subtitle: str,
    body: list[dict[str, Any]],
    alt_text: str,
    footer: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Flex message: a bubble with a bold title and a muted line under it."""
    bubble: dict[str, Any] = {
        "type": "bubble",
        "size": "mega",
        "header": {
            "type": "box",
            "layout": "vertical",
            "contents": [
                text(title, weight="bold", size="lg"),
                text(subtitle, size="sm", color=MUTED),
            ],
        },
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": body},
    }
    if footer:
        bubble["footer"] = {
            "type": "box",
            "layout": "horizontal",
            "spacing": "sm",
            "contents": footer,
        }
    return {"type": "flex", "altText": clip(alt_text, ALT_TEXT_CHARS), "contents": bubble}
