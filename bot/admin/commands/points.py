"""Points from chat: give or take points for one friend, always with a reason."""

from __future__ import annotations

from bot.admin.commands.common import need, one_friend, thousands
from bot.admin.grammar import Parsed
from bot.admin.registry import Command
from bot.admin.roles import Role
from bot.admin.session import AdminSession, UsageError
from bot.admin.targets import short
from bot.crm.points import PointsRefused

USAGE_WHAT = "友だち・ポイント数・理由"


def _amount(text: str) -> int:
    cleaned = text.replace(",", "").removesuffix("pt").removesuffix("ポイント")
    if not cleaned.isdigit() or int(cleaned) <= 0:
        raise UsageError(f"ポイント数は1以上の数字で書いてください(「{text}」)。")
    return int(cleaned)


async def _change(session: AdminSession, parsed: Parsed, adding: bool) -> None:
    need(parsed, 3, USAGE_WHAT)
    amount = _amount(parsed.args[1])
    reason = " ".join(parsed.args[2:])[:200]
    friend = await one_friend(session, parsed, 0, 1)
    if friend is None:
        return
    points = session.services.crm.points
    session.audit_detail = {"amount": amount if adding else -amount, "reason": reason}
    if adding:
        result = await points.add(
            friend.id, amount, reason=reason, source="admin", actor=session.actor
        )
        session.say(
            f"{short(friend)} さんに {thousands(amount)}ポイント付けました(理由: {reason})。"
            f"\n残高: {thousands(result.balance)}ポイント"
        )
        return
    try:
        result = await points.remove(
            friend.id, amount, reason=reason, source="admin", actor=session.actor
        )
    except PointsRefused as exc:
        raise UsageError(str(exc)) from None
    session.say(
        f"{short(friend)} さんから {thousands(amount)}ポイント引きました(理由: {reason})。"
        f"\n残高: {thousands(result.balance)}ポイント"
    )


async def add(session: AdminSession, parsed: Parsed) -> None:
    await _change(session, parsed, adding=True)


async def remove(session: AdminSession, parsed: Parsed) -> None:
    await _change(session, parsed, adding=False)


COMMANDS = (
    Command("points add", ("ポイント追加", "points add", "ポイント付与", "add points"),
            Role.OPERATOR, "ポイント追加 <#ID|名前> <数> <理由>", "友だちにポイントを付ける",
            "ポイント", add),
    Command("points remove", ("ポイント削除", "points remove", "ポイント減算", "remove points"),
            Role.OPERATOR, "ポイント削除 <#ID|名前> <数> <理由>", "友だちのポイントを引く",
            "ポイント", remove),
)  # fmt: skip
