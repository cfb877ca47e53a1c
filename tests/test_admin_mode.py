"""In-chat admin mode through the sandbox: becoming an admin, commands in Japanese and
English, roles, confirmation, the points-club exchange done in chat, broadcasts from chat,
1:1 talk both ways, invitations and the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.crm.admins import add_admin
from bot.crm.tags import has_tag
from bot.db.models import Admin, AdminCodeAttempt, AuditEntry, FriendTag, TalkMessage
from bot.services import Services
from tests.dsl import FriendDriver, SandboxDriver, joined, quick_reply_data, quick_reply_labels

SCENARIO = "points-club.yaml"
ADMIN_CODE = "koharu-owner-secret-2026"
SERVER_ENV = {"STEPBOT_ADMIN_CODE": ADMIN_CODE}


async def admin_friend(sandbox: SandboxDriver, name: str, role: str) -> tuple[FriendDriver, int]:
    """A friend made an admin from the server's shell (`stepbot admin add`), in admin mode."""
    friend, fid = await joined(sandbox, name)
    await add_admin(friend.user_id, role)
    await friend.say("/admin")
    (welcome,) = await friend.texts(1)
    assert "管理者モード" in welcome
    return friend, fid


async def command(friend: FriendDriver, text: str, count: int = 1) -> list[dict[str, Any]]:
    await friend.say(text)
    return await friend.received(count)


async def tap(friend: FriendDriver, message: dict[str, Any], label: str, count: int = 1) -> list:
    data, shown = quick_reply_data(message, label)
    await friend.tap(data, shown)
    return await friend.received(count)


