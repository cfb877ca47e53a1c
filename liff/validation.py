"""The rules of a form's fields, applied by the server and handed to the page.

Each field's rules (its own, tightened by the friend field it fills) and every Japanese
message are made once, here. The page receives the same rules and messages as JSON and
checks with them before sending; the server checks again, because a page can be bypassed.
Answers are normalised the same way on both sides: NFKC (full-width digits and letters
become ASCII) for email, tel, number and date, and surrounding spaces trimmed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.crm.fields import FieldValueError, coerce
from bot.scenario.crm import FieldDeclaration
from bot.scenario.forms import CHOICE_KINDS, TEXT_KINDS, Form, FormField

#: Formats shared with the page (written so Python's `re` and JavaScript read them alike).
EMAIL = (
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
TEL = r"\+?[0-9]{10,15}"
TEL_SEPARATORS = r"[ ()-]"
NUMBER = r"[+-]?[0-9]{1,15}(?:\.[0-9]{1,10})?"
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
FORMATS = {"email": EMAIL, "tel": TEL, "telSeparators": TEL_SEPARATORS, "number": NUMBER}
DEFAULT_MAX_LENGTH = 1000
TEXTAREA_MAX_LENGTH = 5000
MAX_EMAIL_LENGTH = 254


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _date_text(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def normalize(kind: str, value: str) -> str:
    """The answer as stored: trimmed; NFKC for formats people type in full width."""
    if kind in ("email", "tel", "number", "date"):
        value = unicodedata.normalize("NFKC", value)
    if kind == "textarea":
        value = value.replace("\r\n", "\n")
    value = value.strip()
    if kind == "number":
        value = value.replace(",", "")
    elif kind == "date":
        value = value.replace("/", "-")
    return value


@dataclass(frozen=True)
class FieldRules:
    """What one input accepts, and what the friend is told when it does not."""

    name: str
    label: str
    kind: str
    required: bool
    options: tuple[str, ...] = ()
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min: float | None = None
    max: float | None = None
    min_date: str | None = None
    max_date: str | None = None
    declaration: FieldDeclaration | None = None
    friend_field: str | None = None
    messages: dict[str, str] = field(default_factory=dict)

    def for_page(self) -> dict[str, Any]:
        """The rules as the page's script reads them."""
        return {
            "name": self.name,
            "kind": self.kind,
            "required": self.required,
            "options": list(self.options),
            "pattern": self.pattern,
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "min": self.min,
            "max": self.max,
            "minDate": self.min_date,
            "maxDate": self.max_date,
            "messages": self.messages,
        }

    def check(self, raw: Any) -> tuple[Any, str | None]:
        """The clean answer (None when empty) and the message if it is not acceptable."""
        if self.kind == "checkbox":
            return self._check_choices(raw)
        if raw is None:
            raw = ""
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            return None, self.messages["invalid"]
        text = normalize(self.kind, str(raw))
        if not text:
            return None, self.messages["required"] if self.required else None
        if self.kind in TEXT_KINDS:
            return text, self._check_text(text)
        if self.kind == "number":
            return self._check_number(text)
        if self.kind == "date":
            return self._check_date(text)
        if text not in self.options:
            return None, self.messages["option"]
        return text, None

    def _check_text(self, text: str) -> str | None:
        if self.kind == "email" and (len(text) > MAX_EMAIL_LENGTH or not re.fullmatch(EMAIL, text)):
            return self.messages["format"]
        if self.kind == "tel" and not re.fullmatch(TEL, re.sub(TEL_SEPARATORS, "", text)):
            return self.messages["format"]
        if self.min_length is not None and len(text) < self.min_length:
            return self.messages["minLength"]
        if self.max_length is not None and len(text) > self.max_length:
            return self.messages["maxLength"]
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            return self.messages["pattern"]
        return None

    def _check_number(self, text: str) -> tuple[Any, str | None]:
        if not re.fullmatch(NUMBER, text):
            return None, self.messages["format"]
        number = float(text)
        value: int | float = int(number) if number.is_integer() else number
        if self.min is not None and number < self.min:
            return value, self.messages["min"]
        if self.max is not None and number > self.max:
            return value, self.messages["max"]
        return value, None

    def _check_date(self, text: str) -> tuple[Any, str | None]:
        try:
            if not re.fullmatch(DATE, text):
                raise ValueError(text)
            date.fromisoformat(text)
        except ValueError:
            return None, self.messages["format"]
        if self.min_date is not None and text < self.min_date:
            return text, self.messages["min"]
        if self.max_date is not None and text > self.max_date:
            return text, self.messages["max"]
        return text, None

    def _check_choices(self, raw: Any) -> tuple[Any, str | None]:
        if raw is None or raw == "":
            raw = []
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            return [], self.messages["invalid"]
        if any(item not in self.options for item in raw):
            return [], self.messages["option"]
        picked = [option for option in self.options if option in raw]  # declared order
        if not picked:
            return [], self.messages["required"] if self.required else None
        if self.min is not None and len(picked) < self.min:
            return picked, self.messages["min"]
        if self.max is not None and len(picked) > self.max:
            return picked, self.messages["max"]
        return picked, None

    def friend_value(self, value: Any) -> Any:
        """The answer as the friend field stores it (None clears the field)."""
        if self.declaration is not None and self.declaration.type == "bool":
            return bool(value)
        return value

    def check_friend_field(self, value: Any) -> str | None:
        """Rules of the friend field itself (its pattern, length, range), as the CRM applies
        them: the answer must be storable before anything is stored."""
        if self.declaration is None or self.friend_field is None or value is None:
            return None
        try:
            coerce(self.friend_field, self.declaration, self.friend_value(value))
        except FieldValueError:
            return self.messages["pattern"] if self.kind in TEXT_KINDS else self.messages["invalid"]
        return None


