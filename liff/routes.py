"""The LIFF routes: pages under /liff and their JSON API under /liff/api, and `setup_liff`
that adds them to the bot's application. Who calls the API is `liff.auth`'s job."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.appkeys import SERVICES
from bot.db.models import Friend
from bot.scenario import ScenarioError, ScenarioIssue
from bot.scenario.forms import check_forms
from liff.auth import ApiError, api, json_answer, verified_friend
from liff.forms import AlreadySubmitted, FormService, InvalidAnswers
from liff.idtoken import IdTokenVerifier
from liff.lessons import delivered_lessons
from liff.pages import STATIC_DIR, STATIC_PATH, Pages

log = logging.getLogger(__name__)

MAX_SUBMISSION_BYTES = 64 * 1024

FORM_NOT_FOUND = "フォームが見つかりません。"
COURSE_NOT_FOUND = "コースが見つかりません。"
ALREADY_SUBMITTED = "このフォームはすでに回答済みです。ご回答ありがとうございました。"
CHECK_ANSWERS = "入力内容を確認してください。"
BAD_BODY = "送信内容を読み取れませんでした。もう一度お試しください。"
TOO_LARGE = "送信内容が大きすぎます。"


@dataclass
class Liff:
    """What the LIFF handlers share: the verifier, the forms and the page renderer."""

    verifier: IdTokenVerifier | None
    forms: FormService
    pages: Pages


LIFF_KEY: web.AppKey[Liff] = web.AppKey("liff", Liff)


async def _friend(request: web.Request) -> Friend:
    return await verified_friend(request, request.app[LIFF_KEY].verifier)


def _form_name(request: web.Request) -> str:
    name = request.match_info["name"]
    if name not in request.app[LIFF_KEY].forms.forms:
        raise ApiError(404, "not_found", FORM_NOT_FOUND)
    return name


def _course_name(request: web.Request) -> str:
    name = request.match_info["course"]
    if name not in request.app[SERVICES].scenario.courses:
        raise ApiError(404, "not_found", COURSE_NOT_FOUND)
    return name


# --- pages -------------------------------------------------------------------------------


async def launch_page(request: web.Request) -> web.Response:
    """The LIFF endpoint itself: LINE opens it with `liff.state` naming the page wanted, and
    the LIFF SDK (or, in the sandbox, the page's script) goes on there."""
    return request.app[LIFF_KEY].pages.render("launch.html", title="読み込み中", script="launch.js")


async def form_page(request: web.Request) -> web.Response:
    liff = request.app[LIFF_KEY]
    name = request.match_info["name"]
    form = liff.forms.forms.get(name)
    if form is None:
        return liff.pages.render(
            "missing.html", status=404, title="見つかりません", message=FORM_NOT_FOUND
        )
    rules = liff.forms.rules[name]
    return liff.pages.render(
        "form.html",
        script="form.js",
        title=form.title,
        form=form,
        fields=list(zip(form.fields, rules.fields, strict=True)),
        rules=rules.for_page(),
        api_path=request.app.router["liff_form_api"].url_for(name=name).raw_path,
    )


async def lessons_page(request: web.Request) -> web.Response:
    liff = request.app[LIFF_KEY]
    name = request.match_info["course"]
    course = request.app[SERVICES].scenario.courses.get(name)
    if course is None:
        return liff.pages.render(
            "missing.html", status=404, title="見つかりません", message=COURSE_NOT_FOUND
        )
    return liff.pages.render(
        "lessons.html",
        script="lessons.js",
        title=f"{course.title} これまでの動画",
        course=course,
        api_path=request.app.router["liff_lessons_api"].url_for(course=name).raw_path,
    )


# --- API ---------------------------------------------------------------------------------


def _definition(request: web.Request, name: str) -> dict[str, Any]:
    forms = request.app[LIFF_KEY].forms
    form = forms.forms[name]
    fields = []
    for spec, rules in zip(form.fields, forms.rules[name].fields, strict=True):
        fields.append(
            {
                **rules.for_page(),
                "label": spec.label,
                "help": spec.help,
                "placeholder": spec.placeholder,
                "options": [{"label": o.label, "value": o.answer} for o in spec.options or ()],
            }
        )
    return {
        "name": name,
        "title": form.title,
        "description": form.description,
        "submitLabel": form.submit_label,
        "resubmit": form.resubmit,
        "fields": fields,
    }


@api
async def form_api_get(request: web.Request) -> web.Response:
    """The form's definition, whether this friend may send it, and prefilled values."""
    name = _form_name(request)
    friend = await _friend(request)
    status = await request.app[LIFF_KEY].forms.status(name, friend)
    data: dict[str, Any] = {
        "form": _definition(request, name),
        "submitted": status.submitted,
        "closed": status.closed,
        "values": status.values,
    }
    if status.closed:
        data["message"] = ALREADY_SUBMITTED
    return json_answer(data)


async def _answers(request: web.Request) -> dict[str, Any]:
    if (request.content_length or 0) > MAX_SUBMISSION_BYTES:
        raise ApiError(413, "too_large", TOO_LARGE)
    raw = await request.read()  # whole body (content.read(n) may stop at the first chunk)
    if len(raw) > MAX_SUBMISSION_BYTES:
        raise ApiError(413, "too_large", TOO_LARGE)
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "bad_request", BAD_BODY) from None
    answers = body.get("answers") if isinstance(body, dict) else None
    if not isinstance(answers, dict):
        raise ApiError(400, "bad_request", BAD_BODY)
    return answers


