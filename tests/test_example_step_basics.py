"""examples/step-basics.yaml end to end: a question on friend-add, a series chosen by the
answer, a branch by gender, an ending that depends on what was received, pause and stop,
quiet hours and per-step statistics."""

from __future__ import annotations

from bot.automation.analytics import step_stats
from bot.services import Services
from tests.dsl import FriendDriver, SandboxDriver, friend_id_of, quick_reply_data, start_at

SCENARIO = "step-basics.yaml"


async def answered(sandbox: SandboxDriver, name: str, answer: str) -> tuple[FriendDriver, int]:
    friend = await sandbox.friend(name)
    await friend.follow()
    (question,) = await friend.received(1)
    assert question["text"] == "料理は好きですか?"
    await friend.tap(*quick_reply_data(question, answer))
    return friend, await friend_id_of(friend)


async def test_the_answer_picks_the_series_and_gender_picks_the_branch(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2027-05-10T15:00:00+09:00")
    he, his_id = await answered(sandbox, "彼", "はい")
    she, her_id = await answered(sandbox, "彼女", "はい")
    no, _ = await answered(sandbox, "苦手さん", "いいえ")
    assert await he.texts(1) == ["よくできました!"]
    assert await she.texts(1) == ["よくできました!"]
    assert await no.texts(1) == ["残念ですね…"]
    await services.crm.fields.set(his_id, "性別", "男性", source="form")
    await services.crm.fields.set(her_id, "性別", "女性", source="form")

    await sandbox.advance("18h")  # 2027-05-11 09:00: not yet
    await he.nothing_more()
    await sandbox.advance("1h")  # 10:00 the next day
    assert await he.texts(1) == ["第1回: だしの取り方"]
    assert await she.texts(1) == ["第1回: だしの取り方"]
    assert await no.texts(1) == ["包丁を使わない、かんたんレシピをお届けします。"]

    # she pauses the series for two days; he goes on
    await services.steps.pause(her_id, "料理シリーズ")
    await sandbox.advance("1d")
    assert await he.texts(1) == ["第2回: 包丁の使い方"]
    await she.nothing_more()
    await sandbox.advance("1d")
    assert await he.texts(1) == ["第3回: メンズ向けの調理器具のご紹介"]
    await services.steps.resume(her_id, "料理シリーズ")
    await sandbox.advance("1m")
    # step 2 is more than max_delay (12h) late and is skipped; step 3 goes out now
    assert await she.texts(1) == ["第3回: レディース向けの調理器具のご紹介"]

    await sandbox.advance("1d")
    assert await he.texts(1) == ["おめでとうございます!"]
    assert await she.texts(1) == ["まだ続きます!頑張ってください!"]

    stats = {s.step: s for s in await step_stats("料理シリーズ")}
    assert stats[1].sent == 1 and stats[1].skipped == {"too old": 1}
    assert stats[2].branches == {"男性向け": 1, "女性向け": 1}
    assert stats[3].branches == {"完走": 1} and stats[3].sent == 2


async def test_stopping_for_one_and_pausing_for_all(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    start_at("2027-05-10T12:00:00+09:00")
    stopped, stopped_id = await answered(sandbox, "停止さん", "はい")
    other, _ = await answered(sandbox, "ほかの人", "はい")
    await stopped.texts(1)
    await other.texts(1)
    await services.steps.stop(stopped_id, "料理シリーズ")
    await services.steps.set_paused_for_all("料理シリーズ", True)
    await sandbox.advance("1d")
    await stopped.nothing_more()
    await other.nothing_more()
    await services.steps.set_paused_for_all("料理シリーズ", False)
    await sandbox.advance("1m")
    assert await other.texts(1) == ["第1回: だしの取り方"]
    await sandbox.advance("5d")
    await stopped.nothing_more()


async def test_quiet_hours_hold_night_deliveries_until_morning(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _ = scenario_app
    start_at("2027-05-10T23:30:00+09:00")
    late = await sandbox.friend("夜ふかし")
    await late.follow()
    await late.nothing_more()  # the question waits: 23:30 is in quiet hours
    await sandbox.advance("8h")  # 07:30
    await late.nothing_more()
    await sandbox.advance("31m")  # 08:01
    (question,) = await late.received(1)
    assert question["text"] == "料理は好きですか?"
