"""Rich menus (リッチメニュー) in the scenario file.

A menu is an image with tappable areas. The image is a file next to the scenario, or drawn
by stepbot from a grid `layout` (labels, colours, a stamp card). Actions are the usual
button actions plus two of ours: `richmenuswitch` (a tab: show another menu, by the alias
stepbot gives it) and `liff` (open one of our LIFF pages). A `stamp_card` menu exists once
per stamp count of a stamp rally: keys `NAME@0` … `NAME@goal`.

The model checks what one menu can check; `check_rich_menus` checks names across the file
and `check_rich_menu_files` checks image files, which needs the scenario's folder.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from .schema import (
    ClipboardAction,
    Color,
    DatetimePickerAction,
    MessageAction,
    PostbackAction,
    PostbackData,
    UriAction,
    _Action,
    _discriminator,
    _issue,
    _Model,
)

if TYPE_CHECKING:
    from .document import Scenario

#: LINE's sizes for the two menu heights it offers in its manager.
FULL_SIZE = (2500, 1686)
COMPACT_SIZE = (2500, 843)
MIN_WIDTH = 800
MAX_WIDTH = 2500
MIN_HEIGHT = 250
MIN_RATIO = 1.45
#: LINE refuses images over 1 MB; counted in bytes, never looser than LINE.
MAX_IMAGE_BYTES = 1_000_000
MAX_AREAS = 20
MAX_CHAT_BAR = 14
#: Rich menus one channel may have at LINE.
MAX_MENUS = 1000
#: Longest menu name: it becomes part of LINE's `name` (≤ 300) with a prefix and a hash.
MAX_NAME = 100
#: Separates a stamp-card menu's name from the stamp count in menu keys (`card@3`).
STAMP_SEPARATOR = "@"
#: Stands for the stamp count in a stamp-card menu's image path.
STAMP_PLACEHOLDER = "{n}"
#: LINE's alias ids (line-bot-sdk checks the same pattern).
ALIAS_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_LIFF_PATH = re.compile(r"[^\s\\]+")


# --- size --------------------------------------------------------------------------------


class MenuSize(_Model):
    """A menu size in pixels, within LINE's limits."""

    width: Annotated[int, Field(ge=MIN_WIDTH, le=MAX_WIDTH)]
    """800 to 2500 pixels."""
    height: Annotated[int, Field(ge=MIN_HEIGHT)]
    """At least 250 pixels, and at most width / 1.45."""

    @model_validator(mode="after")
    def _ratio(self) -> MenuSize:
        ratio = self.width / self.height
        if ratio < MIN_RATIO:
            raise PydanticCustomError(
                "menu_ratio",
                f"width / height must be at least {MIN_RATIO} (got {self.width}×{self.height}, "
                f"{ratio:.2f}); make it wider or lower",
            )
        return self


_NAMED_SIZES = {"full": FULL_SIZE, "compact": COMPACT_SIZE}


def _named_size(value: object) -> object:
    """`full` and `compact` are the two sizes LINE's manager offers; say them by name."""
    if isinstance(value, str):
        if value not in _NAMED_SIZES:
            raise PydanticCustomError(
                "menu_size",
                f"must be full (2500×1686), compact (2500×843) or {{width, height}} "
                f"(found '{value}')",
            )
        width, height = _NAMED_SIZES[value]
        return {"width": width, "height": height}
    return value


Size = Annotated[
    MenuSize,
    BeforeValidator(_named_size, json_schema_input_type=Literal["full", "compact"] | MenuSize),
]


# --- actions -----------------------------------------------------------------------------


class RichMenuSwitch(_Action):
    """A tab: tapping it shows another menu of this file (LINE switches it by alias)."""

    type: Literal["richmenuswitch"]
    menu: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    """The menu to show, by its name under `rich_menus` (not a stamp-card menu)."""
    data: PostbackData | None = None
    """Sent to the bot in the postback event that LINE sends on a switch (default
    `richmenu:` and the menu's alias)."""