async def test_the_secret_code_makes_the_first_owner_only(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _services = scenario_app
    owner, _ = await joined(sandbox, "オーナー")
    await owner.say(ADMIN_CODE)
    (reply,) = await owner.texts(1)
    assert "オーナーとして登録しました" in reply
    admin = await Admin.get(line_user_id=owner.user_id)
    assert admin.role == "owner" and not admin.in_admin_mode
    # Once there is an owner, the code makes nobody else one.
    other, _ = await joined(sandbox, "ほかの人")
    await other.say(ADMIN_CODE)
    (refused,) = await other.texts(1)
    assert "オーナーはすでに登録されています" in refused
    assert not await Admin.exists(line_user_id=other.user_id)


async def test_admins_get_the_admin_menu_and_lose_it_when_removed(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    await services.menus.ready.wait()
    owner, _ = await admin_friend(sandbox, "オーナー", "owner")
    helper, helper_id = await joined(sandbox, "手伝い")
    menu = await sandbox.get(f"/sandbox/api/friends/{helper.user_id}/richmenu")
    assert menu is None
    await sandbox.settle()
    owner_menu = await sandbox.get(f"/sandbox/api/friends/{owner.user_id}/richmenu")
    assert owner_menu is not None and owner_menu["chatBarText"] == "管理メニュー"
    (invite_note, code_message) = await command(owner, "招待 オペレーター", 2)
    assert "オペレーターの招待コード" in invite_note["text"]
    await helper.say(code_message["text"])
    (welcome,) = await helper.texts(1)
    assert "オペレーターとして登録しました" in welcome
    await sandbox.settle()
    menu = await sandbox.get(f"/sandbox/api/friends/{helper.user_id}/richmenu")
    assert menu is not None and menu["chatBarText"] == "管理メニュー"
    (removed,) = await command(owner, f"管理者削除 #{helper_id}")
    assert "管理者から外しました" in removed["text"]
    await sandbox.settle()
    assert await sandbox.get(f"/sandbox/api/friends/{helper.user_id}/richmenu") is None


async def test_invitation_codes_work_once_and_expire(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _ = scenario_app
    owner, _ = await admin_friend(sandbox, "オーナー", "owner")
    first, second, late = [(await joined(sandbox, n))[0] for n in ("一人目", "二人目", "遅い人")]
    (_, code_message) = await command(owner, "invite admin", 2)
    code = code_message["text"]
    await first.say(code.lower())  # typed in lower case, still the code
    assert "管理者として登録しました" in (await first.texts(1))[0]
    await second.say(code)
    assert "正しくないか、使用済み・期限切れ" in (await second.texts(1))[0]
    assert not await Admin.exists(line_user_id=second.user_id)
    (_, expiring) = await command(owner, "招待", 2)
    await sandbox.advance("25h")
    await late.say(expiring["text"])
    assert "期限切れ" in (await late.texts(1))[0]
    assert not await Admin.exists(line_user_id=late.user_id)


async def test_wrong_codes_are_rate_limited(scenario_app: tuple[SandboxDriver, Services]) -> None:
    sandbox, _ = scenario_app
    owner, _ = await admin_friend(sandbox, "オーナー", "owner")
    guesser, _ = await joined(sandbox, "当てずっぽう")
    for n in range(5):
        await guesser.say(f"SB-AAAA-AAA{n}")
        (reply,) = await guesser.texts(1)
        assert "正しくない" in reply
    (_, good) = await command(owner, "招待", 2)
    await guesser.say(good["text"])
    (blocked,) = await guesser.texts(1)
    assert "しばらく受け付けません" in blocked
    assert not await Admin.exists(line_user_id=guesser.user_id)
    assert await AdminCodeAttempt.filter(line_user_id=guesser.user_id, succeeded=False).count() == 5
    await sandbox.advance("61m")
    await guesser.say(good["text"])
    assert "管理者として登録しました" in (await guesser.texts(1))[0]


async def test_a_non_admin_sending_commands_is_an_ordinary_friend(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _services = scenario_app
    owner, _ = await admin_friend(sandbox, "オーナー", "owner")
    stranger, stranger_id = await joined(sandbox, "一般の人")
    for text in ("/admin", "タグ追加 VIP 全員", "/タグ追加 VIP 全員", "配信 全員", "/help"):
        await stranger.say(text)
    await stranger.nothing_more()  # no default reply in this scenario, and no admin answer
    assert not await FriendTag.filter(tag__name="VIP").exists()
    assert not await Admin.exists(line_user_id=stranger.user_id)
    assert not await AuditEntry.filter(admin_user_id=stranger.user_id).exists()
    # Their messages went to the admins as 1:1 talk, as any friend's do.
    forwarded = await owner.texts(5)
    assert all(f"#{stranger_id} 一般の人" in text for text in forwarded)
    # A forged admin button does nothing either.
    await stranger.tap("adm:confirm:1:")
    await stranger.nothing_more()


async def test_admin_mode_commands_replace_friend_behaviour_until_exit(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _services = scenario_app
    admin, _admin_id = await admin_friend(sandbox, "管理花子", "admin")
    # In admin mode an auto-reply keyword is a (mistyped) command, not a keyword.
    (reply,) = await command(admin, "ポイント")
    assert "「ポイント」というコマンドはありません" in reply["text"]
    (typo,) = await command(admin, "タグ追可 VIP #1")
    assert "もしかして: タグ追加" in typo["text"]
    (usage,) = await command(admin, "タグ追加 VIP")
    assert "使い方: タグ追加 <タグ名> <対象>" in usage["text"]
    (help_text,) = await command(admin, "/help")
    assert "タグ追加 <タグ名> <対象>" in help_text["text"] and "招待" not in help_text["text"]
    assert "終了" in quick_reply_labels(help_text)
    (bye,) = await command(admin, "/exit")
    assert "管理者モードを終了しました" in bye["text"]
    await admin.say("ポイント")
    assert await admin.texts(1) == ["ポイント残高は「マイページ」でご確認いただけます。"]
    # A slash command from an admin outside admin mode enters it and runs.
    await admin.say("/tags")
    welcome, listing = await admin.received(2)
    assert "管理者モード" in welcome["text"] and "300pt到達" in listing["text"]


async def test_points_club_exchange_done_by_an_admin_in_chat(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    member, member_id = await joined(sandbox, "ためる花子")
    staff, _ = await admin_friend(sandbox, "店長", "operator")
    (given,) = await command(staff, f"ポイント追加 #{member_id} 320 来店ポイント")
    assert "320ポイント付けました" in given["text"] and "残高: 320" in given["text"]
    assert await member.texts(1) == ["300ポイント貯まりました。プレゼントと交換できます"]
    # The exchange: the admin tags the friend, the scenario's rule does the rest.
    (tagged,) = await command(staff, "タグ追加 300ポイント削除(プレゼント) 花子")
    assert f"#{member_id} ためる花子" in tagged["text"]
    assert await member.texts(1) == [
        "300ポイントをプレゼントと交換しました。お届けまでお待ちください。"
    ]
    assert await services.crm.points.balance(member_id) == 20
    assert not await has_tag(member_id, "300ポイント削除(プレゼント)")
    assert not await has_tag(member_id, "300pt到達")
    history = await FriendTag.filter(friend_id=member_id, tag__name="300ポイント削除(プレゼント)")
    assert [row.actor for row in history] == [f"admin:{staff.user_id}"]
    # Taking points needs enough of them; the friend card shows the balance.
    (refused,) = await command(staff, f"points remove #{member_id} 50 返品")
    assert "ポイントが足りません" in refused["text"]
    (card,) = await command(staff, f"友だち #{member_id}")
    assert card["type"] == "flex" and f"#{member_id}" in card["altText"]
    entries = await AuditEntry.filter(admin_user_id=staff.user_id).order_by("id")
    assert [(e.command, e.result) for e in entries] == [
        ("admin mode", "ok"),
        ("points add", "ok"),
        ("tag add", "ok"),
        ("points remove", "error"),
        ("find", "ok"),
    ]


async def test_a_name_matching_several_friends_asks_which(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _ = scenario_app
    (_, first_id), (_, second_id) = [await joined(sandbox, n) for n in ("山田花子", "山田太郎")]
    admin, _ = await admin_friend(sandbox, "管理者", "admin")
    (question,) = await command(admin, "タグ追加 VIP 山田")
    assert "どの方ですか" in question["text"]
    assert f"#{second_id} 山田太郎" in quick_reply_labels(question)
    (done,) = await tap(admin, question, f"#{second_id} 山田太郎")
    assert f"#{second_id} 山田太郎" in done["text"]
    assert await has_tag(second_id, "VIP") and not await has_tag(first_id, "VIP")
    # The same button again does nothing twice.
    data, shown = quick_reply_data(question, f"#{first_id} 山田花子")
    await admin.tap(data, shown)
    (stale,) = await admin.texts(1)
    assert "期限切れか、すでに使われています" in stale
    assert not await has_tag(first_id, "VIP")


async def test_bulk_tag_by_points_asks_for_confirmation_above_the_threshold(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    rich = [(await joined(sandbox, f"常連{n}"))[1] for n in range(3)]
    poor = (await joined(sandbox, "新人"))[1]
    for fid in rich:
        await services.crm.points.add(fid, 1200, source="test")
    services.scenario.admin.confirm_above = 2
    admin, _ = await admin_friend(sandbox, "管理者", "admin")
    (count,) = await command(admin, "人数 ポイント>=1000")
    assert "3人" in count["text"]
    (question,) = await command(admin, "tag add VIP points>=1000")
    assert "3人にタグ「VIP」を付けます" in question["text"]
    assert not await FriendTag.filter(tag__name="VIP").exists()
    (done,) = await tap(admin, question, "実行する")
    assert "3人にタグ「VIP」を付けました" in done["text"]
    assert [await has_tag(fid, "VIP") for fid in [*rich, poor]] == [True, True, True, False]
    (removal,) = await command(admin, "タグ削除 VIP タグ:VIP")
    (cancelled,) = await tap(admin, removal, "キャンセル")
    assert "何も変更していません" in cancelled["text"]
    assert all([await has_tag(fid, "VIP") for fid in rich])
    entries = await AuditEntry.filter(command__in=["tag add", "tag remove", "tag bulk"]).order_by(
        "id"
    )
    assert [(e.command, e.result) for e in entries] == [
        ("tag add", "awaiting confirmation"),
        ("tag bulk", "ok"),
        ("tag remove", "awaiting confirmation"),
        ("tag bulk", "cancelled"),
    ]
    # An unknown tag is refused (a typo must not create a tag).
    (unknown,) = await command(admin, "タグ追加 VlP #1")
    assert "タグ「VlP」はありません" in unknown["text"] and "VIP" in unknown["text"]


async def test_an_operator_is_refused_a_broadcast(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _ = scenario_app
    operator, _ = await admin_friend(sandbox, "バイト", "operator")
    (refused,) = await command(operator, "配信 全員")
    assert "管理者以上が使えます" in refused["text"]
    (reload_refused,) = await command(operator, "reload")
    assert "管理者以上が使えます" in reload_refused["text"]
    results = await AuditEntry.filter(admin_user_id=operator.user_id, result="refused").count()
    assert results == 2


async def test_a_segment_broadcast_from_chat_with_preview_confirmation_and_report(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    vips = [await joined(sandbox, f"VIP{n}") for n in range(2)]
    other, _ = await joined(sandbox, "ふつうの人")
    for _, fid in vips:
        await services.crm.tags.add(fid, "VIP", source="test")
    admin, _ = await admin_friend(sandbox, "管理者", "admin")
    (ask,) = await command(admin, "配信 タグ:VIP")
    assert "配信先: タグ:VIP(2人)" in ask["text"]
    await admin.say("VIP限定セールのお知らせです")
    (got,) = await admin.texts(1)
    assert "1件目を受け取りました" in got
    await admin.sticker("446", "1988")
    await admin.received(1)
    await admin.say("完了")
    heading, text_part, sticker_part, question = await admin.received(4)
    assert "プレビュー" in heading["text"]
    assert text_part == {"type": "text", "text": "VIP限定セールのお知らせです"}
    assert sticker_part["type"] == "sticker"
    assert "2人" in question["text"]
    assert quick_reply_labels(question) == ["今すぐ送信", "日時を指定", "キャンセル"]
    for driver, _ in vips:
        await driver.nothing_more(settle=0)
    (started,) = await tap(admin, question, "今すぐ送信")
    assert "配信 #" in started["text"] and "開始しました" in started["text"]
    for driver, _ in vips:
        received = await driver.received(2)
        assert received[0]["text"] == "VIP限定セールのお知らせです"
    await other.nothing_more()
    await sandbox.advance("10s")
    reports = await admin.texts(1)
    assert "送信 2人" in reports[-1]
    # The same confirmation tapped again sends nothing more.
    data, shown = quick_reply_data(question, "今すぐ送信")
    await admin.tap(data, shown)
    await admin.received(1)
    for driver, _ in vips:
        await driver.nothing_more()


async def test_a_scheduled_broadcast_from_chat_can_be_listed_and_cancelled(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _services = scenario_app
    await sandbox.set_time("2026-11-20T09:00:00+09:00")
    fan, _ = await joined(sandbox, "ファン")
    admin, _ = await admin_friend(sandbox, "管理者", "admin")
    await command(admin, "配信 全員")
    await command(admin, "週末セールは土曜10時から!")
    (question,) = (await command(admin, "完了", 3))[-1:]
    (when_prompt,) = await tap(admin, question, "日時を指定")
    assert "送信日時" in when_prompt["text"]
    (unreadable,) = await command(admin, "いつか")
    assert "日時が読めない" in unreadable["text"]
    (confirm,) = await command(admin, "11/21 10:00")
    assert "2026年11月21日(土) 10:00" in confirm["text"]
    (booked,) = await tap(admin, confirm, "予約する")
    assert "予約しました" in booked["text"]
    (listing,) = await command(admin, "予約一覧")
    assert "週末セール" in listing["text"]
    await sandbox.set_time("2026-11-21T09:59:00+09:00")
    await fan.nothing_more()
    await sandbox.set_time("2026-11-21T10:00:30+09:00")
    assert await fan.texts(1) == ["週末セールは土曜10時から!"]
    # A second one, cancelled before its time, never goes out.
    await command(admin, "配信 全員")
    await command(admin, "取り消す予定のお知らせ")
    (question,) = (await command(admin, "完了", 3))[-1:]
    await tap(admin, question, "日時を指定")
    (confirm,) = await command(admin, "明日 12:00")
    (booked,) = await tap(admin, confirm, "予約する")
    number = booked["text"].split("#")[1].split(" ")[0]
    (cancelled,) = await command(admin, f"予約取消 {number}")
    assert "取り消しました" in cancelled["text"]
    await sandbox.advance("2d")
    await fan.nothing_more()


async def test_one_to_one_talk_both_ways(scenario_app: tuple[SandboxDriver, Services]) -> None:
    sandbox, _services = scenario_app
    customer, customer_id = await joined(sandbox, "相談さん")
    staff, _ = await admin_friend(sandbox, "スタッフ", "operator")
    quiet, _ = await admin_friend(sandbox, "静かな人", "admin")
    (off,) = await command(quiet, "通知 オフ")
    assert "オフにしました" in off["text"]
    # An auto-reply keyword is answered automatically and not forwarded.
    await customer.say("ポイント")
    await customer.texts(1)
    await customer.say("予約の時間を変更したいです")
    await customer.sticker()
    forwarded, sticker_note = await staff.received(2)
    assert forwarded["text"].startswith(f"💬 #{customer_id} 相談さん")
    assert "予約の時間を変更したいです" in forwarded["text"]
    assert "[スタンプ]" in sticker_note["text"]
    await quiet.nothing_more()
    (prompt,) = await tap(staff, forwarded, "返信する")
    assert "返信を送ってください" in prompt["text"]
    (sent,) = await command(staff, "承知しました。何時がご希望ですか?")
    assert "送信しました" in sent["text"]
    assert await customer.texts(1) == ["承知しました。何時がご希望ですか?"]
    (one_shot,) = await command(staff, f"返信 #{customer_id} 15時でお取りしました")
    assert "送信しました" in one_shot["text"]
    assert await customer.texts(1) == ["15時でお取りしました"]
    (talk,) = await command(staff, f"トーク #{customer_id}")
    lines = talk["text"].splitlines()
    assert "友だち: 予約の時間を変更したいです" in lines[1]
    assert "管理者: 15時でお取りしました" in lines[-1]
    kept = await TalkMessage.filter(friend_id=customer_id).order_by("id")
    assert [(m.direction, m.kind) for m in kept] == [
        ("in", "text"),
        ("in", "sticker"),
        ("out", "text"),
        ("out", "text"),
    ]


async def test_export_from_chat_gives_a_link_that_needs_its_token(
    scenario_app: tuple[SandboxDriver, Services], http: aiohttp.ClientSession
) -> None:
    sandbox, services = scenario_app
    _, vip_id = await joined(sandbox, "VIPさん")
    await joined(sandbox, "ふつうさん")
    await services.crm.tags.add(vip_id, "VIP", source="test")
    admin, _ = await admin_friend(sandbox, "管理者", "admin")
    (reply,) = await command(admin, "エクスポート タグ:VIP")
    url = next(word for word in reply["text"].split() if word.startswith("http"))
    async with http.get(url) as response:
        assert response.status == 200
        body = (await response.read()).decode("utf-8-sig")
    assert "VIPさん" in body and "ふつうさん" not in body
    base, _, token = url.rpartition("/")
    async with http.get(base + "/") as response:
        assert response.status == 404
    async with http.get(base + "/" + token[:-2] + "xx") as response:
        assert response.status == 404
    await sandbox.advance("2h")
    async with http.get(url) as response:
        assert response.status == 410


def test_every_command_is_documented_with_all_its_words() -> None:
    from bot.admin.commands import COMMANDS

    docs = (Path(__file__).resolve().parent.parent / "docs" / "admin.md").read_text("utf-8")
    for command in COMMANDS:
        assert f"`{command.usage.replace('|', chr(92) + '|')}`" in docs, command.key
        for phrase in command.phrases[1:]:
            assert f"`{phrase}`" in docs, (command.key, phrase)


async def test_help_shows_an_owner_every_command(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    from bot.admin.commands import COMMANDS

    sandbox, _ = scenario_app
    owner, _ = await admin_friend(sandbox, "オーナー", "owner")
    (help_text,) = await command(owner, "help")
    for entry in COMMANDS:
        assert entry.usage in help_text["text"], entry.key


async def test_step_commands_tag_history_and_stats_from_chat(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _services = scenario_app
    member, member_id = await joined(sandbox, "ステップ花子")
    operator, _ = await admin_friend(sandbox, "バイト", "operator")
    (refused,) = await command(operator, f"ステップ開始 3000pt特典のご案内 #{member_id}")
    assert "管理者以上が使えます" in refused["text"]
    admin, _ = await admin_friend(sandbox, "管理者", "admin")
    (typo,) = await command(admin, f"step start 3000特典のご案内 #{member_id}")
    assert "もしかして: 3000pt特典のご案内" in typo["text"]
    (started,) = await command(admin, f"step start 3000pt特典のご案内 #{member_id}")
    assert "開始しました" in started["text"]
    assert await member.texts(1) == [
        "3000ポイント達成おめでとうございます!交換できる特典をご紹介します。"
    ]
    (stopped,) = await command(admin, f"ステップ停止 3000pt特典のご案内 #{member_id}")
    assert "配信中の「3000pt特典のご案内」はありません" in stopped["text"]  # it had finished
    await command(admin, f"タグ追加 VIP #{member_id}")
    await command(admin, f"タグ削除 VIP #{member_id}")
    (history,) = await command(admin, f"タグ履歴 #{member_id}")
    assert "・VIP" in history["text"] and "追加(admin)" in history["text"]
    assert "解除" in history["text"]
    (figures,) = await command(admin, "統計")
    assert figures["type"] == "flex"
    (tags,) = await command(admin, "タグ一覧")
    assert "・VIP  0人" in tags["text"]


POINTS_CLUB_TEXT = (Path(__file__).resolve().parent.parent / "examples" / SCENARIO).read_text(
    encoding="utf-8"
)


@pytest.mark.parametrize("scenario_app", [POINTS_CLUB_TEXT], indirect=True)
async def test_reload_from_chat_shows_errors_and_keeps_the_old_scenario(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    path = services.settings.scenario_path
    assert path.parent != Path(__file__).resolve().parent.parent / "examples"
    original = path.read_text(encoding="utf-8")
    admin, _ = await admin_friend(sandbox, "管理者", "admin")
    path.write_text(
        original.replace("tag_added: 300ポイント削除(プレゼント)", "tag_added: 無いタグ")
    )
    (failed,) = await command(admin, "再読込")
    assert "エラーがあるため読み込みませんでした" in failed["text"]
    assert "無いタグ" in failed["text"] and "rules[" in failed["text"]
    path.write_text(original.replace("ポイント残高は「マイページ」", "残高はマイページ"))
    (done,) = await command(admin, "reload")
    assert "読み込み直しました" in done["text"]
    await command(admin, "/exit")
    await admin.say("ポイント")
    assert await admin.texts(1) == ["残高はマイページでご確認いただけます。"]
    results = (
        await AuditEntry.filter(command="reload").order_by("id").values_list("result", flat=True)
    )
    assert list(results) == ["error", "ok"]


TWO_STEPS = """
version: 1
welcome: [ようこそ]
tags: [VIP]
steps:
  ようこそ講座:
    steps:
      - {after: 0, messages: [第1回です]}
      - {after: 1d, messages: [第2回です]}
"""


@pytest.mark.parametrize("scenario_app", [TWO_STEPS], indirect=True)
async def test_pausing_and_resuming_a_step_scenario_and_cancelling_a_draft_from_chat(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, _ = scenario_app
    student, student_id = await joined(sandbox, "受講生")
    admin, _ = await admin_friend(sandbox, "講師", "admin")
    await command(admin, f"ステップ開始 ようこそ講座 #{student_id}")
    assert await student.texts(1) == ["第1回です"]
    (paused,) = await command(admin, f"step pause ようこそ講座 #{student_id}")
    assert "一時停止しました" in paused["text"]
    await sandbox.advance("25h")  # lesson 2 fell due an hour ago, while paused
    await student.nothing_more()
    (resumed,) = await command(admin, f"ステップ再開 ようこそ講座 #{student_id}")
    assert "再開しました" in resumed["text"]
    await sandbox.advance("1m")
    assert await student.texts(1) == ["第2回です"]
    (again,) = await command(admin, f"ステップ再開 ようこそ講座 #{student_id}")
    assert "一時停止中の「ようこそ講座」はありません" in again["text"]
    # A broadcast being written can be dropped at any step: nothing goes out.
    await command(admin, "配信 全員")
    await command(admin, "下書きのお知らせ")
    (dropped,) = await command(admin, "キャンセル")
    assert "何も送っていません" in dropped["text"]
    await sandbox.advance("1m")
    await student.nothing_more()
