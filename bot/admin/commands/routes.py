"""Inflow routes (流入経路) from chat: make a tracking link with its QR code, see the counts
of every route or of one, delete a route an admin made."""

from __future__ import annotations

import difflib
from typing import Any

from bot.admin.commands.common import confirm_first, need, thousands
from bot.admin.grammar import Parsed
from bot.admin.registry import Command
from bot.admin.roles import Role
from bot.admin.session import AdminSession, UsageError
from bot.db.models import Tag
from bot.integrations.route_catalog import ADMIN, FRIEND_ADD, RouteDef, RouteError
from bot.integrations.route_stats import RouteCounts, route_counts

GROUP = "流入経路"
NAME_WANTED = "経路名"
_TAG_PREFIXES = ("タグ:", "tag:")


def _tag_word(word: str) -> str | None:
    for prefix in _TAG_PREFIXES:
        if word.casefold().startswith(prefix.casefold()):
            return word[len(prefix) :]
    return None


async def _known_tag(name: str) -> None:
    """A route's tag must exist: a typo would silently make a new tag."""
    if not name:
        raise UsageError("タグ名がありません(例: タグ:Instagram流入)。")
    if await Tag.exists(name=name):
        return
    names = [str(n) for n in await Tag.all().values_list("name", flat=True)]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f" もしかして: {'、'.join(close)}" if close else ""
    raise UsageError(f"タグ「{name}」はありません。{hint}\n先に作るには: タグ作成 {name}")


def _target_label(route: RouteDef) -> str:
    return "友だち追加" if route.to_friend_add else route.target


def _rate(counts: RouteCounts) -> str:
    rate = counts.conversion_rate
    return "" if rate is None else f"({rate:.0%})"


def _figures(route: RouteDef, counts: RouteCounts) -> str:
    parts = [
        f"訪問 {thousands(counts.visits)}(本人確認 {thousands(counts.identified)})",
        f"流入 {thousands(counts.arrivals)}人",
        f"うち友だち追加 {thousands(counts.friend_adds)}人",
    ]
    if route.has_actions:
        parts.append(f"アクション {thousands(counts.actions_run)}人")
    if route.conversion_tag is not None:
        parts.append(f"CV {thousands(counts.conversions)}人{_rate(counts)}")
    return "・".join(parts)


def _qr_image(session: AdminSession, name: str) -> dict[str, Any] | None:
    """The QR code as an image message; LINE fetches images only over https, so only with
    an https STEPBOT_PUBLIC_URL (or in the sandbox)."""
    settings = session.services.settings
    url = f"{session.services.routes.url(name)}/qr.png"
    if not (settings.sandbox or url.startswith("https://")):
        return None
    return {"type": "image", "originalContentUrl": url, "previewImageUrl": url}


def _show_link(session: AdminSession, route: RouteDef, header: str) -> None:
    routes = session.services.routes
    url = routes.url(route.name)
    lines = [header, f"URL: {url}", f"行き先: {_target_label(route)}"]
    if route.tag:
        lines.append(f"タグ: {route.tag}")
    lines.append(f"QRコード: {url}/qr.png (印刷用SVG: {url}/qr.svg)")
    image = _qr_image(session, route.name)
    if image is None:
        lines.append(
            "※QRコードの画像をトークで送るには STEPBOT_PUBLIC_URL を https で設定してください。"
        )
    session.say("\n".join(lines))
    if image is not None:
        session.add(image)


async def create(session: AdminSession, parsed: Parsed) -> None:
    need(parsed, 1, NAME_WANTED)
    name, *rest = parsed.args
    session.audit_target = name
    target, tag = FRIEND_ADD, None
    for word in rest:
        tag_name = _tag_word(word)
        if tag_name is not None:
            await _known_tag(tag_name)
            tag = tag_name
        elif word.casefold().startswith(("https://", "http://")):
            target = word
        else:
            raise UsageError(
                f"「{word}」が読み取れません。行き先はURL、タグは タグ:名前 で書きます。"
            )
    try:
        route = await session.services.routes.catalog.create(
            name, target=target, tag=tag, created_by=session.actor
        )
    except RouteError as exc:
        raise UsageError(str(exc)) from None
    session.audit_detail = {"target": target, "tag": tag}
    _show_link(session, route, f"流入経路「{name}」を作りました。")


