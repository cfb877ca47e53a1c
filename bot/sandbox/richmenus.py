"""Rich menus at the stand-in: LINE's endpoints and what they remember.

The endpoints answer as LINE's Messaging API reference documents them (status codes and, where
LINE publishes them, the exact error bodies); bodies go through line-bot-sdk's request models
after the limits the models do not carry (size, ratio, areas, chat-bar text, action types).

`RichMenuStore` is the state: menus and their images, per-user links, the default menu and the
aliases. Every change a friend could see is published to the simulator's live stream.
"""

from __future__ import annotations

import re
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from aiohttp import web
from linebot.v3.messaging import (
    CreateRichMenuAliasRequest,
    RichMenuBulkLinkRequest,
    RichMenuBulkUnlinkRequest,
    RichMenuRequest,
    UpdateRichMenuAliasRequest,
)

from bot.sandbox.platform import (
    USER_ID,
    Binary,
    Bind,
    LineError,
    Result,
    _bad_request,
    _parse,
)
from bot.sandbox.state import SandboxState

RICH_MENU_ID = re.compile(r"^richmenu-[0-9a-f]{32}$")
ALIAS_ID = re.compile(r"^[a-z0-9_-]{1,32}$")  # lower case only, as LINE's reference and schema
MAX_MENUS = 1000
MAX_ALIASES = 1000
MAX_AREAS = 20
MAX_CHAT_BAR_TEXT = 14
MAX_NAME = 300
MIN_WIDTH, MAX_WIDTH, MIN_HEIGHT = 800, 2500, 250
MIN_RATIO_PERCENT = 145  # width / height ≥ 1.45, compared in whole numbers
MAX_IMAGE_BYTES = 1_000_000  # "1 MB": the stricter reading, so what passes here passes at LINE
MAX_BULK_USERS = 500
IMAGE_TYPES = ("image/png", "image/jpeg")
AREA_ACTIONS = ("postback", "message", "uri", "datetimepicker", "richmenuswitch", "clipboard")
URI_SCHEMES = ("http", "https", "line", "tel")
PICKER_MODES = ("date", "time", "datetime")
MAX_LABEL = 20
MAX_DATA = 300
MAX_URI = 1000
MAX_CLIPBOARD = 1000

# LINE's own wording (Messaging API reference, rich-menu sections).
NOT_FOUND = "Not found"
RICH_MENU_NOT_FOUND = "richmenu not found"
NO_IMAGE = "must upload richmenu image before applying it to user"
IMAGE_SIZE_NOT_ALLOWED = "The image size is not allowed for richmenu"
IMAGE_ALREADY_UPLOADED = "An image has already been uploaded to the richmenu"
USER_HAS_NO_MENU = "the user has no richmenu"
NO_DEFAULT = "no default richmenu"
ALIAS_CONFLICT = "conflict richmenu alias id"
ALIAS_NOT_FOUND = "richmenu alias not found"
INVALID_USER_ID = "The value for the 'userId' parameter is invalid"
MUST_BE_SPECIFIED = "must be specified"
UNSUPPORTED_MEDIA_TYPE = "Unsupported media type"

# Status of a `richmenuswitch` tap, sent in the postback's params (webhook reference).
SWITCH_SUCCESS = "SUCCESS"
SWITCH_ALIAS_NOT_FOUND = "RICHMENU_ALIAS_ID_NOTFOUND"
SWITCH_MENU_NOT_FOUND = "RICHMENU_NOTFOUND"

Detail = dict[str, str]


def new_rich_menu_id() -> str:
    return "richmenu-" + secrets.token_hex(16)


@dataclass
class RichMenu:
    rich_menu_id: str
    body: dict[str, Any]  # the rich menu object as created
    image: bytes | None = None
    image_type: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        return int(self.body["size"]["width"]), int(self.body["size"]["height"])

    def as_json(self) -> dict[str, Any]:
        """The rich menu response object."""
        return {
            "richMenuId": self.rich_menu_id,
            "size": self.body["size"],
            "selected": self.body["selected"],
            "name": self.body["name"],
            "chatBarText": self.body["chatBarText"],
            "areas": self.body["areas"],
        }


