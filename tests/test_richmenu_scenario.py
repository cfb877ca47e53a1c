"""Rich menus in the scenario file: what loads, and the errors (each with its path) for what
does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from bot.scenario import Scenario, ScenarioError, parse_scenario, scenario_json_schema
from bot.scenario.richmenus import (
    check_rich_menu_files,
    derive_alias,
    menu_aliases,
    menu_keys,
)


def load(menus: str, extra: str = "") -> Scenario:
    return parse_scenario(f"version: 1\n{extra}\nrich_menus:\n{menus}", "menus.yaml")


def errors(menus: str, extra: str = "") -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load(menus, extra)
    return [f"{issue.path}: {issue.message}" for issue in caught.value.issues]


AREA = "{bounds: {x: 0, y: 0, width: 100, height: 100}, action: {type: message, text: hi}}"


def test_a_layout_menu_loads_with_its_defaults() -> None:
    scenario = load(
        """
  main:
    layout:
      columns: 2
      cells:
        - {label: 予約, sub: 24時間受付, action: {type: message, text: 予約}}
        - {label: 地図, action: {type: uri, uri: "https://example.com/map"}}
"""
    )
    menu = scenario.rich_menus["main"]
    assert (menu.size.width, menu.size.height) == (2500, 1686)
    assert menu.chat_bar == "メニュー" and menu.selected is False
    assert menu.layout is not None
    assert menu.layout.boxes(2500, 1686) == [(0, 0, 1250, 1686), (1250, 0, 1250, 1686)]


def test_sizes_by_name_and_in_pixels() -> None:
    scenario = load(
        f"""
  a: {{size: compact, image: a.png, areas: [{AREA}]}}
  b: {{size: {{width: 1200, height: 405}}, image: b.png, areas: [{AREA}]}}
"""
    )
    assert (scenario.rich_menus["a"].size.width, scenario.rich_menus["a"].size.height) == (
        2500,
        843,
    )
    assert scenario.rich_menus["b"].size.height == 405


def test_bad_sizes_and_ratio_name_the_size() -> None:
    found = errors(
        f"""
  wide: {{size: {{width: 1000, height: 900}}, image: a.png, areas: [{AREA}]}}
  named: {{size: large, image: a.png, areas: [{AREA}]}}
  small: {{size: {{width: 700, height: 300}}, image: a.png, areas: [{AREA}]}}
"""
    )
    assert found == [
        "rich_menus.wide.size: width / height must be at least 1.45 (got 1000×900, 1.11); "
        "make it wider or lower",
        "rich_menus.named.size: must be full (2500×1686), compact (2500×843) or "
        "{width, height} (found 'large')",
        "rich_menus.small.size.width: must be at least 800",
    ]


def test_more_than_twenty_areas() -> None:
    areas = ", ".join([AREA] * 21)
    assert errors(f"  main: {{image: a.png, areas: [{areas}]}}") == [
        "rich_menus.main.areas: must have at most 20 items (got 21)"
    ]


def test_an_area_outside_the_image_names_its_bounds() -> None:
    inside = AREA
    outside = "{bounds: {x: 2400, y: 0, width: 200, height: 100}, action: {type: message, text: x}}"
    found = errors(f"  main: {{image: a.png, areas: [{inside}, {inside}, {inside}, {outside}]}}")
    assert found == [
        "rich_menus.main.areas[3].bounds: must lie inside the 2500×1686 image "
        "(reaches x 2600, y 100)"
    ]


def test_image_and_layout_are_one_or_the_other() -> None:
    found = errors(
        f"""
  both:
    image: a.png
    areas: [{AREA}]
    layout: {{columns: 1, cells: [{{label: x}}]}}
  neither: {{chat_bar: メニュー}}
  areas_on_layout:
    areas: [{AREA}]
    layout: {{columns: 1, cells: [{{label: x}}]}}
  no_areas: {{image: a.png}}
"""
    )
    assert found == [
        "rich_menus.both: must have exactly one of: image, layout",
        "rich_menus.neither: must have exactly one of: image, layout",
        "rich_menus.areas_on_layout.areas: is only for menus with an image "
        "(a layout cell carries its own `action`)",
        "rich_menus.no_areas.areas: is required with an image (1 to 20 areas)",
    ]


def test_layout_cells_must_fill_the_grid() -> None:
    found = errors(
        """
  short: {layout: {columns: 3, rows: 2, cells: [{label: a}, {label: b, span: 2}, {label: c}]}}
  span: {layout: {columns: 2, cells: [{label: a}, {label: b, span: 2}]}}
  many: {layout: {columns: 1, cells: [{label: a}, {label: b}]}}
