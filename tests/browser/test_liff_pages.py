"""The LIFF pages in a real headless Chromium, opened as the simulator opens them: with an ID
token the sandbox issued in the URL fragment. Requests leaving the server are blocked and
recorded: the pages must work offline."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from playwright.async_api import expect

from bot import clock
from bot.db.models import FormSubmission, LessonProgress
from bot.services import Services
from tests.browser.conftest import ScenarioTab
from tests.dsl import SandboxDriver, joined

SCENARIO_TEXT = """
version: 1
welcome: ["ようこそ"]
tags: [東京在住, 会員登録済]
fields:
  氏名: {type: text}
  地域: {type: choice, choices: [東京, 大阪]}
forms:
  会員登録:
    title: 会員登録
    description: 30秒で終わります。
    fields:
      - {name: name, label: お名前, required: true, field: 氏名, help: フルネームでご入力ください}
      - {name: email, label: メールアドレス, type: email, required: true}
      - name: area
        label: お住まいの地域
        type: radio
        required: true
        field: 地域
        options: [{label: 東京, tags: 東京在住}, 大阪]
      - {name: likes, label: 好きな料理, type: checkbox, options: [和食, 洋食]}
      - {name: visit, label: 来店希望日, type: date}
      # Python-only syntax: the page cannot read it, so only the server checks this one.
      - {name: code, label: 会員番号, pattern: "(?P<number>[0-9]{6})", error: 会員番号は6桁の数字です}
    do: [{add_tag: 会員登録済}]
    done: ご登録ありがとうございました。
  アンケート:
    title: アンケート
    resubmit: once
    fields: [{name: q, label: ご感想, required: true}]
courses:
  料理コース:
    title: こはる料理コース
    lessons:
      - {key: 1, title: だしの基本, url: "https://example.com/lessons/1"}
      - {key: 2, title: 包丁の基本, url: "https://example.com/lessons/2"}
      - {key: 3, title: 季節の献立, url: "https://example.com/lessons/3"}
