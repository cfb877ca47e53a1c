"""Drawing a `layout` menu with Pillow: a grid of coloured cells with centred Japanese labels,
and for stamp-card menus the card itself (goal circles, the friend's stamps filled).

The output must be the same bytes for the same menu, because the sync recognises menus LINE
already has by a hash that includes the image: nothing here depends on time or randomness,
and PNG/JPEG are written with fixed settings. (A different Pillow or font can change the
pixels; the menus are then simply created again.)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.richmenus.fonts import find_font
from bot.scenario.richmenus import MAX_IMAGE_BYTES, Cell, RichMenu

#: Smallest label size in pixels; below it text is no longer readable on a phone.
MIN_FONT = 12
#: Part of a cell's width and height text may use, leaving a margin around it.
TEXT_WIDTH = 0.86
TEXT_HEIGHT = 0.8
#: The second line (`sub`) relative to the label.
SUB_SCALE = 0.55
#: JPEG qualities tried in turn when a PNG is over LINE's 1 MB.
JPEG_QUALITIES = (92, 85, 75, 65, 55, 45, 35)
#: Characters that must not start a line in Japanese (kinsoku): kept on the line before.
_NO_LINE_START = set("、。，．,.!?！？)）」』】〕ー～・ぁぃぅぇぉっゃゅょァィゥェォッャュョ")
#: A word of Latin letters or digits stays whole; anything else breaks between characters.
_TOKENS = re.compile(r"[A-Za-z0-9@#&'’.,:;!?%+\-_/]+|\s+|.")

Box = tuple[int, int, int, int]


class RenderError(RuntimeError):
    """A menu image cannot be made within LINE's limits."""


@dataclass(frozen=True)
class MenuImage:
    """Image bytes for LINE and their content type (image/png or image/jpeg)."""

    data: bytes
    content_type: str


@lru_cache(maxsize=128)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _line_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return math.ceil((ascent + descent) * 1.15)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """`text` in lines no wider than `width`: explicit line breaks kept, Japanese broken
    between characters (not before 、。 and the like), Latin words kept whole if they fit."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for token in _TOKENS.findall(paragraph):
            candidate = line + token
            if not line or font.getlength(candidate) <= width or token in _NO_LINE_START:
                line = candidate
                continue
            lines.append(line.rstrip())
            line = token.lstrip()
            while line and font.getlength(line) > width and len(line) > 1:
                cut = _longest_prefix(line, font, width)
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return lines


def _longest_prefix(text: str, font: ImageFont.FreeTypeFont, width: float) -> int:
    """How many characters of a too-long word fit on one line (at least one)."""
    for end in range(len(text) - 1, 0, -1):
        if font.getlength(text[:end]) <= width:
            return end
    return 1


@dataclass(frozen=True)
class _Block:
    font: ImageFont.FreeTypeFont
    lines: list[str]


def _layout_at(
    font_path: str, size: int, label: str | None, sub: str | None, width: float
) -> list[_Block]:
    blocks = []
    if label:
        font = _font(font_path, size)
        blocks.append(_Block(font, wrap(label, font, width)))
    if sub:
        font = _font(font_path, max(MIN_FONT, round(size * SUB_SCALE)))
        blocks.append(_Block(font, wrap(sub, font, width)))
    return blocks


def _fits(blocks: list[_Block], width: float, height: float) -> bool:
    return _block_height(blocks) <= height and all(
        b.font.getlength(line) <= width for b in blocks for line in b.lines
    )


def _fit(
    font_path: str, size: int, label: str | None, sub: str | None, width: float, height: float
) -> list[_Block]:
    """The label (and sub) wrapped at the largest size, from `size` down, that fits; down to
    70 % of `size`, a smaller size is preferred when it needs fewer lines (お問い合わせ on one
    line rather than broken after お問い合)."""
    sizes = [size]
    while sizes[-1] > MIN_FONT:
        sizes.append(max(MIN_FONT, math.floor(sizes[-1] * 0.93)))
    fitting = []
    for current in sizes:
        blocks = _layout_at(font_path, current, label, sub, width)
        if _fits(blocks, width, height):
            fitting.append(blocks)
            if current < size * 0.7:
                break
        elif fitting and current < size * 0.7:
            break
    if not fitting:
        return _layout_at(font_path, MIN_FONT, label, sub, width)
    fewest = min(sum(len(b.lines) for b in blocks) for blocks in fitting)
    return next(b for b in fitting if sum(len(x.lines) for x in b) == fewest)


def _block_height(blocks: list[_Block]) -> int:
    return sum(_line_height(b.font) * len(b.lines) for b in blocks)


def _draw_centred(
    draw: ImageDraw.ImageDraw, box: Box, blocks: list[_Block], color: str, y_centre: float
) -> None:
    x0, _, x1, _ = box
    y = round(y_centre - _block_height(blocks) / 2)
    for block in blocks:
        step = _line_height(block.font)
        ascent, descent = block.font.getmetrics()
        pad = (step - ascent - descent) // 2
        for line in block.lines:
            x = round((x0 + x1) / 2 - block.font.getlength(line) / 2)
            draw.text((x, y + pad), line, font=block.font, fill=color, anchor="la")
            y += step


def _inset(box: Box, border: int, width: int, height: int) -> Box:
    """The cell's box less half a border line on every side it shares with another cell,
    as Pillow's inclusive (x0, y0, x1, y1)."""
    x, y, w, h = box
    before, after = border // 2, border - border // 2
    left = before if x > 0 else 0
    top = before if y > 0 else 0
    right = after if x + w < width else 0
    bottom = after if y + h < height else 0
    return (x + left, y + top, x + w - 1 - right, y + h - 1 - bottom)


