"""Looking friends up, their tag history, and the 1:1 talk."""

from __future__ import annotations

from bot.admin import flows, talk
from bot.admin.commands.common import FRIEND_WANTED, about_a_friend, need, one_friend
from bot.admin.grammar import Parsed
from bot.admin.registry import Command
from bot.admin.roles import Role
from bot.admin.session import AdminSession, UsageError, say_item, tap_item
from bot.admin.targets import short
from bot.crm.tags import history
from bot.db.models import Friend

REPLY = "reply"
HISTORY_LINES = 20


async def lookup(session: AdminSession, friend: Friend) -> None:
    from bot.admin.cards import friend_card

    session.add(await friend_card(session.services, friend))


async def tag_history(session: AdminSession, friend: Friend) -> None:
    periods = await history(friend_id=friend.id, limit=HISTORY_LINES)
    if not periods:
        session.say(f"{short(friend)} さんのタグ履歴はありません。")
        return
    zone = session.scenario.zone
    lines = [f"{short(friend)} さんのタグ履歴(新しい順)"]
    for period in periods:
        added = period.added_at.astimezone(zone).strftime("%Y/%m/%d %H:%M")
        line = f"・{period.tag}  {added} 追加({period.source})"
        if period.removed_at is not None:
            line += f" → {period.removed_at.astimezone(zone):%Y/%m/%d %H:%M} 解除"
        lines.append(line)
    session.say("\n".join(lines))


async def talk_history(session: AdminSession, friend: Friend) -> None:
    messages = await talk.history(friend.id, HISTORY_LINES)
    quick = [tap_item("返信する", REPLY, "", str(friend.id))]
    if not messages:
        session.say(f"{short(friend)} さんとのトークはまだありません。", quick)
        return
    zone = session.scenario.zone
    lines = [f"{short(friend)} さんとの1:1トーク"]
    for message in messages:
        who = "友だち" if message.direction == "in" else "管理者"
        lines.append(f"[{message.at.astimezone(zone):%m/%d %H:%M}] {who}: {message.text}")
    session.say("\n".join(lines), quick)


async def ask_reply(session: AdminSession, friend: Friend) -> None:
    """Wait for the admin's next message and send it to the friend."""
    await flows.begin(session.user_id, REPLY, {"friend_id": friend.id})
    session.say(
        f"{short(friend)} さんへの返信を送ってください(アカウントとして届きます)。",
        [say_item("キャンセル")],
    )


async def send_reply(session: AdminSession, friend: Friend, text: str) -> None:
    await talk.reply(session.services, session.user_id, friend, text, session.ctx.webhook_event_id)
    session.audit_target = short(friend)
    session.audit_detail = {"text": text[:200]}
    session.say(
        f"{short(friend)} さんに送信しました。",
        [
            tap_item("もう一度返信", REPLY, "", str(friend.id)),
            say_item("トーク履歴", f"トーク #{friend.id}"),
        ],
    )


async def reply_command(session: AdminSession, parsed: Parsed) -> None:
    need(parsed, 1, FRIEND_WANTED)
    friend = await one_friend(session, parsed, 0, 1)
    if friend is None:
        return
    text = " ".join(parsed.args[1:]).strip()
    if not text:
        await ask_reply(session, friend)
        return
    await send_reply(session, friend, text)


async def notifications(session: AdminSession, parsed: Parsed) -> None:
    want = parsed.args[0].casefold() if parsed.args else ""
    if want in ("オン", "on", "入", "はい"):
        value = True
    elif want in ("オフ", "off", "切", "いいえ"):
        value = False
    else:
        state = "オン" if session.admin.talk_notifications else "オフ"
        raise UsageError(f"オン か オフ を指定してください(いまは{state})。")
    session.admin.talk_notifications = value
    await session.admin.save(update_fields=["talk_notifications"])
    session.audit_target = "on" if value else "off"
    if value:
        session.say("1:1トークの通知をオンにしました。友だちからのメッセージが届きます。")
    else:
        session.say("1:1トークの通知をオフにしました。")


COMMANDS = (
    Command("find", ("友だち", "find", "lookup", "検索", "友達"), Role.OPERATOR,
            "友だち <#ID|名前>",
            "友だちの情報(タグ・項目・ポイント・配信中のシナリオ・最近のメッセージ)",
            "友だち", about_a_friend(lookup)),
    Command("history", ("タグ履歴", "history", "tag history"), Role.OPERATOR,
            "タグ履歴 <#ID|名前>", "友だちのタグの付け外しの記録", "友だち",
            about_a_friend(tag_history)),
    Command("talk", ("トーク", "talk", "トーク履歴"), Role.OPERATOR, "トーク <#ID|名前>",
            "友だちとの1:1トークの履歴", "友だち", about_a_friend(talk_history)),
    Command("reply", ("返信", "reply"), Role.OPERATOR, "返信 <#ID|名前> [本文]",
            "友だちにアカウントとして返信する(本文なしなら次のメッセージを送る)", "友だち",
            reply_command),
    Command("notify", ("通知", "notify", "notifications"), Role.OPERATOR, "通知 <オン|オフ>",
            "友だちからの1:1トークを自分に転送するか", "友だち", notifications),
)  # fmt: skip
