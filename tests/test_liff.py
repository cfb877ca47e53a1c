"""LIFF forms and the lesson history against the real app and its sandbox, over HTTP.

Tokens come from the sandbox's token endpoint (as the simulator gets them) and are verified
by the bot through the sandbox's copy of LINE Login's verify endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web

from bot import clock
from bot.app import create_app
from bot.config import ConfigError, Settings
from bot.crm.tags import current_tags
from bot.db.models import FormSubmission, LessonProgress
from bot.scenario import ScenarioError, parse_scenario
from bot.scenario.forms import form_url, lessons_url, liff_url
from bot.services import Services
from liff.idtoken import IdTokenVerifier, Rejected, Verified, VerifierUnavailable
from liff.pages import Pages
from tests.conftest import make_settings
from tests.dsl import FriendDriver, SandboxDriver, joined

SCENARIO_TEXT = """
version: 1
welcome: ["ようこそ、{{ friend.display_name }}さん"]
tags: [会員登録済, 東京在住, メルマガ希望, フォーム回答者, 電話あり]
fields:
  氏名: {type: text, max_length: 50}
  メール: {type: text}
  年齢: {type: number, min: 0, max: 130}
  地域: {type: choice, choices: [東京, 大阪, その他]}
  誕生日: {type: date}
  興味: {type: multi_choice, choices: [和食, 洋食, 中華]}
  同意: {type: bool}
rules:
  - name: フォーム回答でタグ
    when: [{form_submitted: 会員登録}]
    do: [{add_tag: フォーム回答者}]
forms:
  会員登録:
    title: 会員登録
    description: かんたんな会員登録です。
    fields:
      - {name: name, label: お名前, required: true, field: 氏名}
      - {name: email, label: メールアドレス, type: email, required: true, field: メール}
      - {name: tel, label: 電話番号, type: tel, tags: 電話あり}
      - {name: age, label: 年齢, type: number, min: 18, max: 120, field: 年齢}
      - {name: birthday, label: 誕生日, type: date, field: 誕生日, max: 2020-12-31}
      - name: area
        label: お住まいの地域
        type: select
        required: true
        field: 地域
        options: [{label: 東京, tags: 東京在住}, 大阪, その他]
      - {name: likes, label: 好きな料理, type: checkbox, field: 興味, max: 2, options: [和食, 洋食, 中華]}
      - name: news
        label: お知らせ
        type: radio
        options: [{label: 受け取る, value: "yes", tags: メルマガ希望}, {label: 受け取らない, value: "no"}]
      - {name: agree, label: 規約に同意する, type: checkbox, field: 同意, options: [同意する]}
      - {name: note, label: ご要望, type: textarea, max_length: 20}
      - {name: code, label: 会員番号, pattern: "[0-9]{6}", error: 会員番号は6桁の数字で入力してください}
    do: [{add_tag: 会員登録済}]
    thanks: ["{{ friend.display_name }}さん、ご登録ありがとうございます!"]
    done: ご登録ありがとうございました。
  アンケート:
    title: 一度だけのアンケート
    resubmit: once
    fields: [{name: q, label: ご感想, required: true}]
    thanks: ["アンケートへのご回答ありがとうございました。"]
  日報:
    title: 毎日の記録
    resubmit: every
    fields: [{name: q, label: 内容, required: true}]
courses:
  料理コース:
    title: こはる料理コース
    lessons:
      - {key: 1, title: だしの基本, url: "https://example.com/lessons/1"}
      - {key: 2, title: 包丁の基本, url: "https://example.com/lessons/2"}
      - {key: 3, title: 季節の献立, url: "https://example.com/lessons/3"}
      - {key: 4, title: おもてなし, url: "javascript:alert(1)"}