"""
    )
    assert found == [
        "rich_menus.short.layout.cells: must fill the 3 × 2 grid: 2 more columns of cells "
        "needed (use `span` to widen one)",
        "rich_menus.span.layout.cells[1].span: covers 2 columns but row 1 has only 1 left",
        "rich_menus.many.layout.cells[1]: is one cell too many: 1 columns × 1 rows are already "
        "filled",
    ]


def test_rows_are_a_count_or_relative_heights() -> None:
    scenario = load(
        """
  counted: {layout: {columns: 1, rows: 2, cells: [{label: a}, {label: b}]}}
  weighted: {layout: {columns: 1, rows: [2, 1], cells: [{label: a}, {label: b}]}}
"""
    )
    counted = scenario.rich_menus["counted"].layout
    weighted = scenario.rich_menus["weighted"].layout
    assert counted is not None and weighted is not None
    assert [box[3] for box in counted.boxes(2500, 1686)] == [843, 843]
    assert [box[3] for box in weighted.boxes(2500, 1686)] == [1124, 562]
    found = errors(
        """
  zero: {layout: {columns: 1, rows: 0, cells: [{label: a}]}}
  text: {layout: {columns: 1, rows: many, cells: [{label: a}]}}
"""
    )
    assert found == [
        "rich_menus.zero.layout.rows: must be 1 to 4 rows",
        "rich_menus.text.layout.rows: must be a number of rows (1 to 4) or a list of row heights",
    ]


def test_chat_bar_text_and_alias_follow_lines_limits() -> None:
    found = errors(
        f"""
  main:
    chat_bar: とても長いメニューの名前をここに書く
    alias: Main
    image: a.png
    areas: [{AREA}]
"""
    )
    assert found[0] == "rich_menus.main.chat_bar: must be at most 14 characters"
    assert found[1] == (
        "rich_menus.main.alias: must be 1 to 32 lowercase letters, digits, _ or - "
        "(LINE's rule for alias ids)"
    )


def test_unknown_switch_target_and_unknown_rally() -> None:
    found = errors(
        """
  main:
    layout:
      columns: 2
      cells:
        - {label: 会員, action: {type: richmenuswitch, menu: member}}
        - {label: 戻る, action: {type: message, text: 戻る}}
  card:
    stamp_card: 来店
    layout: {columns: 1, cells: [{stamps: true}]}
"""
    )
    assert found == [
        "rich_menus.main.layout.cells[0].action.menu: unknown rich menu 'member' "
        "(declared: card, main)",
        "rich_menus.card.stamp_card: unknown stamp rally '来店' (declared: none are declared)",
    ]


def test_tags_in_area_actions_are_checked_like_any_other() -> None:
    found = errors(
        "  main: {image: a.png, areas: [{bounds: {x: 0, y: 0, width: 10, height: 10}, "
        "action: {type: postback, do: [{add_tag: 未定義}]}}]}"
    )
    assert found == [
        "rich_menus.main.areas[0].action.do[0].add_tag: unknown tag '未定義' "
        "(declared: none are declared)"
    ]


def test_a_stamp_card_needs_its_count_in_the_image_and_cannot_be_a_tab() -> None:
    rally = "stamp_rallies:\n  来店: {goal: 3, present: [{notify_admins: 達成}]}"
    found = errors(
        f"""
  card: {{stamp_card: 来店, image: card.png, areas: [{AREA}]}}
  plain: {{image: "card-{{n}}.png", areas: [{AREA}]}}
  layout_card: {{stamp_card: 来店, layout: {{columns: 1, cells: [{{label: x}}]}}}}
""",
        rally,
    )
    assert found == [
        "rich_menus.card.image: must contain {n} (one file per stamp count, e.g. "
        "menus/card-{n}.png)",
        "rich_menus.plain.image: may contain {n} only with `stamp_card`",
        "rich_menus.layout_card.layout.cells: needs a cell with `stamps: true` to draw the "
        "stamp card",
    ]
    tab = errors(
        """
  card:
    stamp_card: 来店
    layout: {columns: 1, cells: [{stamps: true}]}
  main:
    layout: {columns: 1, cells: [{label: カード, action: {type: richmenuswitch, menu: card}}]}
""",
        rally,
    )
    assert tab == [
        "rich_menus.main.layout.cells[0].action.menu: 'card' is a stamp-card menu (one menu "
        "per stamp count), so a tab cannot show it; switch to a menu without stamp_card"
    ]


def test_stamp_card_keys_and_aliases_of_tab_targets() -> None:
    scenario = load(
        """
  メイン:
    layout:
      columns: 2
      cells:
        - {label: カード, action: {type: richmenuswitch, menu: info}}
        - {stamps: true}
    stamp_card: 来店
  info:
    alias: info-tab
    layout: {columns: 1, cells: [{label: 戻る, action: {type: richmenuswitch, menu: 予約}}]}
  予約:
    layout: {columns: 1, cells: [{label: 予約}]}
