"""Surveys in chat: branching, validation, cancel, resume, reminders, re-answering, one
conversation at a time — through the sandbox, as a friend experiences them."""

from __future__ import annotations

from typing import Any

from bot.db.models import Conversation, FriendTag, SurveyAnswer
from bot.services import Services
from tests.dsl import (
    FriendDriver,
    SandboxDriver,
    joined,
    quick_reply_data,
    quick_reply_labels,
    quick_reply_text,
    start_at,
)

SCENARIO_TEXT = """
version: 1
welcome: ["ようこそ"]
tags: [料理好き, 料理苦手, 回答済, 和食派, 洋食派, 連絡OK]
fields:
  年齢: {type: number}
  メール: {type: text}
  好きな料理: {type: text}
surveys:
  好み:
    title: 料理アンケート
    intro: ["アンケートにご協力ください(「キャンセル」で中止できます)"]
    questions:
      - id: 好き
        text: "料理は好きですか?"
        choices:
          - {label: はい, tags: [料理好き]}
          - {label: いいえ, tags: [料理苦手], next: メール}
      - id: 年齢
        text: "年齢を数字で教えてください"
        type: number
        min: 10
        max: 100
        field: 年齢
      - id: ジャンル
        text: "好きな料理を選んでください(いくつでも)"
        type: multi
        choices:
          - {label: 和食, tags: [和食派]}
          - {label: 洋食, tags: [洋食派]}
          - 中華
        field: 好きな料理
      - id: メール
        text: "メールアドレスを教えてください"
        type: email
        field: メール
    completed: ["ご回答ありがとうございました!"]
    do:
      - add_tag: 回答済
    reminder:
      after: 24h
  連絡:
    title: 連絡アンケート
    when_busy: ask
    answers: once
    questions:
      - id: 可否
        text: "お知らせを送ってもよいですか?"
        choices: [{label: はい, tags: [連絡OK]}, いいえ]
  一度きり:
    answers: once
    when_busy: queue
    questions:
      - {id: q, text: "ひとことどうぞ", max_length: 10}
auto_replies:
  - match: {equals: [アンケート]}
    do: [start_survey: 好み]
  - match: {equals: [連絡]}
    do: [start_survey: 連絡]
  - match: {equals: [ひとこと]}
    do: [start_survey: 一度きり]
  - match: {equals: [こんにちは]}
    messages: ["こんにちは!"]
rules:
  - name: 完了通知
    when: {survey_completed: 好み}
    do:
      - send: ["完了ルールが動きました"]
"""


async def tap_quick(friend: FriendDriver, message: dict[str, Any], label: str) -> None:
    await friend.say(quick_reply_text(message, label))


async def tags_of(fid: int) -> set[str]:
    rows = await FriendTag.filter(friend_id=fid, removed_at__isnull=True).prefetch_related("tag")
    return {row.tag.name for row in rows}


