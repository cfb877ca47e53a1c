"""Reloading the scenario file while the server runs: the new file answers at once (replies,
rules, steps, LIFF forms), a broken file changes nothing and says what is wrong where, and a
second process on the same database follows a reload on its next tick."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.admin.reload import reload_scenario
from bot.app import tick
from bot.appkeys import SERVICES
from bot.db.models import ScenarioReload, Tag
from tests.conftest import make_settings, start_server
from tests.dsl import SandboxDriver, joined

FIRST = """version: 1
timezone: Asia/Tokyo
tags: [参加者]
welcome: ["ようこそ"]
auto_replies:
  - match: {equals: 営業時間}
    messages: ["10時から18時です"]
"""

SECOND = """version: 1
timezone: Asia/Tokyo
tags: [参加者, 新しいタグ]
welcome: ["ようこそ"]
auto_replies:
  - match: {equals: 営業時間}
    messages: ["9時から20時に変わりました"]
rules:
  - name: 参加で登録
    when: [{message: {equals: 参加}}]
    do: [{add_tag: 参加者}]
  - name: 参加者にステップ
    when: [{tag_added: 参加者}]
    do: [{start_steps: 参加者向け}]
steps:
  参加者向け:
    steps:
      - {after: 0, messages: ["ご参加ありがとうございます"]}
      - {after: 1d, messages: ["2日目のご案内です"]}
forms:
  ご意見:
    title: ご意見箱
    fields:
      - {name: comment, label: ご意見, type: textarea}
"""

UNKNOWN_TAG = FIRST.replace(
    "auto_replies:", "rules:\n  - name: 登録\n    when: [{message: {equals: 参加}}]\n"
    "    do: [{add_tag: 存在しないタグ}]\nauto_replies:"
)  # fmt: skip
BAD_YAML = SECOND.replace("    title: ご意見箱", "    title: [ご意見箱")
BAD_FORM = SECOND.replace("type: textarea}", "type: textarea, tags: [ないタグ]}")


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(FIRST, encoding="utf-8")
    return path


@pytest.fixture
async def first_server(database_url: str, scenario_file: Path) -> AsyncIterator[TestServer]:
    server = await start_server(make_settings(database_url, STEPBOT_SCENARIO=str(scenario_file)))
    yield server
    await server.close()


def sandbox_of(server: TestServer, http: aiohttp.ClientSession) -> SandboxDriver:
    return SandboxDriver(str(server.make_url("")), http)


async def page_status(http: aiohttp.ClientSession, server: TestServer, path: str) -> int:
    async with http.get(server.make_url(path)) as response:
        return response.status


async def test_a_reloaded_file_answers_at_once_with_its_replies_rules_steps_and_forms(
    first_server: TestServer, scenario_file: Path, http: aiohttp.ClientSession
) -> None:
    sandbox = sandbox_of(first_server, http)
    friend, _ = await joined(sandbox, "お客さま")
    await friend.say("営業時間")
    assert await friend.texts(1) == ["10時から18時です"]
    await friend.say("参加")
    await friend.nothing_more()
    assert await page_status(http, first_server, "/liff/forms/ご意見") == 404

    scenario_file.write_text(SECOND, encoding="utf-8")
    result = await reload_scenario(first_server.app, "U-admin")
    assert result.ok, result.errors
    assert result.summary.split("\n") == [
        "ステップ配信 0 → 1",
        "ルール 0 → 2",
        "一斉配信 0 → 0",
        "自動応答 1 → 1",
        "リッチメニュー 0 → 0",
    ]
    [row] = await ScenarioReload.all()
    assert row.admin_user_id == "U-admin"
    assert row.content_hash == hashlib.sha256(scenario_file.read_bytes()).hexdigest()
    assert await Tag.exists(name="新しいタグ")

    await friend.say("営業時間")
    assert await friend.texts(1) == ["9時から20時に変わりました"]
    await friend.say("参加")  # the new rule tags, the tag starts the new step scenario
    assert await friend.texts(1) == ["ご参加ありがとうございます"]
    await sandbox.advance("1d1m")
    assert await friend.texts(1) == ["2日目のご案内です"]
    assert await page_status(http, first_server, "/liff/forms/ご意見") == 200


@pytest.mark.parametrize(
    ("broken", "where"),
    [
        (UNKNOWN_TAG, "rules[0].do[0].add_tag"),
        (BAD_YAML, "line 23, column 11"),
        (BAD_FORM, "forms.ご意見.fields[0].tags"),
    ],
    ids=["unknown tag", "yaml syntax", "form tag"],
)
async def test_a_broken_file_is_refused_with_where_and_what_and_the_old_one_keeps_answering(
    first_server: TestServer,
    scenario_file: Path,
    http: aiohttp.ClientSession,
    broken: str,
    where: str,
) -> None:
    sandbox = sandbox_of(first_server, http)
    friend, _ = await joined(sandbox, "お客さま")
    services = first_server.app[SERVICES]
    running = services.scenario
    scenario_file.write_text(broken, encoding="utf-8")

    result = await reload_scenario(services, "U-admin")
    assert not result.ok
    assert result.errors.startswith(f"{scenario_file}: ")
    assert where in result.errors, result.errors
    assert services.scenario is running
    assert not await ScenarioReload.exists()
    await friend.say("営業時間")
    assert await friend.texts(1) == ["10時から18時です"]
    await friend.say("参加")
    await friend.nothing_more()


async def test_a_second_process_follows_a_reload_on_its_next_tick(
    first_server: TestServer,
    scenario_file: Path,
    database_url: str,
    http: aiohttp.ClientSession,
) -> None:
    second = await start_server(make_settings(database_url, STEPBOT_SCENARIO=str(scenario_file)))
    try:
        other = sandbox_of(second, http)
        friend, _ = await joined(other, "もう一方のお客さま")
        await friend.say("営業時間")
        assert await friend.texts(1) == ["10時から18時です"]

        scenario_file.write_text(SECOND, encoding="utf-8")
        assert (await reload_scenario(first_server.app, "U-admin")).ok
        await tick(second.app)
        await friend.say("営業時間")
        assert await friend.texts(1) == ["9時から20時に変わりました"]
        await friend.say("参加")
        assert await friend.texts(1) == ["ご参加ありがとうございます"]

        # a later reload of a broken file is refused where it is asked, and the followers
        # have nothing new to follow
        scenario_file.write_text(BAD_YAML, encoding="utf-8")
        assert not (await reload_scenario(first_server.app, "U-admin")).ok
        await tick(second.app)
        await friend.say("営業時間")
        assert await friend.texts(1) == ["9時から20時に変わりました"]
    finally:
        await second.close()


MENUS = """version: 1
timezone: Asia/Tokyo
tags: [会員]
welcome: ["ようこそ"]
rich_menus:
  一般:
    layout:
      columns: 1
      cells: [{label: お問い合わせ, action: {type: message, text: お問い合わせ}}]
  会員:
    layout:
      columns: 1
      cells: [{label: 会員特典, action: {type: message, text: 特典}}]
