"""What LINE should have: every declared menu as LINE's request body, its image and a hash.

Our two actions are resolved here: a `richmenuswitch` tab names the other menu's alias id
(chosen from the menu's name, so it is known before LINE gives the menu an id) and a `liff`
action becomes the LIFF URL. The hash covers the body and the image, so an unchanged menu
hashes the same on every start and is found again at LINE instead of being created.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from bot.richmenus.fonts import FontMissing
from bot.richmenus.render import MenuImage, RenderError, render_layout
from bot.scenario.forms import liff_url
from bot.scenario.richmenus import (
    Area,
    Cell,
    LiffAction,
    RichMenu,
    RichMenuSwitch,
    image_file_problem,
    menu_aliases,
    menu_keys,
    stamp_goal,
)

#: Start of the `name` of every menu stepbot creates: how its menus are told from the
#: operator's own at LINE. The rest is the menu key and the start of the content hash.
NAME_PREFIX = "stepbot:"
#: Hex digits of the content hash kept in the menu's name.
NAME_HASH_LENGTH = 16
#: LINE's limit on action labels in rich menus.
MAX_LABEL = 20


class RichMenuError(RuntimeError):
    """A menu cannot be made: a missing font, a bad image file, no LIFF id."""


@dataclass(frozen=True)
class BuiltMenu:
    """One menu as LINE will have it."""

    key: str
    """`NAME`, or `NAME@n` for a stamp-card menu with n stamps."""
    menu: str
    """Its name under `rich_menus`."""
    body: dict[str, Any]
    """LINE's rich menu object, `name` included."""
    image: MenuImage
    content_hash: str
    """sha256 of the canonical body (before the hash joins the name) and the image."""
    alias: str | None
    """The alias id that should point at this menu."""

    @property
    def line_name(self) -> str:
        return str(self.body["name"])


def line_name(key: str, content_hash: str) -> str:
    """The `name` of the menu at LINE (at most 300 characters: keys are at most 103)."""
    return f"{NAME_PREFIX}{key}:{content_hash[:NAME_HASH_LENGTH]}"


def content_hash(body: dict[str, Any], image: MenuImage) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("utf-8"))
    digest.update(b"\n" + image.content_type.encode("ascii") + b"\n")
    digest.update(image.data)
    return digest.hexdigest()


def _cell_label(cell: Cell) -> str | None:
    """A label for LINE (read aloud for accessibility) from the cell's own text."""
    if not cell.label:
        return None
    text = " ".join(cell.label.split())
    return text[:MAX_LABEL] or None


def line_action(
    action: Any, *, aliases: dict[str, str], liff_id: str | None, label: str | None, where: str
) -> dict[str, Any]:
    """An area's action as LINE takes it; `label` is used when the action has none."""
    if isinstance(action, RichMenuSwitch):
        alias = aliases[action.menu]
        out: dict[str, Any] = {
            "type": "richmenuswitch",
            "richMenuAliasId": alias,
            "data": action.data if action.data is not None else f"richmenu:{alias}",
        }
    elif isinstance(action, LiffAction):
        if not liff_id:
            raise RichMenuError(f"{where}: a liff action needs the LIFF app's id (set LIFF_ID)")
        out = {"type": "uri", "uri": liff_url(liff_id, action.path)}
    else:
        # `do` is left out of the dump; a postback with `do` carries its token as `data`.
        out = action.model_dump(mode="json", exclude_none=True, exclude={"label"})
    chosen = action.label or label
    if chosen:
        out["label"] = chosen
    return out


def _areas(
    menu: RichMenu, name: str, aliases: dict[str, str], liff_id: str | None
) -> list[dict[str, Any]]:
    areas: list[dict[str, Any]] = []
    if menu.layout is not None:
        boxes = menu.layout.boxes(menu.size.width, menu.size.height)
        for index, (box, cell) in enumerate(zip(boxes, menu.layout.cells, strict=True)):
            if cell.action is None:
                continue
            where = f"rich_menus.{name}.layout.cells[{index}].action"
            action = line_action(
                cell.action, aliases=aliases, liff_id=liff_id, label=_cell_label(cell), where=where
            )
            areas.append({"bounds": _bounds(box), "action": action})
        return areas
    for index, area in enumerate(menu.areas or ()):
        assert isinstance(area, Area)
        where = f"rich_menus.{name}.areas[{index}].action"
        b = area.bounds
        action = line_action(area.action, aliases=aliases, liff_id=liff_id, label=None, where=where)
        areas.append({"bounds": _bounds((b.x, b.y, b.width, b.height)), "action": action})
    return areas


def _bounds(box: tuple[int, int, int, int]) -> dict[str, int]:
    x, y, width, height = box
    return {"x": x, "y": y, "width": width, "height": height}


def read_image(menu: RichMenu, name: str, folder: Path, stamps: int | None) -> MenuImage:
    """An image menu's file, checked as at load (it may have changed since)."""
    from PIL import Image

    relative = menu.image_path(stamps)
    assert relative is not None
    path = folder / relative
    problem = image_file_problem(path, menu.size.width, menu.size.height)
    if problem:
        raise RichMenuError(f"rich_menus.{name}.image: {relative}: {problem}")
    data = path.read_bytes()
    with Image.open(BytesIO(data)) as image:
        kind = image.format
    return MenuImage(data, "image/png" if kind == "PNG" else "image/jpeg")


def build_menu(
    scenario: Any,
    key: str,
    name: str,
    stamps: int | None,
    *,
    folder: Path,
    liff_id: str | None,
    aliases: dict[str, str] | None = None,
    font: Path | None = None,
) -> BuiltMenu:
    """One menu key's body, image and hash."""
    menu: RichMenu = scenario.rich_menus[name]
    aliases = menu_aliases(scenario) if aliases is None else aliases
    body: dict[str, Any] = {
        "size": {"width": menu.size.width, "height": menu.size.height},
        "selected": menu.selected,
        "name": f"{NAME_PREFIX}{key}",
        "chatBarText": menu.chat_bar,
        "areas": _areas(menu, name, aliases, liff_id),
    }
    if menu.layout is not None:
        goal = stamp_goal(scenario, menu)
        try:
            image = render_layout(menu, key, stamps=stamps, goal=goal, font=font)
        except (FontMissing, RenderError) as exc:
            raise RichMenuError(str(exc)) from None
    else:
        image = read_image(menu, name, folder, stamps)
    digest = content_hash(body, image)
    body["name"] = line_name(key, digest)
    return BuiltMenu(key, name, body, image, digest, aliases.get(name) if stamps is None else None)


def build_menus(
    scenario: Any, *, folder: Path, liff_id: str | None, font: Path | None = None
) -> list[BuiltMenu]:
    """Every menu the scenario declares (one per stamp count for stamp cards), or
    RichMenuError listing every menu that cannot be made."""
    aliases = menu_aliases(scenario)
    built: list[BuiltMenu] = []
    problems: list[str] = []
    for key, name, stamps in menu_keys(scenario):
        try:
            built.append(
                build_menu(
                    scenario,
                    key,
                    name,
                    stamps,
                    folder=folder,
                    liff_id=liff_id,
                    aliases=aliases,
                    font=font,
                )
            )
        except RichMenuError as exc:
            if str(exc) not in problems:
                problems.append(str(exc))
    if problems:
        raise RichMenuError("\n".join(problems))
    return built