def _liff_path(value: str) -> str:
    if "://" in value or value.startswith("/") or not _LIFF_PATH.fullmatch(value):
        raise PydanticCustomError(
            "liff_path", "must be a path inside our LIFF app, such as forms/NAME"
        )
    return value


class LiffAction(_Action):
    """Opens one of stepbot's LIFF pages (https://liff.line.me/LIFF_ID/path); the LIFF id
    comes from the LIFF_ID setting, not from this file."""

    type: Literal["liff"]
    path: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_liff_path)]
    """The page, e.g. forms/NAME for an answer form declared under `forms`."""


RichMenuAction = Annotated[
    Annotated[PostbackAction, Tag("action:postback")]
    | Annotated[MessageAction, Tag("action:message")]
    | Annotated[UriAction, Tag("action:uri")]
    | Annotated[DatetimePickerAction, Tag("action:datetimepicker")]
    | Annotated[ClipboardAction, Tag("action:clipboard")]
    | Annotated[RichMenuSwitch, Tag("action:richmenuswitch")]
    | Annotated[LiffAction, Tag("action:liff")],
    _discriminator(
        "action", "postback, message, uri, datetimepicker, clipboard, richmenuswitch, liff"
    ),
]
"""What tapping an area does. Labels are optional in rich menus (LINE reads them aloud)."""


# --- areas on an image -------------------------------------------------------------------


class Bounds(_Model):
    """A rectangle on the image, in pixels from its top-left corner."""

    x: Annotated[int, Field(ge=0)]
    y: Annotated[int, Field(ge=0)]
    width: Annotated[int, Field(ge=1)]
    height: Annotated[int, Field(ge=1)]


class Area(_Model):
    """A tappable rectangle of an image menu."""

    bounds: Bounds
    action: RichMenuAction


# --- layouts -----------------------------------------------------------------------------


class Border(_Model):
    """Lines between the cells of a layout."""

    width: Annotated[int, Field(ge=0, le=50)] = 6
    """Line width in pixels (0: no lines)."""
    color: Color = "#FFFFFF"
    """Line colour (#RRGGBB)."""


class Cell(_Model):
    """One cell of a layout: a label, colours, and what tapping it does."""

    label: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    """The text drawn in the cell (wrapped and shrunk to fit; a line break is kept)."""
    sub: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    """A second, smaller line under the label."""
    background: Color | None = None
    """Cell colour (default: the layout's `background`)."""
    color: Color | None = None
    """Text colour (default: the layout's `color`)."""
    span: Annotated[int, Field(ge=1, le=6)] = 1
    """How many columns the cell covers."""
    stamps: bool = False
    """Draw the stamp card here (a `stamp_card` menu): goal circles, the friend's stamps
    filled, and "n / goal"."""
    action: RichMenuAction | None = None
    """What tapping the cell does (none: the cell is only a picture). A label for LINE is
    taken from the cell's label when the action has none."""


def _row_count(value: object) -> object:
    """`rows: 2` is two rows of equal height: the same as `rows: [1, 1]`."""
    if isinstance(value, bool) or not isinstance(value, int | list):
        raise PydanticCustomError(
            "layout_rows", "must be a number of rows (1 to 4) or a list of row heights"
        )
    if isinstance(value, int):
        if not 1 <= value <= 4:
            raise PydanticCustomError("layout_rows", "must be 1 to 4 rows")
        return [1] * value
    return value


RowsInput = (
    Annotated[int, Field(ge=1, le=4)]
    | Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1, max_length=4)]
)