async def listing(session: AdminSession, parsed: Parsed) -> None:
    routes = await session.services.routes.catalog.all()
    if not routes:
        session.say("流入経路はまだありません。作るには: 経路作成 <名前> [URL] [タグ:タグ名]")
        return
    counts = await route_counts([r.name for r in routes])
    lines = [f"流入経路({len(routes)}件)"]
    for route in routes:
        origin = "管理者作成" if route.origin == ADMIN else "シナリオ"
        title = f" {route.title}" if route.title else ""
        lines.append(f"■{route.name}{title}({origin})")
        lines.append(f"  {_figures(route, counts[route.name])}")
    lines.append("詳しくは「経路 名前」(URLとQRコードも出ます)。")
    session.say("\n".join(lines))


async def _existing(session: AdminSession, name: str) -> RouteDef:
    route = await session.services.routes.find(name)
    if route is None:
        raise UsageError(f"流入経路「{name}」はありません。「経路一覧」で確認できます。")
    return route


async def show(session: AdminSession, parsed: Parsed) -> None:
    need(parsed, 1, NAME_WANTED)
    name = parsed.args[0]
    session.audit_target = name
    route = await _existing(session, name)
    counts = (await route_counts([name]))[name]
    title = f" {route.title}" if route.title else ""
    origin = "管理者作成" if route.origin == ADMIN else "シナリオ"
    lines = [
        f"流入経路「{name}」{title}({origin})",
        f"訪問: {thousands(counts.visits)}(うち本人確認 {thousands(counts.identified)})",
        f"流入した友だち: {thousands(counts.arrivals)}人(うち新しく友だち追加 "
        f"{thousands(counts.friend_adds)}人)",
    ]
    if route.has_actions:
        lines.append(f"アクション実行: {thousands(counts.actions_run)}人")
    if route.conversion_tag is not None:
        lines.append(
            f"コンバージョン(タグ「{route.conversion_tag}」): {thousands(counts.conversions)}人"
            f"{_rate(counts)}"
        )
    _show_link(session, route, "\n".join(lines))


async def delete(session: AdminSession, parsed: Parsed) -> None:
    need(parsed, 1, NAME_WANTED)
    name = parsed.args[0]
    session.audit_target = name
    route = await _existing(session, name)
    if route.origin != ADMIN:
        raise UsageError(
            f"経路「{name}」はシナリオの経路です。シナリオファイルで変更してください。"
        )
    await confirm_first(
        session,
        "route delete",
        {"name": name, "label": name},
        f"流入経路「{name}」を削除します。このURLとQRコードは使えなくなり、集計も消えます。"
        "よろしいですか?",
        yes="削除する",
    )


async def apply_delete(session: AdminSession, data: dict[str, Any]) -> None:
    name = str(data["name"])
    session.audit_target = name
    if await session.services.routes.catalog.delete(name):
        session.say(f"流入経路「{name}」を削除しました。")
    else:
        session.say(f"流入経路「{name}」はすでにありません。")


CONFIRM = {"route delete": apply_delete}

COMMANDS = (
    Command("route create", ("経路作成", "route create", "create route", "new route"), Role.ADMIN,
            "経路作成 <名前> [URL] [タグ:タグ名]",
            "流入経路(計測用リンクとQRコード)を作る。URLなしなら友だち追加へ", GROUP, create),
    Command("routes", ("経路一覧", "routes", "route list"), Role.OPERATOR, "経路一覧",
            "流入経路ごとの訪問・友だち追加・コンバージョン", GROUP, listing),
    Command("route", ("経路", "route"), Role.OPERATOR, "経路 <名前>",
            "ひとつの流入経路の数字・URL・QRコード", GROUP, show),
    Command("route delete", ("経路削除", "route delete", "delete route"), Role.ADMIN,
            "経路削除 <名前>", "管理者が作った流入経路を消す(確認あり)", GROUP, delete),
)  # fmt: skip
