"""Whom a command is about: one friend (`#12`, or a name that may match several), a list
of friends, everyone, or a segment written in a few words (`タグ:VIP ポイント>=1000`).

Segments written here become the same conditions as in the scenario file, so counting,
tagging and broadcasting compile them to one SQL query like everything else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bot.db.models import Friend
from bot.scenario import Scenario
from bot.scenario.segment import AnyCondition, validate_condition

FRIEND_ID = re.compile(r"^#(\d+)$")
_EVERYONE = {"全員", "みんな", "all", "everyone"}
_COMPARE = re.compile(r"^(?P<what>[^<>=!]+?)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>.+)$")
_OPS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "=": "eq", "!=": "ne"}
_POINTS = {"points", "ポイント", "pt"}
_TAG = {"tag", "タグ"}
_SEGMENT = {"segment", "セグメント"}
_FIELD = {"field", "項目", "友だち情報"}

TARGET_HELP = (
    "#12(友だちID)、#12,#15、名前、全員、タグ:VIP、-タグ:退会者(除外)、"
    "ポイント>=1000、項目:都道府県=東京都、セグメント:名前 (組み合わせると「かつ」)"
)


class TargetError(ValueError):
    """What was typed is not a target; the message says what is expected."""


@dataclass
class Target:
    """Friend ids, or a condition (None = everyone), or a name to search for."""

    friend_ids: list[int] = field(default_factory=list)
    condition: dict[str, Any] | None = None
    everyone: bool = False
    name: str | None = None
    label: str = ""

    @property
    def is_group(self) -> bool:
        return self.everyone or self.condition is not None

    def audience(self) -> dict[str, Any] | None:
        """The condition as stored (None: every friend who follows)."""
        return self.condition

    def compiled(self) -> AnyCondition:
        """A condition for the segment compiler: followed, and the typed conditions."""
        parts: list[Any] = [{"blocked": False}]
        if self.condition is not None:
            parts.append(self.condition)
        return validate_condition({"all": parts})


def _unquote(text: str) -> str:
    return text.strip().strip('"「」')


def _key_value(word: str) -> tuple[str, str] | None:
    if ":" not in word:  # full-width colons are ASCII after normalize()
        return None
    key, _, value = word.partition(":")
    return key.strip().casefold(), _unquote(value)


def _number(text: str, word: str) -> int:
    try:
        return int(text.replace(",", ""))
    except ValueError:
        raise TargetError(f"「{word}」の数が読めません(例: ポイント>=1000)") from None


def _condition(word: str, scenario: Scenario) -> dict[str, Any] | None:
    """One segment word as a condition, or None if it is not one."""
    negate = word.startswith("-") and len(word) > 1
    body = word[1:] if negate else word
    cond: dict[str, Any] | None = None
    compare = _COMPARE.match(body)
    pair = _key_value(body)
    if compare and compare.group("what").strip().casefold() in _POINTS:
        op = _OPS[compare.group("op")]
        cond = {"points": {op: _number(compare.group("value"), word)}}
    elif pair and pair[0] in _TAG:
        if not pair[1]:
            raise TargetError(f"「{word}」: タグ名がありません(例: タグ:VIP)")
        cond = {"tag": pair[1]}
    elif pair and pair[0] in _SEGMENT:
        if pair[1] not in scenario.segments:
            known = "、".join(scenario.segments) or "(シナリオにセグメントがありません)"
            raise TargetError(f"セグメント「{pair[1]}」はありません。あるもの: {known}")
        cond = {"segment": pair[1]}
    elif pair and pair[0] in _FIELD:
        inner = _COMPARE.match(pair[1])
        if inner is None:
            raise TargetError(f"「{word}」: 項目:名前=値 の形で書いてください")
        name = inner.group("what").strip()
        if name not in scenario.fields:
            known = "、".join(scenario.fields) or "(シナリオに項目がありません)"
            raise TargetError(f"項目「{name}」はありません。あるもの: {known}")
        cond = {"field": {"name": name, _OPS[inner.group("op")]: _unquote(inner.group("value"))}}
    if cond is None:
        return None
    return {"not": cond} if negate else cond


def parse_target(words: Sequence[str], scenario: Scenario) -> Target:
    """Read the words after a command as a target."""
    if not words:
        raise TargetError(f"対象がありません。書き方: {TARGET_HELP}")
    ids: list[int] = []
    conditions: list[dict[str, Any]] = []
    names: list[str] = []
    everyone = False
    for word in words:
        pieces = [p for p in word.split(",") if p] if word.startswith("#") else [word]
        if all(FRIEND_ID.match(p) for p in pieces):
            ids += [int(FRIEND_ID.match(p).group(1)) for p in pieces]  # type: ignore[union-attr]
        elif word.casefold() in _EVERYONE:
            everyone = True
        elif (cond := _condition(word, scenario)) is not None:
            conditions.append(cond)
        else:
            names.append(word)
    label = " ".join(words)
    kinds = sum(bool(x) for x in (ids, conditions or everyone, names))
    if kinds > 1:
        raise TargetError(f"友だちID・名前・条件は混ぜられません。書き方: {TARGET_HELP}")
    if ids:
        return Target(friend_ids=list(dict.fromkeys(ids)), label=label)
    if names:
        return Target(name=" ".join(names), label=label)
    if conditions:
        cond = conditions[0] if len(conditions) == 1 else {"all": conditions}
        try:
            validate_condition(cond)
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]["msg"]
            raise TargetError(f"条件「{label}」が読めません: {problem}") from None
        return Target(condition=cond, label=label)
    return Target(everyone=True, label="全員")


async def search_by_name(name: str, limit: int = 10) -> list[Friend]:
    """Friends whose display name contains the words (case-insensitive), newest first."""
    query = Friend.all()
    for word in name.split():
        query = query.filter(display_name__icontains=word)
    return await query.order_by("-id").limit(limit)


def short(friend: Friend) -> str:
    """How a friend is shown everywhere: `#12 山田花子`."""
    return f"#{friend.id} {friend.display_name or '(名前なし)'}"
