"""Checking a friend's free-text answer to a survey question: what is accepted, how it is
stored, and the Japanese message when it is not."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from bot import clock
from bot.scenario.conversations import Question

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE_FORMS = (
    re.compile(r"^(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?$"),
    re.compile(r"^(?P<m>\d{1,2})[/月](?P<d>\d{1,2})日?$"),
)


@dataclass(frozen=True)
class Checked:
    """An accepted answer (`value`) or why it was refused (`error`)."""

    value: str | None = None
    error: str | None = None


def normalize(text: str) -> str:
    """Full-width digits and letters as half-width (friends type both), trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def _number(question: Question, text: str) -> Checked:
    raw = normalize(text).replace(",", "")
    try:
        number = float(raw)
    except ValueError:
        return Checked(error=question.error or "数字で入力してください。")
    low, high = question.min, question.max
    if (low is not None and number < low) or (high is not None and number > high):
        if question.error:
            return Checked(error=question.error)
        if low is not None and high is not None:
            return Checked(error=f"{_plain(low)}から{_plain(high)}までの数字で入力してください。")
        if low is not None:
            return Checked(error=f"{_plain(low)}以上の数字で入力してください。")
        return Checked(error=f"{_plain(high or 0)}以下の数字で入力してください。")
    return Checked(value=_plain(number))


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _date(question: Question, text: str) -> Checked:
    raw = normalize(text)
    for form in _DATE_FORMS:
        found = form.match(raw)
        if not found:
            continue
        parts = found.groupdict()
        year = int(parts["y"]) if parts.get("y") else clock.now().year
        try:
            return Checked(value=date(year, int(parts["m"]), int(parts["d"])).isoformat())
        except ValueError:
            break
    return Checked(error=question.error or "日付を 2025-04-01 のように入力してください。")


def _phone(question: Question, text: str) -> Checked:
    raw = normalize(text).replace("-", "").replace(" ", "").replace("ー", "")
    if re.fullmatch(r"\+?\d{10,15}", raw):
        return Checked(value=raw)
    return Checked(error=question.error or "電話番号を数字で入力してください(例: 090-1234-5678)。")


def check_text(question: Question, text: str) -> Checked:
    """Validate a typed answer for a question that is not answered by choices."""
    kind = question.kind
    stripped = text.strip()
    if not stripped:
        return Checked(error=question.error or "回答を入力してください。")
    if kind == "number":
        return _number(question, stripped)
    if kind == "date":
        return _date(question, stripped)
    if kind == "phone":
        return _phone(question, stripped)
    if kind == "email":
        value = normalize(stripped)
        if _EMAIL.match(value):
            return Checked(value=value)
        return Checked(
            error=question.error or "メールアドレスの形式で入力してください(例: name@example.com)。"
        )
    if question.max_length is not None and len(stripped) > question.max_length:
        return Checked(error=question.error or f"{question.max_length}文字以内で入力してください。")
    if question.pattern is not None and not re.fullmatch(question.pattern, stripped):
        return Checked(
            error=question.error or "入力の形式が正しくありません。もう一度お答えください。"
        )
    return Checked(value=stripped)


def find_choice(question: Question, text: str) -> int | None:
    """The index of the choice the friend tapped or typed (label or value), if any."""
    wanted = normalize(text)
    for index, choice in enumerate(question.choices):
        if wanted in (normalize(choice.label), normalize(choice.answer)):
            return index
    return None
