"""Load-time checks of segment conditions that need the whole scenario to judge.

The schema checks each condition alone; only the loader knows which segments, tags and
fields exist. A typo in a tag name would otherwise match nobody, silently, at send time,
and a cycle of named segments would only fail when first queried.
"""

import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from difflib import get_close_matches
from typing import Any

from .segment import (
    COMPARISONS,
    AllTags,
    AnyCondition,
    AnyTags,
    Birthday,
    Condition,
    FieldCondition,
    FieldSpec,
    HasTag,
    Loc,
    SegmentRef,
    TagAdded,
    references,
    walk,
)

Problem = tuple[str, str]

_TYPE_NAMES = {
    "text": "text",
    "number": "number",
    "date": "date",
    "choice": "choice",
    "multi_choice": "multiple-choice",
    "bool": "true/false",
}

#: Operators each field type supports, in the order messages list them.
_OPERATORS_FOR = {
    "text": ("eq", "ne", "in", "contains", "empty"),
    "choice": ("eq", "ne", "in", "contains", "empty"),
    "multi_choice": ("contains", "in", "eq", "ne", "empty"),
    "number": ("eq", "ne", "lt", "lte", "gt", "gte", "in", "empty"),
    "date": ("eq", "ne", "lt", "lte", "gt", "gte", "in", "empty"),
    "bool": ("eq", "ne", "empty"),
}


