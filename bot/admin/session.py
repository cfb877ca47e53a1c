"""One admin event being handled: who the admin is, what they may do, and the reply being
put together (sent once, at the end, by reply token while it is fresh)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.admin import audit
from bot.admin.roles import Role, role_of
from bot.db.models import Admin
from bot.scenario.admin import ADMIN_POSTBACK_PREFIX

if TYPE_CHECKING:
    from bot.handlers.context import EventContext
    from bot.scenario import Scenario
    from bot.services import Services

#: Postback data of admin buttons: `adm:<action>:<flow id>:<argument>`.
ADMIN_POSTBACK = ADMIN_POSTBACK_PREFIX
MAX_TEXT = 5000
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20


class UsageError(ValueError):
    """The command was recognised but its arguments were not: say what is expected."""


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def say_item(label: str, text: str | None = None) -> dict[str, Any]:
    """A quick reply that sends a text (a command) when tapped."""
    return {
        "type": "action",
        "action": {"type": "message", "label": _label(label), "text": text or label},
    }


def tap_item(
    label: str, action: str, flow_id: int | str = "", argument: str = ""
) -> dict[str, Any]:
    """A quick reply whose postback only an admin's event can act on."""
    return {
        "type": "action",
        "action": {
            "type": "postback",
            "label": _label(label),
            "data": f"{ADMIN_POSTBACK}{action}:{flow_id}:{argument}",
            "displayText": label,
        },
    }


@dataclass
class AdminSession:
    ctx: EventContext
    admin: Admin
    messages: list[dict[str, Any]] = field(default_factory=list)
    audit_target: str = ""
    """What the command was about, for its audit entry (set by the command)."""
    audit_result: str = audit.OK
    audit_detail: dict[str, Any] | None = None

    @property
    def services(self) -> Services:
        return self.ctx.services

    @property
    def scenario(self) -> Scenario:
        return self.ctx.services.scenario

    @property
    def role(self) -> Role:
        return role_of(self.admin.role)

    @property
    def user_id(self) -> str:
        return self.admin.line_user_id

    @property
    def actor(self) -> str:
        """How the admin appears in tag history and the points ledger."""
        return f"admin:{self.admin.line_user_id}"

    def say(self, text: str, quick: list[dict[str, Any]] | None = None) -> None:
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        message: dict[str, Any] = {"type": "text", "text": text}
        if quick:
            message["quickReply"] = {"items": quick[:MAX_QUICK_REPLIES]}
        self.messages.append(message)

    def add(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    async def audit(
        self,
        command: str,
        *,
        target: str = "",
        result: str = audit.OK,
        detail: dict[str, Any] | str | None = None,
    ) -> None:
        await audit.record(self.admin, command, target=target, result=result, detail=detail)

    async def flush(self) -> None:
        messages, self.messages = self.messages, []
        await self.ctx.answer(messages, source="admin")