def _tighter(first: float | None, second: float | None, pick: Any) -> float | None:
    known = [value for value in (first, second) if value is not None]
    return pick(known) if known else None


def _messages(spec: FormField, rules: dict[str, Any]) -> dict[str, str]:
    label = spec.label
    kind = spec.type
    if kind in ("select", "radio", "checkbox"):
        required = f"{label}を選択してください"
    else:
        required = f"{label}を入力してください"
    messages = {
        "required": required,
        "invalid": f"{label}の入力内容を確認してください",
        "option": f"{label}は選択肢の中から選んでください",
        "pattern": spec.error or f"{label}の形式が正しくありません",
    }
    if kind == "email":
        messages["format"] = "メールアドレスの形式が正しくありません"
    elif kind == "tel":
        messages["format"] = "電話番号の形式が正しくありません"
    elif kind == "number":
        messages["format"] = f"{label}は数値で入力してください"
    elif kind == "date":
        messages["format"] = f"{label}は日付(例: 2025-04-01)で入力してください"
    if rules.get("min_length") is not None:
        messages["minLength"] = f"{label}は{rules['min_length']}文字以上で入力してください"
    if rules.get("max_length") is not None:
        messages["maxLength"] = f"{label}は{rules['max_length']}文字以内で入力してください"
    low, high = rules.get("min"), rules.get("max")
    if kind == "number":
        if low is not None:
            messages["min"] = f"{label}は{_number_text(low)}以上で入力してください"
        if high is not None:
            messages["max"] = f"{label}は{_number_text(high)}以下で入力してください"
    elif kind == "checkbox":
        if low is not None:
            messages["min"] = f"{label}を{int(low)}つ以上選択してください"
        if high is not None:
            messages["max"] = f"{label}は{int(high)}つまで選択できます"
    elif kind == "date":
        if rules.get("min_date") is not None:
            day = date.fromisoformat(rules["min_date"])
            messages["min"] = f"{label}は{_date_text(day)}以降の日付を入力してください"
        if rules.get("max_date") is not None:
            day = date.fromisoformat(rules["max_date"])
            messages["max"] = f"{label}は{_date_text(day)}以前の日付を入力してください"
    return messages


def field_rules(spec: FormField, declarations: dict[str, FieldDeclaration]) -> FieldRules:
    """One field's rules: its own, tightened by the friend field it fills."""
    decl = declarations.get(spec.field) if spec.field else None
    rules: dict[str, Any] = {}
    if spec.type in TEXT_KINDS:
        default = TEXTAREA_MAX_LENGTH if spec.type == "textarea" else DEFAULT_MAX_LENGTH
        if spec.type == "email":
            default = MAX_EMAIL_LENGTH
        longest = spec.max_length or default
        if decl is not None and decl.type == "text":
            longest = min(longest, decl.max_length)
        rules["max_length"] = longest
        rules["min_length"] = spec.min_length
        rules["pattern"] = spec.pattern or (decl.pattern if decl is not None else None)
    elif spec.type in ("number", "checkbox"):
        low = spec.min if isinstance(spec.min, float | int) else None
        high = spec.max if isinstance(spec.max, float | int) else None
        if decl is not None and decl.type == "number":
            low = _tighter(low, decl.min, max)
            high = _tighter(high, decl.max, min)
        rules["min"], rules["max"] = low, high
    elif spec.type == "date":
        rules["min_date"] = spec.min.isoformat() if isinstance(spec.min, date) else None
        rules["max_date"] = spec.max.isoformat() if isinstance(spec.max, date) else None
    return FieldRules(
        name=spec.name,
        label=spec.label,
        kind=spec.type,
        required=spec.required,
        options=tuple(spec.option_answers) if spec.type in CHOICE_KINDS else (),
        declaration=decl,
        friend_field=spec.field if decl is not None else None,
        messages=_messages(spec, rules),
        **rules,
    )


@dataclass(frozen=True)
class FormRules:
    """Every field's rules of one form, in page order."""

    fields: tuple[FieldRules, ...]

    def for_page(self) -> dict[str, Any]:
        return {"formats": FORMATS, "fields": [rules.for_page() for rules in self.fields]}

    def validate(self, answers: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Clean answers for every field (unknown keys dropped) and errors by field name."""
        clean: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for rules in self.fields:
            value, error = rules.check(answers.get(rules.name))
            if error is None:
                error = rules.check_friend_field(value)
            clean[rules.name] = value
            if error is not None:
                errors[rules.name] = error
        return clean, errors


def form_rules(form: Form, declarations: dict[str, FieldDeclaration]) -> FormRules:
    return FormRules(tuple(field_rules(spec, declarations) for spec in form.fields))
