"""Help, leaving admin mode, cancelling, reloading the scenario, the audit log."""

from __future__ import annotations

from bot import clock
from bot.admin import audit, flows
from bot.admin.grammar import Parsed
from bot.admin.registry import Command
from bot.admin.roles import Role
from bot.admin.session import AdminSession, UsageError, say_item

COMMON_QUICK = ("友だち", "タグ一覧", "統計", "配信", "ヘルプ", "終了")


def quick_commands() -> list[dict[str, str | dict[str, str]]]:
    return [say_item(word, word) for word in COMMON_QUICK]


async def show_help(session: AdminSession, parsed: Parsed) -> None:
    from bot.admin.commands import BY_KEY, COMMANDS, GROUPS, PHRASES
    from bot.admin.grammar import parse

    if parsed.args:
        found = parse(parsed.rest, PHRASES)
        if found is None:
            raise UsageError(f"「{parsed.rest}」というコマンドはありません。")
        command = BY_KEY[found.key]
        session.say(
            f"{command.name}: {command.summary}\n使い方: {command.usage}\n"
            f"別の書き方: {'、'.join(command.phrases[1:])}\n"
            f"必要な権限: {command.role.label}以上"
        )
        return
    lines = [f"管理者モードのコマンド({session.role.label}が使えるもの)"]
    for group in GROUPS:
        usable = [c for c in COMMANDS if c.group == group and session.role >= c.role]
        if usable:
            lines.append(f"\n■{group}")
            lines += [f"・{c.usage}\n  {c.summary}" for c in usable]
    lines.append(
        "\n英語でも書けます(例: tag add VIP #12)。詳しくは「ヘルプ タグ追加」。"
        "友だちは #ID(例: #12)か名前で指定します。"
    )
    session.say("\n".join(lines), quick_commands())


async def leave(session: AdminSession, parsed: Parsed) -> None:
    session.admin.in_admin_mode = False
    await session.admin.save(update_fields=["in_admin_mode"])
    await flows.clear(session.user_id)
    session.say("管理者モードを終了しました。ふだんの友だちとしての表示に戻ります。")


async def enter(session: AdminSession, parsed: Parsed) -> None:
    session.say("すでに管理者モードです。/help でコマンド一覧、/exit で終了します。")


async def cancel(session: AdminSession, parsed: Parsed) -> None:
    if await flows.clear(session.user_id):
        session.say("キャンセルしました。")
    else:
        session.say("取り消すものはありません。")


async def reload(session: AdminSession, parsed: Parsed) -> None:
    from bot.admin.reload import reload_scenario

    result = await reload_scenario(session.services, session.user_id)
    if result.ok:
        session.say(f"シナリオを読み込み直しました。\n{result.summary}")
    else:
        session.say(
            "シナリオにエラーがあるため読み込みませんでした(これまでのシナリオのまま動いています)。\n"
            f"{result.errors}"
        )
        session.audit_result = audit.FAILED


async def show_audit(session: AdminSession, parsed: Parsed) -> None:
    count = 10
    if parsed.args:
        if not parsed.args[0].isdigit():
            raise UsageError("件数は数字で書いてください。")
        count = max(1, min(50, int(parsed.args[0])))
    entries = await audit.recent(count)
    if not entries:
        session.say("監査ログはまだありません。")
        return
    zone = session.scenario.zone
    lines = [f"監査ログ(新しい順に{len(entries)}件)"]
    for entry in entries:
        when = entry.at.astimezone(zone).strftime("%m/%d %H:%M")
        who = entry.admin_user_id[-6:]
        lines.append(f"{when} …{who} {entry.command} {entry.target} → {entry.result}")
    session.say("\n".join(lines))


async def now_command(session: AdminSession, parsed: Parsed) -> None:
    local = clock.now().astimezone(session.scenario.zone)
    session.say(f"現在のbotの時刻: {local:%Y-%m-%d %H:%M} ({session.scenario.timezone})")


COMMANDS = (
    Command("help", ("ヘルプ", "help", "使い方", "?"), Role.OPERATOR, "ヘルプ [コマンド]",
            "コマンドの一覧、またはひとつのコマンドの使い方", "基本", show_help),
    Command("exit", ("終了", "exit", "quit"), Role.OPERATOR, "終了",
            "管理者モードを終わる(/exit)", "基本", leave),
    Command("admin", ("管理者モード", "admin", "管理"), Role.OPERATOR, "管理者モード",
            "管理者モードに入る(/admin)", "基本", enter),
    Command("cancel", ("キャンセル", "cancel", "やめる"), Role.OPERATOR, "キャンセル",
            "配信の作成や確認待ちをやめる", "基本", cancel),
    Command("time", ("時刻", "time"), Role.OPERATOR, "時刻",
            "botの現在時刻(予約配信の基準)", "基本", now_command),
    Command("reload", ("再読込", "reload", "シナリオ再読込"), Role.ADMIN, "再読込",
            "シナリオファイルを読み込み直す(エラーなら今のまま)", "基本", reload),
    Command("audit", ("監査ログ", "audit"), Role.ADMIN, "監査ログ [件数]",
            "管理者の操作の記録を新しい順に見る", "基本", show_audit),
)  # fmt: skip
