"""examples/tags-and-rules.yaml end to end: AND of tags in either order, OR of compound
field conditions, tag chains, tag history with filters, friends by tag-added time."""

from __future__ import annotations

from datetime import timedelta

from bot import clock
from bot.crm.tags import current_tags, friends_tagged_between, history
from bot.db.models import StepRun
from bot.services import Services
from tests.dsl import SandboxDriver, joined

SCENARIO = "tags-and-rules.yaml"


async def test_and_of_two_tags_in_either_order_adds_c_and_starts_its_steps(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    tags = services.crm.tags
    for order in (["流入:Instagram", "本人確認済"], ["本人確認済", "流入:Instagram"]):
        friend, fid = await joined(sandbox, f"順番{order[0]}")
        await tags.add(fid, order[0], source="inflow_route")
        assert "C" not in await current_tags(fid)
        await friend.nothing_more()
        await tags.add(fid, order[1], source="admin")
        assert "C" in await current_tags(fid)
        assert await friend.texts(1) == [
            "本人確認ありがとうございます。Instagram からのお客さま限定のご案内です。"
        ]
        assert (
            await StepRun.filter(friend_id=fid, scenario="Cのご案内", status="running").count() == 1
        )
    await sandbox.advance("1d")
    # both friends get the second step a day later
    await sandbox.settle()
    sent = await StepRun.filter(scenario="Cのご案内", status="finished").count()
    assert sent == 2


async def test_or_of_compound_field_conditions(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    fields = services.crm.fields
    _, fid = await joined(sandbox, "契約さん")
    await fields.set(fid, "商品ID", "P-300", source="integration")
    assert "有効契約者" not in await current_tags(fid)
    await fields.set(fid, "契約状態", "有効", source="integration")
    assert "有効契約者" in await current_tags(fid)
    await fields.set(fid, "契約状態", "停止", source="integration")
    assert "有効契約者" not in await current_tags(fid)
    _, other = await joined(sandbox, "対象外さん")
    await fields.set(other, "商品ID", "P-999", source="integration")
    await fields.set(other, "契約状態", "有効", source="integration")
    assert "有効契約者" not in await current_tags(other)


async def test_tag_a_adds_tag_b_and_history_is_filterable(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    tags = services.crm.tags
    _, fid = await joined(sandbox, "履歴さん")
    start = clock.now()
    await tags.add(fid, "A", source="postback")
    assert set(await current_tags(fid)) >= {"A", "B"}
    rows = await history("B")
    assert [(r.friend_id, r.source, r.actor) for r in rows] == [(fid, "rule", "AならB")]
    clock.clock.advance(timedelta(days=2))
    await tags.remove(fid, "A", source="admin", actor="owner")
    await tags.add(fid, "A", source="admin", actor="owner")
    periods = await history("A", friend_id=fid)
    assert len(periods) == 2
    assert [p.removed_at is None for p in periods] == [True, False]  # newest first
    assert len(await history("A", active=False, added_from=start - timedelta(days=1))) == 1
    assert len(await history("A", removed_from=start)) == 1
    # the default window is the last 7 days
    clock.clock.advance(timedelta(days=8))
    assert await history("A") == []


async def test_friends_whose_tag_was_added_between_two_times(
    scenario_app: tuple[SandboxDriver, Services],
) -> None:
    sandbox, services = scenario_app
    tags = services.crm.tags
    _, early = await joined(sandbox, "十月さん")
    _, late = await joined(sandbox, "十一月さん")
    october = clock.now()
    await tags.add(early, "本人確認済", source="admin")
    clock.clock.advance(timedelta(days=31))
    await tags.add(late, "本人確認済", source="admin")
    assert await friends_tagged_between("本人確認済", october, october + timedelta(days=30)) == [
        early
    ]
    # the same question as a segment
    window = {"tag_added": {"tag": "本人確認済", "ever": True, "within": "7d"}}
    assert await services.crm.segments.friend_ids(window) == [late]
