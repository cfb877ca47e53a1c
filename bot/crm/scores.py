"""Scores (スコアリング): named counters moved by activity and lowered by inactivity."""

from __future__ import annotations

from bot import clock
from bot.clock import parse_duration
from bot.crm.events import EventBus, ScoreChanged
from bot.db.models import Friend, FriendScore
from bot.scenario.crm import ScoreDeclaration


class ScoreService:
    def __init__(self, bus: EventBus, declarations: dict[str, ScoreDeclaration]) -> None:
        self.bus = bus
        self.declarations = declarations

    async def get(self, friend_id: int, name: str) -> int:
        row = await FriendScore.get_or_none(friend_id=friend_id, name=name)
        return row.value if row else 0

    async def add(self, friend_id: int, name: str, delta: int, *, source: str) -> int:
        if delta == 0:
            return await self.get(friend_id, name)
        now = clock.now()
        row = await FriendScore.get_or_none(friend_id=friend_id, name=name)
        before = row.value if row else 0
        after = before + delta
        if row is None:
            await FriendScore.create(friend_id=friend_id, name=name, value=after, updated_at=now)
        else:
            await FriendScore.filter(id=row.id).update(value=after, updated_at=now)
        await self.bus.publish(
            ScoreChanged(friend_id, source, None, name=name, before=before, after=after)
        )
        return after

    async def on_activity(self, friend_id: int, kind: str) -> None:
        """Move every score declared to react to this kind of event."""
        for name, decl in self.declarations.items():
            delta = decl.events.get(kind)  # type: ignore[call-overload]
            if delta:
                await self.add(friend_id, name, delta, source=kind)

    async def decay(self) -> int:
        """Lower scores of friends inactive for a whole `every` since the last change."""
        changed = 0
        now = clock.now()
        for name, decl in self.declarations.items():
            if decl.decay is None:
                continue
            quiet = now - parse_duration(decl.decay.every)
            rows = await FriendScore.filter(
                name=name, updated_at__lte=quiet, value__gt=decl.decay.min
            ).limit(10_000)
            idle = set(
                await Friend.filter(
                    id__in=[r.friend_id for r in rows],
                    last_event_at__lte=quiet,
                ).values_list("id", flat=True)
            )
            for row in rows:
                friend_id = row.friend_id
                if friend_id not in idle:
                    continue
                after = max(decl.decay.min, row.value - decl.decay.by)
                await FriendScore.filter(id=row.id).update(value=after, updated_at=now)
                changed += 1
                await self.bus.publish(
                    ScoreChanged(friend_id, "decay", None, name=name, before=row.value, after=after)
                )
        return changed