def _draw_text_cell(
    draw: ImageDraw.ImageDraw, box: Box, cell: Cell, font_path: str, size: int, color: str
) -> None:
    x0, y0, x1, y1 = box
    width, height = (x1 - x0) * TEXT_WIDTH, (y1 - y0) * TEXT_HEIGHT
    blocks = _fit(font_path, size, cell.label, cell.sub, width, height)
    if blocks:
        _draw_centred(draw, box, blocks, color, (y0 + y1) / 2)


def _stamp_grid(goal: int, width: float, height: float) -> tuple[int, float]:
    """Columns and circle pitch that make `goal` circles as large as the area allows."""
    best = (1, 0.0)
    for columns in range(1, goal + 1):
        rows = math.ceil(goal / columns)
        pitch = min(width / columns, height / rows)
        if pitch > best[1]:
            best = (columns, pitch)
    return best


def _draw_stamp_cell(
    draw: ImageDraw.ImageDraw,
    box: Box,
    cell: Cell,
    font_path: str,
    size: int,
    color: str,
    stamps: int,
    goal: int,
) -> None:
    """The stamp card: the cell's label on top, `goal` circles (the first `stamps` filled)
    and "stamps / goal" underneath."""
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    margin = round(min(width, height) * 0.06)
    top, bottom = y0 + margin, y1 - margin
    if cell.label:
        band = height * 0.2
        blocks = _fit(font_path, size, cell.label, None, width * TEXT_WIDTH, band * 0.9)
        _draw_centred(draw, box, blocks, color, top + band / 2)
        top += round(band)
    band = height * 0.18
    count = f"{stamps} / {goal}"
    blocks = _fit(font_path, size, count, None, width * TEXT_WIDTH, band * 0.9)
    _draw_centred(draw, box, blocks, color, bottom - band / 2)
    bottom -= round(band)
    area_w, area_h = width - 2 * margin, max(1, bottom - top)
    columns, pitch = _stamp_grid(goal, area_w, area_h)
    rows = math.ceil(goal / columns)
    diameter = pitch * 0.78
    line = max(2, round(diameter * 0.06))
    left = x0 + (width - columns * pitch) / 2
    upper = top + (area_h - rows * pitch) / 2
    for index in range(goal):
        row, column = divmod(index, columns)
        cx = left + (column + 0.5) * pitch
        cy = upper + (row + 0.5) * pitch
        circle = (
            round(cx - diameter / 2),
            round(cy - diameter / 2),
            round(cx + diameter / 2),
            round(cy + diameter / 2),
        )
        if index < stamps:
            draw.ellipse(circle, fill=color)
        else:
            draw.ellipse(circle, outline=color, width=line)


def _auto_font_size(boxes: list[tuple[int, int, int, int]]) -> int:
    """A label size that suits the smallest row: a fifth of its height."""
    return max(MIN_FONT, round(min(h for _, _, _, h in boxes) * 0.2))


def render_layout(
    menu: RichMenu,
    name: str,
    *,
    stamps: int | None = None,
    goal: int | None = None,
    font: Path | None = None,
) -> MenuImage:
    """The image of a `layout` menu (`stamps` of `goal` for a stamp card). `name` is only
    for error messages; `font` defaults to `find_font`."""
    layout = menu.layout
    if layout is None:
        raise ValueError(f"rich menu {name} has no layout to draw")
    font_path = str(font or find_font(name))
    width, height = menu.size.width, menu.size.height
    border = layout.border
    image = Image.new("RGB", (width, height), border.color if border.width else layout.background)
    draw = ImageDraw.Draw(image)
    boxes = layout.boxes(width, height)
    size = layout.font_size or _auto_font_size(boxes)
    for box, cell in zip(boxes, layout.cells, strict=True):
        inner = _inset(box, border.width, width, height)
        draw.rectangle(inner, fill=cell.background or layout.background)
        color = cell.color or layout.color
        if cell.stamps:
            card_goal = goal or 0
            held = max(0, min(stamps or 0, card_goal))
            _draw_stamp_cell(draw, inner, cell, font_path, size, color, held, card_goal)
        else:
            _draw_text_cell(draw, inner, cell, font_path, size, color)
    return encode(image, name)


def encode(image: Image.Image, name: str) -> MenuImage:
    """PNG, or JPEG at the best quality under LINE's 1 MB when the PNG is too large."""
    buffer = BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    if buffer.tell() <= MAX_IMAGE_BYTES:
        return MenuImage(buffer.getvalue(), "image/png")
    rgb = image.convert("RGB")
    for quality in JPEG_QUALITIES:
        buffer = BytesIO()
        rgb.save(buffer, format="JPEG", quality=quality, subsampling=0 if quality >= 85 else 2)
        if buffer.tell() <= MAX_IMAGE_BYTES:
            return MenuImage(buffer.getvalue(), "image/jpeg")
    raise RenderError(
        f"リッチメニュー「{name}」の画像を 1 MB 以下にできません "
        f"(rich menu '{name}': image stays over 1 MB even as JPEG at quality "
        f"{JPEG_QUALITIES[-1]}); use fewer colours or a smaller size"
    )


def outline_areas(data: bytes, boxes: list[Box]) -> bytes:
    """A copy of an image with its tappable areas outlined, for previews."""
    with Image.open(BytesIO(data)) as source:
        image = source.convert("RGB")
    draw = ImageDraw.Draw(image)
    line = max(2, image.width // 400)
    for x, y, w, h in boxes:
        draw.rectangle((x, y, x + w - 1, y + h - 1), outline="#FF0000", width=line)
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
