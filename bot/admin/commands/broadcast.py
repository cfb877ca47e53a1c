"""Broadcasts from chat: choose the audience, send the messages to the bot, see a preview
and the recipient count, confirm (now or at a time), then progress and a final report
(sent by `bot/admin/broadcasts.py` from the scheduler's ticks)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from bot import clock
from bot.admin import audit, flows
from bot.admin.commands.common import target_of, thousands
from bot.admin.grammar import Parsed, normalize
from bot.admin.registry import Command
from bot.admin.roles import Role
from bot.admin.session import AdminSession, UsageError, say_item, tap_item
from bot.db.models import AdminFlow

FLOW = "broadcast"
MAX_MESSAGES = 5
DONE_WORDS = {"完了", "done", "おわり", "終わり", "以上"}
CANCEL_WORDS = {"キャンセル", "cancel", "やめる", "中止"}
WEEKDAYS = "月火水木金土日"
_WHEN = re.compile(
    r"^(?:(?P<day>今日|きょう|明日|あした|today|tomorrow)|"
    r"(?:(?P<y>\d{4})[-/年])?(?P<m>\d{1,2})[-/月](?P<d>\d{1,2})日?)?\s*"
    r"(?P<h>\d{1,2})[:時](?P<min>\d{2})?分?$"
)


def parse_when(text: str, now: datetime) -> datetime | None:
    """A local time typed by an admin: "12/1 10:00", "2026-12-01 10:00", "明日 9:00",
    "15:30" (today, or tomorrow once past). None if it cannot be read."""
    match = _WHEN.match(normalize(text))
    if match is None:
        return None
    hour, minute = int(match["h"]), int(match["min"] or 0)
    if hour > 23 or minute > 59:
        return None
    day = now.date()
    if match["day"] in ("明日", "あした", "tomorrow"):
        day += timedelta(days=1)
    elif match["m"]:
        year = int(match["y"]) if match["y"] else now.year
        try:
            day = day.replace(year=year, month=int(match["m"]), day=int(match["d"]))
        except ValueError:
            return None
        if not match["y"] and day < now.date():
            day = day.replace(year=year + 1)
    when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=now.tzinfo)
    if match["day"] is None and not match["m"] and when <= now:
        when += timedelta(days=1)
    return when


def _local_text(when: datetime) -> str:
    return f"{when:%Y年%m月%d日}({WEEKDAYS[when.weekday()]}) {when:%H:%M}"


def _draft_quick(flow_id: int) -> list[dict[str, Any]]:
    return [say_item("完了"), tap_item("キャンセル", "cancel", flow_id)]


async def start(session: AdminSession, parsed: Parsed) -> None:
    if not parsed.args:
        segments = list(session.scenario.segments)[:11]
        session.say(
            "誰に送りますか?「配信 全員」「配信 タグ:VIP」「配信 セグメント:名前」のように"
            "送ってください(条件は組み合わせられます。例: 配信 タグ:会員 -タグ:退会者)。",
            [say_item("全員", "配信 全員")]
            + [say_item(name, f"配信 セグメント:{name}") for name in segments],
        )
        return
    target = target_of(session, parsed.args)
    if target.name is not None:
        raise UsageError("配信先は全員か条件で指定します。例: 配信 タグ:VIP")
    if target.friend_ids:
        ids = ",".join(f"#{i}" for i in target.friend_ids)
        raise UsageError(
            f"特定の友だち({ids})には「返信」で送ってください。配信は条件で指定します。"
        )
    audience = target.audience()
    count = await session.services.chat_broadcasts.count(audience)
    session.audit_target = target.label
    if count == 0:
        session.say(f"「{target.label}」に当てはまる友だちがいません。条件を見直してください。")
        return
    flow = await flows.begin(
        session.user_id,
        FLOW,
        {"audience": audience, "label": target.label, "count": count, "messages": [],
         "stage": "collect"},
    )  # fmt: skip
    session.say(
        f"配信先: {target.label}({thousands(count)}人)\n"
        f"送りたいメッセージをこのトークに送ってください(テキストかスタンプ、{MAX_MESSAGES}件まで)。"
        "送り終えたら「完了」、やめるときは「キャンセル」。",
        _draft_quick(flow.id),
    )


def _as_broadcast_message(raw: dict[str, Any]) -> dict[str, Any] | None:
    kind = raw.get("type")
    if kind == "text":
        return {"type": "text", "text": str(raw.get("text", ""))}
    if kind == "sticker":
        return {
            "type": "sticker",
            "packageId": str(raw.get("packageId")),
            "stickerId": str(raw.get("stickerId")),
        }
    return None


async def on_message(session: AdminSession, flow: AdminFlow, raw: dict[str, Any]) -> None:
    """A message while a broadcast is being written: a part of it, or a word that moves on."""
    data = dict(flow.data)
    text = normalize(str(raw.get("text", ""))) if raw.get("type") == "text" else None
    if text is not None and text.lstrip("/").casefold() in CANCEL_WORDS:
        await flows.finish(flow)
        await session.audit("broadcast", target=data["label"], result=audit.CANCELLED)
        session.say("配信をキャンセルしました。何も送っていません。")
        return
    stage = data["stage"]
    if stage == "when":
        await _on_when(session, flow, data, text)
        return
    if stage != "collect":
        session.say("上のボタンで「今すぐ送信」「日時を指定」「キャンセル」を選んでください。",
                    _confirm_quick(flow.id))  # fmt: skip
        return
    if text is not None and text.lstrip("/").casefold() in DONE_WORDS:
        if not data["messages"]:
            session.say("まだメッセージがありません。送りたいメッセージを送ってください。",
                        _draft_quick(flow.id))  # fmt: skip
            return
        await _preview(session, flow, data)
        return
    message = _as_broadcast_message(raw)
    if message is None:
        session.say("配信に使えるのはテキストとスタンプです。画像や動画はシナリオの配信で送ってください。",
                    _draft_quick(flow.id))  # fmt: skip
        return
    data["messages"] = [*data["messages"], message]
    await flows.update(flow, data)
    if len(data["messages"]) >= MAX_MESSAGES:
        await _preview(session, flow, data)
        return
    left = MAX_MESSAGES - len(data["messages"])
    session.say(f"{len(data['messages'])}件目を受け取りました(あと{left}件まで)。"
                "続けて送るか、「完了」で確認に進みます。", _draft_quick(flow.id))  # fmt: skip


def _confirm_quick(flow_id: int) -> list[dict[str, Any]]:
    return [
        tap_item("今すぐ送信", "bc_send", flow_id),
        tap_item("日時を指定", "bc_when", flow_id),
        tap_item("キャンセル", "cancel", flow_id),
    ]


async def _preview(session: AdminSession, flow: AdminFlow, data: dict[str, Any]) -> None:
    count = await session.services.chat_broadcasts.count(data["audience"])
    data = {**data, "stage": "confirm", "count": count}
    await flows.update(flow, data)
    session.say(f"プレビュー: 次の{len(data['messages'])}件を送ります。")
    for message in data["messages"][: MAX_MESSAGES - 2]:
        session.add(dict(message))
    rest = len(data["messages"]) - (MAX_MESSAGES - 2)
    more = f"(ほか{rest}件)\n" if rest > 0 else ""
    session.say(
        f"{more}配信先: {data['label']}  {thousands(count)}人(ブロック中を除く)\n送信しますか?",
        _confirm_quick(flow.id),
    )


async def _on_when(
    session: AdminSession, flow: AdminFlow, data: dict[str, Any], text: str | None
) -> None:
    now = clock.now().astimezone(session.scenario.zone)
    when = parse_when(text or "", now)
    if when is None or when <= now:
        session.say("日時が読めないか、過ぎています。例: 12/1 10:00、明日 9:00、2026-12-01 10:00",
                    [tap_item("キャンセル", "cancel", flow.id)])  # fmt: skip
        return
    data = {**data, "stage": "scheduled", "send_at": when.isoformat()}
    await flows.update(flow, data)
    session.say(
        f"{_local_text(when)} に「{data['label']}」({thousands(data['count'])}人)へ"
        "送ります。予約しますか?",
        [tap_item("予約する", "bc_send", flow.id), tap_item("キャンセル", "cancel", flow.id)],
    )


async def on_tap(session: AdminSession, flow: AdminFlow, action: str) -> None:
    """The buttons of the confirmation: send now / at the chosen time, or choose a time."""
    data = dict(flow.data)
    if action == "bc_when":
        if data["stage"] not in ("confirm", "scheduled"):
            return
        await flows.update(flow, {**data, "stage": "when"})
        session.say("送信日時を送ってください(例: 12/1 10:00、明日 9:00)。",
                    [tap_item("キャンセル", "cancel", flow.id)])  # fmt: skip
        return
    if data["stage"] not in ("confirm", "scheduled") or not await flows.finish(flow):
        return  # a double tap, or a stale button
    send_at = datetime.fromisoformat(data["send_at"]) if data.get("send_at") else None
    row = await session.services.chat_broadcasts.create(
        session.user_id, data["audience"], data["label"], data["messages"], send_at
    )
    session.audit_target = data["label"]
    session.audit_detail = {"broadcast": row.id, "recipients": data["count"],
                            "send_at": data.get("send_at")}  # fmt: skip
    if send_at is None:
        session.say(f"配信 #{row.id} を開始しました。進み具合と結果をお知らせします。")
    else:
        session.say(
            f"配信 #{row.id} を {_local_text(send_at.astimezone(session.scenario.zone))} "
            f"に予約しました。取り消すには「予約取消 {row.id}」。"
        )


async def scheduled(session: AdminSession, parsed: Parsed) -> None:
    rows = await session.services.chat_broadcasts.scheduled()
    if not rows:
        session.say("予約中の配信はありません。")
        return
    zone = session.scenario.zone
    lines = ["予約中の配信"]
    for row in rows:
        first = row.messages[0] if row.messages else {}
        preview = str(first.get("text", "[スタンプ]"))[:30]
        lines.append(
            f"#{row.id} {_local_text(row.send_at.astimezone(zone))} "
            f"{row.audience_label}「{preview}」"
        )
    session.say("\n".join(lines), [say_item(f"予約取消 {r.id}") for r in rows[:10]])


async def unschedule(session: AdminSession, parsed: Parsed) -> None:
    if not parsed.args or not parsed.args[0].lstrip("#").isdigit():
        raise UsageError("取り消す配信の番号がありません(「予約一覧」で確認できます)。")
    number = int(parsed.args[0].lstrip("#"))
    session.audit_target = f"#{number}"
    if await session.services.chat_broadcasts.cancel(number):
        session.say(f"配信 #{number} の予約を取り消しました。")
    else:
        session.say(f"配信 #{number} は予約中ではありません(送信済みか、ありません)。")


COMMANDS = (
    Command("broadcast", ("配信", "broadcast", "一斉配信"), Role.ADMIN, "配信 [対象]",
            "一斉配信を作る: 対象→メッセージ→プレビュー→送信(今すぐ/予約)", "一斉配信", start),
    Command("scheduled", ("予約一覧", "scheduled", "予約配信"), Role.ADMIN, "予約一覧",
            "予約中の配信", "一斉配信", scheduled),
    Command("unschedule", ("予約取消", "unschedule", "予約キャンセル"), Role.ADMIN,
            "予約取消 <番号>", "予約した配信を取り消す", "一斉配信", unschedule),
)  # fmt: skip