menu_rules:
  - if: {tag: 会員}
    menu: 会員
  - menu: 一般
"""


async def test_a_changed_menu_replaces_the_old_one_for_the_friends_who_see_it(
    database_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    path = tmp_path / "menus.yaml"
    path.write_text(MENUS, encoding="utf-8")
    server = await start_server(make_settings(database_url, STEPBOT_SCENARIO=str(path)))
    try:
        sandbox = sandbox_of(server, http)
        services = server.app[SERVICES]
        await services.menus.ready.wait()
        member, member_id = await joined(sandbox, "会員さん")
        guest, _ = await joined(sandbox, "ゲストさん")
        await services.crm.tags.add(member_id, "会員", source="admin")
        before = dict(services.menus.catalog)
        assert await shown_menu(sandbox, member.user_id) == before["会員"]

        path.write_text(
            MENUS.replace("label: 会員特典", "label: 会員限定クーポン"), encoding="utf-8"
        )
        result = await reload_scenario(services, "U-admin")
        assert result.ok, result.errors
        await services.menus.ready.wait()
        after = services.menus.catalog
        assert after["一般"] == before["一般"] and after["会員"] != before["会員"]
        assert await shown_menu(sandbox, member.user_id) == after["会員"]
        assert await shown_menu(sandbox, guest.user_id) == after["一般"]  # the default
    finally:
        await server.close()


async def shown_menu(sandbox: SandboxDriver, user_id: str) -> str | None:
    await sandbox.settle()
    shown = await sandbox.get(f"/sandbox/api/friends/{user_id}/richmenu")
    return None if shown is None else str(shown["richMenuId"])