class RichMenuStore:
    """Menus, images, links, the default menu and aliases of one channel."""

    def __init__(self) -> None:
        self.menus: dict[str, RichMenu] = {}
        self.links: dict[str, str] = {}  # userId → richMenuId (per-user links)
        self.default_id: str | None = None
        self.aliases: dict[str, str] = {}  # richMenuAliasId → richMenuId
        self.publish: Callable[[dict[str, Any]], None] = lambda event: None

    def _changed(self, user_id: str | None) -> None:
        """Tell the simulator what a friend sees may have changed (None: maybe anyone)."""
        self.publish({"event": "richmenu", "userId": user_id})

    def create(self, body: dict[str, Any]) -> RichMenu:
        menu = RichMenu(new_rich_menu_id(), body)
        self.menus[menu.rich_menu_id] = menu
        return menu

    def delete(self, rich_menu_id: str) -> None:
        """Gone for everyone: unlinked and no longer the default. Aliases keep pointing at it
        (a switch to them then reports RICHMENU_NOTFOUND, as LINE does)."""
        del self.menus[rich_menu_id]
        self.links = {u: m for u, m in self.links.items() if m != rich_menu_id}
        if self.default_id == rich_menu_id:
            self.default_id = None
        self._changed(None)

    def set_image(self, menu: RichMenu, data: bytes, content_type: str) -> None:
        menu.image, menu.image_type = data, content_type  # no one sees a menu before this

    def link(self, user_id: str, rich_menu_id: str) -> None:
        self.links[user_id] = rich_menu_id
        self._changed(user_id)

    def unlink(self, user_id: str) -> None:
        if self.links.pop(user_id, None) is not None:
            self._changed(user_id)

    def link_many(self, user_ids: list[str], rich_menu_id: str) -> None:
        for user_id in user_ids:
            self.links[user_id] = rich_menu_id
        self._changed(None)

    def unlink_many(self, user_ids: list[str]) -> None:
        for user_id in user_ids:
            self.links.pop(user_id, None)
        self._changed(None)

    def set_default(self, rich_menu_id: str | None) -> None:
        self.default_id = rich_menu_id
        self._changed(None)

    def linked_menu_id(self, user_id: str) -> str | None:
        """The per-user link only (what `GET /v2/bot/user/{userId}/richmenu` answers)."""
        return self.links.get(user_id)

    def shown_to(self, user_id: str) -> RichMenu | None:
        """The menu the friend sees: a per-user link wins over the default menu."""
        for rich_menu_id in (self.links.get(user_id), self.default_id):
            menu = self.menus.get(rich_menu_id) if rich_menu_id else None
            if menu is not None and menu.image is not None:
                return menu
        return None

    def switch(self, user_id: str, alias_id: str) -> str:
        """A `richmenuswitch` tap: LINE links the alias's menu to the user (per-user menu)."""
        rich_menu_id = self.aliases.get(alias_id)
        if rich_menu_id is None:
            return SWITCH_ALIAS_NOT_FOUND
        menu = self.menus.get(rich_menu_id)
        if menu is None or menu.image is None:
            return SWITCH_MENU_NOT_FOUND
        self.link(user_id, rich_menu_id)
        return SWITCH_SUCCESS

    def overview(self) -> dict[str, Any]:
        """Everything at once, for tests and debugging."""
        return {
            "richmenus": [
                {**m.as_json(), "hasImage": m.image is not None} for m in self.menus.values()
            ],
            "defaultRichMenuId": self.default_id,
            "links": dict(self.links),
            "aliases": [{"richMenuAliasId": a, "richMenuId": m} for a, m in self.aliases.items()],
        }


# --- validation ----------------------------------------------------------------------------


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _text_problem(value: Any, prop: str, low: int, high: int, required: bool) -> Detail | None:
    if value is None:
        return {"message": MUST_BE_SPECIFIED, "property": prop} if required else None
    if not isinstance(value, str):
        return {"message": "Must be a string", "property": prop}
    if not low <= len(value) <= high:
        return {"message": f"Length must be between {low} and {high}", "property": prop}
    return None