""",
        "stamp_rallies:\n  来店: {goal: 2, present: [{notify_admins: 達成}]}",
    )
    assert menu_keys(scenario) == [
        ("メイン@0", "メイン", 0),
        ("メイン@1", "メイン", 1),
        ("メイン@2", "メイン", 2),
        ("info", "info", None),
        ("予約", "予約", None),
    ]
    assert menu_aliases(scenario) == {"info": "info-tab", "予約": derive_alias("予約")}


def test_derived_aliases_are_stable_and_valid_for_line() -> None:
    assert derive_alias("main") == "main"
    assert derive_alias("予約") == derive_alias("予約")
    assert derive_alias("予約") != derive_alias("会員")
    for name in ("予約", "Main Menu", "会員 Menu 2", "a" * 40):
        alias = derive_alias(name)
        assert len(alias) <= 32 and all(
            c in "abcdefghijklmnopqrstuvwxyz0123456789_-" for c in alias
        )
    assert derive_alias("Main Menu").startswith("main-menu-")


def _image(path: Path, size: tuple[int, int], fmt: str = "PNG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, "#E0F0FF").save(path, fmt)


def test_image_files_are_checked_in_the_scenario_folder(tmp_path: Path) -> None:
    _image(tmp_path / "menus" / "ok.png", (2500, 843))
    _image(tmp_path / "menus" / "small.png", (1200, 405))
    (tmp_path / "menus" / "fake.png").write_bytes(b"not an image")
    for n in (0, 1):
        _image(tmp_path / "menus" / f"card-{n}.jpg", (2500, 843), "JPEG")
    scenario = load(
        f"""
  ok: {{size: compact, image: menus/ok.png, areas: [{AREA}]}}
  missing: {{size: compact, image: menus/none.png, areas: [{AREA}]}}
  wrong: {{size: compact, image: menus/small.png, areas: [{AREA}]}}
  fake: {{size: compact, image: menus/fake.png, areas: [{AREA}]}}
  card: {{size: compact, stamp_card: 来店, image: "menus/card-{{n}}.jpg", areas: [{AREA}]}}
""",
        "stamp_rallies:\n  来店: {goal: 2, present: [{notify_admins: 達成}]}",
    )
    assert check_rich_menu_files(scenario, tmp_path) == [
        (
            "rich_menus.missing.image",
            f"menus/none.png: file not found (looked in {tmp_path / 'menus'})",
        ),
        (
            "rich_menus.wrong.image",
            "menus/small.png: is 1200×405 pixels; the menu's size is 2500×843 (change the "
            "image or `size`)",
        ),
        ("rich_menus.fake.image", "menus/fake.png: is not a PNG or JPEG image"),
        (
            "rich_menus.card.image",
            f"menus/card-2.jpg (for card@2): file not found (looked in {tmp_path / 'menus'})",
        ),
    ]


def test_an_image_over_one_megabyte_is_refused(tmp_path: Path) -> None:
    noisy = Image.effect_noise((2500, 843), 120).convert("RGB")
    noisy.save(tmp_path / "big.png", "PNG")
    assert (tmp_path / "big.png").stat().st_size > 1_000_000
    scenario = load(f"  big: {{size: compact, image: big.png, areas: [{AREA}]}}")
    [(path, message)] = check_rich_menu_files(scenario, tmp_path)
    assert path == "rich_menus.big.image"
    assert "LINE accepts at most 1 MB (1,000,000 bytes)" in message


def test_the_json_schema_documents_rich_menus() -> None:
    schema = scenario_json_schema()
    menu = schema["$defs"]["RichMenu"]
    assert set(menu["properties"]) == {
        "size",
        "chat_bar",
        "selected",
        "image",
        "areas",
        "layout",
        "alias",
        "stamp_card",
    }
    assert "2500×1686" in menu["properties"]["size"]["description"]


def test_loading_a_file_checks_image_files_next_to_it(tmp_path: Path) -> None:
    from bot.scenario import ScenarioError, load_scenario

    path = tmp_path / "scenario.yaml"
    path.write_text(
        "version: 1\nrich_menus:\n  main:\n    image: menus/none.png\n"
        "    areas: [{bounds: {x: 0, y: 0, width: 100, height: 100},"
        " action: {type: message, text: hi}}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    (issue,) = caught.value.issues
    assert issue.file == str(path) and issue.path == "rich_menus.main.image"
    assert "menus/none.png: file not found" in issue.message
