"""Placeholders in scenario messages: checked when the file loads, filled in when sending.

Every string in a message (text, altText, labels, postback data, URIs, strings inside flex
contents, ...) is a jinja2 template rendered in a sandbox, so a scenario file cannot reach
into Python objects. Autoescape is off because LINE text is not HTML. Anything that can go
wrong is caught at load time by `check_templates`; at send time an undefined name renders
empty and a failing template falls back to its source, so sending never crashes.
"""

import logging
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel

from .errors import ScenarioIssue, format_path
from .schema import (
    EMOJI_PLACEHOLDER,
    MAX_EMOJIS,
    MAX_TEXT_LENGTH,
    SHORT_TEMPLATE_TEXT,
    AnyMessage,
    ButtonsTemplate,
    CarouselColumn,
    Emoji,
    MaxChars,
    TextMessage,
    utf16_len,
)

if TYPE_CHECKING:
    from .document import Scenario

log = logging.getLogger(__name__)

#: The names a template may use; render callers provide these.
TEMPLATE_NAMES = ("friend", "now")

#: Names only some messages may use, by where the messages sit: their senders provide them.
#: A message directly in such a list gets them, not one sent later by a button inside it.
#: `*` stands for any name (e.g. any stamp rally).
EXTRA_TEMPLATE_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("points", "expiry_notice", "messages"): ("expiring",),
    ("stamp_rallies", "*", "stamped"): ("stamps", "goal"),
    ("integrations", "stripe", "payment_failed"): ("amount", "currency"),
    ("integrations", "shopify", "points", "notice"): ("earned", "order"),
    ("integrations", "shopify", "points", "refund_notice"): ("reversed", "order"),
}

#: Keys whose values are LINE's vocabulary, never text for people; they are not rendered.
_LITERAL_KEYS = frozenset({"type"})

#: First code point of the markers that stand in for emoji `$` while rendering. Supplementary
#: private use area A: not used by LINE (its own emoticons sit in area B) nor by keyboards.
_MARKER_BASE = 0xF0000


def _finalize(value: object) -> object:
    """A missing profile value (None) must read as nothing, not as the word "None"."""
    return "" if value is None else value


_ENV = SandboxedEnvironment(
    autoescape=False,
    undefined=ChainableUndefined,
    keep_trailing_newline=True,
    finalize=_finalize,
)


@lru_cache(maxsize=2048)
def _compile(source: str) -> Template:
    """Scenario strings repeat for every friend; compile each once."""
    return _ENV.from_string(source)


def _is_template(value: str) -> bool:
    """Plain strings (most of them) skip jinja entirely."""
    return "{" in value


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def renders_alike(messages: Iterable[AnyMessage]) -> bool:
    """True when no string of these messages is a template, so they render the same for
    every friend and can be rendered once for all of them."""
    return not any(
        _is_template(text)
        for message in messages
        for text in _strings(message.model_dump(mode="json", exclude_none=True))
    )


def render_string(source: str, context: Mapping[str, object]) -> str:
    """Render one scenario string; undefined names are empty, failures keep the source."""
    if not _is_template(source):
        return source
    try:
        return _compile(source).render(dict(context))
    except Exception:
        # check_templates ran at load, so this is a runtime surprise (e.g. a filter given a
        # value of the wrong type): better the unrendered text than no message at all.
        log.warning("template failed to render; sending it unrendered: %r", source, exc_info=True)
        return source


def _render_tree(value: Any, context: Mapping[str, object]) -> Any:
    """Render plain data (flex contents): every string except `type` values."""
    if isinstance(value, str):
        return render_string(value, context)
    if isinstance(value, list):
        return [_render_tree(item, context) for item in value]
    if isinstance(value, dict):
        return {
            key: item if key in _LITERAL_KEYS else _render_tree(item, context)
            for key, item in value.items()
        }
    return value


# --- UTF-16 positions (LINE counts text and emoji indexes in UTF-16 code units) -----------


def _units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _code_point_index(text: str, unit_index: int) -> int | None:
    """The index in `text` of the character starting at UTF-16 offset `unit_index`."""
    units = 0
    for index, char in enumerate(text):
        if units == unit_index:
            return index
        units += _units(char)
    return None


def _cut(text: str, limit: int) -> str:
    """At most `limit` UTF-16 code units, never splitting a surrogate pair."""
    units = 0
    for index, char in enumerate(text):
        units += _units(char)
        if units > limit:
            return text[:index]
    return text


