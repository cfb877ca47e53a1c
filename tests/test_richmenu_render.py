"""Drawing layout menus: LINE's limits, Japanese labels actually drawn, stamp cards, and the
same bytes every time (the sync recognises menus by a hash of them)."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from bot.richmenus.fonts import FontMissing, find_font
from bot.richmenus.render import MenuImage, RenderError, encode, render_layout
from bot.scenario import Scenario, parse_scenario
from bot.scenario.richmenus import MAX_IMAGE_BYTES, RichMenu

RED = (255, 0, 0)


def menus(text: str) -> Scenario:
    return parse_scenario(
        "version: 1\nstamp_rallies:\n  来店: {goal: 6, present: [{notify_admins: 達成}]}\n"
        f"rich_menus:\n{text}",
        "render.yaml",
    )


SCENARIO = menus(
    """
  full:
    layout:
      columns: 3
      rows: [2, 1]
      background: "#FFFFFF"
      color: "#FF0000"
      cells:
        - {label: 予, action: {type: message, text: a}}
        - {label: 約, action: {type: message, text: b}}
        - {}
        - {label: お問い合わせはこちらからどうぞ（24時間受付）, sub: 担当：こはる, span: 2}
        - {label: "Online Shop", background: "#003366", color: "#FFFFFF"}
  compact:
    size: compact
    layout:
      columns: 4
      font_size: 120
      border: {width: 10, color: "#000000"}
      cells:
        - {label: ホーム}
        - {label: 予約}
        - {label: クーポン}
        - {label: 会員証, sub: タップで表示}
  card:
    size: compact
    stamp_card: 来店
    layout:
      columns: 3
      color: "#FF0000"
      cells:
        - {stamps: true, label: スタンプカード, span: 2}
        - {label: 戻る, action: {type: message, text: 戻る}}
