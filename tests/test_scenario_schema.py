"""The scenario file: what it accepts, and the exact words it uses for what it rejects."""

import json
import textwrap
from pathlib import Path

import pytest

from bot.scenario import (
    AutoReply,
    Scenario,
    ScenarioError,
    ScenarioIssue,
    StickerMessage,
    TemplateMessage,
    TextMessage,
    load_scenario,
    parse_scenario,
    scenario_json_schema,
    summarize,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "welcome.yaml"
SCHEMA_FILE = ROOT / "docs" / "scenario.schema.json"


def parse(text: str) -> Scenario:
    return parse_scenario(textwrap.dedent(text), "scenario.yaml")


def problems(text: str) -> list[str]:
    """Every issue line for a broken scenario (fails if it loads)."""
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    return str(caught.value).splitlines()


# --- what loads --------------------------------------------------------------------------


def test_minimal_scenario_uses_defaults() -> None:
    scenario = parse("version: 1\n")
    assert scenario.timezone == "Asia/Tokyo"
    assert scenario.zone.key == "Asia/Tokyo"
    assert scenario.welcome == []
    assert scenario.auto_replies == []
    assert scenario.default_reply is None


def test_bare_string_is_a_text_message() -> None:
    scenario = parse(
        """
        version: 1
        welcome:
          - "こんにちは、{{ friend.display_name }}さん!"
          - type: sticker
            packageId: 446
            stickerId: "1988"
        default_reply: ["ありがとうございます"]
        """
    )
    first, second = scenario.welcome
    assert isinstance(first, TextMessage)
    assert first.text == "こんにちは、{{ friend.display_name }}さん!"
    assert isinstance(second, StickerMessage)
    assert second.packageId == "446"  # YAML read a number; LINE wants a string
    assert scenario.default_reply is not None
    assert scenario.default_reply[0].model_dump(exclude_none=True) == {
        "type": "text",
        "text": "ありがとうございます",
    }


def test_line_message_objects_are_kept_in_lines_shape() -> None:
    scenario = parse(
        """
        version: 1
        welcome:
          - type: template
            altText: ご案内
            template:
              type: buttons
              thumbnailImageUrl: https://example.com/a.jpg
              title: ご案内
              text: 選んでください
              defaultAction: {type: uri, uri: "https://example.com/"}
              actions:
                - {type: postback, label: 予約, data: "action=book", displayText: 予約したい}
                - {type: message, label: 営業時間, text: 営業時間}
                - {type: uri, label: 電話, uri: "tel:0312345678"}
                - {type: datetimepicker, label: 日時, data: d, mode: datetime,
                   initial: "2025-01-01T10:00"}
            quickReply:
              items:
                - {type: action, action: {type: camera, label: カメラ}}
                - action: {type: location, label: 位置情報}
                - imageUrl: https://example.com/icon.png
                  action: {type: clipboard, label: コピー, clipboardText: CODE1}
        """
    )
    message = scenario.welcome[0]
    assert isinstance(message, TemplateMessage)
    dumped = message.model_dump(mode="json", exclude_none=True)
    assert dumped["template"]["defaultAction"] == {"type": "uri", "uri": "https://example.com/"}
    assert dumped["quickReply"]["items"][1] == {
        "type": "action",
        "action": {"type": "location", "label": "位置情報"},
    }


# --- what is rejected, and how it is said ------------------------------------------------


def test_too_long_text_names_file_path_and_limit() -> None:
    long_text = "あ" * 5001
    assert problems(
        f"""
        version: 1
        auto_replies:
          - match: {{equals: こんにちは}}
            messages: ["{long_text}"]
        """
    ) == ["scenario.yaml: auto_replies[0].messages[0].text: must be at most 5000 characters"]


def test_text_length_is_counted_in_utf16_like_line() -> None:
    assert problems(f'version: 1\nwelcome: ["{"🍎" * 2501}"]\n') == [
        "scenario.yaml: welcome[0].text: must be at most 5000 characters "
        "(LINE counts emoji and some rare kanji as 2)"
    ]
    parse(f'version: 1\nwelcome: ["{"🍎" * 2500}"]\n')


def test_unknown_keys_list_the_expected_ones() -> None:
    assert problems(
        """
        version: 1
        welcome:
          - type: text
            txt: こんにちは
        auto_replies:
          - match: {equals: 営業時間}
            mesages: [営業時間は10時からです]
        """
    ) == [
        "scenario.yaml: welcome[0].txt: unknown key "
        "(expected one of: type, text, emojis, quickReply, sender)",
        "scenario.yaml: welcome[0].text: is required",
        "scenario.yaml: auto_replies[0].mesages: unknown key "
        "(expected one of: name, match, messages, do)",
    ]


def test_auto_reply_needs_messages_or_actions() -> None:
    assert problems("version: 1\nauto_replies:\n  - match: {equals: hi}\n") == [
        "scenario.yaml: auto_replies[0]: must have messages, do, or both"
    ]


def test_top_level_typo_is_an_unknown_key() -> None:
    assert problems("version: 1\nwelcom: [hi]\n") == [
        "scenario.yaml: welcom: unknown key (expected one of: version, name, timezone, welcome, "
        "welcome_on_unblock, auto_replies, default_reply, tags, fields, points, scores, "
        "segments, rules, steps, reminders, broadcasts, delivery, surveys, stamp_rallies, "
        "courses, rich_menus, menu_rules, forms, admin, integrations, routes)"
    ]


def test_bad_message_type_says_which_types_exist() -> None:
    assert problems(
        """
        version: 1
        welcome:
          - type: stiker
            packageId: "1"
          - text: type is missing
          - 42
        """
    ) == [
        "scenario.yaml: welcome[0].type: unknown message type 'stiker' "
        "(expected one of: text, sticker, image, video, template, flex)",
        "scenario.yaml: welcome[1].type: is required "
        "(one of: text, sticker, image, video, template, flex)",
        "scenario.yaml: welcome[2]: must be a mapping with a type "
        "(one of: text, sticker, image, video, template, flex)",
    ]


def test_missing_required_key() -> None:
    assert problems(
        """
        version: 1
        welcome:
          - type: sticker
            packageId: "446"
        """
    ) == ["scenario.yaml: welcome[0].stickerId: is required"]


def test_missing_version_and_unsupported_version() -> None:
    assert problems("welcome: [hi]\n") == ["scenario.yaml: version: is required"]
    assert problems("version: 2\n") == ["scenario.yaml: version: must be 1"]


def test_bad_regex_is_a_load_issue_with_its_path() -> None:
    assert problems(
        """
        version: 1
        auto_replies:
          - match: {regex: ["ok", "(unclosed"]}
            messages: [x]
        """
    ) == [
        "scenario.yaml: auto_replies[0].match.regex[1]: invalid regular expression: "
        "missing ), unterminated subpattern at position 0"
    ]


def test_match_needs_exactly_one_kind() -> None:
    assert problems(
        """
        version: 1
        auto_replies:
          - match: {equals: a, contains: b}
            messages: [x]
          - match: {}
            messages: [x]
        """
    ) == [
        "scenario.yaml: auto_replies[0].match: must have exactly one of: equals, contains, regex "
        "(found equals, contains)",
        "scenario.yaml: auto_replies[1].match: must have exactly one of: equals, contains, regex",
    ]


def test_unknown_placeholder() -> None:
    assert problems(
        """
        version: 1
        welcome: ["こんにちは {{ frend.display_name }}さん"]
        """
    ) == ["scenario.yaml: welcome[0].text: unknown placeholder 'frend' (expected friend or now)"]


def test_template_errors_have_their_path() -> None:
    assert problems(
        """
        version: 1
        welcome:
          - type: template
            altText: "{{ friend.display_name }"
            template:
              type: confirm
              text: よろしいですか?
              actions:
                - {type: message, label: はい, text: "{% if %}"}
                - {type: message, label: いいえ, text: "{{ now | nosuch }}"}
          - |
            line one
            {{ friend.display_name
        """
    ) == [
        "scenario.yaml: welcome[0].altText: template error: unexpected '}'",
        "scenario.yaml: welcome[0].template.actions[0].text: template error: "
        "expected an expression, got 'end of statement block'",
        "scenario.yaml: welcome[0].template.actions[1].text: template error: "
        "no filter named 'nosuch'",
        "scenario.yaml: welcome[1].text: template error: unexpected end of template, "
        "expected 'end of print statement' (line 2 of the text)",
    ]


def test_template_issues_are_reported_with_schema_issues() -> None:
    assert problems(
        """
        version: 1
        welcome: ["{{ frend }}", {type: sticker}]
        """
    ) == [
        "scenario.yaml: welcome[0].text: unknown placeholder 'frend' (expected friend or now)",
        "scenario.yaml: welcome[1].packageId: is required",
        "scenario.yaml: welcome[1].stickerId: is required",
    ]


def test_yaml_syntax_error_gives_line_and_column() -> None:
    lines = problems("version: 1\nwelcome:\n  - hello\n  oops: x\n")
    assert len(lines) == 1
    assert lines[0].startswith("scenario.yaml: line 4, column 3: ")


def test_duplicate_keys_are_reported_with_lines() -> None:
    assert problems("version: 1\nwelcome: [a]\nwelcome: [b]\n") == [
        "scenario.yaml: line 3, column 1: duplicate key 'welcome' (first on line 2)"
    ]


def test_empty_file_and_non_mapping_top_level() -> None:
    assert problems("") == ["scenario.yaml: file is empty (expected at least 'version: 1')"]
    assert problems("# only a comment\n") == [
        "scenario.yaml: file is empty (expected at least 'version: 1')"
    ]
    assert problems("- version: 1\n") == [
        "scenario.yaml: the top level must be a mapping of keys such as version, welcome and "
        "auto_replies (found a list)"
    ]


def test_missing_file_is_named_as_given(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value) == f"{path}: file not found"
    assert caught.value.issues == [ScenarioIssue(path, "", "file not found")]


def test_load_names_the_file_in_every_issue(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\ntimezone: Asia/Tokio\nwelcome: []\ndefault_reply: []\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value).splitlines() == [
        f"{path}: timezone: unknown time zone 'Asia/Tokio' "
        "(expected an IANA name such as Asia/Tokyo)",
        f"{path}: default_reply: must not be empty",
    ]


def test_all_issues_are_reported_in_file_order() -> None:
    lines = problems(
        """
        version: 1
        welcome:
          - "{{ nobody }}"
          - type: image
            originalContentUrl: http://example.com/a.jpg
            previewImageUrl: https://example.com/a.jpg
        auto_replies:
          - match: {equals: a}
            messages: [x, x, x, x, x, x]
        timezone: Mars/Base
        """
    )
    assert lines == [
        "scenario.yaml: welcome[0].text: unknown placeholder 'nobody' (expected friend or now)",
        "scenario.yaml: welcome[1].originalContentUrl: must be an https:// URL",
        "scenario.yaml: auto_replies[0].messages: must have at most 5 items (got 6)",
        "scenario.yaml: timezone: unknown time zone 'Mars/Base' "
        "(expected an IANA name such as Asia/Tokyo)",
    ]


def test_quote_token_is_not_allowed() -> None:
    assert problems(
        """
        version: 1
        welcome:
          - {type: text, text: hi, quoteToken: abc}
        """
    ) == [
        "scenario.yaml: welcome[0].quoteToken: is not allowed in a scenario file "
        "(a quote token belongs to one received message)"
    ]


def test_yaml_booleans_get_a_quoting_hint() -> None:
    assert problems(
        """
        version: 1
        auto_replies:
          - match: {equals: [yes]}
            messages: [はい]
        """
    ) == ["scenario.yaml: auto_replies[0].match.equals[0]: must be a string (put it in quotes)"]


def test_template_limits() -> None:
    assert problems(
        """
        version: 1
        welcome:
          - type: template
            altText: a
            template:
              type: buttons
              title: タイトル
              text: "%s"
              actions:
                - {type: postback, data: no-label}
          - type: template
            altText: b
            template:
              type: confirm
              text: どちら?
              actions: [{type: message, label: A, text: A}]
          - type: template
            altText: c
            template:
              type: carousel
              columns:
                - text: one
                  actions: [{type: message, label: A, text: A}]
                - text: two
                  actions:
                    - {type: message, label: A, text: A}
                    - {type: message, label: B, text: B}
          - type: template
            altText: d
            template:
              type: buttons
              text: t
              actions: [{type: camera, label: カメラ}]
        """
        % ("あ" * 61)
    ) == [
        "scenario.yaml: welcome[0].template.text: must be at most 60 characters when a title "
        "or thumbnailImageUrl is set",
        "scenario.yaml: welcome[1].template.actions: must have exactly 2 actions (got 1)",
        "scenario.yaml: welcome[2].template.columns[1].actions: must have 1 actions like the "
        "first column (every column needs the same number)",
        "scenario.yaml: welcome[3].template.actions[0].type: unknown action type 'camera' "
        "(expected one of: postback, message, uri, datetimepicker, clipboard)",
    ]


def test_placeholders_do_not_count_against_limits() -> None:
    scenario = parse(
        """
        version: 1
        welcome:
          - type: template
            altText: a
            template:
              type: buttons
              title: "{{ friend.display_name }}さんへ"
              text: "{{ friend.display_name }}さん、{{ now.strftime('%m月%d日') }}のご案内です"
              actions:
                - {type: message, label: "{{ friend.display_name }}です", text: x}
        """
    )
    assert scenario.welcome
    assert problems(
        """
        version: 1
        welcome:
          - type: template
            altText: a
            template:
              type: buttons
              text: t
              actions:
                - type: message
                  label: "{{ friend.display_name }}さん、二十文字を超えるとても長いラベルの例です"
                  text: x
        """
    ) == [
        "scenario.yaml: welcome[0].template.actions[0].label: must be at most 20 characters "
        "(not counting placeholders)"
    ]


def test_action_limits() -> None:
    assert problems(
        """
        version: 1
        welcome:
          - type: text
            text: 選んでください
            quickReply:
              items:
                - action: {type: message, text: no label}
                - action: {type: message, label: a label that is far too long, text: x}
                - action: {type: uri, label: リンク, uri: "ftp://example.com"}
                - action: {type: datetimepicker, label: 日付, data: d, mode: date, min: "2025/1/1"}
        """
    ) == [
        "scenario.yaml: welcome[0].quickReply.items[0].action.label: is required",
        "scenario.yaml: welcome[0].quickReply.items[1].action.label: must be at most 20 characters",
        "scenario.yaml: welcome[0].quickReply.items[2].action.uri: must be a URI starting with "
        "http:, https:, line: or tel:",
        "scenario.yaml: welcome[0].quickReply.items[3].action.min: must look like YYYY-MM-DD "
        "for mode date",
    ]


def test_flex_contents_must_be_a_bubble_or_carousel() -> None:
    assert problems(
        """
        version: 1
        welcome:
          - {type: flex, altText: a, contents: {type: box, layout: vertical}}
          - {type: flex, altText: b, contents: {body: {}}}
        """
    ) == [
        "scenario.yaml: welcome[0].contents.type: must be one of: bubble, carousel",
        "scenario.yaml: welcome[1].contents.type: is required (bubble or carousel)",
    ]


def test_emoji_index_must_point_at_a_dollar() -> None:
    assert problems(
        """
        version: 1
        welcome:
          - type: text
            text: "🍎$ ok"
            emojis:
              - {index: 2, productId: "5ac1bfd5040ab15980c9b435", emojiId: "001"}
              - {index: 1, productId: "5ac1bfd5040ab15980c9b435", emojiId: "002"}
        """
    ) == [
        "scenario.yaml: welcome[0].emojis[1].index: must point at a '$' in text "
        "(counted in UTF-16 code units from 0)"
    ]


def test_scenario_error_lists_issues_one_per_line() -> None:
    error = ScenarioError(
        [ScenarioIssue("a.yaml", "welcome[0]", "is required"), ScenarioIssue("a.yaml", "", "x")]
    )
    assert str(error) == "a.yaml: welcome[0]: is required\na.yaml: x"
    assert len(error.issues) == 2


# --- matching ----------------------------------------------------------------------------


def test_matching_rules_and_first_match_wins() -> None:
    scenario = parse(
        """
        version: 1
        auto_replies:
          - name: hours
            match: {equals: [営業時間, 営業時間を教えて]}
            messages: [a]
          - name: booking
            match: {contains: 予約}
            messages: [b]
          - name: price
            match: {regex: "料金|\\\\d+円"}
            messages: [c]
          - name: also-booking
            match: {contains: [予約したい]}
            messages: [d]
        """
    )

    def answer(text: str) -> str | None:
        reply = scenario.find_auto_reply(text)
        return reply.name if reply else None

    assert answer("営業時間") == "hours"
    assert answer("　営業時間 \n") == "hours"  # surrounding (full-width) spaces don't count
    assert answer("営業時間は?") is None  # equals is the whole message
    assert answer("明日の予約したいです") == "booking"  # earlier rule wins
    assert answer("500円ですか") == "price"
    assert answer("こんにちは") is None
    reply = scenario.auto_replies[0]
    assert isinstance(reply, AutoReply)
    assert reply.matches("営業時間を教えて")


def test_summary() -> None:
    scenario = parse(
        """
        version: 1
        timezone: Asia/Tokyo
        welcome: [a, b]
        auto_replies:
          - {match: {equals: x}, messages: [x]}
        """
    )
    assert summarize(scenario) == (
        "timezone Asia/Tokyo; 2 welcome messages; 1 auto-reply; default reply: no"
    )


# --- the bundled example and the JSON schema ---------------------------------------------


def test_bundled_example_loads_and_every_auto_reply_matches_its_keywords() -> None:
    scenario = load_scenario(EXAMPLE)
    assert summarize(scenario).startswith("こはる料理教室: timezone Asia/Tokyo; 3 welcome")
    assert len(scenario.auto_replies) >= 4
    kinds = set()
    for reply in scenario.auto_replies:
        match = reply.match
        for word in match.equals or ():
            assert scenario.find_auto_reply(word) is reply, word
            kinds.add("equals")
        for word in match.contains or ():
            assert scenario.find_auto_reply(f"来週{word}をお願いします") is reply, word
            kinds.add("contains")
        if match.regex:
            kinds.add("regex")
    assert kinds == {"equals", "contains", "regex"}
    samples = {
        "営業時間を教えて": "営業時間",
        "場所": "アクセス",
        "メニュー": "レッスンメニュー",
        "料金はいくらですか": "料金",
        "3000円ですか?": "料金",
        "体験レッスンに申し込みたい": "予約",
        "パン作りを予約したい": "予約",
        "クーポン": "クーポン",
    }
    for text, name in samples.items():
        found = scenario.find_auto_reply(text)
        assert found is not None and found.name == name, text
    assert scenario.find_auto_reply("こんにちは") is None
    assert scenario.default_reply


def test_bundled_example_buttons_lead_to_auto_replies() -> None:
    """Every message-action button in the example sends a text some auto-reply answers."""
    scenario = load_scenario(EXAMPLE)
    texts: list[str] = []

    def collect(value: object) -> None:
        if isinstance(value, dict):
            if value.get("type") == "message" and "text" in value and "label" in value:
                texts.append(value["text"])
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for _loc, message in scenario.iter_messages():
        collect(message.model_dump(mode="json", exclude_none=True))
    assert len(texts) >= 8
    for text in texts:
        assert scenario.find_auto_reply(text) is not None, text


def test_example_starts_with_the_schema_modeline() -> None:
    first_line = EXAMPLE.read_text(encoding="utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../docs/scenario.schema.json"


def test_json_schema_is_current_and_accepts_shorthand() -> None:
    schema = scenario_json_schema()
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["title"] and schema["description"]
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == schema, (
        "docs/scenario.schema.json is stale: run `stepbot schema > docs/scenario.schema.json`"
    )
    welcome_items = schema["properties"]["welcome"]["items"]["anyOf"]
    assert welcome_items[0]["type"] == "string"  # a bare string is a text message
    assert schema["additionalProperties"] is False
