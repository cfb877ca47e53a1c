"""Form submissions: what happens when a verified friend sends a form.

In order: the answers are checked (422 with a message per field), the submission is stored
under the form's re-submission policy, friend fields are set, tags added, the form's `do`
actions run, `form_submitted` rules fire and the thank-you messages are pushed. The pushes
and actions are keyed by the submission's id, so doing the work twice never sends twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from bot import clock
from bot.crm.events import FormSubmitted
from bot.db.models import FormSubmission, Friend
from bot.scenario import TextMessage
from bot.scenario.forms import DEFAULT_THANKS, Form
from liff.validation import FormRules, form_rules

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

#: CRM changes made by a form are recorded with this source (tag history, field events).
SOURCE = "form"


class AlreadySubmitted(Exception):
    """A `resubmit: once` form this friend has sent before."""


class InvalidAnswers(Exception):
    """Answers the rules refuse; `errors` holds a Japanese message per field name."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class FormStatus:
    """What the page needs on load: whether the friend may send, and prefilled values."""

    submitted: bool
    closed: bool
    values: dict[str, Any]


def _page_value(kind: str, value: Any) -> Any:
    """A stored answer or field value as the page's input takes it."""
    if value is None:
        return None
    if kind == "checkbox":
        return [str(item) for item in value] if isinstance(value, list) else None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class FormService:
    """Forms of one scenario, their rules and their submissions."""

    def __init__(self, services: Services) -> None:
        self.services = services
        scenario = services.scenario
        self.forms: dict[str, Form] = dict(scenario.forms)
        self.rules: dict[str, FormRules] = {
            name: form_rules(form, scenario.fields) for name, form in self.forms.items()
        }

    async def status(self, name: str, friend: Friend) -> FormStatus:
        form = self.forms[name]
        last = (
            await FormSubmission.filter(friend_id=friend.id, form=name)
            .order_by("-submitted_at", "-id")
            .first()
        )
        values: dict[str, Any] = {}
        if last is not None and form.resubmit == "latest":
            values.update(last.answers)
        fields = await self.services.crm.fields.get_all(friend.id)
        for rules in self.rules[name].fields:
            if rules.friend_field is not None and fields.get(rules.friend_field) is not None:
                value = fields[rules.friend_field]
                if rules.declaration is not None and rules.declaration.type == "bool":
                    value = list(rules.options[:1]) if value else []
                values[rules.name] = value
        prefill = {}
        for rules in self.rules[name].fields:
            value = _page_value(rules.kind, values.get(rules.name))
            if rules.kind in ("select", "radio") and value not in rules.options:
                value = None
            if rules.kind == "checkbox" and value is not None:
                value = [item for item in value if item in rules.options]
            if value is not None:
                prefill[rules.name] = value
        submitted = last is not None
        return FormStatus(
            submitted=submitted, closed=submitted and form.resubmit == "once", values=prefill
        )

    async def submit(self, name: str, friend: Friend, answers: dict[str, Any]) -> int:
        """Check, store and act on a submission; returns its id. InvalidAnswers or
        AlreadySubmitted leave everything as it was."""
        form = self.forms[name]
        if form.resubmit == "once" and await self._submitted(name, friend.id):
            raise AlreadySubmitted(name)  # said before the answers: they no longer matter
        clean, errors = self.rules[name].validate(answers)
        if errors:
            raise InvalidAnswers(errors)
        submission_id = await self._store(name, form, friend.id, clean)
        log.info("form %s submitted by friend #%s (submission %s)", name, friend.id, submission_id)
        await self._apply(name, form, friend.id, clean, submission_id)
        return submission_id

    @staticmethod
    async def _submitted(name: str, friend_id: int) -> bool:
        return await FormSubmission.filter(friend_id=friend_id, form=name).exists()

    async def _store(self, name: str, form: Form, friend_id: int, clean: dict[str, Any]) -> int:
        """One transaction that also locks the friend's row on PostgreSQL, so two requests at
        once cannot both pass the `once` check (SQLite runs one transaction at a time)."""
        async with in_transaction() as conn:
            await Friend.filter(id=friend_id).select_for_update().using_db(conn).get()
            earlier = FormSubmission.filter(friend_id=friend_id, form=name).using_db(conn)
            if form.resubmit == "once" and await earlier.exists():
                raise AlreadySubmitted(name)
            if form.resubmit == "latest":
                await earlier.delete()
            row = await FormSubmission.create(
                friend_id=friend_id,
                form=name,
                answers=clean,
                submitted_at=clock.now(),
                using_db=conn,
            )
        return int(row.id)

    async def _apply(
        self, name: str, form: Form, friend_id: int, clean: dict[str, Any], submission_id: int
    ) -> None:
        services = self.services
        crm = services.crm
        for spec, rules in zip(form.fields, self.rules[name].fields, strict=True):
            value = clean.get(rules.name)
            if rules.friend_field is not None:
                await crm.fields.set(
                    friend_id,
                    rules.friend_field,
                    None if value is None else rules.friend_value(value),
                    source=SOURCE,
                    actor=None,
                )
            answered = value not in (None, [])
            tags = list(spec.tags or ()) if answered else []
            chosen = value if isinstance(value, list) else [value]
            for option in spec.options or ():
                if option.answer in chosen:
                    tags += option.tags or []
            for tag in dict.fromkeys(tags):
                await crm.tags.add(friend_id, tag, source=SOURCE, actor=None)
        if form.do:
            await services.actions.run(
                friend_id, form.do, source=SOURCE, actor=None, dedupe=f"form:{submission_id}:do"
            )
        await crm.bus.publish(FormSubmitted(friend_id, SOURCE, None, form=name))
        thanks = form.thanks
        if thanks is None:
            thanks = [TextMessage(type="text", text=DEFAULT_THANKS)]
        if thanks:
            await services.actions.send(
                friend_id, thanks, source=f"form:{name}", dedupe=f"form:{submission_id}"
            )
