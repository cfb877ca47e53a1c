"""1:1 talk (1:1トーク): friends' messages that nothing automatic answered go to the admins
who want them, with a reply button; an admin's reply goes to the friend as the account.
Both directions are kept per friend."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot import clock
from bot.admin.session import tap_item
from bot.db.models import Admin, Friend, TalkMessage

if TYPE_CHECKING:
    from bot.services import Services

PREVIEW_CHARS = 300
_KIND_LABELS = {
    "image": "[画像]",
    "video": "[動画]",
    "audio": "[音声]",
    "file": "[ファイル]",
    "location": "[位置情報]",
    "sticker": "[スタンプ]",
}


def describe(raw_message: dict[str, Any]) -> tuple[str, str]:
    """(kind, text) of a message event's message, as kept and shown to admins."""
    kind = str(raw_message.get("type", "text"))
    if kind == "text":
        return kind, str(raw_message.get("text", ""))
    if kind == "location":
        place = raw_message.get("title") or raw_message.get("address") or ""
        return kind, f"{_KIND_LABELS[kind]} {place}".strip()
    return kind, _KIND_LABELS.get(kind, f"[{kind}]")


async def record(
    friend_id: int, direction: str, kind: str, text: str, admin_user_id: str | None = None
) -> TalkMessage:
    return await TalkMessage.create(
        friend_id=friend_id,
        direction=direction,
        admin_user_id=admin_user_id,
        kind=kind,
        text=text,
        at=clock.now(),
    )


async def forward(services: Services, friend: Friend, kind: str, text: str, event_id: str) -> int:
    """Record the friend's message and pass it to every admin with notifications on (not to
    the friend themselves). Returns how many admins were told."""
    await record(friend.id, "in", kind, text)
    admins = await Admin.filter(talk_notifications=True).exclude(line_user_id=friend.line_user_id)
    preview = text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
    name = friend.display_name or "(名前なし)"
    message = {
        "type": "text",
        "text": f"💬 #{friend.id} {name} さんから\n{preview}",
        "quickReply": {
            "items": [
                tap_item("返信する", "reply", "", str(friend.id)),
                {
                    "type": "action",
                    "action": {
                        "type": "message",
                        "label": "トーク履歴",
                        "text": f"/トーク #{friend.id}",
                    },
                },
                {
                    "type": "action",
                    "action": {
                        "type": "message",
                        "label": "友だち情報",
                        "text": f"/友だち #{friend.id}",
                    },
                },
            ]
        },
    }
    for admin in admins:
        await services.outbox.send(
            admin.line_user_id,
            [message],
            source="talk:forward",
            dedupe_key=f"talk:{event_id}:{admin.id}",
        )
    return len(admins)


async def reply(
    services: Services, admin_user_id: str, friend: Friend, text: str, event_id: str
) -> None:
    """Send the admin's words to the friend by push, as the account, and keep them."""
    await services.outbox.send(
        friend.line_user_id,
        [{"type": "text", "text": text}],
        source="talk:reply",
        dedupe_key=f"talk-reply:{event_id}",
    )
    await record(friend.id, "out", "text", text, admin_user_id)


async def history(friend_id: int, limit: int = 20) -> list[TalkMessage]:
    """The last messages, oldest first."""
    rows = await TalkMessage.filter(friend_id=friend_id).order_by("-at", "-id").limit(limit)
    return list(reversed(rows))