def _render_text_with_emojis(
    text: str, emojis: Sequence[Mapping[str, Any]], context: Mapping[str, object]
) -> tuple[str, list[dict[str, Any]]]:
    """Render `text` and move each emoji's index to where its `$` ended up.

    Each emoji's `$` becomes its own private-use marker before rendering, so a `$` in a
    display name is not taken for an emoji and a `{% if %}` that drops an emoji drops only
    that one. After rendering, every marker turns back into `$` and is indexed in UTF-16
    code units, as LINE counts them.
    """
    base = _MARKER_BASE
    while any(base <= ord(char) < base + len(emojis) for char in text):
        base += len(emojis)
    chars = list(text)
    for number, emoji in enumerate(emojis):
        position = _code_point_index(text, int(emoji["index"]))
        if position is not None and chars[position] == EMOJI_PLACEHOLDER:
            chars[position] = chr(base + number)
    rendered = render_string("".join(chars), context)

    out: list[str] = []
    placed: list[dict[str, Any]] = []
    units = 0
    for char in rendered:
        number = ord(char) - base
        if 0 <= number < len(emojis):
            placed.append({**emojis[number], "index": units})
            char = EMOJI_PLACEHOLDER
        out.append(char)
        units += _units(char)
    return "".join(out), placed[:MAX_EMOJIS]


@lru_cache(maxsize=512)
def _limit_of(model: type[BaseModel], name: str) -> MaxChars | None:
    """The LINE length limit declared on a model field, if any (see schema.MaxChars)."""
    field = model.model_fields[name]
    found = [meta for meta in field.metadata if isinstance(meta, MaxChars)]
    pending = [field.annotation]
    while pending and not found:
        annotation = pending.pop()
        if typing.get_origin(annotation) is typing.Annotated:
            metadata = typing.get_args(annotation)[1:]
            found = [meta for meta in metadata if isinstance(meta, MaxChars)]
        pending.extend(typing.get_args(annotation))
    return found[0] if found else None


def _fit(value: str, limit: MaxChars | None) -> str:
    """Cut a rendered value to its LINE limit; a long display name must not break a send."""
    if limit is None or limit.length(value) <= limit.limit:
        return value
    if limit.utf16:
        return _cut(value, limit.limit)
    return value[: limit.limit]


def _render_value(value: Any, context: Mapping[str, object]) -> Any:
    if isinstance(value, BaseModel):
        return _render_model(value, context)
    if isinstance(value, list):
        return [_render_value(item, context) for item in value]
    return _render_tree(value, context)


def _render_model(model: BaseModel, context: Mapping[str, object]) -> BaseModel:
    """A copy of `model` with every string rendered and cut to its field's LINE limit."""
    cls = type(model)
    updates: dict[str, Any] = {}
    for name in cls.model_fields:
        value = getattr(model, name)
        if name in _LITERAL_KEYS or value is None:
            continue
        if isinstance(value, str):
            updates[name] = _fit(render_string(value, context), _limit_of(cls, name))
        elif isinstance(model, TextMessage) and name == "emojis":
            continue  # placed together with the text below
        else:
            updates[name] = _render_value(value, context)
    if isinstance(model, TextMessage) and model.emojis:
        emojis = [emoji.model_dump() for emoji in model.emojis]
        text, placed = _render_text_with_emojis(model.text, emojis, context)
        updates["text"] = _cut(text, MAX_TEXT_LENGTH)
        length = utf16_len(updates["text"])
        updates["emojis"] = [Emoji(**emoji) for emoji in placed if emoji["index"] < length] or None
    pictured = updates.get("title") or updates.get("thumbnailImageUrl")
    if isinstance(model, ButtonsTemplate | CarouselColumn) and pictured:
        updates["text"] = updates["text"][:SHORT_TEMPLATE_TEXT]
    return model.model_copy(update=updates)


def _type_first(value: Any) -> Any:
    """`type` first in every object, as in LINE's docs, so logged messages read naturally."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: key != "type")
        return {key: _type_first(value[key]) for key in keys}
    if isinstance(value, list):
        return [_type_first(item) for item in value]
    return value


def render_message(message: AnyMessage, context: Mapping[str, object]) -> dict[str, Any] | None:
    """One message as LINE JSON with its placeholders filled; None if nothing is left to say."""
    rendered = _render_model(message, context)
    if isinstance(rendered, TextMessage) and not rendered.text.strip():
        # LINE rejects an empty text, and with it the whole reply.
        return None
    data: dict[str, Any] = _type_first(rendered.model_dump(mode="json", exclude_none=True))
    return data


def render_messages(
    messages: Iterable[AnyMessage], context: Mapping[str, object]
) -> list[dict[str, Any]]:
    """Messages as LINE JSON dicts (camelCase, no nulls) with every placeholder filled.

    `context` holds `friend` (display_name, id, line_user_id, language) and `now`. Text longer
    than LINE's 5000 characters is cut; a text message that renders empty is left out.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        rendered = render_message(message, context)
        if rendered is not None:
            out.append(rendered)
    return out


