"""Tags from chat: give or take one for a friend or a whole segment, create, list."""

from __future__ import annotations

import difflib
from typing import Any

from tortoise.connection import connections

from bot.admin.commands.common import confirm_first, need, one_friend, target_of, thousands
from bot.admin.grammar import Parsed
from bot.admin.registry import Command
from bot.admin.roles import Role
from bot.admin.session import AdminSession, UsageError
from bot.admin.targets import short
from bot.crm.tags import get_or_create_tag
from bot.db.models import Friend, Tag

SOURCE = "admin"
TAG_USAGE = "タグ名と対象"


async def _known_tag(name: str) -> None:
    """Adding a tag that does not exist is refused (a typo would make a new tag)."""
    if await Tag.exists(name=name):
        return
    names = [str(n) for n in await Tag.all().values_list("name", flat=True)]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f" もしかして: {'、'.join(close)}" if close else ""
    raise UsageError(f"タグ「{name}」はありません。{hint}\n新しく作るには: タグ作成 {name}")


async def _change(session: AdminSession, parsed: Parsed, adding: bool) -> None:
    need(parsed, 2, TAG_USAGE)
    name = parsed.args[0]
    await _known_tag(name)
    target = target_of(session, parsed.args[1:])
    verb = "付け" if adding else "外し"
    session.audit_target = f"{name} → {target.label}"
    if target.is_group:
        count = await session.services.crm.segments.count(target.compiled())
        data = {"tag": name, "audience": target.audience(), "label": target.label, "adding": adding}
        if count > session.scenario.admin.confirm_above:
            await confirm_first(
                session,
                "tag bulk",
                data,
                f"「{target.label}」の {thousands(count)}人にタグ「{name}」を{verb}ます。"
                "よろしいですか?",
            )
            return
        await apply_bulk(session, data)
        return
    if target.friend_ids:
        friends = await Friend.filter(id__in=target.friend_ids).order_by("id")
        missing = sorted(set(target.friend_ids) - {f.id for f in friends})
        if missing:
            raise UsageError(f"次のIDの友だちはいません: {', '.join(f'#{i}' for i in missing)}")
    else:
        friend = await one_friend(session, parsed, 1)
        if friend is None:
            return
        friends = [friend]
        session.audit_target = f"{name} → {short(friend)}"
    tags = session.services.crm.tags
    changed = []
    for friend in friends:
        done = (
            await tags.add(friend.id, name, source=SOURCE, actor=session.actor)
            if adding
            else await tags.remove(friend.id, name, source=SOURCE, actor=session.actor)
        )
        if done:
            changed.append(friend)
    unchanged = [f for f in friends if f not in changed]
    lines = []
    if changed:
        lines.append(f"タグ「{name}」を{verb}ました: " + "、".join(short(f) for f in changed))
    if unchanged:
        state = "すでに付いています" if adding else "付いていません"
        lines.append(f"{state}: " + "、".join(short(f) for f in unchanged))
    session.audit_detail = {"changed": [f.id for f in changed]}
    session.say("\n".join(lines))


async def apply_bulk(session: AdminSession, data: dict[str, Any]) -> None:
    """Give or take a tag for a segment (run at once, or after the admin confirmed)."""
    from bot.admin.targets import Target

    target = Target(condition=data["audience"], everyone=data["audience"] is None)
    crm = session.services.crm
    name = str(data["tag"])
    if data["adding"]:
        ids = await crm.tags.bulk_add(
            crm.segments, target.compiled(), name, source=SOURCE, actor=session.actor
        )
        text = f"「{data['label']}」の {thousands(len(ids))}人にタグ「{name}」を付けました。"
    else:
        ids = await crm.tags.bulk_remove(
            crm.segments, target.compiled(), name, source=SOURCE, actor=session.actor
        )
        text = f"「{data['label']}」の {thousands(len(ids))}人からタグ「{name}」を外しました。"
    session.audit_target = f"{name} → {data['label']}"
    session.audit_detail = {"friends": len(ids)}
    session.say(text)


async def add(session: AdminSession, parsed: Parsed) -> None:
    await _change(session, parsed, adding=True)


async def remove(session: AdminSession, parsed: Parsed) -> None:
    await _change(session, parsed, adding=False)


async def create(session: AdminSession, parsed: Parsed) -> None:
    need(parsed, 1, "タグ名")
    name = parsed.args[0]
    if len(name) > 100:
        raise UsageError("タグ名は100文字までです。")
    folder = parsed.args[1] if len(parsed.args) > 1 else None
    session.audit_target = name
    if await Tag.exists(name=name):
        session.say(f"タグ「{name}」はすでにあります。")
        return
    await get_or_create_tag(name, folder)
    where = f"(フォルダ: {folder})" if folder else ""
    session.say(f"タグ「{name}」を作成しました{where}。")


async def listing(session: AdminSession, parsed: Parsed) -> None:
    rows = await connections.get("default").execute_query_dict(
        "SELECT t.name AS name, t.folder AS folder, COUNT(ft.id) AS holders FROM tags t "
        "LEFT JOIN friend_tags ft ON ft.tag_id = t.id AND ft.removed_at IS NULL "
        "GROUP BY t.id, t.name, t.folder ORDER BY t.folder, t.name"
    )
    if not rows:
        session.say("タグはまだありません。")
        return
    lines = [f"タグ一覧({len(rows)}個、人数は今付いている友だち)"]
    folder: object = object()
    for row in rows:
        if row["folder"] != folder:
            folder = row["folder"]
            lines.append(f"■{folder or 'フォルダなし'}")
        lines.append(f"・{row['name']}  {thousands(int(row['holders']))}人")
    session.say("\n".join(lines))


CONFIRM = {"tag bulk": apply_bulk}

COMMANDS = (
    Command("tag add", ("タグ追加", "tag add", "タグ付け", "add tag"), Role.OPERATOR,
            "タグ追加 <タグ名> <対象>",
            "友だち・セグメントにタグを付ける(例: タグ追加 VIP ポイント>=1000)",
            "タグ", add),
    Command("tag remove", ("タグ削除", "tag remove", "タグ外し", "remove tag"), Role.OPERATOR,
            "タグ削除 <タグ名> <対象>", "友だち・セグメントからタグを外す", "タグ", remove),
    Command("tag create", ("タグ作成", "tag create", "create tag", "new tag"), Role.OPERATOR,
            "タグ作成 <タグ名> [フォルダ]", "新しいタグを作る", "タグ", create),
    Command("tags", ("タグ一覧", "tags", "tag list"), Role.OPERATOR, "タグ一覧",
            "すべてのタグと付いている人数", "タグ", listing),
)  # fmt: skip
