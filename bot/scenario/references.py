"""Cross-references in a scenario: every tag, field, score, step scenario and rule a file
names must exist, values must fit their fields, and rules must not trigger each other in a
circle. Problems come back as (path, message) like every other load error."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .actions import AddScore, AddTag, RemoveTag, SetField, StartSteps, StopSteps
from .document import Scenario
from .rules import (
    FieldChangedTrigger,
    LinkClickedTrigger,
    ScoreChangedTrigger,
    TagAddedTrigger,
    TagAgeTrigger,
    TagRemovedTrigger,
)
from .schema import PostbackAction
from .variants import Conversion
from .walk import dotted, walk


def _known(kind: str, name: str, known: Any) -> str:
    names = ", ".join(sorted(known)) or "none are declared"
    return f"unknown {kind} '{name}' (declared: {names})"


def check_references(scenario: Scenario) -> list[tuple[str, str]]:
    from bot.crm.fields import FieldValueError, coerce

    problems: list[tuple[str, str]] = []
    tags = set(scenario.tag_folders)
    seen_rules: set[str] = set()
    for index, rule in enumerate(scenario.rules):
        if rule.name in seen_rules:
            problems.append((f"rules[{index}].name", f"rule name '{rule.name}' is used twice"))
        seen_rules.add(rule.name)

    for loc, model in walk(scenario):
        path = dotted(loc)
        if isinstance(model, AddTag | RemoveTag):
            names = model.add_tag if isinstance(model, AddTag) else model.remove_tag
            key = "add_tag" if isinstance(model, AddTag) else "remove_tag"
            problems += [(f"{path}.{key}", _known("tag", n, tags)) for n in names if n not in tags]
        elif isinstance(model, TagAddedTrigger | TagRemovedTrigger):
            names = model.tag_added if isinstance(model, TagAddedTrigger) else model.tag_removed
            key = "tag_added" if isinstance(model, TagAddedTrigger) else "tag_removed"
            problems += [(f"{path}.{key}", _known("tag", n, tags)) for n in names if n not in tags]
        elif isinstance(model, TagAgeTrigger) and model.tag_age.tag not in tags:
            problems.append((f"{path}.tag_age.tag", _known("tag", model.tag_age.tag, tags)))
        elif isinstance(model, SetField):
            for name, value in model.set_field.items():
                decl = scenario.fields.get(name)
                if decl is None:
                    problems.append(
                        (f"{path}.set_field.{name}", _known("field", name, scenario.fields))
                    )
                    continue
                try:
                    coerce(name, decl, value)
                except FieldValueError as exc:
                    problems.append((f"{path}.set_field.{name}", str(exc)))
        elif isinstance(model, FieldChangedTrigger) and model.field_changed not in scenario.fields:
            problems.append(
                (f"{path}.field_changed", _known("field", model.field_changed, scenario.fields))
            )
        elif isinstance(model, AddScore):
            for name in model.add_score:
                if name not in scenario.scores:
                    problems.append(
                        (f"{path}.add_score.{name}", _known("score", name, scenario.scores))
                    )
        elif isinstance(model, ScoreChangedTrigger) and model.score_changed not in scenario.scores:
            problems.append(
                (f"{path}.score_changed", _known("score", model.score_changed, scenario.scores))
            )
        elif isinstance(model, StartSteps | StopSteps):
            name = model.start_steps if isinstance(model, StartSteps) else model.stop_steps
            key = "start_steps" if isinstance(model, StartSteps) else "stop_steps"
            if name not in scenario.steps:
                problems.append((f"{path}.{key}", _known("step scenario", name, scenario.steps)))
        elif isinstance(model, Conversion) and model.tag not in tags:
            problems.append((f"{path}.tag", _known("tag", model.tag, tags)))
        elif isinstance(model, LinkClickedTrigger) and scenario.delivery.track_links != "friend":
            problems.append(
                (
                    f"{path}.link_clicked",
                    "a tap is only known to be the friend's with `delivery: {track_links: "
                    f"friend}}` (found track_links: {scenario.delivery.track_links})",
                )
            )
        elif (
            isinstance(model, PostbackAction)
            and model.do is None
            and model.data
            and model.data.startswith("sb:")
        ):
            problems.append(
                (f"{path}.data", "postback data starting with 'sb:' is reserved for `do` buttons")
            )

    problems += _rule_cycles(scenario)
    problems += _segment_problems(scenario)
    return problems


def _segment_problems(scenario: Scenario) -> list[tuple[str, str]]:
    from .crm import field_type_map
    from .segment_check import check_segment_refs

    used: list[tuple[str, Any]] = []
    for loc, model in walk(scenario):
        if loc[:1] == ("segments",):
            continue  # named segments are checked as such
        for name in ("if_", "trigger_if", "stop_if", "to", "exclude"):
            cond = getattr(model, name, None)
            if isinstance(cond, BaseModel) and name in type(model).model_fields:
                alias = type(model).model_fields[name].alias or name
                used.append((dotted((*loc, alias)), cond))
    return check_segment_refs(
        scenario.segments,
        used,
        set(scenario.tag_folders),
        field_type_map(scenario.fields),
    )


def _rule_cycles(scenario: Scenario) -> list[tuple[str, str]]:
    """Rules that add (remove) a tag another rule reacts to form edges; a cycle is refused."""
    outputs: dict[str, set[tuple[str, str]]] = {}
    inputs: dict[str, set[tuple[str, str]]] = {}
    for rule in scenario.rules:
        outs: set[tuple[str, str]] = set()
        for _, model in walk(rule.do):
            if isinstance(model, AddTag):
                outs |= {("added", n) for n in model.add_tag}
            elif isinstance(model, RemoveTag):
                outs |= {("removed", n) for n in model.remove_tag}
            elif isinstance(model, SetField):
                outs |= {("field", n) for n in model.set_field}
        ins: set[tuple[str, str]] = set()
        for trigger in rule.when:
            if isinstance(trigger, TagAddedTrigger):
                ins |= {("added", n) for n in trigger.tag_added}
            elif isinstance(trigger, TagRemovedTrigger):
                ins |= {("removed", n) for n in trigger.tag_removed}
            elif isinstance(trigger, FieldChangedTrigger):
                ins.add(("field", trigger.field_changed))
        outputs[rule.name] = outs
        inputs[rule.name] = ins
    edges = {a: sorted(b for b in inputs if outputs[a] & inputs[b]) for a in outputs}
    index_of = {rule.name: i for i, rule in enumerate(scenario.rules)}
    problems: list[tuple[str, str]] = []
    reported: set[frozenset[str]] = set()

    def visit(node: str, trail: list[str]) -> None:
        for nxt in edges[node]:
            if nxt in trail:
                cycle = [*trail[trail.index(nxt) :], nxt]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    problems.append(
                        (
                            f"rules[{index_of[cycle[0]]}]",
                            "rules trigger each other in a circle: " + " -> ".join(cycle),
                        )
                    )
            elif len(trail) < len(edges):
                visit(nxt, [*trail, nxt])

    for name in edges:
        visit(name, [name])
    return problems
