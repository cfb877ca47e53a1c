"""Friend fields (友だち情報欄): typed values, validated before anything is stored."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot import clock
from bot.crm.events import EventBus, FieldChanged
from bot.db.models import FriendField
from bot.scenario.crm import FieldDeclaration

TRUE_WORDS = {"true", "yes", "1", "はい", "オン", "on", "○", "有"}
FALSE_WORDS = {"false", "no", "0", "いいえ", "オフ", "off", "×", "無"}


class FieldValueError(ValueError):
    """A value that does not fit the field; the message says what would (Japanese first)."""


@dataclass(frozen=True)
class Columns:
    """A value spread over the typed columns of friend_fields."""

    text: str | None = None
    number: float | None = None
    day: date | None = None
    mmdd: int | None = None
    flag: bool | None = None


def _label(name: str, decl: FieldDeclaration) -> str:
    return decl.label or name


def _parse_date(value: Any, label: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FieldValueError(
            f"「{label}」は日付(例: 1990-04-15)で入力してください: {value!r}"
        ) from None


def coerce(name: str, decl: FieldDeclaration, value: Any) -> Any:
    """The value as the field's Python type, or FieldValueError. None clears the field."""
    if value is None or (isinstance(value, str) and value.strip() == "" and decl.type != "text"):
        return None
    label = _label(name, decl)
    kind = decl.type
    if kind == "text":
        text = str(value)
        if len(text) > decl.max_length:
            raise FieldValueError(f"「{label}」は{decl.max_length}文字以内です")
        if decl.pattern and not re.fullmatch(decl.pattern, text):
            raise FieldValueError(f"「{label}」の形式が正しくありません: {text!r}")
        return text
    if kind == "number":
        if isinstance(value, bool):
            raise FieldValueError(f"「{label}」は数値です")
        try:
            number = float(str(value).replace(",", "")) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            raise FieldValueError(f"「{label}」は数値で入力してください: {value!r}") from None
        if decl.min is not None and number < decl.min:
            raise FieldValueError(f"「{label}」は{decl.min:g}以上です")
        if decl.max is not None and number > decl.max:
            raise FieldValueError(f"「{label}」は{decl.max:g}以下です")
        return int(number) if number.is_integer() else number
    if kind == "date":
        return _parse_date(value, label)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise FieldValueError(f"「{label}」は はい/いいえ(true/false)で入力してください")
    choices = decl.choices or []
    if kind == "choice":
        text = str(value).strip()
        if text not in choices:
            raise FieldValueError(f"「{label}」は {'、'.join(choices)} のいずれかです: {text!r}")
        return text
    items = value if isinstance(value, list) else re.split(r"[,、;|]", str(value))
    picked = [str(item).strip() for item in items if str(item).strip()]
    wrong = [item for item in picked if item not in choices]
    if wrong:
        raise FieldValueError(
            f"「{label}」は {'、'.join(choices)} から選んでください: {'、'.join(wrong)}"
        )
    return [c for c in choices if c in picked]  # declared order, no repeats


def to_columns(decl: FieldDeclaration, value: Any) -> Columns:
    if value is None:
        return Columns()
    if decl.type == "number":
        return Columns(number=float(value))
    if decl.type == "date":
        return Columns(day=value, mmdd=value.month * 100 + value.day)
    if decl.type == "bool":
        return Columns(flag=bool(value))
    if decl.type == "multi_choice":
        return Columns(text=json.dumps(value, ensure_ascii=False))
    return Columns(text=str(value))


def from_row(decl: FieldDeclaration, row: FriendField) -> Any:
    if decl.type == "number":
        number = row.value_number
        return int(number) if number is not None and float(number).is_integer() else number
    if decl.type == "date":
        return row.value_date
    if decl.type == "bool":
        return row.value_bool
    if decl.type == "multi_choice":
        return json.loads(row.value_text) if row.value_text else []
    return row.value_text


class FieldService:
    def __init__(self, bus: EventBus, declarations: dict[str, FieldDeclaration]) -> None:
        self.bus = bus
        self.declarations = declarations

    def declaration(self, name: str) -> FieldDeclaration:
        decl = self.declarations.get(name)
        if decl is None:
            known = "、".join(self.declarations) or "(なし)"
            raise FieldValueError(f"「{name}」という友だち情報欄はありません(あるもの: {known})")
        return decl

    async def get_all(self, friend_id: int) -> dict[str, Any]:
        rows = await FriendField.filter(friend_id=friend_id)
        out: dict[str, Any] = {}
        for row in rows:
            decl = self.declarations.get(row.name)
            if decl is not None:
                out[row.name] = from_row(decl, row)
        return out

    async def get_many(self, friend_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Every declared field of many friends in one query (for rendering a batch)."""
        out: dict[int, dict[str, Any]] = {friend_id: {} for friend_id in friend_ids}
        if not friend_ids:
            return out
        for row in await FriendField.filter(friend_id__in=friend_ids):
            decl = self.declarations.get(row.name)
            if decl is not None:
                out[row.friend_id][row.name] = from_row(decl, row)
        return out

    async def get(self, friend_id: int, name: str) -> Any:
        decl = self.declaration(name)
        row = await FriendField.get_or_none(friend_id=friend_id, name=name)
        return from_row(decl, row) if row is not None else None

    async def set(
        self, friend_id: int, name: str, value: Any, *, source: str, actor: str | None = None
    ) -> bool:
        """Validate and store; True (and a FieldChanged event) if the value changed."""
        decl = self.declaration(name)
        new = coerce(name, decl, value)
        old = await self.get(friend_id, name)
        if old == new:
            return False
        if new is None:
            await FriendField.filter(friend_id=friend_id, name=name).delete()
        else:
            cols = to_columns(decl, new)
            values: dict[str, Any] = {
                "value_text": cols.text,
                "value_number": cols.number,
                "value_date": cols.day,
                "value_mmdd": cols.mmdd,
                "value_bool": cols.flag,
                "updated_at": clock.now(),
            }
            updated = await FriendField.filter(friend_id=friend_id, name=name).update(**values)
            if not updated:
                await FriendField.create(friend_id=friend_id, name=name, **values)
        await self.bus.publish(
            FieldChanged(friend_id, source, actor, name=name, before=old, after=new)
        )
        return True