# --- load-time checks --------------------------------------------------------------------


def template_names_at(loc: tuple[str | int, ...]) -> tuple[str, ...]:
    """The names a message at `loc` (as `Scenario.iter_messages` gives it) may use."""
    for where, extra in EXTRA_TEMPLATE_NAMES.items():
        if len(loc) == len(where) + 1 and all(
            want in ("*", got) for want, got in zip(where, loc, strict=False)
        ):
            return (*TEMPLATE_NAMES, *extra)
    return TEMPLATE_NAMES


def _template_problems(source: str, allowed: tuple[str, ...] = TEMPLATE_NAMES) -> list[str]:
    """Why `source` would not render as intended: syntax errors and unknown names."""
    try:
        _compile(source)
        names = meta.find_undeclared_variables(_ENV.parse(source))
    except TemplateSyntaxError as exc:
        where = f" (line {exc.lineno} of the text)" if "\n" in source.rstrip("\n") else ""
        reason = (exc.message or str(exc)).rstrip(".")
        return [f"template error: {reason[:1].lower()}{reason[1:]}{where}"]
    expected = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
    return [
        f"unknown placeholder '{name}' (expected {expected})"
        for name in sorted(names)
        if name not in allowed
    ]


def _walk(value: Any, loc: tuple[str | int, ...]) -> Iterable[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*loc, index))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key not in _LITERAL_KEYS:
                yield from _walk(item, (*loc, key))


def _issues_in(
    value: Any,
    loc: tuple[str | int, ...],
    filename: str,
    allowed: tuple[str, ...] = TEMPLATE_NAMES,
) -> list[ScenarioIssue]:
    issues: list[ScenarioIssue] = []
    for where, source in _walk(value, loc):
        if _is_template(source):
            path = format_path(where)
            problems = _template_problems(source, allowed)
            issues.extend(ScenarioIssue(filename, path, msg) for msg in problems)
    return issues


def check_templates(scenario: "Scenario", filename: str = "scenario") -> list[ScenarioIssue]:
    """Every placeholder problem in the scenario's messages (wherever they are: replies,
    steps, reminders, broadcasts, actions, buttons' actions) and admin notices, so none
    surfaces at send time."""
    issues: list[ScenarioIssue] = []
    for loc, message in scenario.iter_messages():
        data = message.model_dump(mode="json", exclude_none=True)
        issues.extend(_issues_in(data, loc, filename, template_names_at(loc)))
    for loc, text in scenario.iter_admin_notices():
        issues.extend(_issues_in(text, loc, filename))
    for name, survey in scenario.surveys.items():
        for index, question in enumerate(survey.questions):
            loc = ("surveys", name, "questions", index, "text")
            issues.extend(_issues_in(question.text, loc, filename))
    return issues


def check_templates_in_data(data: Mapping[str, Any], filename: str) -> list[ScenarioIssue]:
    """Like `check_templates`, on raw YAML data that failed validation (report all at once)."""

    def message_issues(message: Any, loc: tuple[str | int, ...]) -> list[ScenarioIssue]:
        if isinstance(message, str):  # shorthand for a text message
            return _issues_in(message, (*loc, "text"), filename)
        return _issues_in(message, loc, filename) if isinstance(message, Mapping) else []

    def list_issues(messages: Any, loc: tuple[str | int, ...]) -> list[ScenarioIssue]:
        if not isinstance(messages, list):
            return []
        return [
            issue
            for index, message in enumerate(messages)
            for issue in message_issues(message, (*loc, index))
        ]

    issues = list_issues(data.get("welcome"), ("welcome",))
    replies = data.get("auto_replies")
    for index, reply in enumerate(replies if isinstance(replies, list) else ()):
        if isinstance(reply, Mapping):
            issues.extend(list_issues(reply.get("messages"), ("auto_replies", index, "messages")))
    issues.extend(list_issues(data.get("default_reply"), ("default_reply",)))
    return issues
