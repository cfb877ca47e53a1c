"""Counting a segment, the account's figures, and CSV export by download link."""

from __future__ import annotations

from bot import clock
from bot.admin.commands.common import need, target_of, thousands
from bot.admin.grammar import Parsed
from bot.admin.registry import Command
from bot.admin.roles import Role
from bot.admin.session import AdminSession, UsageError
from bot.admin.targets import TARGET_HELP, Target


async def count(session: AdminSession, parsed: Parsed) -> None:
    need(parsed, 1, f"数える条件({TARGET_HELP})")
    target = target_of(session, parsed.args)
    session.audit_target = target.label
    if not target.is_group:
        raise UsageError("人数は条件で数えます。例: 人数 タグ:VIP、人数 ポイント>=1000、人数 全員")
    number = await session.services.crm.segments.count(target.compiled())
    session.say(f"「{target.label}」に当てはまる友だち(ブロック中を除く): {thousands(number)}人")


async def stats(session: AdminSession, parsed: Parsed) -> None:
    from bot.admin.stats import account_stats, stats_message

    figures = await account_stats(session.services)
    session.add(stats_message(figures, clock.now().astimezone(session.scenario.zone)))


async def export(session: AdminSession, parsed: Parsed) -> None:
    from bot.admin.export import create_export_link

    target = target_of(session, parsed.args) if parsed.args else Target(everyone=True)
    if not target.is_group:
        raise UsageError("エクスポートは全員か条件で指定します。例: エクスポート タグ:VIP")
    audience = target.audience()
    label = target.label or "全員"
    session.audit_target = label
    url = await create_export_link(session.services, session.user_id, audience, label)
    expires = session.scenario.admin.export_expires
    session.say(
        f"「{label}」の友だちのCSVをダウンロードできます({expires}有効、このリンクを知っている人は"
        f"誰でも開けるので共有しないでください):\n{url}"
    )


COMMANDS = (
    Command("count", ("人数", "count", "数える"), Role.OPERATOR, "人数 <条件>",
            "条件に当てはまる友だちを数える(例: 人数 タグ:VIP ポイント>=1000)",
            "セグメント・集計", count),
    Command("stats", ("統計", "stats", "集計"), Role.OPERATOR, "統計",
            "友だち数・ブロック・今週の新規・今日の配信・今月の通数・多いタグ",
            "セグメント・集計", stats),
    Command("export", ("エクスポート", "export", "CSV"), Role.ADMIN, "エクスポート [条件]",
            "友だち(全員か条件)をCSVでダウンロードするリンクを作る", "セグメント・集計", export),
)  # fmt: skip
