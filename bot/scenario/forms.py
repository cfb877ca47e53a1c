"""LIFF answer forms (回答フォーム) in the scenario file.

A form is a page friends open in LINE (a LIFF page served by stepbot): typed fields with
Japanese labels, checked the same way in the page and on the server, saved as a submission
and, where a field says so, into the friend's fields; options can add tags. Submitting runs
the form's actions, fires `form_submitted` rules and pushes a thank-you message.

Which friend fields and tags a form names is checked against the whole scenario by
`check_forms` (a form alone does not know the declarations).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import quote

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from .actions import ActionList, TagNames
from .schema import MAX_MESSAGES, Message, _Model

if TYPE_CHECKING:
    from .document import Scenario

#: Where LINE opens LIFF apps: `https://liff.line.me/{liffId}/{path}`.
LIFF_URL_BASE = "https://liff.line.me"
#: Pushed after a submission when the form names no `thanks`.
DEFAULT_THANKS = "ご回答ありがとうございました。"
DEFAULT_DONE = "送信しました。ご回答ありがとうございました。"
DEFAULT_SUBMIT_LABEL = "送信する"

FieldKind = Literal[
    "text", "textarea", "email", "tel", "number", "date", "select", "radio", "checkbox"
]
#: Kinds whose answer is free text (length and pattern rules apply).
TEXT_KINDS = frozenset({"text", "textarea", "email", "tel"})
#: Kinds whose answer is picked from `options`.
CHOICE_KINDS = frozenset({"select", "radio", "checkbox"})
#: Which form field kinds can fill each friend-field type.
FITS_FIELD_TYPE: dict[str, frozenset[str]] = {
    "text": frozenset({"text", "textarea", "email", "tel", "select", "radio"}),
    "number": frozenset({"number"}),
    "date": frozenset({"date"}),
    "choice": frozenset({"select", "radio"}),
    "multi_choice": frozenset({"checkbox"}),
    "bool": frozenset({"checkbox"}),
}


def liff_url(liff_id: str, path: str = "") -> str:
    """The LIFF URL that opens `path` of stepbot's LIFF pages, e.g. `forms/会員登録`.

    LINE opens it in the LIFF browser and lands on `{endpoint}/{path}`; use it in URI actions
    of messages and rich menus.
    """
    tail = quote(path.lstrip("/"), safe="/?=&%")  # "%": parts may come percent-encoded
    return f"{LIFF_URL_BASE}/{liff_id}/{tail}" if tail else f"{LIFF_URL_BASE}/{liff_id}"


def form_url(liff_id: str, form: str) -> str:
    """The LIFF URL of a form by its name in `forms`."""
    return liff_url(liff_id, "forms/" + quote(form, safe=""))


def lessons_url(liff_id: str, course: str) -> str:
    """The LIFF URL of a course's lesson-history page (これまでの動画)."""
    return liff_url(liff_id, "lessons/" + quote(course, safe=""))