def _action_problems(action: Any, prop: str) -> list[Detail]:
    """LINE's rules for an area's action; only the types LINE accepts in rich menus."""
    if not isinstance(action, dict):
        return [{"message": MUST_BE_SPECIFIED, "property": prop}]
    kind = action.get("type")
    if kind not in AREA_ACTIONS:
        known = ", ".join(AREA_ACTIONS)
        return [
            {
                "message": f"Must be one of the following values: [{known}]",
                "property": f"{prop}.type",
            }
        ]
    checks: list[tuple[str, int, int, bool]] = [("label", 0, MAX_LABEL, False)]
    if kind == "postback":
        checks += [("data", 0, MAX_DATA, True), ("displayText", 0, MAX_DATA, False)]
        checks += [("text", 0, MAX_DATA, False)]
    elif kind == "message":
        checks.append(("text", 1, MAX_DATA, True))
    elif kind == "uri":
        checks.append(("uri", 1, MAX_URI, True))
    elif kind == "datetimepicker":
        checks += [("data", 0, MAX_DATA, True), ("mode", 1, 8, True)]
    elif kind == "richmenuswitch":
        checks += [("richMenuAliasId", 1, 32, True), ("data", 0, MAX_DATA, True)]
    elif kind == "clipboard":
        checks.append(("clipboardText", 1, MAX_CLIPBOARD, True))
    problems = [
        p
        for key, low, high, required in checks
        if (p := _text_problem(action.get(key), f"{prop}.{key}", low, high, required))
    ]
    if problems:
        return problems
    if kind == "postback" and "displayText" in action and "text" in action:
        problems.append(
            {"message": "displayText and text cannot be set together", "property": prop}
        )
    if kind == "uri" and urlsplit(action["uri"]).scheme not in URI_SCHEMES:
        problems.append({"message": "invalid uri", "property": f"{prop}.uri"})
    if kind == "datetimepicker" and action["mode"] not in PICKER_MODES:
        problems.append(
            {
                "message": "Must be one of the following values: [date, time, datetime]",
                "property": f"{prop}.mode",
            }
        )
    return problems


def _size_problems(size: Any) -> list[Detail]:
    if not isinstance(size, dict):
        return [{"message": MUST_BE_SPECIFIED, "property": "size"}]
    width, height = size.get("width"), size.get("height")
    if not _is_int(width) or not _is_int(height):
        return [
            {"message": MUST_BE_SPECIFIED if v is None else "Must be a whole number", "property": p}
            for p, v in (("size.width", width), ("size.height", height))
            if not _is_int(v)
        ]
    problems: list[Detail] = []
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        problems.append(
            {"message": f"Must be between {MIN_WIDTH} and {MAX_WIDTH}", "property": "size.width"}
        )
    if height < MIN_HEIGHT:
        problems.append({"message": f"Must be {MIN_HEIGHT} or more", "property": "size.height"})
    elif width * 100 < height * MIN_RATIO_PERCENT:
        problems.append(
            {
                "message": "The aspect ratio (width / height) must be 1.45 or more",
                "property": "size",
            }
        )
    return problems


def _area_problems(area: Any, index: int, size: tuple[int, int] | None) -> list[Detail]:
    prop = f"areas[{index}]"
    if not isinstance(area, dict):
        return [{"message": MUST_BE_SPECIFIED, "property": prop}]
    problems: list[Detail] = []
    bounds = area.get("bounds")
    if not isinstance(bounds, dict):
        problems.append({"message": MUST_BE_SPECIFIED, "property": f"{prop}.bounds"})
    else:
        for key, low in (("x", 0), ("y", 0), ("width", 1), ("height", 1)):
            value = bounds.get(key)
            if not _is_int(value) or value < low:
                message = MUST_BE_SPECIFIED if value is None else f"Must be {low} or more"
                problems.append({"message": message, "property": f"{prop}.bounds.{key}"})
        if not problems and size is not None:
            right, bottom = bounds["x"] + bounds["width"], bounds["y"] + bounds["height"]
            if right > size[0] or bottom > size[1]:
                problems.append(
                    {
                        "message": f"The area must lie within the rich menu ({size[0]}x{size[1]})",
                        "property": f"{prop}.bounds",
                    }
                )
    return problems + _action_problems(area.get("action"), f"{prop}.action")


def rich_menu_problems(body: dict[str, Any]) -> list[Detail]:
    """Everything wrong with a rich menu object, as LINE's `details` (property paths)."""
    problems = _size_problems(body.get("size"))
    size = None if problems else (body["size"]["width"], body["size"]["height"])
    if not isinstance(body.get("selected"), bool):
        problems.append({"message": MUST_BE_SPECIFIED, "property": "selected"})
    for key, high in (("name", MAX_NAME), ("chatBarText", MAX_CHAT_BAR_TEXT)):
        if problem := _text_problem(body.get(key), key, 0, high, True):
            problems.append(problem)
    areas = body.get("areas")
    if not isinstance(areas, list):
        problems.append({"message": MUST_BE_SPECIFIED, "property": "areas"})
    elif len(areas) > MAX_AREAS:
        problems.append({"message": f"Size must be between 0 and {MAX_AREAS}", "property": "areas"})
    else:
        for index, area in enumerate(areas):
            problems += _area_problems(area, index, size)
    return problems