def _path(prefix: str, loc: Loc) -> str:
    """`segments.vip` + ('all', 1, 'tag') → `segments.vip.all[1].tag`."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _hint(name: str, known: Iterable[str]) -> str:
    close = get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _tag_names(cond: AnyCondition) -> Iterator[tuple[Loc, str]]:
    if isinstance(cond, HasTag):
        yield ("tag",), cond.tag
    elif isinstance(cond, AnyTags):
        for index, name in enumerate(cond.any_tags):
            yield ("any_tags", index), name
    elif isinstance(cond, AllTags):
        for index, name in enumerate(cond.all_tags):
            yield ("all_tags", index), name
    elif isinstance(cond, TagAdded):
        yield ("tag_added", "tag"), cond.tag_added.tag


def _value_fits(ftype: str, value: Any) -> bool:
    """Whether `value` can equal a value of a field of this type (as the compiler coerces)."""
    if ftype in ("text", "choice", "multi_choice"):
        return not isinstance(value, bool)
    if ftype == "number":
        if isinstance(value, bool | date):
            return False
        if isinstance(value, int | float):
            return True
        try:
            return math.isfinite(float(str(value)))
        except ValueError:
            return False
    if ftype == "date":
        if isinstance(value, date):
            return True
        if isinstance(value, str):
            try:
                date.fromisoformat(value.strip())
            except ValueError:
                return False
            return True
        return False
    return isinstance(value, bool)


_VALUE_RULE = {
    "text": "must be text for a text field (put it in quotes)",
    "choice": "must be text for a choice field (put it in quotes)",
    "multi_choice": "must be text for a multiple-choice field (put it in quotes)",
    "number": "must be a number for a number field",
    "date": "must be a date (YYYY-MM-DD) for a date field",
    "bool": "must be true or false for a true/false field",
}


def _field_problems(spec: FieldSpec, ftype: str) -> Iterator[tuple[Loc, str]]:
    allowed = _OPERATORS_FOR[ftype]
    for key, value in spec.operators():
        if key not in allowed:
            yield (
                (key,),
                (
                    f"{key} does not apply to a {_TYPE_NAMES[ftype]} field "
                    f"(use {', '.join(allowed)})"
                ),
            )
        elif key == "in":
            for index, item in enumerate(value):
                if not _value_fits(ftype, item):
                    yield ("in", index), _VALUE_RULE[ftype]
        elif key in ("eq", "ne", *COMPARISONS) and not _value_fits(ftype, value):
            yield (key,), _VALUE_RULE[ftype]


def _fields(cond: AnyCondition, known_fields: Mapping[str, str]) -> Iterator[tuple[Loc, str]]:
    if isinstance(cond, FieldCondition):
        name = cond.field.name
        if name not in known_fields:
            yield ("field", "name"), f"unknown field '{name}'{_hint(name, known_fields)}"
            return
        ftype = known_fields[name]
        if ftype in _OPERATORS_FOR:
            for loc, message in _field_problems(cond.field, ftype):
                yield ("field", *loc), message
    elif isinstance(cond, Birthday):
        name = cond.birthday.field
        if name not in known_fields:
            yield ("birthday", "field"), f"unknown field '{name}'{_hint(name, known_fields)}"
        elif known_fields[name] in _TYPE_NAMES and known_fields[name] != "date":
            kind = _TYPE_NAMES[known_fields[name]]
            yield ("birthday", "field"), f"birthday needs a date field ('{name}' is a {kind} field)"


def _cycles(named: Mapping[str, Condition]) -> list[tuple[str, Loc, list[str]]]:
    """Each reference cycle once: (segment it starts at, loc of its reference, names)."""
    edges: dict[str, list[tuple[Loc, str]]] = {
        name: [(loc, target) for loc, target in references(cond) if target in named]
        for name, cond in named.items()
    }
    order = {name: index for index, name in enumerate(named)}
    found: list[tuple[str, Loc, list[str]]] = []
    seen: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[tuple[str, Loc]] = []

    def visit(name: str) -> None:
        state[name] = 1
        for loc, target in edges[name]:
            path.append((name, loc))
            if state.get(target) == 1:
                start = next(i for i, (step, _) in enumerate(path) if step == target)
                loop = path[start:]
                members = frozenset(step for step, _ in loop)
                if members not in seen:
                    seen.add(members)
                    first = min(range(len(loop)), key=lambda i: order[loop[i][0]])
                    loop = loop[first:] + loop[:first]
                    names = [step for step, _ in loop] + [loop[0][0]]
                    found.append((loop[0][0], loop[0][1], names))
            elif target not in state:
                visit(target)
            path.pop()
        state[name] = 2

    for name in named:
        if name not in state:
            visit(name)
    return sorted(found, key=lambda item: order[item[0]])


def _unknown_segment(ref: SegmentRef, named: Mapping[str, Condition]) -> str:
    if not named:
        return f"unknown segment '{ref.segment}' (no segments are defined)"
    return f"unknown segment '{ref.segment}' (expected one of: {', '.join(named)})"


def check_segment_refs(
    named: Mapping[str, Condition],
    used: Iterable[tuple[str, Condition]],
    known_tags: set[str] | None,
    known_fields: Mapping[str, str] | None,
) -> list[Problem]:
    """(path, message) for every problem in the named segments and where conditions are used.

    `used` pairs each condition with its path in the file (e.g. ``rules[0].if``); named
    segments are reported under ``segments.<name>``. Tags and fields are only checked when
    their lists are given; `known_fields` maps names to text, number, date, choice,
    multi_choice or bool.
    """
    problems: list[Problem] = []
    for name, loop_loc, names in _cycles(named):
        problems.append(
            (_path(f"segments.{name}", loop_loc), f"segment reference cycle: {' -> '.join(names)}")
        )
    places = [(f"segments.{name}", cond) for name, cond in named.items()]
    for prefix, cond in [*places, *used]:
        for loc, node in walk(cond):
            if isinstance(node, SegmentRef) and node.segment not in named:
                problems.append((_path(prefix, (*loc, "segment")), _unknown_segment(node, named)))
            if known_tags is not None:
                for tag_loc, tag in _tag_names(node):
                    if tag not in known_tags:
                        problems.append(
                            (
                                _path(prefix, (*loc, *tag_loc)),
                                f"unknown tag '{tag}'{_hint(tag, known_tags)}",
                            )
                        )
            if known_fields is not None:
                for field_loc, message in _fields(node, known_fields):
                    problems.append((_path(prefix, (*loc, *field_loc)), message))
    return problems