def _option_shorthand(value: object) -> object:
    """`- 東京` is as natural as `- {label: 東京}`."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"label": str(value)}
    return value


class FormOption(_Model):
    """One choice of a select, radio or checkbox field."""

    label: Annotated[str, Field(min_length=1, max_length=100)]
    """What the friend sees."""
    value: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    """What is stored (in the submission and the friend field), if not the label."""
    tags: TagNames | None = None
    """Tags the friend gets when choosing this option."""

    @property
    def answer(self) -> str:
        return self.value or self.label


Bound = float | date


class FormField(_Model):
    """One input of a form."""

    name: Annotated[str, Field(min_length=1, max_length=100)]
    """The answer's key in submissions (unique within the form)."""
    label: Annotated[str, Field(min_length=1, max_length=100)]
    """The visible label, e.g. お名前; error messages use it (「お名前を入力してください」)."""
    type: FieldKind = "text"
    """text, textarea, email, tel, number, date, select, radio or checkbox (several
    choices)."""
    required: bool = False
    """An answer is needed (for checkbox: at least one choice)."""
    pattern: str | None = None
    """A regular expression the whole answer must match (text, textarea, email, tel)."""
    error: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    """The message shown when the answer does not match `pattern` (default:
    「<label>の形式が正しくありません」)."""
    min: Bound | None = None
    """number: the smallest value; date: the earliest date (YYYY-MM-DD); checkbox: the fewest
    choices."""
    max: Bound | None = None
    """number: the largest value; date: the latest date; checkbox: the most choices."""
    min_length: Annotated[int, Field(ge=1, le=5000)] | None = None
    """The shortest answer in characters (text kinds)."""
    max_length: Annotated[int, Field(ge=1, le=5000)] | None = None
    """The longest answer in characters (text kinds; default 1000, textarea 5000)."""
    options: (
        Annotated[
            list[Annotated[FormOption, BeforeValidator(_option_shorthand)]],
            Field(min_length=1, max_length=100),
        ]
        | None
    ) = None
    """The choices of a select, radio or checkbox field: a label, or {label, value, tags}."""
    placeholder: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """Example text shown in an empty text, number or date input."""
    help: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    """A hint shown under the label."""
    field: Annotated[str, Field(min_length=1)] | None = None
    """A declared friend field the answer is saved into and prefilled from."""
    tags: TagNames | None = None
    """Tags the friend gets when answering this field (any non-empty answer)."""

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        kind = self.type
        if kind in CHOICE_KINDS:
            if not self.options:
                raise PydanticCustomError(
                    "form_field", "a {kind} field needs options", {"kind": kind}
                )
            answers = [option.answer for option in self.options]
            if len(set(answers)) != len(answers):
                raise PydanticCustomError("form_field", "two options have the same value")
        elif self.options is not None:
            raise PydanticCustomError(
                "form_field",
                "only select, radio and checkbox fields have options (type is {kind})",
                {"kind": kind},
            )
        if kind not in TEXT_KINDS:
            for key in ("pattern", "error", "min_length", "max_length"):
                if getattr(self, key) is not None:
                    raise PydanticCustomError(
                        "form_field",
                        "only text, textarea, email and tel fields have `{key}`",
                        {"key": key, "at": (key,)},
                    )
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise PydanticCustomError(
                    "form_field",
                    "pattern is not a valid regular expression: {why}",
                    {"why": str(exc), "at": ("pattern",)},
                ) from None
        if self.error is not None and self.pattern is None:
            raise PydanticCustomError(
                "form_field", "`error` is the message for `pattern`, which is missing"
            )
        if (
            self.min_length is not None
            and self.max_length is not None
            and self.min_length > self.max_length
        ):
            raise PydanticCustomError("form_field", "min_length is larger than max_length")
        self._check_bounds()
        if self.placeholder is not None and kind not in (*TEXT_KINDS, "number", "date"):
            raise PydanticCustomError(
                "form_field", "only text, number and date inputs show a placeholder"
            )
        return self

    def _check_bounds(self) -> None:
        if self.min is None and self.max is None:
            return
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is None:
                continue
            if self.type == "number" and isinstance(value, date):
                raise _bound_error("must be a number for a number field", key)
            if self.type == "date" and not isinstance(value, date):
                raise _bound_error("must be a date (YYYY-MM-DD) for a date field", key)
            if self.type == "checkbox" and (
                isinstance(value, date) or value < 0 or not float(value).is_integer()
            ):
                raise _bound_error("must be a whole number of choices for a checkbox", key)
            if self.type not in ("number", "date", "checkbox"):
                raise _bound_error("only number, date and checkbox fields have min and max", key)
        # Both bounds are of the field's kind by now (numbers, or dates).
        if self.min is not None and self.max is not None and self.min > self.max:  # type: ignore[operator]
            raise PydanticCustomError("form_field", "min is larger than max")

    @property
    def option_answers(self) -> list[str]:
        return [option.answer for option in self.options or ()]


def _bound_error(message: str, key: str) -> PydanticCustomError:
    return PydanticCustomError("form_field", message, {"at": (key,)})


