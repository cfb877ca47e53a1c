"""Loading the CRM half of a scenario: broken rules, buttons and declarations are refused
with the file, the path and the reason."""

from __future__ import annotations

import pytest

from bot.scenario import ScenarioError, parse_scenario

BASE = """version: 1
tags: [A, B, 会員]
fields:
  性別: {type: choice, choices: [男性, 女性]}
  誕生日: {type: date}
scores:
  engagement: {events: {message: 1}}
steps:
  案内: {steps: [{after: 0, messages: [ようこそ]}]}
"""


def problems(extra: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(BASE + extra, "shop.yaml")
    return [str(issue) for issue in caught.value.issues]


def test_a_complete_crm_scenario_loads() -> None:
    scenario = parse_scenario(
        BASE
        + """rules:
  - name: AならB
    when: [{tag_added: A}]
    if: {field: {name: 性別, eq: 女性}}
    do: [{add_tag: B}, {set_field: {性別: 男性}}, {add_score: {engagement: 2}}, {start_steps: 案内}]
""",
        "shop.yaml",
    )
    assert scenario.rules[0].name == "AならB"
    assert scenario.tag_folders == {"A": None, "B": None, "会員": None}


def test_unknown_names_are_refused_with_their_path() -> None:
    found = problems(
        """rules:
  - name: r
    when: [{tag_added: C}, {field_changed: 年齢}, {score_changed: loyalty}]
    do:
      - add_tag: D
      - set_field: {性別: 不明}
      - start_steps: 不明な案内
"""
    )
    assert found == [
        "shop.yaml: rules[0].when[0].tag_added: unknown tag 'C' (declared: A, B, 会員)",
        "shop.yaml: rules[0].when[1].field_changed: unknown field '年齢' (declared: 性別, 誕生日)",
        "shop.yaml: rules[0].when[2].score_changed: unknown score 'loyalty' (declared: engagement)",
        "shop.yaml: rules[0].do[0].add_tag: unknown tag 'D' (declared: A, B, 会員)",
        "shop.yaml: rules[0].do[1].set_field.性別: 「性別」は 男性、女性 のいずれかです: '不明'",
        "shop.yaml: rules[0].do[2].start_steps: unknown step scenario '不明な案内' (declared: 案内)",
    ]


def test_rules_triggering_each_other_in_a_circle_are_refused() -> None:
    found = problems(
        """rules:
  - name: AならB
    when: [{tag_added: A}]
    do: [{add_tag: B}]
  - name: Bなら会員
    when: [{tag_added: B}]
    do: [{add_tag: 会員}]
  - name: 会員ならA
    when: [{tag_added: 会員}]
    do: [{add_tag: A}]
"""
    )
    assert found == [
        "shop.yaml: rules[0]: rules trigger each other in a circle: "
        "AならB -> Bなら会員 -> 会員ならA -> AならB"
    ]


def test_malformed_rules_and_buttons() -> None:
    found = problems(
        """rules:
  - name: dup
    when: [{tag_addded: A}]
    do: [{add_tag: A}]
  - name: dup
    when: [{schedule: {cron: "61 * * * *"}}]
    do: [{add_points: 0}]
welcome:
  - type: template
    altText: x
    template:
      type: buttons
      text: t
      actions:
        - {type: postback, label: x, data: d, do: [{add_tag: A}]}
"""
    )
    assert any("rules[0].when[0]: unknown trigger 'tag_addded'" in p for p in found), found
    assert any("rules[1].when[0].schedule.cron: invalid cron expression" in p for p in found)
    assert any("rules[1].do[0].add_points.amount: must be more than 0" in p for p in found)
    assert any(
        "welcome[0].template.actions[0]: must have exactly one of: data, do" in p for p in found
    )


def test_duplicate_rule_names_are_refused() -> None:
    found = problems(
        """rules:
  - {name: same, when: [followed], do: [{add_tag: A}]}
  - {name: same, when: [followed], do: [{add_tag: B}]}
"""
    )
    assert found == ["shop.yaml: rules[1].name: rule name 'same' is used twice"]


def test_button_tokens_are_stable_and_distinct() -> None:
    text = (
        BASE
        + """welcome:
  - type: template
    altText: x
    template:
      type: buttons
      text: t
      actions:
        - {type: postback, label: one, do: [{add_tag: A}]}
        - {type: postback, label: two, do: [{add_tag: B}]}
"""
    )
    first = parse_scenario(text, "a.yaml").welcome[0].template.actions  # type: ignore[union-attr]
    again = parse_scenario(text, "a.yaml").welcome[0].template.actions  # type: ignore[union-attr]
    assert first[0].data == again[0].data and first[0].data.startswith("sb:")
    assert first[0].data != first[1].data


def test_a_link_rule_needs_per_friend_link_tracking() -> None:
    rule = """rules:
  - name: メニューを見た
    when: [{link_clicked: {prefix: "https://example.com/"}}]
    do: [{add_tag: A}]
"""
    assert problems(rule) == [
        "shop.yaml: rules[0].when[0].link_clicked: a tap is only known to be the friend's with "
        "`delivery: {track_links: friend}` (found track_links: off)"
    ]
    parse_scenario(BASE + "delivery: {track_links: friend}\n" + rule, "shop.yaml")


def test_ab_tests_are_checked_when_the_file_loads() -> None:
    found = problems(
        """broadcasts:
  両方:
    at: "2027-04-01 12:00"
    messages: [こんにちは]
    variants: [{name: A, messages: [a]}, {name: B, messages: [b]}]
  毎月:
    cron: "0 10 1 * *"
    variants: [{name: A, messages: [a]}, {name: A, messages: [b]}]
    ab_test: {test_share: 20%}
  購入:
    at: "2027-04-01 12:00"
    variants: [{name: A, messages: [a]}, {name: B, messages: [b]}]
    ab_test: {conversion: {tag: 購入者}, test_share: 120%}
"""
    )
    assert found == [
        "shop.yaml: broadcasts.両方: give exactly one of: messages, variants",
        "shop.yaml: broadcasts.毎月: test_share (winner to the rest) is for a broadcast sent "
        "once (at), not cron",
        "shop.yaml: broadcasts.購入.ab_test.test_share: must be a share of the audience above 0 "
        'and below 100%, such as "20%" or 0.2',
    ]


def test_names_and_data_reserved_for_admin_mode_are_refused() -> None:
    found = problems(
        """broadcasts:
  "chat:1": {at: "2027-01-01 10:00", messages: [hi]}
auto_replies:
  - match: {equals: [x]}
    messages:
      - type: template
        altText: x
        template:
          type: buttons
          text: x
          actions: [{type: postback, label: x, data: "adm:confirm:1:"}]
"""
    )
    assert sorted(found) == [
        "shop.yaml: auto_replies[0].messages[0].template.actions[0].data: postback data "
        "starting with 'adm:' is reserved for admin mode",
        "shop.yaml: broadcasts.chat:1: names starting with 'chat:' are reserved for broadcasts "
        "sent from chat",
    ]
    bad_menu = problems("admin: {rich_menu: ない}\n")
    assert bad_menu == [
        "shop.yaml: admin.rich_menu: unknown rich menu 'ない' (declared: none are declared)"
    ]