async def test_branching_validation_and_completion(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    friend, fid = await joined(sandbox, "回答花子")
    await friend.say("アンケート")
    intro, q1 = await friend.received(2)
    assert "キャンセル" in intro["text"]
    assert q1["text"] == "料理は好きですか?" and quick_reply_labels(q1) == ["はい", "いいえ"]

    await friend.say("たぶん")  # not a choice: asked again with the buttons
    (again,) = await friend.received(1)
    assert again["text"] == "下のボタンからお選びください。" and quick_reply_labels(again) == [
        "はい",
        "いいえ",
    ]
    await tap_quick(friend, again, "はい")
    assert await friend.texts(1) == ["年齢を数字で教えてください"]

    await friend.say("こんにちは")  # no answer but a keyword: the keyword answers
    assert await friend.texts(1) == ["こんにちは!"]
    await friend.say("たくさん")
    assert await friend.texts(1) == ["数字で入力してください。"]
    await friend.say("200")
    assert await friend.texts(1) == ["10から100までの数字で入力してください。"]
    await friend.say("３５")  # full-width digits are fine
    (q3,) = await friend.received(1)
    assert quick_reply_labels(q3) == ["和食", "洋食", "中華"]

    await tap_quick(friend, q3, "洋食")
    (picked,) = await friend.received(1)
    assert "「洋食」を選びました" in picked["text"]
    assert quick_reply_labels(picked) == ["和食", "中華", "回答終了"]
    await tap_quick(friend, picked, "和食")
    (picked,) = await friend.received(1)
    await tap_quick(friend, picked, "回答終了")
    assert await friend.texts(1) == ["メールアドレスを教えてください"]
    await friend.say("hanako@")
    assert "メールアドレスの形式" in (await friend.texts(1))[0]
    await friend.say("hanako@example.com")
    assert await friend.texts(2) == ["ご回答ありがとうございました!", "完了ルールが動きました"]

    fields = await services.crm.fields.get_all(fid)
    assert fields == {"年齢": 35, "好きな料理": "洋食、和食", "メール": "hanako@example.com"}
    assert await tags_of(fid) == {"料理好き", "洋食派", "和食派", "回答済"}
    answers = await SurveyAnswer.filter(friend_id=fid, survey="好み").values_list(
        "question", "value"
    )
    assert sorted(answers) == sorted(
        [
            ("好き", "はい"),
            ("年齢", "35"),
            ("ジャンル", "洋食"),
            ("ジャンル", "和食"),
            ("メール", "hanako@example.com"),
        ]
    )
    # Out of the survey, the keyword is a keyword again.
    await friend.say("こんにちは")
    assert await friend.texts(1) == ["こんにちは!"]


async def test_branch_skips_questions_and_latest_answers_replace_earlier_ones(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _ = scenario_app
    friend, fid = await joined(sandbox, "いいえ次郎")
    for _ in range(2):
        await friend.say("アンケート")
        _, q1 = await friend.received(2)
        await tap_quick(friend, q1, "いいえ")  # jumps straight to the e-mail question
        assert await friend.texts(1) == ["メールアドレスを教えてください"]
        await friend.say("jiro@example.com")
        await friend.received(2)
    rows = await SurveyAnswer.filter(friend_id=fid, survey="好み").values_list("question", "value")
    assert sorted(rows) == [("メール", "jiro@example.com"), ("好き", "いいえ")]
    assert "料理苦手" in await tags_of(fid)
    assert await Conversation.filter(friend_id=fid, status="done").count() == 2


async def test_cancel_word_saves_nothing(scenario_app: tuple[SandboxDriver, Services]) -> None:
    sandbox, _ = scenario_app
    friend, fid = await joined(sandbox, "やめる三郎")
    await friend.say("アンケート")
    _, q1 = await friend.received(2)
    await tap_quick(friend, q1, "はい")
    await friend.received(1)
    await friend.say("キャンセル")
    assert await friend.texts(1) == ["アンケートを中止しました。"]
    assert await tags_of(fid) == set()
    assert await SurveyAnswer.filter(friend_id=fid).count() == 0
    await friend.say("こんにちは")
    assert await friend.texts(1) == ["こんにちは!"]


async def test_resume_where_left_off_and_reminder_once(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    start_at("2026-04-01T09:00:00+09:00")
    sandbox, _ = scenario_app
    friend, _ = await joined(sandbox, "途中四郎")
    await friend.say("アンケート")
    _, q1 = await friend.received(2)
    await tap_quick(friend, q1, "はい")
    await friend.received(1)

    await sandbox.advance("23h")
    await friend.nothing_more()
    await sandbox.advance("2h")  # 25 hours unanswered: one reminder with the question
    assert await friend.texts(2) == [
        "アンケートへのご回答がまだ途中です。続きにお答えください。",
        "年齢を数字で教えてください",
    ]
    await sandbox.advance("3d")
    await friend.nothing_more()

    # Starting it again resumes at the pending question, not from the start.
    await friend.say("アンケート")
    assert await friend.texts(2) == ["アンケートの続きです。", "年齢を数字で教えてください"]
    await friend.say("40")
    (q3,) = await friend.received(1)
    assert quick_reply_labels(q3) == ["和食", "洋食", "中華"]


async def test_ask_when_busy_then_switch_and_come_back(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _ = scenario_app
    friend, fid = await joined(sandbox, "ふたつ五郎")
    await friend.say("アンケート")
    await friend.received(2)
    await friend.say("連絡")
    (ask,) = await friend.received(1)
    assert "「料理アンケート」の回答中です" in ask["text"]
    await friend.tap(*quick_reply_data(ask, "新しい方に答える"))
    (q,) = await friend.received(1)
    assert q["text"] == "お知らせを送ってもよいですか?"
    await tap_quick(friend, q, "はい")
    # The first survey comes back where it was.
    assert await friend.texts(2) == ["中断していたアンケートを再開します。", "料理は好きですか?"]
    assert "連絡OK" in await tags_of(fid)
    # `answers: once`: no second time.
    await friend.say("キャンセル")
    await friend.received(1)
    await friend.say("連絡")
    assert await friend.texts(1) == [
        "このアンケートにはすでにご回答いただいています。ありがとうございました。"
    ]


async def test_queue_when_busy_starts_after_the_current_one(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _ = scenario_app
    friend, _ = await joined(sandbox, "順番六子")
    await friend.say("アンケート")
    _, q1 = await friend.received(2)
    await friend.say("ひとこと")
    assert await friend.texts(1) == [
        "「料理アンケート」が終わったら、「アンケート」をお送りします。"
    ]
    await tap_quick(friend, q1, "いいえ")
    await friend.received(1)
    await friend.say("rokuko@example.com")
    assert await friend.texts(3) == [
        "ご回答ありがとうございました!",
        "完了ルールが動きました",
        "ひとことどうぞ",
    ]
    await friend.say("とても長い一言になってしまいました")
    assert await friend.texts(1) == ["10文字以内で入力してください。"]


async def test_blocking_ends_the_survey(scenario_app: tuple[SandboxDriver, Services]) -> None:
    sandbox, _ = scenario_app
    friend, fid = await joined(sandbox, "ブロック七海")
    await friend.say("アンケート")
    await friend.received(2)
    await friend.block()
    await sandbox.settle()
    assert await Conversation.filter(friend_id=fid, status="active").count() == 0
    await friend.follow()
    await friend.received(1)
    await friend.say("こんにちは")
    assert await friend.texts(1) == ["こんにちは!"]