class Layout(_Model):
    """A grid drawn by stepbot: `columns` × `rows` cells given in reading order."""

    columns: Annotated[int, Field(ge=1, le=6)]
    """Number of columns (1 to 6)."""
    rows: Annotated[
        list[Annotated[int, Field(ge=1)]],
        BeforeValidator(_row_count, json_schema_input_type=RowsInput),
        Field(min_length=1, max_length=4),
    ] = Field(default_factory=lambda: [1])
    """Number of rows of equal height (1 to 4), or their heights as a list, e.g. [2, 1] for
    a top row twice as high (pixel heights that add up to the menu's height work too)."""
    background: Color = "#FFFFFF"
    """Colour behind every cell."""
    color: Color = "#333333"
    """Text colour."""
    border: Border = Field(default_factory=Border)
    """Lines between the cells."""
    font_size: Annotated[int, Field(ge=12, le=400)] | None = None
    """Label size in pixels (default: from the row height); long labels are shrunk."""
    cells: Annotated[list[Cell], Field(min_length=1, max_length=MAX_AREAS)]
    """The cells, left to right and top to bottom; `span` makes one cover several columns."""

    def placements(self) -> list[tuple[int, int, int]]:
        """(row, first column, columns covered) of each cell, in order."""
        out: list[tuple[int, int, int]] = []
        row = column = 0
        for cell in self.cells:
            out.append((row, column, cell.span))
            column += cell.span
            if column == self.columns:
                row, column = row + 1, 0
        return out

    def boxes(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """(x, y, width, height) of each cell on a `width`×`height` image: edges rounded to
        whole pixels, so the cells tile the image without gaps."""
        weights = self.rows
        total = sum(weights)
        row_edges = [round(height * sum(weights[:i]) / total) for i in range(len(weights) + 1)]
        col_edges = [round(width * i / self.columns) for i in range(self.columns + 1)]
        return [
            (
                col_edges[column],
                row_edges[row],
                col_edges[column + span] - col_edges[column],
                row_edges[row + 1] - row_edges[row],
            )
            for row, column, span in self.placements()
        ]

    @model_validator(mode="after")
    def _cells_fill_the_grid(self) -> Layout:
        row_count = len(self.rows)
        row = column = 0
        for index, cell in enumerate(self.cells):
            if row >= row_count:
                raise _issue(
                    "layout_cells",
                    f"is one cell too many: {self.columns} columns × {row_count} rows are "
                    "already filled",
                    ("cells", index),
                )
            if column + cell.span > self.columns:
                left = self.columns - column
                raise _issue(
                    "layout_span",
                    f"covers {cell.span} columns but row {row + 1} has only {left} left",
                    ("cells", index, "span"),
                )
            column += cell.span
            if column == self.columns:
                row, column = row + 1, 0
        if row < row_count:
            missing = (row_count - row) * self.columns - column
            raise _issue(
                "layout_cells",
                f"must fill the {self.columns} × {row_count} grid: {missing} more "
                f"column{'s' if missing != 1 else ''} of cells needed (use `span` to widen one)",
                ("cells",),
            )
        return self


# --- the menu ----------------------------------------------------------------------------


def _alias_id(value: str) -> str:
    if not ALIAS_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "alias_id",
            "must be 1 to 32 lowercase letters, digits, _ or - (LINE's rule for alias ids)",
        )
    return value