"""
)


def image_of(rendered: MenuImage) -> Image.Image:
    with Image.open(BytesIO(rendered.data)) as image:
        image.load()
        return image.convert("RGB")


def text_pixels(
    image: Image.Image, box: tuple[int, int, int, int], color: tuple[int, int, int]
) -> int:
    """How many pixels of `color` lie in (x, y, width, height)."""
    x, y, w, h = box
    counts = image.crop((x, y, x + w, y + h)).getcolors(maxcolors=1 << 24) or []
    return sum(count for count, found in counts if found == color)


def menu(name: str) -> RichMenu:
    return SCENARIO.rich_menus[name]


def test_layouts_render_within_lines_limits_at_full_and_compact_size() -> None:
    for name, size in (("full", (2500, 1686)), ("compact", (2500, 843))):
        rendered = render_layout(menu(name), name)
        assert rendered.content_type == "image/png"
        assert len(rendered.data) <= MAX_IMAGE_BYTES
        with Image.open(BytesIO(rendered.data)) as image:
            assert image.format == "PNG"
            assert image.size == size
        assert size[0] / size[1] >= 1.45


def test_japanese_labels_are_drawn_inside_their_cells() -> None:
    full = menu("full")
    assert full.layout is not None
    boxes = full.layout.boxes(2500, 1686)
    image = image_of(render_layout(full, "full"))

    first, second, empty = (text_pixels(image, boxes[i], RED) for i in range(3))
    assert first > 500 and second > 500
    assert empty == 0  # a cell without a label stays blank, and no text spills into it
    # Two different kanji give two different shapes: real glyphs, not "missing glyph" boxes.
    x0, y0, w0, h0 = boxes[0]
    x1, y1, w1, h1 = boxes[1]
    shape0 = image.crop((x0, y0, x0 + w0, y0 + h0)).tobytes()
    shape1 = image.crop((x1, y1, x1 + w1, y1 + h1)).tobytes()
    assert shape0 != shape1
    # The long label is wrapped and shrunk into its two-column cell, the sub line with it.
    assert text_pixels(image, boxes[3], RED) > 500
    # A cell's own colours win over the layout's.
    assert text_pixels(image, boxes[4], (255, 255, 255)) > 500
    assert image.getpixel((boxes[4][0] + 5, boxes[4][1] + 5)) == (0, 51, 102)


def test_borders_are_drawn_between_cells_only() -> None:
    image = image_of(render_layout(menu("compact"), "compact"))
    assert image.getpixel((625, 400)) == (0, 0, 0)  # the line between the first two cells
    assert image.getpixel((0, 400)) == (255, 255, 255)  # no line at the outer edge


def test_stamp_card_images_differ_per_count() -> None:
    card = menu("card")
    assert card.layout is not None
    box = card.layout.boxes(2500, 843)[0]
    images = [render_layout(card, f"card@{n}", stamps=n, goal=6) for n in range(7)]
    assert len({rendered.data for rendered in images}) == 7
    filled = [text_pixels(image_of(rendered), box, RED) for rendered in images]
    assert filled == sorted(filled)  # every stamp fills one more circle
    assert filled[0] < filled[6]


def test_the_same_menu_gives_the_same_bytes() -> None:
    first = render_layout(menu("full"), "full").data
    again = render_layout(menu("full"), "full").data
    assert first == again
    card = render_layout(menu("card"), "card@2", stamps=2, goal=6).data
    assert card == render_layout(menu("card"), "card@2", stamps=2, goal=6).data


def test_an_image_over_one_megabyte_becomes_a_jpeg_under_it() -> None:
    noisy = Image.effect_noise((1600, 1000), 20).convert("RGB")
    assert len(encode_png(noisy)) > MAX_IMAGE_BYTES
    encoded = encode(noisy, "noise")
    assert encoded.content_type == "image/jpeg"
    assert len(encoded.data) <= MAX_IMAGE_BYTES
    assert encoded == encode(noisy, "noise")


def encode_png(image: Image.Image) -> bytes:
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_noise_no_jpeg_can_hold_is_refused() -> None:
    with pytest.raises(RenderError, match="noise"):
        encode(Image.effect_noise((2500, 1686), 60).convert("RGB"), "noise")


def test_a_font_named_in_stepbot_font_is_used_and_a_missing_one_named(tmp_path: Path) -> None:
    real = find_font("main")
    assert find_font("main", {"STEPBOT_FONT": str(real)}) == real
    with pytest.raises(FontMissing) as caught:
        find_font("会員メニュー", {"STEPBOT_FONT": str(tmp_path / "none.ttf")})
    assert "会員メニュー" in str(caught.value) and "STEPBOT_FONT" in str(caught.value)


def test_render_reports_a_missing_font_with_the_menu_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEPBOT_FONT", str(tmp_path / "none.ttf"))
    with pytest.raises(FontMissing, match="compact"):
        render_layout(menu("compact"), "compact")


PREVIEW_SCENARIO = """
version: 1
stamp_rallies:
  来店: {goal: 4, present: [{notify_admins: 達成}]}
rich_menus:
  card:
    size: compact
    stamp_card: 来店
    layout:
      columns: 2
      cells:
        - {stamps: true, label: スタンプカード}
        - {label: 予約, action: {type: message, text: 予約}}
  photo:
    size: compact
    image: photo.png
    areas:
      - bounds: {x: 100, y: 100, width: 800, height: 600}
        action: {type: message, text: 写真}
"""


def test_stepbot_menus_preview_draws_a_menu_to_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    (tmp_path / "scenario.yaml").write_text(PREVIEW_SCENARIO, encoding="utf-8")
    Image.new("RGB", (2500, 843), "#FFFFFF").save(tmp_path / "photo.png")
    monkeypatch.setenv("STEPBOT_SCENARIO", str(tmp_path / "scenario.yaml"))

    assert main(["menus", "preview", "card@2", "-o", str(tmp_path / "card.png")]) == 0
    with Image.open(tmp_path / "card.png") as drawn:
        assert drawn.size == (2500, 843)

    assert main(["menus", "preview", "photo", "-o", str(tmp_path / "photo-areas.png")]) == 0
    with Image.open(tmp_path / "photo-areas.png") as outlined:
        assert outlined.convert("RGB").getpixel((100, 300)) == RED  # the area's outline
        assert outlined.convert("RGB").getpixel((50, 50)) == (255, 255, 255)

    assert main(["menus", "preview", "nothing", "-o", str(tmp_path / "x.png")]) == 2
    assert "rich menu 'nothing' is not declared (declared: card, photo)" in capsys.readouterr().err