class Form(_Model):
    """A LIFF answer form (回答フォーム)."""

    title: Annotated[str, Field(min_length=1, max_length=100)]
    """The page's heading."""
    description: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    """Text shown under the title."""
    fields: Annotated[list[FormField], Field(min_length=1, max_length=50)]
    """The inputs, in page order."""
    resubmit: Literal["once", "latest", "every"] = "latest"
    """`once`: a friend answers once (the page then says so); `latest`: answering again
    replaces the earlier answers; `every`: every submission is kept."""
    submit_label: Annotated[str, Field(min_length=1, max_length=20)] = DEFAULT_SUBMIT_LABEL
    """The submit button's text."""
    done: Annotated[str, Field(min_length=1, max_length=1000)] = DEFAULT_DONE
    """Shown on the page after a successful submission."""
    thanks: Annotated[list[Message], Field(max_length=MAX_MESSAGES)] | None = None
    """0 to 5 messages pushed to the friend after submitting (placeholders allowed; default
    ご回答ありがとうございました。; an empty list sends nothing)."""
    do: ActionList | None = None
    """Actions run after each submission (e.g. add_tag: 会員登録済); `form_submitted` rules
    fire as well."""

    @model_validator(mode="after")
    def _unique_names(self) -> Form:
        names = [field.name for field in self.fields]
        if len(set(names)) != len(names):
            twice = next(name for name in names if names.count(name) > 1)
            raise PydanticCustomError(
                "form", "two fields are named '{name}'", {"name": twice, "at": ("fields",)}
            )
        return self

    def field_named(self, name: str) -> FormField | None:
        return next((field for field in self.fields if field.name == name), None)


def _known(kind: str, name: str, known: Iterable[str]) -> str:
    names = ", ".join(sorted(known)) or "none are declared"
    return f"unknown {kind} '{name}' (declared: {names})"


def check_forms(scenario: Scenario) -> list[tuple[str, str]]:
    """What forms name that the scenario lacks, as (path, message) like other load errors:
    friend fields (declared, of a fitting type, options among its choices) and tags.
    (`form_submitted` triggers naming unknown forms are checked with the other references.)"""
    problems: list[tuple[str, str]] = []
    tags = set(scenario.tag_folders)
    for form_name, form in scenario.forms.items():
        at = f"forms.{form_name}"
        if "/" in form_name or len(form_name) > 100:
            problems.append((at, "a form name must be at most 100 characters, without '/'"))
        for index, spec in enumerate(form.fields):
            here = f"{at}.fields[{index}]"
            for tag in spec.tags or ():
                if tag not in tags:
                    problems.append((f"{here}.tags", _known("tag", tag, tags)))
            for number, option in enumerate(spec.options or ()):
                for tag in option.tags or ():
                    if tag not in tags:
                        problems.append(
                            (f"{here}.options[{number}].tags", _known("tag", tag, tags))
                        )
            if spec.field is not None:
                problems += _field_problems(scenario, spec, f"{here}.field")
    return problems


def _field_problems(scenario: Scenario, spec: FormField, path: str) -> list[tuple[str, str]]:
    name = spec.field or ""
    decl = scenario.fields.get(name)
    if decl is None:
        return [(path, _known("field", name, scenario.fields))]
    if spec.type not in FITS_FIELD_TYPE[decl.type]:
        fitting = ", ".join(sorted(FITS_FIELD_TYPE[decl.type]))
        return [
            (
                path,
                f"a {spec.type} input cannot fill the {decl.type} field '{name}' "
                f"(use one of: {fitting})",
            )
        ]
    if decl.type == "bool" and len(spec.options or ()) != 1:
        return [(path, f"a checkbox fills the bool field '{name}' only with exactly one option")]
    if decl.type in ("choice", "multi_choice"):
        wrong = [value for value in spec.option_answers if value not in (decl.choices or ())]
        if wrong:
            return [
                (
                    path,
                    f"options {', '.join(wrong)} are not choices of the field '{name}' "
                    f"(choices: {', '.join(decl.choices or ())})",
                )
            ]
    return []