class RichMenu(_Model):
    """A rich menu (リッチメニュー): an `image` with `areas`, or a `layout` drawn by stepbot."""

    size: Size = Field(default="full", validate_default=True)
    """`full` (2500×1686, the default), `compact` (2500×843) or {width, height}: width
    800–2500, height at least 250, width / height at least 1.45."""
    chat_bar: Annotated[str, Field(min_length=1, max_length=MAX_CHAT_BAR)] = "メニュー"
    """Text of the bar that opens the menu (at most 14 characters)."""
    selected: bool = False
    """Show the menu open when the chat is opened."""
    image: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    """A PNG or JPEG file, relative to the scenario file's folder, exactly `size` large and
    at most 1 MB. A `stamp_card` menu names one file per count with {n}, e.g.
    menus/card-{n}.png. Give `image` or `layout`."""
    areas: Annotated[list[Area], Field(min_length=1, max_length=MAX_AREAS)] | None = None
    """With `image`: the tappable rectangles (1 to 20) and their actions."""
    layout: Layout | None = None
    """A grid of labelled cells that stepbot draws (Japanese text needs a Japanese font, see
    STEPBOT_FONT). Give `image` or `layout`."""
    alias: (
        Annotated[
            str,
            Field(json_schema_extra={"pattern": f"^{ALIAS_PATTERN.pattern}$"}),
            AfterValidator(_alias_id),
        ]
        | None
    ) = None
    """LINE alias id (lowercase letters, digits, _ and -, at most 32). Menus that a
    `richmenuswitch` shows get one from their name when none is given."""
    stamp_card: Annotated[str, Field(min_length=1)] | None = None
    """A stamp rally (under `stamp_rallies`): the menu exists once per stamp count, 0 to
    the rally's goal, and friends see the one for their count."""

    @model_validator(mode="after")
    def _consistent(self) -> RichMenu:
        if (self.image is None) == (self.layout is None):
            raise _issue("menu_kind", "must have exactly one of: image, layout")
        if self.image is not None:
            self._check_image()
        elif self.areas is not None:
            raise _issue(
                "menu_areas",
                "is only for menus with an image (a layout cell carries its own `action`)",
                ("areas",),
            )
        if self.layout is not None:
            stamp_cells = [i for i, cell in enumerate(self.layout.cells) if cell.stamps]
            if self.stamp_card is None and stamp_cells:
                raise _issue(
                    "menu_stamps",
                    "draws a stamp card, which needs `stamp_card: RALLY` on the menu",
                    ("layout", "cells", stamp_cells[0], "stamps"),
                )
            if self.stamp_card is not None and not stamp_cells:
                raise _issue(
                    "menu_stamps",
                    "needs a cell with `stamps: true` to draw the stamp card",
                    ("layout", "cells"),
                )
        if self.stamp_card is not None and self.alias is not None:
            raise _issue(
                "menu_alias",
                "cannot be set on a stamp-card menu (it is one menu per stamp count)",
                ("alias",),
            )
        return self

    def _check_image(self) -> None:
        assert self.image is not None
        if not self.image.lower().endswith(_IMAGE_SUFFIXES):
            raise _issue("menu_image", "must be a .png, .jpg or .jpeg file", ("image",))
        has_count = STAMP_PLACEHOLDER in self.image
        if self.stamp_card is not None and not has_count:
            raise _issue(
                "menu_image",
                "must contain {n} (one file per stamp count, e.g. menus/card-{n}.png)",
                ("image",),
            )
        if self.stamp_card is None and has_count:
            raise _issue("menu_image", "may contain {n} only with `stamp_card`", ("image",))
        if self.areas is None:
            raise _issue("menu_areas", "is required with an image (1 to 20 areas)", ("areas",))
        for index, area in enumerate(self.areas):
            box = area.bounds
            if box.x + box.width > self.size.width or box.y + box.height > self.size.height:
                raise _issue(
                    "menu_bounds",
                    f"must lie inside the {self.size.width}×{self.size.height} image "
                    f"(reaches x {box.x + box.width}, y {box.y + box.height})",
                    ("areas", index, "bounds"),
                )

    def image_path(self, stamps: int | None = None) -> str | None:
        """The image file for a stamp count ({n} filled in), relative to the scenario."""
        if self.image is None:
            return None
        if stamps is None:
            return self.image
        return self.image.replace(STAMP_PLACEHOLDER, str(stamps))


# A model that names PostbackAction directly is first built while that class's schema is
# still settling (schema.py completes it last), which runs its `do` check twice; building
# ours again once everything exists gives the right schema (schema.py does the same).
for _model in (RichMenuSwitch, LiffAction, Bounds, Area, Border, Cell, Layout, RichMenu):
    _model.model_rebuild(force=True)


# --- names, aliases and keys across the file ----------------------------------------------


