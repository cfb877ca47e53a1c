"""Cross-references in a scenario: every tag, field, score, step scenario and rule a file
names must exist, values must fit their fields, and rules must not trigger each other in a
circle. Problems come back as (path, message) like every other load error."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .actions import (
    AddScore,
    AddStamp,
    AddTag,
    LessonDelivered,
    LessonWatched,
    RemoveTag,
    SetField,
    ShowStampCard,
    StartSteps,
    StartSurvey,
    StopSteps,
    SwitchMenu,
)
from .admin import ADMIN_POSTBACK_PREFIX
from .broadcasts import CHAT_BROADCAST_PREFIX
from .document import Scenario
from .forms import check_forms
from .richmenus import check_rich_menus
from .rules import (
    FieldChangedTrigger,
    FormSubmittedTrigger,
    LinkClickedTrigger,
    RouteTrigger,
    ScoreChangedTrigger,
    SurveyCompletedTrigger,
    TagAddedTrigger,
    TagAgeTrigger,
    TagRemovedTrigger,
    WebhookTrigger,
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
        elif (
            isinstance(model, PostbackAction)
            and model.data
            and model.data.startswith(ADMIN_POSTBACK_PREFIX)
        ):
            problems.append(
                (f"{path}.data", "postback data starting with 'adm:' is reserved for admin mode")
            )
    for name in scenario.broadcasts:
        if name.startswith(CHAT_BROADCAST_PREFIX):
            problems.append(
                (
                    f"broadcasts.{name}",
                    f"names starting with '{CHAT_BROADCAST_PREFIX}' are reserved for "
                    "broadcasts sent from chat",
                )
            )

    problems += _integration_references(scenario)
    problems += _screen_references(scenario)
    problems += _rule_cycles(scenario)
    problems += _segment_problems(scenario)
    problems += check_rich_menus(scenario)
    problems += check_forms(scenario)
    return problems


def _integration_references(scenario: Scenario) -> list[tuple[str, str]]:
    """Tags, fields, webhook sources and routes named by the integrations must exist."""
    problems: list[tuple[str, str]] = []
    tags = set(scenario.tag_folders)
    integrations = scenario.integrations
    products: list[tuple[str, list[str] | None]] = []
    if integrations.stripe is not None:
        products += [
            (f"integrations.stripe.products[{i}].tag", p.tag)
            for i, p in enumerate(integrations.stripe.products)
        ]
    if integrations.shopify is not None:
        products += [
            (f"integrations.shopify.products[{i}].tag", p.tag)
            for i, p in enumerate(integrations.shopify.products)
        ]
    for path, names in products:
        problems += [(path, _known("tag", n, tags)) for n in names or () if n not in tags]
    for name, source in integrations.webhooks.items():
        problems += [
            (f"integrations.webhooks.{name}.fields", _known("field", f, scenario.fields))
            for f in source.fields
            if f not in scenario.fields
        ]
    for name, route in scenario.routes.items():
        if route.conversion is not None and route.conversion.tag not in tags:
            problems.append(
                (f"routes.{name}.conversion.tag", _known("tag", route.conversion.tag, tags))
            )
    for loc, model in walk(scenario):
        path = dotted(loc)
        if isinstance(model, WebhookTrigger):
            hook = model.webhook.source
            spec = integrations.webhooks.get(hook)
            if spec is None:
                problems.append(
                    (
                        f"{path}.webhook.source",
                        _known("webhook source", hook, integrations.webhooks),
                    )
                )
            elif spec.events is not None:
                problems += [
                    (f"{path}.webhook.event", _known(f"event of {hook}", e, spec.events))
                    for e in model.webhook.event or ()
                    if e not in spec.events
                ]
        elif isinstance(model, RouteTrigger):
            problems += [
                (f"{path}.route", _known("route", r, scenario.routes))
                for r in model.route
                if r not in scenario.routes
            ]
    return problems


def _screen_references(scenario: Scenario) -> list[tuple[str, str]]:
    """Surveys, stamp rallies, courses, forms and menus named anywhere must exist; survey
    answers and tags must fit the declared fields and tags."""
    problems: list[tuple[str, str]] = []
    tags = set(scenario.tag_folders)
    for loc, model in walk(scenario):
        path = dotted(loc)
        if isinstance(model, StartSurvey) and model.start_survey not in scenario.surveys:
            problems.append(
                (f"{path}.start_survey", _known("survey", model.start_survey, scenario.surveys))
            )
        elif isinstance(model, SurveyCompletedTrigger) and (
            model.survey_completed not in scenario.surveys
        ):
            name = model.survey_completed
            problems.append((f"{path}.survey_completed", _known("survey", name, scenario.surveys)))
        elif isinstance(model, FormSubmittedTrigger) and model.form_submitted not in scenario.forms:
            name = model.form_submitted
            problems.append((f"{path}.form_submitted", _known("form", name, scenario.forms)))
        elif isinstance(model, AddStamp | ShowStampCard):
            rally = model.add_stamp.rally if isinstance(model, AddStamp) else model.show_stamp_card
            key = "add_stamp" if isinstance(model, AddStamp) else "show_stamp_card"
            if rally not in scenario.stamp_rallies:
                problems.append(
                    (f"{path}.{key}", _known("stamp rally", rally, scenario.stamp_rallies))
                )
        elif isinstance(model, LessonDelivered | LessonWatched):
            ref = (
                model.lesson_delivered
                if isinstance(model, LessonDelivered)
                else model.lesson_watched
            )
            key = "lesson_delivered" if isinstance(model, LessonDelivered) else "lesson_watched"
            course = scenario.courses.get(ref.course)
            if course is None:
                problems.append(
                    (f"{path}.{key}.course", _known("course", ref.course, scenario.courses))
                )
            elif course.lesson(ref.lesson) is None:
                keys = [lesson.key for lesson in course.lessons]
                problems.append((f"{path}.{key}.lesson", _known("lesson", ref.lesson, keys)))
        elif isinstance(model, SwitchMenu):
            if model.switch_menu not in scenario.rich_menus:
                problems.append(
                    (
                        f"{path}.switch_menu",
                        _known("rich menu", model.switch_menu, scenario.rich_menus),
                    )
                )
            elif scenario.menu_rules:
                problems.append(
                    (
                        f"{path}.switch_menu",
                        "menu_rules decide every friend's menu: give a tag or field that a "
                        "menu rule tests instead of switching directly",
                    )
                )
    for name, survey in scenario.surveys.items():
        for index, question in enumerate(survey.questions):
            at = f"surveys.{name}.questions[{index}]"
            if question.field is not None and question.field not in scenario.fields:
                problems.append((f"{at}.field", _known("field", question.field, scenario.fields)))
            for number, choice in enumerate(question.choices):
                problems += [
                    (f"{at}.choices[{number}].tags", _known("tag", tag, tags))
                    for tag in choice.tags or []
                    if tag not in tags
                ]
    last = len(scenario.menu_rules) - 1
    for index, rule in enumerate(scenario.menu_rules):
        if rule.menu not in scenario.rich_menus:
            problems.append(
                (f"menu_rules[{index}].menu", _known("rich menu", rule.menu, scenario.rich_menus))
            )
        if rule.if_ is None and index != last:
            problems.append(
                (
                    f"menu_rules[{index}]",
                    "a rule without `if` matches everyone: it must be the last (the default)",
                )
            )
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