@api
async def form_api_post(request: web.Request) -> web.Response:
    """Submit: the friend is the token's, whatever the body says."""
    name = _form_name(request)
    friend = await _friend(request)
    answers = await _answers(request)
    liff = request.app[LIFF_KEY]
    try:
        submission_id = await liff.forms.submit(name, friend, answers)
    except InvalidAnswers as exc:
        raise ApiError(422, "invalid", CHECK_ANSWERS, errors=exc.errors) from None
    except AlreadySubmitted:
        raise ApiError(409, "already_submitted", ALREADY_SUBMITTED) from None
    return json_answer({"ok": True, "id": submission_id, "done": liff.forms.forms[name].done})


@api
async def lessons_api(request: web.Request) -> web.Response:
    """Lessons of the course delivered to this friend so far, watched ones marked."""
    name = _course_name(request)
    friend = await _friend(request)
    course = request.app[SERVICES].scenario.courses[name]
    lessons = await delivered_lessons(name, course, friend.id)
    return json_answer({"course": {"name": name, "title": course.title}, "lessons": lessons})


# --- wiring ------------------------------------------------------------------------------


def setup_liff(app: web.Application) -> None:
    """Serve the LIFF pages and API in `app` (which holds the services already).

    Refuses (ScenarioError) a scenario whose forms name undeclared fields or tags.
    """
    services = app[SERVICES]
    settings = services.settings
    scenario = services.scenario
    problems = check_forms(scenario)
    if problems:
        filename = str(settings.scenario_path)
        raise ScenarioError(ScenarioIssue(filename, path, msg) for path, msg in problems)
    verifier = None
    if settings.line_login_channel_id:
        verifier = IdTokenVerifier(settings.id_token_verify_url, settings.line_login_channel_id)
    elif scenario.forms or scenario.courses:
        log.warning("LIFF_ID is not set: LIFF pages cannot tell who opens them")
    app[LIFF_KEY] = Liff(
        verifier=verifier,
        forms=FormService(services),
        pages=Pages(sandbox=settings.sandbox, liff_id=settings.liff_id),
    )

    async def verifier_ctx(_: web.Application) -> AsyncIterator[None]:
        if verifier is not None:
            await verifier.start()
        yield
        if verifier is not None:
            await verifier.close()

    app.cleanup_ctx.append(verifier_ctx)
    app.router.add_get("/liff", launch_page)
    app.router.add_get("/liff/", launch_page)
    app.router.add_get("/liff/forms/{name}", form_page)
    app.router.add_get("/liff/lessons/{course}", lessons_page)
    app.router.add_get("/liff/api/forms/{name}", form_api_get, name="liff_form_api")
    app.router.add_post("/liff/api/forms/{name}", form_api_post)
    app.router.add_get("/liff/api/lessons/{course}", lessons_api, name="liff_lessons_api")
    app.router.add_static(STATIC_PATH, STATIC_DIR)