def derive_alias(name: str) -> str:
    """A LINE alias id for a menu name: the name itself when LINE accepts it, else an ASCII
    form of it with a short hash of the name, so Japanese names get a stable alias."""
    if ALIAS_PATTERN.fullmatch(name):
        return name
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")[:20]
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return f"{slug or 'menu'}-{digest}"


def switch_targets(scenario: Scenario) -> dict[str, list[tuple[tuple[str | int, ...], str]]]:
    """Each menu's `richmenuswitch` actions: menu name → [(location, target name)]."""
    from .walk import walk

    found: dict[str, list[tuple[tuple[str | int, ...], str]]] = {}
    for name, menu in scenario.rich_menus.items():
        for loc, model in walk(menu, ("rich_menus", name)):
            if isinstance(model, RichMenuSwitch):
                found.setdefault(name, []).append(((*loc, "menu"), model.menu))
    return found


def menu_aliases(scenario: Scenario) -> dict[str, str]:
    """Menu name → alias id, for menus with an `alias` or that a tab switches to."""
    targets = {target for pairs in switch_targets(scenario).values() for _, target in pairs}
    out: dict[str, str] = {}
    for name, menu in scenario.rich_menus.items():
        if menu.alias is not None:
            out[name] = menu.alias
        elif name in targets and menu.stamp_card is None:
            out[name] = derive_alias(name)
    return out


def stamp_goal(scenario: Scenario, menu: RichMenu) -> int | None:
    """The goal of a stamp-card menu's rally (None for other menus or an unknown rally)."""
    if menu.stamp_card is None:
        return None
    rally = scenario.stamp_rallies.get(menu.stamp_card)
    return rally.goal if rally is not None else None


def menu_keys(scenario: Scenario) -> list[tuple[str, str, int | None]]:
    """Every menu that exists at LINE as (key, menu name, stamp count or None): a stamp-card
    menu gives `NAME@0` … `NAME@goal`, any other menu its name."""
    out: list[tuple[str, str, int | None]] = []
    for name, menu in scenario.rich_menus.items():
        goal = stamp_goal(scenario, menu)
        if goal is None:
            out.append((name, name, None))
        else:
            out += [(f"{name}{STAMP_SEPARATOR}{n}", name, n) for n in range(goal + 1)]
    return out


def menu_key_for(scenario: Scenario, name: str, stamps: int = 0) -> str:
    """The key of the menu a friend with `stamps` stamps sees for menu `name`:
    `NAME@min(stamps, goal)` for a stamp-card menu, `NAME` otherwise."""
    menu = scenario.rich_menus[name]
    goal = stamp_goal(scenario, menu)
    if goal is None:
        return name
    return f"{name}{STAMP_SEPARATOR}{max(0, min(stamps, goal))}"


def _known(kind: str, name: str, known: Any) -> str:
    names = ", ".join(sorted(known)) or "none are declared"
    return f"unknown {kind} '{name}' (declared: {names})"