"""

GOOD = {
    "name": "山田 花子",
    "email": "ｈａｎａｋｏ@example.com",
    "tel": "090-1234-5678",
    "age": "３０",
    "birthday": "1994/04/01",
    "area": "東京",
    "likes": ["和食", "中華"],
    "news": "yes",
    "agree": ["同意する"],
    "note": "",
    "code": "123456",
}

App = tuple[SandboxDriver, Services]


def api_path(kind: str, name: str) -> str:
    return f"/liff/api/{kind}/{quote(name)}"


async def token_for(sandbox: SandboxDriver, friend: FriendDriver, **extra: str) -> str:
    return await sandbox.id_token(friend.user_id, **extra)


async def call(
    sandbox: SandboxDriver,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with sandbox.session.request(
        method, sandbox.base_url + path, json=body, headers=headers
    ) as resp:
        return resp.status, await resp.json()


async def submit(
    sandbox: SandboxDriver, form: str, token: str | None, answers: dict[str, Any], **extra: Any
) -> tuple[int, dict[str, Any]]:
    return await call(
        sandbox, "POST", api_path("forms", form), token, {"answers": answers, **extra}
    )


async def outgoing(friend: FriendDriver) -> list[str]:
    """Every bot message the friend has in the chat so far (sent before any answer)."""
    return [
        e["message"].get("text", "") for e in await friend.transcript() if e["direction"] == "out"
    ]


def altered(token: str, *, claims: dict[str, Any] | None = None) -> str:
    """The token with its signature changed, or with other claims under the old signature."""
    head, body, signature = token.split(".")
    if claims is None:
        flipped = "A" if signature[0] != "A" else "B"
        return f"{head}.{body}.{flipped}{signature[1:]}"
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(claims)
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


async def nothing_stored(services: Services, friend_id: int, friend: FriendDriver) -> None:
    assert await FormSubmission.filter(friend_id=friend_id).count() == 0
    assert await services.crm.fields.get_all(friend_id) == {}
    assert await current_tags(friend_id) == []
    assert await outgoing(friend) == ["ようこそ、花子さん"]


# --- a valid submission ------------------------------------------------------------------


async def test_a_valid_submission_is_stored_and_acted_on(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend)

    status, data = await submit(sandbox, "会員登録", token, GOOD)

    assert status == 200, data
    assert data["done"] == "ご登録ありがとうございました。"
    row = await FormSubmission.get(friend_id=friend_id, form="会員登録")
    assert row.id == data["id"]
    assert row.answers == {
        "name": "山田 花子",
        "email": "hanako@example.com",
        "tel": "090-1234-5678",
        "age": 30,
        "birthday": "1994-04-01",
        "area": "東京",
        "likes": ["和食", "中華"],
        "news": "yes",
        "agree": ["同意する"],
        "note": None,
        "code": "123456",
    }
    fields = await services.crm.fields.get_all(friend_id)
    assert fields == {
        "氏名": "山田 花子",
        "メール": "hanako@example.com",
        "年齢": 30,
        "誕生日": clock.now().date().replace(year=1994, month=4, day=1),
        "地域": "東京",
        "興味": ["和食", "中華"],
        "同意": True,
    }
    # option tags, the field's tag, `do`, and the form_submitted rule
    assert set(await current_tags(friend_id)) == {
        "東京在住",
        "メルマガ希望",
        "電話あり",
        "会員登録済",
        "フォーム回答者",
    }
    assert await friend.texts(1) == ["花子さん、ご登録ありがとうございます!"]
    pushes = await sandbox.calls("/v2/bot/message/push")
    assert [c["body"]["messages"][0]["text"] for c in pushes] == [
        "花子さん、ご登録ありがとうございます!"
    ]


async def test_the_users_id_in_the_body_is_ignored(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    other, other_id = await joined(sandbox, "太郎")
    token = await token_for(sandbox, friend)

    status, _ = await submit(
        sandbox,
        "アンケート",
        token,
        {"q": "よかった", "userId": other.user_id},
        userId=other.user_id,
        friendId=other_id,
    )

    assert status == 200
    rows = await FormSubmission.all()
    assert [(r.friend_id, r.answers) for r in rows] == [(friend_id, {"q": "よかった"})]
    assert await outgoing(other) == ["ようこそ、太郎さん"]


# --- refused tokens ----------------------------------------------------------------------


async def test_a_missing_token_is_401_and_nothing_is_stored(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")

    status, data = await submit(sandbox, "会員登録", None, GOOD)
    assert (status, data["code"]) == (401, "token_missing")
    assert data["message"] == "LINEの認証情報がありません。LINEアプリからもう一度開いてください。"
    status, data = await call(sandbox, "GET", api_path("forms", "会員登録"), "")
    assert status == 401
    await nothing_stored(services, friend_id, friend)


async def test_a_forged_token_is_401_and_nothing_is_stored(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    victim, victim_id = await joined(sandbox, "太郎")
    token = await token_for(sandbox, friend)

    for forged in (
        altered(token),  # signature changed
        altered(token, claims={"sub": victim.user_id}),  # someone else, old signature
        "not-a-token",
    ):
        status, data = await submit(sandbox, "会員登録", forged, GOOD)
        assert (status, data["code"]) == (401, "token_invalid"), forged
        assert data["message"] == "認証できませんでした。LINEアプリからもう一度開いてください。"
    await nothing_stored(services, friend_id, friend)
    assert await FormSubmission.filter(friend_id=victim_id).count() == 0


async def test_an_expired_token_is_401_and_nothing_is_stored(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend)
    status, _ = await call(sandbox, "GET", api_path("forms", "会員登録"), token)
    assert status == 200  # fresh: accepted

    await sandbox.advance("1h1m")

    status, data = await submit(sandbox, "会員登録", token, GOOD)
    assert (status, data["code"]) == (401, "token_expired")
    assert data["message"] == "認証の有効期限が切れました。LINEアプリからもう一度開いてください。"
    await nothing_stored(services, friend_id, friend)


async def test_another_channels_token_is_401_and_nothing_is_stored(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend, channelId="1999999999")

    status, data = await submit(sandbox, "会員登録", token, GOOD)

    assert (status, data["code"]) == (401, "token_invalid")
    await nothing_stored(services, friend_id, friend)


async def test_someone_who_is_not_a_friend_is_403(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    stranger = await sandbox.friend("通りすがり")  # never followed
    status, data = await submit(
        sandbox, "アンケート", await token_for(sandbox, stranger), {"q": "x"}
    )
    assert (status, data["code"]) == (403, "not_friend")
    assert "友だち追加" in data["message"]

    former, _ = await joined(sandbox, "元友だち")
    await former.block()
    await sandbox.settle()
    status, data = await submit(sandbox, "アンケート", await token_for(sandbox, former), {"q": "x"})
    assert (status, data["code"]) == (403, "not_friend")
    assert await FormSubmission.all().count() == 0


async def test_the_sandbox_verifies_id_tokens_as_line_does(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, _ = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend)
    channel = services.settings.line_login_channel_id
    assert channel == "1000000000"
    verify = sandbox.base_url + "/sandbox/line/oauth2/v2.1/verify"

    async def ask(**form: str) -> tuple[int, dict[str, Any]]:
        async with sandbox.session.post(verify, data=form) as resp:
            return resp.status, await resp.json()

    status, claims = await ask(id_token=token, client_id=channel)
    assert status == 200
    assert claims["iss"] == "https://access.line.me"
    assert (claims["sub"], claims["aud"], claims["name"]) == (friend.user_id, channel, "花子")
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["amr"] == ["linesso"]

    def refused(description: str) -> tuple[int, dict[str, str]]:
        return 400, {"error": "invalid_request", "error_description": description}

    assert await ask(id_token=token, client_id="1234567890") == refused("Invalid IdToken Audience.")
    assert await ask(id_token=altered(token), client_id=channel) == refused("Invalid IdToken.")
    assert await ask(id_token=token, client_id=channel, user_id="U" + "0" * 32) == refused(
        "Invalid IdToken Subject Identifier."
    )
    assert await ask(id_token=token, client_id=channel, nonce="abc") == refused(
        "Invalid IdToken Nonce."
    )
    status, _ = await ask(client_id=channel)
    assert status == 400
    clock.clock.advance(timedelta(hours=1))
    assert await ask(id_token=token, client_id=channel) == refused("IdToken expired.")


async def test_tokens_are_only_issued_for_virtual_friends(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, _ = await joined(sandbox, "トークン太郎")
    issued = await sandbox.post("/sandbox/api/liff/token", {"userId": friend.user_id}, expect=200)
    assert issued["expiresIn"] == 3600 and issued["idToken"].count(".") == 2
    data = await sandbox.post("/sandbox/api/liff/token", {"userId": "U" + "1" * 32}, expect=404)
    assert data["message"] == "その友だちは見つかりません"
    await sandbox.post("/sandbox/api/liff/token", {}, expect=400)


# --- validation --------------------------------------------------------------------------


async def test_invalid_answers_get_japanese_messages_per_field(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend)

    status, data = await submit(
        sandbox,
        "会員登録",
        token,
        {
            "name": "   ",
            "email": "hanako@",
            "tel": "12-34",
            "age": "十七",
            "birthday": "2021-01-01",
            "area": "京都",
            "likes": ["和食", "洋食", "中華"],
            "news": "maybe",
            "note": "あ" * 21,
            "code": "12345",
        },
    )

    assert status == 422
    assert data["message"] == "入力内容を確認してください。"
    assert data["errors"] == {
        "name": "お名前を入力してください",
        "email": "メールアドレスの形式が正しくありません",
        "tel": "電話番号の形式が正しくありません",
        "age": "年齢は数値で入力してください",
        "birthday": "誕生日は2020年12月31日以前の日付を入力してください",
        "area": "お住まいの地域は選択肢の中から選んでください",
        "likes": "好きな料理は2つまで選択できます",
        "news": "お知らせは選択肢の中から選んでください",
        "note": "ご要望は20文字以内で入力してください",
        "code": "会員番号は6桁の数字で入力してください",
    }
    status, data = await submit(sandbox, "会員登録", token, {**GOOD, "age": "17", "area": ""})
    assert status == 422
    assert data["errors"] == {
        "age": "年齢は18以上で入力してください",
        "area": "お住まいの地域を選択してください",
    }
    await nothing_stored(services, friend_id, friend)


async def test_the_page_gets_the_same_rules_and_messages(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, _ = await joined(sandbox, "花子")
    status, data = await call(
        sandbox, "GET", api_path("forms", "会員登録"), await token_for(sandbox, friend)
    )
    assert status == 200
    fields = {f["name"]: f for f in data["form"]["fields"]}
    # the friend field's max_length (50) tightens the input's default (1000)
    assert fields["name"]["maxLength"] == 50
    assert fields["age"]["min"] == 18 and fields["age"]["max"] == 120
    assert fields["birthday"]["maxDate"] == "2020-12-31"
    assert fields["area"]["options"] == [
        {"label": "東京", "value": "東京"},
        {"label": "大阪", "value": "大阪"},
        {"label": "その他", "value": "その他"},
    ]
    assert fields["email"]["messages"]["format"] == "メールアドレスの形式が正しくありません"
    assert fields["name"]["messages"]["required"] == "お名前を入力してください"
    assert (data["submitted"], data["closed"], data["values"]) == (False, False, {})


# --- re-submission -----------------------------------------------------------------------


async def test_once_refuses_a_second_submission(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend)
    assert (await submit(sandbox, "アンケート", token, {"q": "よかった"}))[0] == 200
    assert await friend.texts(1) == ["アンケートへのご回答ありがとうございました。"]

    status, data = await submit(sandbox, "アンケート", token, {"q": "もう一度"})

    assert (status, data["code"]) == (409, "already_submitted")
    assert (await submit(sandbox, "アンケート", token, {"q": ""}))[0] == 409
    assert data["message"] == "このフォームはすでに回答済みです。ご回答ありがとうございました。"
    rows = await FormSubmission.filter(friend_id=friend_id, form="アンケート")
    assert [r.answers for r in rows] == [{"q": "よかった"}]
    status, data = await call(sandbox, "GET", api_path("forms", "アンケート"), token)
    assert (data["submitted"], data["closed"]) == (True, True)
    assert data["message"] == "このフォームはすでに回答済みです。ご回答ありがとうございました。"
    assert await outgoing(friend) == [
        "ようこそ、花子さん",
        "アンケートへのご回答ありがとうございました。",
    ]


async def test_once_holds_when_two_submissions_race(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend)

    results = await asyncio.gather(
        *(submit(sandbox, "アンケート", token, {"q": f"回答{n}"}) for n in range(4))
    )

    assert sorted(status for status, _ in results) == [200, 409, 409, 409]
    assert await FormSubmission.filter(friend_id=friend_id, form="アンケート").count() == 1
    assert await friend.texts(1) == ["アンケートへのご回答ありがとうございました。"]
    assert len(await outgoing(friend)) == 2  # the welcome and one thank-you


async def test_latest_replaces_the_earlier_answers(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend)
    assert (await submit(sandbox, "会員登録", token, GOOD))[0] == 200
    assert (await submit(sandbox, "会員登録", token, {**GOOD, "area": "大阪"}))[0] == 200

    rows = await FormSubmission.filter(friend_id=friend_id, form="会員登録")
    assert [r.answers["area"] for r in rows] == ["大阪"]
    assert await services.crm.fields.get(friend_id, "地域") == "大阪"
    # each submission is thanked once
    assert await friend.texts(2) == ["花子さん、ご登録ありがとうございます!"] * 2
    status, data = await call(sandbox, "GET", api_path("forms", "会員登録"), token)
    assert (status, data["submitted"], data["closed"]) == (200, True, False)
    assert data["values"]["area"] == "大阪"


async def test_every_keeps_each_submission(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend)
    for text in ("一日目", "二日目", "三日目"):
        assert (await submit(sandbox, "日報", token, {"q": text}))[0] == 200
    rows = await FormSubmission.filter(friend_id=friend_id, form="日報").order_by("id")
    assert [r.answers["q"] for r in rows] == ["一日目", "二日目", "三日目"]
    assert await friend.texts(3) == ["ご回答ありがとうございました。"] * 3


# --- prefill -----------------------------------------------------------------------------


async def test_the_form_is_prefilled_from_friend_fields(scenario_app: App) -> None:
    sandbox, services = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    fields = services.crm.fields
    await fields.set(friend_id, "氏名", "山田 花子", source="admin")
    await fields.set(friend_id, "年齢", 41, source="admin")
    await fields.set(friend_id, "誕生日", "1984-02-29", source="admin")
    await fields.set(friend_id, "地域", "その他", source="admin")
    await fields.set(friend_id, "興味", ["洋食"], source="admin")
    await fields.set(friend_id, "同意", True, source="admin")

    status, data = await call(
        sandbox, "GET", api_path("forms", "会員登録"), await token_for(sandbox, friend)
    )

    assert status == 200
    assert data["values"] == {
        "name": "山田 花子",
        "age": "41",
        "birthday": "1984-02-29",
        "area": "その他",
        "likes": ["洋食"],
        "agree": ["同意する"],
    }


# --- the lesson history ------------------------------------------------------------------


async def test_lessons_lists_delivered_lessons_with_watched_marks(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, friend_id = await joined(sandbox, "花子")
    other, other_id = await joined(sandbox, "太郎")
    now = clock.now()
    day = timedelta(days=1)
    await LessonProgress.create(
        friend_id=friend_id, course="料理コース", lesson="2", delivered_at=now - day
    )
    await LessonProgress.create(
        friend_id=friend_id,
        course="料理コース",
        lesson="1",
        delivered_at=now - 8 * day,
        watched_at=now - 7 * day,
    )
    await LessonProgress.create(friend_id=friend_id, course="料理コース", lesson="3")
    await LessonProgress.create(
        friend_id=friend_id, course="料理コース", lesson="4", delivered_at=now
    )
    await LessonProgress.create(
        friend_id=other_id, course="料理コース", lesson="3", delivered_at=now
    )

    status, data = await call(
        sandbox, "GET", api_path("lessons", "料理コース"), await token_for(sandbox, friend)
    )

    assert status == 200
    assert data["course"] == {"name": "料理コース", "title": "こはる料理コース"}
    shown = [(x["key"], x["title"], x["url"], x["watched"]) for x in data["lessons"]]
    assert shown == [
        ("1", "だしの基本", "https://example.com/lessons/1", True),
        ("2", "包丁の基本", "https://example.com/lessons/2", False),
        ("4", "おもてなし", None, False),  # a non-http link is never handed to the page
    ]
    status, data = await call(
        sandbox, "GET", api_path("lessons", "料理コース"), await token_for(sandbox, other)
    )
    assert [x["key"] for x in data["lessons"]] == ["3"]


async def test_lessons_need_a_valid_token(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, _ = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend)
    assert (await call(sandbox, "GET", api_path("lessons", "料理コース")))[0] == 401
    assert (await call(sandbox, "GET", api_path("lessons", "料理コース"), altered(token)))[0] == 401


async def test_unknown_forms_and_courses_are_404(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, _ = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend)
    status, data = await call(sandbox, "GET", api_path("forms", "ない"), token)
    assert (status, data["message"]) == (404, "フォームが見つかりません。")
    assert (await submit(sandbox, "ない", token, {}))[0] == 404
    status, data = await call(sandbox, "GET", api_path("lessons", "ない"), token)
    assert (status, data["message"]) == (404, "コースが見つかりません。")
    for page in ("/liff/forms/ない", "/liff/lessons/ない"):
        async with sandbox.session.get(sandbox.base_url + quote(page)) as resp:
            assert resp.status == 404


async def test_pages_load_nothing_from_elsewhere_in_the_sandbox(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    for page in ("/liff/forms/会員登録", "/liff/lessons/料理コース", "/liff"):
        async with sandbox.session.get(sandbox.base_url + quote(page)) as resp:
            assert resp.status == 200
            html = await resp.text()
            assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        assert "https://" not in html and "http://" not in html, page
    for asset in ("liff.css", "core.js", "form.js", "lessons.js", "launch.js"):
        async with sandbox.session.get(f"{sandbox.base_url}/liff/static/{asset}") as resp:
            assert resp.status == 200, asset
            text = await resp.text()
        assert "https://" not in text and "http://" not in text and "@import" not in text, asset


async def test_bodies_that_are_not_answers_are_400(scenario_app: App) -> None:
    sandbox, _ = scenario_app
    friend, _ = await joined(sandbox, "花子")
    token = await token_for(sandbox, friend)
    status, data = await call(sandbox, "POST", api_path("forms", "日報"), token, ["q"])
    assert (status, data["code"]) == (400, "bad_request")
    status, _ = await call(
        sandbox, "POST", api_path("forms", "日報"), token, {"answers": {"q": "x" * 70_000}}
    )
    assert status == 413


# --- scenario file, settings and URLs ----------------------------------------------------


def test_form_keys_are_checked_when_the_file_loads() -> None:
    text = """