def image_size(data: bytes, content_type: str) -> tuple[int, int] | None:
    """Width and height from a PNG or JPEG header; None if the bytes are not that format."""
    if content_type == "image/png":
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
            width, height = struct.unpack(">II", data[16:24])
            return int(width), int(height)
        return None
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + length
    return None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise LineError(400, "The request body must be a JSON object")
    return body


def _user_id_problems(user_ids: Any) -> list[Detail]:
    if user_ids is None:
        return [{"message": MUST_BE_SPECIFIED, "property": "userIds"}]
    if not isinstance(user_ids, list) or not 1 <= len(user_ids) <= MAX_BULK_USERS:
        return [{"message": f"Size must be between 1 and {MAX_BULK_USERS}", "property": "userIds"}]
    return []


def _check_user_ids(user_ids: list[Any]) -> None:
    for index, user_id in enumerate(user_ids):
        if not isinstance(user_id, str) or not USER_ID.match(user_id):
            raise LineError(
                400,
                f"The property, 'userIds[{index}]', in the request body is invalid "
                "(line: -, column: -)",
            )


# --- endpoints -----------------------------------------------------------------------------


class RichMenuHandlers:
    """The rich-menu endpoints; `PlatformHandlers` wraps each in auth, limits and recording."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def store(self) -> RichMenuStore:
        return self.state.rich_menus

    def _following(self, user_id: str) -> bool:
        friend = self.state.friends.get(user_id)
        return friend is not None and friend.following

    def _menu(self, request: web.Request) -> RichMenu:
        menu = self.store.menus.get(request.match_info["rich_menu_id"])
        if menu is None:
            raise LineError(404, NOT_FOUND)
        return menu

    def _path_user(self, request: web.Request) -> str:
        user_id = request.match_info["user_id"]
        if not USER_ID.match(user_id):
            raise LineError(400, INVALID_USER_ID)
        return user_id

    def _path_alias(self, request: web.Request) -> str:
        alias_id = request.match_info["alias_id"]
        if not ALIAS_ID.match(alias_id):
            raise LineError(400, "The value for the 'richMenuAliasId' parameter is invalid")
        if alias_id not in self.store.aliases:
            raise LineError(404, ALIAS_NOT_FOUND, [])
        return alias_id

    def _menu_with_image(self, rich_menu_id: str) -> RichMenu:
        """The menu an alias may point at: it must exist and have its image."""
        menu = self.store.menus.get(rich_menu_id)
        if menu is None or menu.image is None:
            raise LineError(400, RICH_MENU_NOT_FOUND, [])
        return menu

    @staticmethod
    def _checked_menu_body(body: Any) -> dict[str, Any]:
        body = _object(body)
        problems = rich_menu_problems(body)
        if problems:
            raise _bad_request(problems)
        _parse(RichMenuRequest, body)
        return body

    async def create(self, request: web.Request, body: Any, request_id: str) -> Result:
        body = self._checked_menu_body(body)
        if len(self.store.menus) >= MAX_MENUS:
            raise LineError(400, f"The number of rich menus has reached the limit ({MAX_MENUS})")
        menu = self.store.create(body)
        return 200, {"richMenuId": menu.rich_menu_id}, {}

    async def validate(self, request: web.Request, body: Any, request_id: str) -> Result:
        self._checked_menu_body(body)
        return 200, {}, {}

    async def list_menus(self, request: web.Request, body: Any, request_id: str) -> Result:
        return 200, {"richmenus": [m.as_json() for m in self.store.menus.values()]}, {}

    async def get(self, request: web.Request, body: Any, request_id: str) -> Result:
        return 200, self._menu(request).as_json(), {}

    async def delete(self, request: web.Request, body: Any, request_id: str) -> Result:
        self.store.delete(self._menu(request).rich_menu_id)
        return 200, {}, {}

    async def upload_image(self, request: web.Request, body: Any, request_id: str) -> Result:
        """Once per menu; JPEG or PNG of exactly the menu's size, at most 1 MB."""
        menu = self._menu(request)
        if request.content_type not in IMAGE_TYPES:
            raise LineError(415, UNSUPPORTED_MEDIA_TYPE)
        if menu.image is not None:
            raise LineError(400, IMAGE_ALREADY_UPLOADED)
        data = bytes(body or b"")
        if len(data) > MAX_IMAGE_BYTES:
            raise LineError(
                400, f"The image file size must be at most 1 MB ({MAX_IMAGE_BYTES} bytes)"
            )
        dimensions = image_size(data, request.content_type)
        if dimensions is None:
            raise LineError(400, f"The image could not be read as {request.content_type}")
        if dimensions != menu.size:
            raise LineError(400, IMAGE_SIZE_NOT_ALLOWED)
        self.store.set_image(menu, data, request.content_type)
        return 200, {}, {}

    async def download_image(self, request: web.Request, body: Any, request_id: str) -> Result:
        menu = self._menu(request)
        if menu.image is None or menu.image_type is None:
            raise LineError(404, NOT_FOUND)
        return 200, Binary(menu.image, menu.image_type), {}

    def _linkable(self, rich_menu_id: str) -> RichMenu:
        menu = self.store.menus.get(rich_menu_id)
        if menu is None:
            raise LineError(404, NOT_FOUND)
        if menu.image is None:
            raise LineError(400, NO_IMAGE, [])
        return menu

    async def link(self, request: web.Request, body: Any, request_id: str) -> Result:
        """Only friends who follow get the link; LINE answers 200 for the others too."""
        user_id = self._path_user(request)
        menu = self._linkable(request.match_info["rich_menu_id"])
        if self._following(user_id):
            self.store.link(user_id, menu.rich_menu_id)
        return 200, {}, {}

    async def unlink(self, request: web.Request, body: Any, request_id: str) -> Result:
        self.store.unlink(self._path_user(request))
        return 200, {}, {}

    async def of_user(self, request: web.Request, body: Any, request_id: str) -> Result:
        rich_menu_id = self.store.linked_menu_id(self._path_user(request))
        if rich_menu_id is None:
            raise LineError(404, USER_HAS_NO_MENU, [])
        return 200, {"richMenuId": rich_menu_id}, {}

    async def bulk_link(self, request: web.Request, body: Any, request_id: str) -> Result:
        """Accepted (202) and, unlike at LINE, done before answering."""
        body = _object(body)
        problems = _user_id_problems(body.get("userIds"))
        rich_menu_id = body.get("richMenuId")
        if rich_menu_id is None:
            problems.insert(0, {"message": MUST_BE_SPECIFIED, "property": "richMenuId"})
        elif not isinstance(rich_menu_id, str) or not RICH_MENU_ID.match(rich_menu_id):
            problems.insert(0, {"message": "invalid richMenuId", "property": "richMenuId"})
        if problems:
            raise _bad_request(problems)
        _check_user_ids(body["userIds"])
        parsed = _parse(RichMenuBulkLinkRequest, body)
        menu = self.store.menus.get(parsed.rich_menu_id)
        if menu is None:
            raise LineError(404, RICH_MENU_NOT_FOUND, [])
        if menu.image is None:
            raise LineError(400, NO_IMAGE, [])
        following = [u for u in dict.fromkeys(parsed.user_ids) if self._following(u)]
        self.store.link_many(following, menu.rich_menu_id)
        return 202, {}, {}

    async def bulk_unlink(self, request: web.Request, body: Any, request_id: str) -> Result:
        body = _object(body)
        problems = _user_id_problems(body.get("userIds"))
        if problems:
            raise _bad_request(problems)
        _check_user_ids(body["userIds"])
        parsed = _parse(RichMenuBulkUnlinkRequest, body)
        self.store.unlink_many(list(parsed.user_ids))
        return 202, {}, {}

    async def set_default(self, request: web.Request, body: Any, request_id: str) -> Result:
        menu = self._linkable(request.match_info["rich_menu_id"])
        self.store.set_default(menu.rich_menu_id)
        return 200, {}, {}

    async def get_default(self, request: web.Request, body: Any, request_id: str) -> Result:
        if self.store.default_id is None:
            raise LineError(404, NO_DEFAULT, [])
        return 200, {"richMenuId": self.store.default_id}, {}

    async def cancel_default(self, request: web.Request, body: Any, request_id: str) -> Result:
        self.store.set_default(None)
        return 200, {}, {}

    @staticmethod
    def _alias_target_problems(body: dict[str, Any]) -> list[Detail]:
        rich_menu_id = body.get("richMenuId")
        if rich_menu_id is None:
            return [{"message": MUST_BE_SPECIFIED, "property": "richMenuId"}]
        if not isinstance(rich_menu_id, str) or not RICH_MENU_ID.match(rich_menu_id):
            return [{"message": "invalid richMenuId", "property": "richMenuId"}]
        return []

    async def create_alias(self, request: web.Request, body: Any, request_id: str) -> Result:
        body = _object(body)
        problems: list[Detail] = []
        alias_id = body.get("richMenuAliasId")
        if alias_id is None:
            problems.append({"message": MUST_BE_SPECIFIED, "property": "richMenuAliasId"})
        elif not isinstance(alias_id, str) or not ALIAS_ID.match(alias_id):
            problems.append({"message": "invalid richMenuAliasId", "property": "richMenuAliasId"})
        problems += self._alias_target_problems(body)
        if problems:
            raise _bad_request(problems)
        parsed = _parse(CreateRichMenuAliasRequest, body)
        menu = self._menu_with_image(parsed.rich_menu_id)
        if parsed.rich_menu_alias_id in self.store.aliases:
            raise LineError(400, ALIAS_CONFLICT, [])
        if len(self.store.aliases) >= MAX_ALIASES:
            raise LineError(
                400, f"The number of rich menu aliases has reached the limit ({MAX_ALIASES})", []
            )
        self.store.aliases[parsed.rich_menu_alias_id] = menu.rich_menu_id
        return 200, {}, {}

    async def update_alias(self, request: web.Request, body: Any, request_id: str) -> Result:
        alias_id = self._path_alias(request)
        body = _object(body)
        problems = self._alias_target_problems(body)
        if problems:
            raise _bad_request(problems)
        parsed = _parse(UpdateRichMenuAliasRequest, body)
        self.store.aliases[alias_id] = self._menu_with_image(parsed.rich_menu_id).rich_menu_id
        return 200, {}, {}

    async def get_alias(self, request: web.Request, body: Any, request_id: str) -> Result:
        alias_id = self._path_alias(request)
        return 200, {"richMenuAliasId": alias_id, "richMenuId": self.store.aliases[alias_id]}, {}

    async def delete_alias(self, request: web.Request, body: Any, request_id: str) -> Result:
        del self.store.aliases[self._path_alias(request)]
        return 200, {}, {}

    async def list_aliases(self, request: web.Request, body: Any, request_id: str) -> Result:
        aliases = [{"richMenuAliasId": a, "richMenuId": m} for a, m in self.store.aliases.items()]
        return 200, {"aliases": aliases}, {}

    def routes(self, api: str, bind: Bind) -> list[web.RouteDef]:
        """Fixed paths before the ones with a parameter (`list` is not a rich menu id)."""
        menu = f"{api}/richmenu"
        one = f"{menu}/{{rich_menu_id}}"
        alias = f"{menu}/alias"
        user = f"{api}/user/{{user_id}}/richmenu"
        default = f"{api}/user/all/richmenu"
        return [
            web.post(menu, bind("richMenuCreate", self.create)),
            web.post(f"{menu}/validate", bind("richMenuValidate", self.validate)),
            web.get(f"{menu}/list", bind("richMenuList", self.list_menus)),
            web.post(f"{menu}/bulk/link", bind("richMenuBulkLink", self.bulk_link)),
            web.post(f"{menu}/bulk/unlink", bind("richMenuBulkUnlink", self.bulk_unlink)),
            web.post(alias, bind("richMenuAliasCreate", self.create_alias)),
            web.get(f"{alias}/list", bind("richMenuAliasList", self.list_aliases)),
            web.get(f"{alias}/{{alias_id}}", bind("richMenuAliasGet", self.get_alias)),
            web.post(f"{alias}/{{alias_id}}", bind("richMenuAliasUpdate", self.update_alias)),
            web.delete(f"{alias}/{{alias_id}}", bind("richMenuAliasDelete", self.delete_alias)),
            web.get(one, bind("richMenuGet", self.get)),
            web.delete(one, bind("richMenuDelete", self.delete)),
            web.post(f"{one}/content", bind("richMenuImageUpload", self.upload_image, raw=True)),
            web.get(f"{one}/content", bind("richMenuImageDownload", self.download_image)),
            web.post(f"{default}/{{rich_menu_id}}", bind("defaultRichMenuSet", self.set_default)),
            web.get(default, bind("defaultRichMenuGet", self.get_default)),
            web.delete(default, bind("defaultRichMenuCancel", self.cancel_default)),
            web.post(f"{user}/{{rich_menu_id}}", bind("richMenuLink", self.link)),
            web.delete(user, bind("richMenuUnlink", self.unlink)),
            web.get(user, bind("richMenuOfUser", self.of_user)),
        ]