"""

App = tuple[SandboxDriver, Services]


async def test_a_form_is_checked_submitted_and_saved_into_the_friends_fields(
    scenario_tab: ScenarioTab,
) -> None:
    page = scenario_tab.page
    friend, friend_id = await joined(scenario_tab.sandbox, "花子")
    await scenario_tab.open(
        "/liff/forms/会員登録", await scenario_tab.sandbox.id_token(friend.user_id)
    )

    await expect(page.get_by_role("heading", name="会員登録")).to_be_visible()
    await expect(page.get_by_test_id("form")).to_be_visible()
    assert urlsplit(page.url).fragment == ""  # the token is taken out of the address

    # Sent empty: a Japanese message under each required field, focus on the first.
    submit = page.get_by_role("button", name="送信する")
    await submit.click()
    name = page.get_by_label("お名前")
    await expect(page.get_by_text("お名前を入力してください")).to_be_visible()
    await expect(page.get_by_text("メールアドレスを入力してください")).to_be_visible()
    await expect(page.get_by_text("お住まいの地域を選択してください")).to_be_visible()
    await expect(name).to_be_focused()
    await expect(name).to_have_attribute("aria-invalid", "true")
    await expect(name).to_have_accessible_description(
        "フルネームでご入力ください お名前を入力してください"
    )
    await expect(page.get_by_test_id("status")).to_have_text("入力内容を確認してください(3件)")

    # Typing fixes a message as it goes; a bad email is named as such.
    await name.fill("山田 花子")
    await expect(page.get_by_text("お名前を入力してください")).to_be_hidden()
    await expect(name).not_to_have_attribute("aria-invalid", "true")
    email = page.get_by_label("メールアドレス")
    await email.fill("hanako@")
    await submit.click()
    await expect(page.get_by_text("メールアドレスの形式が正しくありません")).to_be_visible()
    await expect(email).to_be_focused()

    # Finished with the keyboard alone: type, pick with Space, send with Enter.
    await email.fill("hanako@example.com")
    await email.press("Tab")
    await expect(page.get_by_role("radio", name="東京", exact=True)).to_be_focused()
    await page.keyboard.press("Space")
    await page.get_by_role("checkbox", name="和食").check()
    await page.get_by_label("来店希望日").fill("2030-04-01")
    await name.press("Enter")

    done = page.get_by_test_id("done")
    await expect(done).to_be_visible()
    await expect(done).to_contain_text("ご登録ありがとうございました。")
    await expect(done).to_be_focused()
    await expect(page.get_by_test_id("form")).to_be_hidden()

    row = await FormSubmission.get(friend_id=friend_id, form="会員登録")
    assert row.answers == {
        "name": "山田 花子",
        "email": "hanako@example.com",
        "area": "東京",
        "likes": ["和食"],
        "visit": "2030-04-01",
        "code": None,
    }
    fields = await scenario_tab.services.crm.fields.get_all(friend_id)
    assert fields == {"氏名": "山田 花子", "地域": "東京"}
    assert await friend.texts(1) == ["ご回答ありがとうございました。"]
    scenario_tab.only_local()
    assert scenario_tab.errors == []


async def test_the_form_shows_the_friends_fields_and_server_errors(
    scenario_tab: ScenarioTab,
) -> None:
    page = scenario_tab.page
    friend, friend_id = await joined(scenario_tab.sandbox, "花子")
    await scenario_tab.services.crm.fields.set(friend_id, "氏名", "山田 花子", source="admin")
    await scenario_tab.services.crm.fields.set(friend_id, "地域", "大阪", source="admin")
    await scenario_tab.open(
        "/liff/forms/会員登録", await scenario_tab.sandbox.id_token(friend.user_id)
    )

    await expect(page.get_by_label("お名前")).to_have_value("山田 花子")
    await expect(page.get_by_role("radio", name="大阪")).to_be_checked()

    # A pattern the page cannot read is checked by the server: its message is shown the same.
    await page.get_by_label("メールアドレス").fill("hanako@example.com")
    code = page.get_by_label("会員番号")
    await code.fill("12")
    await page.get_by_role("button", name="送信する").click()
    await expect(page.get_by_text("会員番号は6桁の数字です")).to_be_visible()
    await expect(code).to_be_focused()
    await expect(code).to_have_attribute("aria-invalid", "true")
    assert await FormSubmission.all().count() == 0
    assert scenario_tab.errors == []


async def test_a_page_with_a_forged_token_shows_the_refusal(scenario_tab: ScenarioTab) -> None:
    page = scenario_tab.page
    friend, friend_id = await joined(scenario_tab.sandbox, "花子")
    token = await scenario_tab.sandbox.id_token(friend.user_id)
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"

    await scenario_tab.open("/liff/forms/会員登録", forged)

    notice = page.get_by_test_id("notice")
    await expect(notice).to_be_visible()
    await expect(notice).to_have_text(
        "認証できませんでした。LINEアプリからもう一度開いてください。"
    )
    await expect(page.get_by_test_id("form")).to_be_hidden()
    assert await FormSubmission.filter(friend_id=friend_id).count() == 0
    scenario_tab.only_local()
    assert scenario_tab.errors == []


async def test_a_page_opened_without_a_token_says_so(scenario_tab: ScenarioTab) -> None:
    await scenario_tab.open("/liff/forms/会員登録", None)
    await expect(scenario_tab.page.get_by_test_id("notice")).to_have_text(
        "LINEの認証情報がありません。LINEアプリからもう一度開いてください。"
    )
    await expect(scenario_tab.page.get_by_test_id("form")).to_be_hidden()


async def test_a_once_form_already_answered_says_so_on_load(scenario_tab: ScenarioTab) -> None:
    page = scenario_tab.page
    friend, friend_id = await joined(scenario_tab.sandbox, "花子")
    await FormSubmission.create(
        friend_id=friend_id, form="アンケート", answers={"q": "よかった"}, submitted_at=clock.now()
    )
    await scenario_tab.open(
        "/liff/forms/アンケート", await scenario_tab.sandbox.id_token(friend.user_id)
    )
    await expect(page.get_by_test_id("notice")).to_have_text(
        "このフォームはすでに回答済みです。ご回答ありがとうございました。"
    )
    await expect(page.get_by_test_id("form")).to_be_hidden()


async def test_the_lesson_page_lists_delivered_lessons_with_watched_marks(
    scenario_tab: ScenarioTab,
) -> None:
    page = scenario_tab.page
    friend, friend_id = await joined(scenario_tab.sandbox, "花子")
    now = clock.now()
    await LessonProgress.create(
        friend_id=friend_id,
        course="料理コース",
        lesson="1",
        delivered_at=now - timedelta(days=7),
        watched_at=now - timedelta(days=6),
    )
    await LessonProgress.create(
        friend_id=friend_id, course="料理コース", lesson="2", delivered_at=now
    )

    await scenario_tab.open(
        "/liff/lessons/料理コース", await scenario_tab.sandbox.id_token(friend.user_id)
    )

    await expect(page.get_by_role("heading", name="これまでの動画")).to_be_visible()
    lessons = page.get_by_test_id("lesson")
    await expect(lessons).to_have_count(2)
    first, second = lessons.nth(0), lessons.nth(1)
    await expect(first).to_contain_text("だしの基本")
    await expect(first.get_by_test_id("watched-mark")).to_have_text("視聴済み")
    await expect(first).to_have_attribute("data-watched", "true")
    await expect(first.get_by_role("link", name="だしの基本の動画を見る")).to_have_attribute(
        "href", "https://example.com/lessons/1"
    )
    await expect(second).to_contain_text("包丁の基本")
    await expect(second.get_by_test_id("watched-mark")).to_have_text("未視聴")
    await expect(page.get_by_text("季節の献立")).to_have_count(0)
    await expect(page.get_by_test_id("empty")).to_be_hidden()
    scenario_tab.only_local()
    assert scenario_tab.errors == []


async def test_the_lesson_page_has_an_empty_state(scenario_tab: ScenarioTab) -> None:
    friend, _ = await joined(scenario_tab.sandbox, "太郎")
    await scenario_tab.open(
        "/liff/lessons/料理コース", await scenario_tab.sandbox.id_token(friend.user_id)
    )
    await expect(scenario_tab.page.get_by_test_id("empty")).to_have_text(
        "まだ届いたレッスンはありません。レッスンが届くと、ここに並びます。"
    )
    await expect(scenario_tab.page.get_by_test_id("lesson")).to_have_count(0)