version: 1
tags: [会員]
fields:
  年齢: {type: number}
  地域: {type: choice, choices: [東京, 大阪]}
forms:
  f:
    title: テスト
    fields:
      - {name: a, label: 年齢, type: text, field: 年齢}
      - {name: b, label: 地域, type: radio, field: 地域, options: [東京, 福岡]}
      - {name: c, label: C, field: ない}
      - {name: d, label: D, type: select, options: [{label: x, tags: ないタグ}]}
"""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "forms.yaml")
    assert [(issue.path, issue.message) for issue in caught.value.issues] == [
        (
            "forms.f.fields[0].field",
            "a text input cannot fill the number field '年齢' (use one of: number)",
        ),
        (
            "forms.f.fields[1].field",
            "options 福岡 are not choices of the field '地域' (choices: 東京, 大阪)",
        ),
        ("forms.f.fields[2].field", "unknown field 'ない' (declared: 地域, 年齢)"),
        ("forms.f.fields[3].options[0].tags", "unknown tag 'ないタグ' (declared: 会員)"),
    ]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("{name: a, label: A, type: radio}", "a radio field needs options"),
        (
            "{name: a, label: A, options: [x]}",
            "only select, radio and checkbox fields have options",
        ),
        ("{name: a, label: A, type: number, pattern: '[0-9]+'}", "only text, textarea, email"),
        ("{name: a, label: A, pattern: '('}", "pattern is not a valid regular expression"),
        ("{name: a, label: A, type: date, min: 5}", "must be a date (YYYY-MM-DD)"),
        ("{name: a, label: A, type: number, min: 5, max: 1}", "min is larger than max"),
        ("{name: a, label: A, type: text, min: 1}", "only number, date and checkbox"),
    ],
)
def test_form_fields_are_validated(field: str, message: str) -> None:
    text = f"version: 1\nforms:\n  f:\n    title: T\n    fields: [{field}]\n"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "f.yaml")
    assert message in str(caught.value)


def test_a_server_does_not_start_with_a_form_naming_an_undeclared_field(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text(
        "version: 1\nforms:\n  f:\n    title: T\n    fields: [{name: a, label: A, field: ない}]\n",
        encoding="utf-8",
    )
    settings = make_settings(f"sqlite://{tmp_path / 'x.db'}", STEPBOT_SCENARIO=str(scenario))
    with pytest.raises(ScenarioError, match="unknown field 'ない'"):
        create_app(settings)


def test_liff_settings() -> None:
    sandbox = Settings.from_env({})
    assert (sandbox.liff_id, sandbox.line_login_channel_id) == ("1000000000-sandbox0", "1000000000")
    assert sandbox.id_token_verify_url == "http://127.0.0.1:8080/sandbox/line/oauth2/v2.1/verify"
    live = Settings.from_env(
        {
            "LINE_CHANNEL_ACCESS_TOKEN": "t",
            "LINE_CHANNEL_SECRET": "s",
            "LIFF_ID": "1657000000-AbCdEfGh",
        }
    )
    assert live.line_login_channel_id == "1657000000"
    assert live.id_token_verify_url == "https://api.line.me/oauth2/v2.1/verify"
    other = Settings.from_env(
        {
            "LINE_CHANNEL_ACCESS_TOKEN": "t",
            "LINE_CHANNEL_SECRET": "s",
            "LIFF_ID": "1657000000-AbCdEfGh",
            "LINE_LOGIN_CHANNEL_ID": "1600000001",
        }
    )
    assert other.line_login_channel_id == "1600000001"
    no_liff = Settings.from_env({"LINE_CHANNEL_ACCESS_TOKEN": "t", "LINE_CHANNEL_SECRET": "s"})
    assert (no_liff.liff_id, no_liff.line_login_channel_id) == (None, None)
    with pytest.raises(ConfigError, match="LIFF_ID"):
        Settings.from_env({"LIFF_ID": "not a liff id"})
    with pytest.raises(ConfigError, match="LINE_LOGIN_CHANNEL_ID"):
        Settings.from_env({"LINE_LOGIN_CHANNEL_ID": "abc"})


def test_liff_urls() -> None:
    liff_id = "1657000000-AbCdEfGh"
    assert liff_url(liff_id) == "https://liff.line.me/1657000000-AbCdEfGh"
    assert form_url(liff_id, "会員登録") == (
        "https://liff.line.me/1657000000-AbCdEfGh/forms/%E4%BC%9A%E5%93%A1%E7%99%BB%E9%8C%B2"
    )
    assert lessons_url(liff_id, "a/b") == "https://liff.line.me/1657000000-AbCdEfGh/lessons/a%2Fb"


def test_pages_in_line_load_the_liff_sdk_and_nothing_else() -> None:
    pages = Pages(sandbox=False, liff_id="1657000000-AbCdEfGh")
    response = pages.render("launch.html", title="読み込み中", script="launch.js")
    html = response.text or ""
    assert '<script charset="utf-8" src="https://static.line-scdn.net/liff/edge/2/sdk.js">' in html
    assert 'data-liff-id="1657000000-AbCdEfGh"' in html
    assert 'data-mode="line"' in html
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' https://static.line-scdn.net;" in policy


async def test_the_verifier_tells_a_refusal_from_line_being_unreachable(
    aiohttp_server: Any,
) -> None:
    answers: list[tuple[int, dict[str, Any]]] = []
    seen: list[dict[str, str]] = []

    async def verify(request: web.Request) -> web.Response:
        seen.append(dict(await request.post()))
        status, body = answers.pop(0)
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_post("/oauth2/v2.1/verify", verify)
    server = await aiohttp_server(app)
    url = str(server.make_url("/oauth2/v2.1/verify"))
    verifier = IdTokenVerifier(url, "1657000000")
    await verifier.start()
    token = "aaa.bbb.ccc"
    user = "U" + "a" * 32
    try:
        answers.append((200, {"iss": "https://access.line.me", "sub": user, "aud": "1657000000"}))
        assert await verifier.verify(token) == Verified(user)
        assert seen == [{"id_token": token, "client_id": "1657000000"}]
        expired = {"error": "invalid_request", "error_description": "IdToken expired."}
        answers.append((400, expired))
        assert await verifier.verify(token) == Rejected("IdToken expired.", expired=True)
        # an answer for another channel is refused even if the endpoint said 200
        answers.append((200, {"iss": "https://access.line.me", "sub": user, "aud": "1"}))
        assert await verifier.verify(token) == Rejected("Invalid IdToken Audience.")
        answers.append((500, {}))
        with pytest.raises(VerifierUnavailable):
            await verifier.verify(token)
        assert await verifier.verify("no token") == Rejected("not an ID token")
        assert len(seen) == 4  # the malformed token was never sent
    finally:
        await verifier.close()
    await server.close()
    closed = IdTokenVerifier(url, "1657000000")  # nothing listens there any more
    await closed.start()
    try:
        with pytest.raises(VerifierUnavailable):
            await closed.verify(token)
    finally:
        await closed.close()
