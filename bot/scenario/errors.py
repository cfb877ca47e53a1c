"""Scenario problems as short, human messages that name the file and the place in it.

Operators edit the scenario file by hand; pydantic's own messages ("Input should be a valid
dictionary or instance of TextMessage") and locations (``welcome.0.message:text.text``) are
written for programmers. Here each error becomes ``file: welcome[0].text: what was expected``.
"""

import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

#: Separator in discriminator tags (see schema.py); a loc part with it is a tag, not a key.
_TAG_SEPARATOR = ":"

Loc = Sequence[str | int]

#: Keys that are valid in LINE's API but make no sense in a file written in advance.
_FORBIDDEN_HINTS = {
    "quoteToken": "is not allowed in a scenario file "
    "(a quote token belongs to one received message)",
}


@dataclass(frozen=True)
class ScenarioIssue:
    """One problem in a scenario file: where it is and what was expected there."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        if self.path:
            return f"{self.file}: {self.path}: {self.message}"
        return f"{self.file}: {self.message}"


class ScenarioError(Exception):
    """A scenario file could not be used; `issues` lists every problem found, in file order."""

    def __init__(self, issues: Iterable[ScenarioIssue]) -> None:
        self.issues: list[ScenarioIssue] = list(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


def _is_tag(part: str | int) -> bool:
    """Union tags such as "message:text" are pydantic's bookkeeping, not keys in the file."""
    return isinstance(part, str) and _TAG_SEPARATOR in part


def format_path(loc: Loc) -> str:
    """``('auto_replies', 3, 'message:text', 'text')`` → ``auto_replies[3].text``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _is_tag(part) or part == "[key]":  # "[key]": the mapping key itself was bad
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


# --- finding the model behind a location -------------------------------------------------


def _strip(annotation: Any) -> Any:
    """Drop ``Annotated`` wrappers and ``| None`` so what remains is the real shape."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _tagged_member(union: Any, tag: str) -> Any:
    """The member of a discriminated union annotated with ``Tag(tag)``."""
    if typing.get_origin(union) not in (typing.Union, types.UnionType):
        return None
    for member in typing.get_args(union):
        if typing.get_origin(member) is typing.Annotated:
            base, *metadata = typing.get_args(member)
            if any(isinstance(meta, Tag) and meta.tag == tag for meta in metadata):
                return base
    return None


def annotation_at(root: type[BaseModel], loc: Loc) -> Any:
    """The type expected at `loc` below `root`, or None when the path cannot be followed."""
    current: Any = root
    for part in loc:
        current = _strip(current)
        if isinstance(part, int):
            if typing.get_origin(current) is not list:
                return None
            current = typing.get_args(current)[0]
        elif _is_tag(part):
            current = _tagged_member(current, part)
        elif isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        else:
            return None
        if current is None:
            return None
    return _strip(current)


def _keys_of(model: type[BaseModel]) -> list[str]:
    """A model's keys, its own first (type, text, ...) and shared ones (quickReply) last."""
    own = [name for name in model.model_fields if name in vars(model).get("__annotations__", {})]
    return own + [name for name in model.model_fields if name not in own]


def _literal_values(annotation: Any) -> list[str] | None:
    if typing.get_origin(annotation) is Literal:
        return [str(value) for value in typing.get_args(annotation)]
    return None


# --- messages ----------------------------------------------------------------------------


def _items(count: int) -> str:
    return "1 item" if count == 1 else f"{count} items"


def describe_found(value: object) -> str:
    """How YAML read a value, for "must be ... (found a list)" messages."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "nothing"
    return "text"


def _string_hint(value: object) -> str:
    """YAML turns yes/no/on/off and bare numbers into non-strings; say how to keep text."""
    if isinstance(value, bool | int | float):
        return " (put it in quotes)"
    return ""


def _describe_bad_type(kind: str, loc: Loc, value: object, allowed: str) -> tuple[Loc, str]:
    """A union member could not be picked: say which `type` values exist (see schema.py)."""
    thing = kind.removeprefix("unknown_").removesuffix("_type")
    if not isinstance(value, Mapping):
        return loc, f"must be a mapping with a type (one of: {allowed})"
    if "type" not in value:
        return (*loc, "type"), f"is required (one of: {allowed})"
    message = f"unknown {thing} type '{value['type']}' (expected one of: {allowed})"
    return (*loc, "type"), message


def _describe(error: ErrorDetails, root: type[BaseModel]) -> tuple[Loc, str]:
    """Where an error is and a short sentence saying what was expected there."""
    kind = error["type"]
    loc: Loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    value = error.get("input")
    at = ctx.get("at")
    if isinstance(at, tuple):
        loc = (*loc, *at)

    if kind.startswith("unknown_") and kind.endswith("_type"):
        return _describe_bad_type(kind, loc, value, allowed=error["msg"])
    if kind == "missing":
        return loc, "is required"
    if kind == "extra_forbidden":
        key = loc[-1] if loc else ""
        if isinstance(key, str) and key in _FORBIDDEN_HINTS:
            return loc, _FORBIDDEN_HINTS[key]
        model = annotation_at(root, loc[:-1])
        if isinstance(model, type) and issubclass(model, BaseModel):
            return loc, f"unknown key (expected one of: {', '.join(_keys_of(model))})"
        return loc, "unknown key"
    if kind == "string_too_long":
        return loc, f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        return (
            loc,
            "must not be empty" if minimum == 1 else f"must be at least {minimum} characters",
        )
    if kind == "too_long":
        maximum = ctx.get("max_length", 0)
        return loc, f"must have at most {_items(maximum)} (got {ctx.get('actual_length')})"
    if kind == "too_short":
        minimum = ctx.get("min_length", 1)
        return loc, "must not be empty" if minimum == 1 else f"must have at least {_items(minimum)}"
    if kind == "string_type":
        if value is None:  # `key:` with nothing after it
            return loc, "must not be empty"
        return loc, f"must be a string{_string_hint(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return loc, "must be a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return loc, "must be true or false"
    if kind == "list_type":
        return loc, f"must be a list (found {describe_found(value)})"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return loc, f"must be a mapping (found {describe_found(value)})"
    if kind == "literal_error":
        values = _literal_values(annotation_at(root, loc))
        if values is None:
            return loc, f"must be {ctx.get('expected')}"
        if len(values) == 1:
            return loc, f"must be {values[0]}"
        return loc, f"must be one of: {', '.join(values)}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return (
            loc,
            f"must be at least {bound}"
            if kind == "greater_than_equal"
            else f"must be more than {bound}",
        )
    # Our own errors (PydanticCustomError) already read well; pydantic's others nearly so.
    message = error["msg"]
    return loc, message[:1].lower() + message[1:]


def issues_from_validation_error(
    exc: ValidationError, filename: str, root: type[BaseModel]
) -> list[ScenarioIssue]:
    """Turn every pydantic error into a ScenarioIssue (duplicates dropped, order kept)."""
    issues: list[ScenarioIssue] = []
    for error in exc.errors(include_url=False):
        loc, message = _describe(error, root)
        issue = ScenarioIssue(filename, format_path(loc), message)
        if issue not in issues:
            issues.append(issue)
    return issues