def check_rich_menus(scenario: Scenario) -> list[tuple[str, str]]:
    """Names across the file: tab targets, stamp rallies, LIFF forms, aliases, menu names.
    Tags and messages inside areas' `do` are checked with every other action and message."""
    from .walk import dotted, walk

    problems: list[tuple[str, str]] = []
    menus = scenario.rich_menus
    for name, menu in menus.items():
        where = f"rich_menus.{name}"
        if len(name) > MAX_NAME:
            problems.append((where, f"menu names must be at most {MAX_NAME} characters"))
        if STAMP_SEPARATOR in name:
            problems.append(
                (where, f"menu names must not contain '{STAMP_SEPARATOR}' (it marks stamp counts)")
            )
        if menu.stamp_card is not None and menu.stamp_card not in scenario.stamp_rallies:
            problems.append(
                (
                    f"{where}.stamp_card",
                    _known("stamp rally", menu.stamp_card, scenario.stamp_rallies),
                )
            )
        for loc, model in walk(menu, ("rich_menus", name)):
            if isinstance(model, LiffAction) and model.path.startswith("forms/"):
                form = model.path.removeprefix("forms/").split("?")[0].split("/")[0]
                if form not in scenario.forms:
                    problems.append((f"{dotted(loc)}.path", _known("form", form, scenario.forms)))
            elif isinstance(model, LiffAction) and model.path.startswith("pay/"):
                checkout = model.path.removeprefix("pay/").split("?")[0].split("/")[0]
                stripe = scenario.integrations.stripe
                known = stripe.checkout if stripe is not None else {}
                if checkout not in known:
                    problems.append(
                        (f"{dotted(loc)}.path", _known("stripe checkout", checkout, known))
                    )
    admin_menu = scenario.admin.rich_menu
    if admin_menu is not None:
        if admin_menu not in menus:
            problems.append(("admin.rich_menu", _known("rich menu", admin_menu, menus)))
        elif menus[admin_menu].stamp_card is not None:
            problems.append(
                ("admin.rich_menu", f"'{admin_menu}' is a stamp-card menu; admins need a plain one")
            )
    for pairs in switch_targets(scenario).values():
        for loc, target in pairs:
            if target not in menus:
                problems.append((dotted(loc), _known("rich menu", target, menus)))
            elif menus[target].stamp_card is not None:
                problems.append(
                    (
                        dotted(loc),
                        f"'{target}' is a stamp-card menu (one menu per stamp count), so a "
                        "tab cannot show it; switch to a menu without stamp_card",
                    )
                )
    owners: dict[str, str] = {}
    for name, alias in menu_aliases(scenario).items():
        if alias in owners:
            problems.append(
                (
                    f"rich_menus.{name}.alias",
                    f"alias '{alias}' is also the alias of menu '{owners[alias]}'",
                )
            )
        owners.setdefault(alias, name)
    count = len(menu_keys(scenario))
    if count > MAX_MENUS:
        problems.append(
            (
                "rich_menus",
                f"makes {count} menus at LINE (stamp cards count once per stamp); "
                f"LINE allows {MAX_MENUS}",
            )
        )
    return problems


# --- image files -------------------------------------------------------------------------


def check_rich_menu_files(scenario: Scenario, folder: Path) -> list[tuple[str, str]]:
    """Every menu image file (each stamp count's for a stamp card): it exists, is a PNG or
    JPEG of exactly the menu's size, and is at most 1 MB. `folder` is the scenario file's."""
    problems: list[tuple[str, str]] = []
    for key, name, stamps in menu_keys(scenario):
        menu = scenario.rich_menus[name]
        relative = menu.image_path(stamps)
        if relative is None:
            continue
        problem = image_file_problem(folder / relative, menu.size.width, menu.size.height)
        if problem:
            label = relative if stamps is None else f"{relative} (for {key})"
            problems.append((f"rich_menus.{name}.image", f"{label}: {problem}"))
    return problems


def image_file_problem(path: Path, width: int, height: int) -> str | None:
    """What is wrong with a menu image file for LINE, or None."""
    from PIL import Image, UnidentifiedImageError

    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"file not found (looked in {path.parent})"
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if not path.is_file():
        return "is not a file"
    if size > MAX_IMAGE_BYTES:
        return f"is {size:,} bytes; LINE accepts at most 1 MB ({MAX_IMAGE_BYTES:,} bytes)"
    try:
        with Image.open(path) as image:
            kind, found = image.format, image.size
    except (UnidentifiedImageError, OSError):
        return "is not a PNG or JPEG image"
    if kind not in ("PNG", "JPEG"):
        return f"is a {kind} image; LINE accepts PNG or JPEG"
    if found != (width, height):
        return (
            f"is {found[0]}×{found[1]} pixels; the menu's size is {width}×{height} "
            "(change the image or `size`)"
        )
    return None
