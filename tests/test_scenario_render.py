"""Filling placeholders in scenario messages, as LINE will receive them."""

import textwrap
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from linebot.v3.messaging import Message as SdkMessage

from bot.scenario import (
    Scenario,
    ScenarioError,
    check_templates,
    load_scenario,
    parse_scenario,
    render_messages,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "welcome.yaml"
NOW = datetime(2025, 4, 1, 9, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
EMOJI = {"productId": "5ac1bfd5040ab15980c9b435", "emojiId": "001"}


def parse(text: str) -> Scenario:
    return parse_scenario(textwrap.dedent(text), "scenario.yaml")


def context(display_name: str | None = "山田花子", **friend: Any) -> dict[str, Any]:
    return {
        "friend": {
            "display_name": display_name,
            "id": 42,
            "line_user_id": "U" + "0" * 32,
            "language": "ja",
            **friend,
        },
        "now": NOW,
    }


def welcome(text: str, ctx: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return render_messages(parse(text).welcome, ctx or context())


def test_display_name_goes_into_text_alt_text_and_postback_data() -> None:
    rendered = welcome(
        """
        version: 1
        welcome:
          - "こんにちは、{{ friend.display_name }}さん!"
          - type: template
            altText: "{{ friend.display_name }}さんへのご案内"
            template:
              type: buttons
              text: "{{ now.strftime('%m/%d') }}のおすすめ"
              actions:
                - type: postback
                  label: "{{ friend.display_name }}"
                  data: "action=book&friend={{ friend.id }}&name={{ friend.display_name }}"
                - type: uri
                  label: 予約
                  uri: "https://example.com/book?u={{ friend.line_user_id }}"
        """
    )
    assert rendered == [
        {"type": "text", "text": "こんにちは、山田花子さん!"},
        {
            "type": "template",
            "altText": "山田花子さんへのご案内",
            "template": {
                "type": "buttons",
                "text": "04/01のおすすめ",
                "actions": [
                    {
                        "type": "postback",
                        "label": "山田花子",
                        "data": "action=book&friend=42&name=山田花子",
                    },
                    {
                        "type": "uri",
                        "label": "予約",
                        "uri": "https://example.com/book?u=U" + "0" * 32,
                    },
                ],
            },
        },
    ]


def test_strings_inside_flex_contents_and_quick_replies_are_rendered() -> None:
    rendered = welcome(
        """
        version: 1
        welcome:
          - type: flex
            altText: "{{ friend.display_name }}さんの会員証"
            contents:
              type: bubble
              body:
                type: box
                layout: vertical
                contents:
                  - {type: text, text: "{{ friend.display_name }}さん", size: xl}
                  - {type: text, text: "No. {{ friend.id }}", wrap: true}
            quickReply:
              items:
                - action: {type: message, label: "{{ friend.language }}", text: 言語}
        """
    )
    assert rendered[0]["contents"]["body"]["contents"] == [
        {"type": "text", "text": "山田花子さん", "size": "xl"},
        {"type": "text", "text": "No. 42", "wrap": True},
    ]
    assert rendered[0]["quickReply"] == {
        "items": [{"type": "action", "action": {"type": "message", "label": "ja", "text": "言語"}}]
    }


def test_undefined_names_render_empty() -> None:
    rendered = welcome(
        """
        version: 1
        welcome:
          - "[{{ friend.nickname }}][{{ friend.profile.city.name }}]さん"
        """,
        {"friend": {"display_name": "x"}},
    )
    assert rendered == [{"type": "text", "text": "[][]さん"}]
    # With no context at all (e.g. a broadcast to nobody in particular), nothing crashes.
    assert render_messages(parse("version: 1\nwelcome: ['{{ now }}!']\n").welcome, {}) == [
        {"type": "text", "text": "!"}
    ]


def test_missing_profile_values_render_empty_not_none() -> None:
    rendered = welcome(
        "version: 1\nwelcome: ['[{{ friend.display_name }}]さん']\n",
        context(display_name=None),
    )
    assert rendered == [{"type": "text", "text": "[]さん"}]


def test_friend_may_be_an_object() -> None:
    class Friend:
        display_name = "オブジェ"
        id = 1

    messages = parse("version: 1\nwelcome: ['{{ friend.display_name }}さん']\n").welcome
    assert render_messages(messages, {"friend": Friend(), "now": NOW}) == [
        {"type": "text", "text": "オブジェさん"}
    ]


def test_templates_run_in_a_sandbox() -> None:
    rendered = welcome(
        """
        version: 1
        welcome: ["[{{ friend.__class__ }}][{{ now.__class__.__mro__ }}]"]
        """
    )
    assert rendered == [{"type": "text", "text": "[][]"}]


def test_no_html_escaping() -> None:
    rendered = welcome(
        "version: 1\nwelcome: ['{{ friend.display_name }} & co']\n",
        context(display_name="<Tom & Jerry>"),
    )
    assert rendered == [{"type": "text", "text": "<Tom & Jerry> & co"}]


def test_emoji_indexes_follow_their_dollar_after_rendering() -> None:
    scenario = parse(
        """
        version: 1
        welcome:
          - type: text
            text: "$ {{ friend.display_name }}さん、ようこそ $"
            emojis:
              - {index: 0, productId: "5ac1bfd5040ab15980c9b435", emojiId: "001"}
              - {index: 35, productId: "5ac1bfd5040ab15980c9b435", emojiId: "002"}
        """
    )
    # A display name with a surrogate pair (2 UTF-16 units) and a `$` that is not an emoji.
    (rendered,) = render_messages(scenario.welcome, context(display_name="🍎$花"))
    assert rendered["text"] == "$ 🍎$花さん、ようこそ $"
    assert rendered["emojis"] == [
        {"index": 0, **EMOJI},
        {"index": 14, **{**EMOJI, "emojiId": "002"}},
    ]
    units = rendered["text"].encode("utf-16-le")
    for emoji in rendered["emojis"]:
        assert units[emoji["index"] * 2 : emoji["index"] * 2 + 2] == "$".encode("utf-16-le")


def test_emoji_in_a_skipped_block_is_dropped() -> None:
    scenario = parse(
        """
        version: 1
        welcome:
          - type: text
            text: "{% if friend.vip %}$ VIP {% endif %}$ こんにちは"
            emojis:
              - {index: 19, productId: "5ac1bfd5040ab15980c9b435", emojiId: "001"}
              - {index: 36, productId: "5ac1bfd5040ab15980c9b435", emojiId: "002"}
        """
    )
    (plain,) = render_messages(scenario.welcome, context())
    assert plain["text"] == "$ こんにちは"
    assert plain["emojis"] == [{"index": 0, **{**EMOJI, "emojiId": "002"}}]
    (vip,) = render_messages(scenario.welcome, context(vip=True))
    assert vip["text"] == "$ VIP $ こんにちは"
    assert [e["index"] for e in vip["emojis"]] == [0, 6]


def test_long_rendered_text_is_cut_to_lines_limit() -> None:
    scenario = parse(
        """
        version: 1
        welcome:
          - type: text
            text: "{{ friend.display_name }}$"
            emojis: [{index: 25, productId: "5ac1bfd5040ab15980c9b435", emojiId: "001"}]
          - type: template
            altText: "{{ friend.display_name }}"
            template:
              type: confirm
              text: ok?
              actions:
                - {type: message, label: はい, text: はい}
                - {type: message, label: いいえ, text: いいえ}
        """
    )
    text, template = render_messages(scenario.welcome, context(display_name="a" + "🍎" * 3000))
    assert len(text["text"].encode("utf-16-le")) // 2 == 4999  # no half surrogate pair
    assert "emojis" not in text  # its `$` was cut off
    assert len(template["altText"].encode("utf-16-le")) // 2 == 399


def test_rendered_values_are_cut_to_their_line_limits() -> None:
    scenario = parse(
        """
        version: 1
        welcome:
          - type: template
            altText: お知らせ
            template:
              type: buttons
              title: "{{ friend.display_name }}"
              text: "{{ friend.display_name }}さんへ"
              actions:
                - type: postback
                  label: "{{ friend.display_name }}"
                  data: "name={{ friend.display_name }}"
        """
    )
    (rendered,) = render_messages(scenario.welcome, context(display_name="長" * 400))
    template = rendered["template"]
    assert template["title"] == "長" * 40
    assert template["text"] == "長" * 60  # 60, not 160, because there is a title
    assert template["actions"][0]["label"] == "長" * 20
    assert template["actions"][0]["data"] == "name=" + "長" * 295


def test_text_that_renders_empty_is_left_out() -> None:
    rendered = welcome(
        """
        version: 1
        welcome:
          - "{{ friend.nickname }}"
          - こんにちは
        """
    )
    assert rendered == [{"type": "text", "text": "こんにちは"}]


def test_a_failing_template_sends_its_source_instead_of_crashing() -> None:
    rendered = welcome("version: 1\nwelcome: ['{{ friend.display_name | round }}さん']\n")
    assert rendered == [{"type": "text", "text": "{{ friend.display_name | round }}さん"}]


def test_type_values_are_never_rendered() -> None:
    scenario = parse(
        "version: 1\nwelcome: [{type: sticker, packageId: '446', stickerId: '1988'}]\n"
    )
    assert render_messages(scenario.welcome, context()) == [
        {"type": "sticker", "packageId": "446", "stickerId": "1988"}
    ]


def test_check_templates_accepts_known_names_and_loops() -> None:
    scenario = parse(
        """
        version: 1
        welcome:
          - "{% for i in range(2) %}{{ i }}{% endfor %} {{ friend.display_name }} {{ now.year }}"
        """
    )
    assert check_templates(scenario, "scenario.yaml") == []


def test_bundled_example_renders_to_messages_line_accepts() -> None:
    scenario = load_scenario(EXAMPLE)
    rendered = render_messages(scenario.welcome, context())
    assert "山田花子" in rendered[0]["text"]
    assert rendered[0]["emojis"] == [{"index": 0, **EMOJI}]
    for _loc, message in scenario.iter_messages():
        for data in render_messages([message], context()):
            assert SdkMessage.from_dict(data).to_dict() == data


def template_problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    return [str(issue) for issue in caught.value.issues]


def test_placeholders_are_checked_in_every_message_of_the_file() -> None:
    assert template_problems(
        """
        version: 1
        tags: [会員]
        fields:
          体験日: {type: date}
        points:
          expires_after: 365d
          expiry_notice:
            before: 7d
            messages: ["{{ expiring.points }}ポイント {{ expirng.date }}"]
        rules:
          - name: 入会
            when: [{tag_added: 会員}]
            do:
              - send: ["{{ frend.display_name }}さん"]
              - notify_admins: "{{ friend.id }} {{ user }}"
        steps:
          案内:
            steps:
              - after: 0
                messages: ["ようこそ", "{{ friend.display_name }}さん {{ frend.id }}"]
              - after: 1d
                branches:
                  - {if: {tag: 会員}, messages: ["{{ member }}"]}
                messages: [ふつう]
        reminders:
          体験:
            field: 体験日
            steps:
              - {before: 1d, messages: ["{{ tomorrow }}"]}
        broadcasts:
          月初:
            cron: "0 10 1 * *"
            messages:
              - type: template
                altText: "{{ friend.points }}pt"
                template:
                  type: buttons
                  text: "{{ now.month }}月 {{ mnth }}"
                  actions:
                    - type: postback
                      label: 受け取る
                      do:
                        - send: ["{{ expiring.points }}"]
        """
    ) == [
        "scenario.yaml: points.expiry_notice.messages[0].text: unknown placeholder 'expirng' "
        "(expected friend, now or expiring)",
        "scenario.yaml: rules[0].do[0].send[0].text: unknown placeholder 'frend' "
        "(expected friend or now)",
        "scenario.yaml: rules[0].do[1].notify_admins: unknown placeholder 'user' "
        "(expected friend or now)",
        "scenario.yaml: steps.案内.steps[0].messages[1].text: unknown placeholder 'frend' "
        "(expected friend or now)",
        "scenario.yaml: steps.案内.steps[1].branches[0].messages[0].text: unknown placeholder "
        "'member' (expected friend or now)",
        "scenario.yaml: reminders.体験.steps[0].messages[0].text: unknown placeholder "
        "'tomorrow' (expected friend or now)",
        "scenario.yaml: broadcasts.月初.messages[0].template.text: unknown placeholder 'mnth' "
        "(expected friend or now)",
        # a button's own messages are sent when it is tapped: no `expiring` there
        "scenario.yaml: broadcasts.月初.messages[0].template.actions[0].do[0].send[0].text: "
        "unknown placeholder 'expiring' (expected friend or now)",
    ]


def test_expiring_is_only_known_in_the_expiry_notice() -> None:
    scenario = parse(
        """
        version: 1
        points:
          expires_after: 365d
          expiry_notice:
            before: 7d
            at: "09:30"
            messages:
              - "{{ expiring.points }}ポイントが{{ expiring.date.month }}月{{ expiring.date.day }}日\\
                〜{{ expiring.last_date.day }}日に失効します(残高 {{ friend.points }})"
        """
    )
    assert check_templates(scenario, "scenario.yaml") == []
    notice = scenario.points.expiry_notice
    assert notice is not None
    expiring = {"points": 120, "date": date(2028, 1, 20), "last_date": date(2028, 1, 21)}
    assert render_messages(notice.messages, {**context(points=150), "expiring": expiring}) == [
        {"type": "text", "text": "120ポイントが1月20日〜21日に失効します(残高 150)"}
    ]
    assert template_problems(
        """
        version: 1
        welcome: ["{{ expiring.points }}"]
        """
    ) == ["scenario.yaml: welcome[0].text: unknown placeholder 'expiring' (expected friend or now)"]
