"""Account statistics for admins (`/統計`): friends, deliveries today, billable messages this
month and the most used tags, counted by the database, and a Flex bubble that shows them
with the tags as a bar chart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from tortoise.functions import Count, Sum
from tortoise.queryset import QuerySet

from bot import clock
from bot.admin.flex import MUTED, WARNING, text, titled_message
from bot.automation.outbox import Status
from bot.db.models import Friend, FriendTag, OutboxMessage

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from bot.services import Services

TOP_TAGS = 5
TAG_NAME_CHARS = 20

_BAR = "#06c755"
_TRACK = "#eeeeee"


@dataclass(frozen=True)
class TagCount:
    name: str
    friends: int


@dataclass
class AccountStats:
    """The account at one moment (counts of friends; messages in the local day and month)."""

    following: int
    """Friends who have not blocked the account."""
    blocked: int
    new_this_week: int
    """Friends added since Monday 00:00 local time."""
    delivered_today: int
    """Messages sent since local midnight, a multicast counting each recipient."""
    failed_today: int
    """Messages LINE refused since local midnight, counted the same way."""
    billable_this_month: int
    """What LINE charges for this local month so far (pushes and multicast recipients)."""
    top_tags: list[TagCount] = field(default_factory=list)
    """The tags most friends hold now, most first (at most TOP_TAGS)."""


def _local_midnight(day: Any, zone: ZoneInfo) -> datetime:
    """Local 00:00 of a day, in UTC: SQLite compares stored times as text, so every bound
    must carry the offset the rows are stored with."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


async def _recipients(query: QuerySet[OutboxMessage]) -> int:
    """SUM(recipient_count) of the outbox rows a query selects (0 for none)."""
    rows = await query.annotate(total=Sum("recipient_count")).values("total")
    return int(rows[0]["total"] or 0) if rows else 0


async def _top_tags(limit: int) -> list[TagCount]:
    rows = (
        await FriendTag.filter(removed_at__isnull=True)
        .annotate(holders=Count("friend_id", distinct=True))
        .group_by("tag__name")
        .order_by("-holders", "tag__name")
        .limit(limit)
        .values("tag__name", "holders")
    )
    return [TagCount(str(row["tag__name"]), int(row["holders"])) for row in rows]


async def account_stats(services: Services) -> AccountStats:
    """Count everything with SQL aggregates: no friend or message is loaded one by one."""
    zone = services.scenario.zone
    today = clock.now().astimezone(zone).date()
    midnight = _local_midnight(today, zone)
    monday = _local_midnight(today - timedelta(days=today.weekday()), zone)
    month_start = _local_midnight(today.replace(day=1), zone)
    next_month = _local_midnight((today.replace(day=28) + timedelta(days=4)).replace(day=1), zone)
    billable = await services.outbox.billable_by_day(month_start, next_month, zone)
    return AccountStats(
        following=await Friend.filter(blocked=False).count(),
        blocked=await Friend.filter(blocked=True).count(),
        new_this_week=await Friend.filter(created_at__gte=monday).count(),
        delivered_today=await _recipients(
            OutboxMessage.filter(status=Status.SENT, sent_at__gte=midnight)
        ),
        # A failed row keeps no time of its own beyond when it was written.
        failed_today=await _recipients(
            OutboxMessage.filter(status=Status.FAILED, created_at__gte=midnight)
        ),
        billable_this_month=sum(billable.values()),
        top_tags=await _top_tags(TOP_TAGS),
    )


def bar_width(count: int, largest: int) -> str:
    """A bar's width as a share of the largest count ("100%" for the largest; a tag anyone
    holds gets at least 1% so it stays visible)."""
    if largest <= 0 or count <= 0:
        return "0%"
    return f"{max(1, round(count * 100 / largest))}%"


def _figure(label: str, value: str, *, color: str | None = None) -> dict[str, Any]:
    value_style: dict[str, Any] = {"size": "sm", "align": "end", "weight": "bold"}
    if color:
        value_style["color"] = color
    return {
        "type": "box",
        "layout": "horizontal",
        "contents": [
            text(label, size="sm", color=MUTED, flex=3),
            text(value, flex=2, **value_style),
        ],
    }


def _tag_name(name: str) -> str:
    return name if len(name) <= TAG_NAME_CHARS else name[: TAG_NAME_CHARS - 1] + "…"


def _tag_bar(tag: TagCount, largest: int) -> dict[str, Any]:
    """The tag's name and count over a track with a bar as wide as its share."""
    return {
        "type": "box",
        "layout": "vertical",
        "spacing": "xs",
        "contents": [
            {
                "type": "box",
                "layout": "horizontal",
                "contents": [
                    text(_tag_name(tag.name), size="sm", flex=4),
                    text(f"{tag.friends:,}人", size="sm", align="end", flex=2),
                ],
            },
            {
                "type": "box",
                "layout": "vertical",
                "height": "8px",
                "backgroundColor": _TRACK,
                "cornerRadius": "4px",
                "contents": [
                    {
                        "type": "box",
                        "layout": "vertical",
                        "width": bar_width(tag.friends, largest),
                        "height": "8px",
                        "backgroundColor": _BAR,
                        "cornerRadius": "4px",
                        "contents": [],
                    }
                ],
            },
        ],
    }


def _chart(tags: list[TagCount]) -> list[dict[str, Any]]:
    title = text("よく使われているタグ", size="xs", color=MUTED, weight="bold", margin="lg")
    if not tags:
        return [title, text("タグの付いた友だちはいません", size="sm", color=MUTED)]
    largest = max(tag.friends for tag in tags)
    return [title, *(_tag_bar(tag, largest) for tag in tags)]


def stats_message(stats: AccountStats, now_local: datetime) -> dict[str, Any]:
    """The figures and the tag chart as a Flex message (altText carries the main figures)."""
    month = f"{now_local.month}月"
    figures = [
        _figure("友だち(有効)", f"{stats.following:,}人"),
        _figure("ブロック", f"{stats.blocked:,}人"),
        _figure("今週の新しい友だち", f"{stats.new_this_week:,}人"),
        _figure("今日の配信", f"{stats.delivered_today:,}通"),
        _figure(
            "今日の配信失敗",
            f"{stats.failed_today:,}通",
            color=WARNING if stats.failed_today else None,
        ),
        _figure(f"{month}の課金対象", f"{stats.billable_this_month:,}通"),
    ]
    alt = (
        f"アカウント統計 {now_local.month}/{now_local.day}: 友だち {stats.following:,}人"
        f"(ブロック {stats.blocked:,}人)、今週 +{stats.new_this_week:,}人、"
        f"今日の配信 {stats.delivered_today:,}通(失敗 {stats.failed_today:,}通)、"
        f"{month}の課金対象 {stats.billable_this_month:,}通"
    )
    body = [*figures, {"type": "separator", "margin": "lg"}, *_chart(stats.top_tags)]
    return titled_message("アカウント統計", f"{now_local:%Y/%m/%d %H:%M} 時点", body, alt)


__all__ = ["AccountStats", "TagCount", "account_stats", "bar_width", "stats_message"]
