"""Pydantic models for the scenario file (version 1).

Message objects keep LINE's own JSON shape (camelCase keys, as in LINE's API reference) so
operators can paste them from LINE's docs or the Flex Message Simulator, and so a validated
message dumps straight into a request body.

Lengths follow LINE's counting rules: `text`, `altText`, postback `data`, URIs and URLs are
counted in UTF-16 code units (LINE counts 🍎 as 2); labels, titles and template texts are
counted in grapheme clusters, which we approximate with code points (never looser than LINE).

Every union of object kinds (messages, templates, actions) is discriminated on `type` with a
callable discriminator whose tags read like ``"message:text"``. Pydantic puts the tag into an
error's `loc`; the ``:`` makes tags easy to recognise and drop (see `errors.format_path`), so
error paths read like ``welcome[0].text`` rather than ``welcome.0.text.text``.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from annotated_types import MinLen
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PrivateAttr,
    Tag,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

#: Messages LINE accepts in one reply or push request.
MAX_MESSAGES = 5
#: Maximum length of a text message's `text`, in UTF-16 code units.
MAX_TEXT_LENGTH = 5000
#: Maximum length of `altText` (template and flex messages), in UTF-16 code units.
MAX_ALT_TEXT_LENGTH = 400
#: Maximum number of LINE emojis in one text message.
MAX_EMOJIS = 20
#: Text limit of buttons templates and carousel columns that show a title or image.
SHORT_TEMPLATE_TEXT = 60
_SHORT_TEXT_RULE = (
    f"must be at most {SHORT_TEMPLATE_TEXT} characters when a title or thumbnailImageUrl is set"
)
#: Character that marks where a LINE emoji goes in a text message.
EMOJI_PLACEHOLDER = "$"
#: Separator in discriminator tags; loc parts containing it are union tags, not keys.
TAG_SEPARATOR = ":"


def utf16_len(value: str) -> int:
    """Length as LINE counts it for `text` and `altText`: UTF-16 code units."""
    return len(value.encode("utf-16-le")) // 2


def _issue(kind: str, message: str, at: tuple[str | int, ...] = ()) -> PydanticCustomError:
    """A validation error with a human message; `at` is a loc suffix below the model."""
    return PydanticCustomError(kind, message, {"at": at} if at else None)


# --- constrained strings -----------------------------------------------------------------

#: Jinja syntax: placeholders are filled at send time, so they don't count against limits.
_TEMPLATE_SYNTAX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
#: JSON Schema spelling of "contains template syntax", for editors.
_TEMPLATE_PATTERN = "\\{[{%#]"


def static_text(value: str) -> str:
    """`value` without its placeholders: the part whose length is known before sending."""
    return _TEMPLATE_SYNTAX.sub("", value)


@dataclass(frozen=True)
class MaxChars:
    """A LINE length limit, checked on the text outside placeholders.

    `utf16` marks fields LINE counts in UTF-16 code units; the others LINE counts in grapheme
    clusters, approximated here by code points (never looser). `render` reads this marker to
    cut rendered values to the same limit, so a long display name cannot break a send.
    """

    limit: int
    utf16: bool = False

    def length(self, value: str) -> int:
        return utf16_len(value) if self.utf16 else len(value)

    def check(self, value: str) -> str:
        text = static_text(value)
        if self.length(text) <= self.limit:
            return value
        note = ""
        if text != value:
            note = " (not counting placeholders)"
        elif self.utf16 and len(text) <= self.limit:
            note = " (LINE counts emoji and some rare kanji as 2)"
        raise PydanticCustomError(
            "too_many_chars",
            "must be at most {limit} characters" + note,
            {"limit": self.limit},
        )

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["anyOf"] = [{"maxLength": self.limit}, {"pattern": _TEMPLATE_PATTERN}]
        return json_schema


def _https_url(value: str) -> str:
    """LINE fetches images and videos itself and only over HTTPS."""
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc:
        raise PydanticCustomError("url_scheme", "must be an https:// URL")
    return value


_URI_SCHEMES = ("http", "https", "line", "tel")


def _action_uri(value: str) -> str:
    """URI actions open in LINE; only these schemes are useful (and accepted) there."""
    scheme = urlsplit(value).scheme.lower()
    if scheme not in _URI_SCHEMES:
        raise PydanticCustomError(
            "url_scheme", "must be a URI starting with http:, https:, line: or tel:"
        )
    return value


def _number_to_str(value: object) -> object:
    """Sticker and emoji ids are strings for LINE, but YAML reads `446` as a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _color(value: str) -> str:
    """LINE expects colours as #RRGGBB."""
    if not re.fullmatch(r"#[0-9A-Fa-f]{6}", value):
        raise PydanticCustomError("color", "must be a colour like #FFFFFF")
    return value


NonEmpty = MinLen(1)

MessageText = Annotated[str, NonEmpty, MaxChars(MAX_TEXT_LENGTH, utf16=True)]
AltText = Annotated[str, NonEmpty, MaxChars(MAX_ALT_TEXT_LENGTH, utf16=True)]
Label = Annotated[str, NonEmpty, MaxChars(20)]
PostbackData = Annotated[str, MaxChars(300, utf16=True)]
HttpsUrl = Annotated[
    str,
    Field(json_schema_extra={"format": "uri", "pattern": "^https://"}),
    MaxChars(2000, utf16=True),
    AfterValidator(_https_url),
]
ActionUri = Annotated[
    str,
    Field(min_length=1, json_schema_extra={"pattern": "^(https?|line|tel):"}),
    MaxChars(1000, utf16=True),
    AfterValidator(_action_uri),
]
IdString = Annotated[
    str,
    BeforeValidator(_number_to_str, json_schema_input_type=str | int),
    Field(min_length=1, max_length=100),
]
Color = Annotated[
    str, Field(json_schema_extra={"pattern": "^#[0-9A-Fa-f]{6}$"}), AfterValidator(_color)
]


def _discriminator(kind: str, types: str) -> Discriminator:
    """Pick a union member by `type`; tags read like "message:text" (see module docstring).

    The custom error carries the allowed types as its message; `errors.py` turns it into
    "unknown <kind> type 'x' (expected one of: ...)" or "is required" as fits the input.
    """

    def pick(value: Any) -> str | None:
        raw = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
        return f"{kind}{TAG_SEPARATOR}{raw}" if isinstance(raw, str) else None

    return Discriminator(pick, custom_error_type=f"unknown_{kind}_type", custom_error_message=types)


class _Model(BaseModel):
    """Base for every scenario object: unknown keys are errors, docstrings document keys."""

    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        field_title_generator=lambda name, _info: name,
    )


# --- actions -----------------------------------------------------------------------------


class _Action(_Model):
    """Fields every action shares."""

    label: Label | None = None
    """Button text (at most 20 characters; 12 in an image carousel). Required except in a
    `defaultAction`."""


class PostbackAction(_Action):
    """Sends `data` to the bot as a postback event when tapped, or runs the scenario's `do`
    actions (add a tag, add points once, send messages…)."""

    type: Literal["postback"]
    data: PostbackData | None = None
    """Returned in the postback event (at most 300 characters). Give `data` or `do`."""
    do: "ActionList | None" = Field(default=None, exclude=True)
    """Actions run when tapped (see the actions reference); the button then carries a token
    that names them, never the actions themselves."""
    displayText: Annotated[str, NonEmpty, MaxChars(300)] | None = None
    """Shown in the chat as the friend's message when tapped."""
    inputOption: Literal["closeRichMenu", "openRichMenu", "openKeyboard", "openVoice"] | None = None
    """What the chat screen does after the tap."""
    fillInText: Annotated[str, NonEmpty, MaxChars(300)] | None = None
    """Text put into the input field (with `inputOption: openKeyboard`)."""

    @model_validator(mode="after")
    def _data_or_do(self) -> "PostbackAction":
        from .actions import action_token

        if self.do is not None and self.data == action_token(self.do):
            return self  # validated before (a model that embeds this one rebuilt it)
        if (self.data is None) == (self.do is None):
            raise _issue("postback_data", "must have exactly one of: data, do")
        if self.do is not None:
            self.data = action_token(self.do)
        return self


class MessageAction(_Action):
    """Sends `text` as the friend's own message when tapped (and can trigger auto-replies)."""

    type: Literal["message"]
    text: Annotated[str, NonEmpty, MaxChars(300)]
    """The message the friend sends (at most 300 characters)."""


class AltUri(_Model):
    """A different URI for LINE on desktop."""

    desktop: ActionUri


class UriAction(_Action):
    """Opens a URL in LINE's browser, a `line://` link, or a `tel:` number."""

    type: Literal["uri"]
    uri: ActionUri
    """http, https, line or tel URI (at most 1000 characters)."""
    altUri: AltUri | None = None


_DATETIME_FORMATS = {
    "date": (r"\d{4}-\d{2}-\d{2}", "YYYY-MM-DD"),
    "time": (r"\d{2}:\d{2}", "HH:mm"),
    "datetime": (r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}", "YYYY-MM-DDTHH:mm"),
}


class DatetimePickerAction(_Action):
    """Lets the friend pick a date and/or time; the choice arrives in a postback event."""

    type: Literal["datetimepicker"]
    data: PostbackData
    mode: Literal["date", "time", "datetime"]
    initial: str | None = None
    max: str | None = None
    min: str | None = None

    @model_validator(mode="after")
    def _check_formats(self) -> "DatetimePickerAction":
        pattern, shown = _DATETIME_FORMATS[self.mode]
        for key in ("initial", "max", "min"):
            value = getattr(self, key)
            if value is not None and not re.fullmatch(pattern, value):
                raise _issue(
                    "datetime_format", f"must look like {shown} for mode {self.mode}", (key,)
                )
        return self


class CameraAction(_Action):
    """Opens the camera (quick replies only)."""

    type: Literal["camera"]


class CameraRollAction(_Action):
    """Opens the photo library (quick replies only)."""

    type: Literal["cameraRoll"]


class LocationAction(_Action):
    """Opens the location picker (quick replies only)."""

    type: Literal["location"]


class ClipboardAction(_Action):
    """Copies `clipboardText` to the friend's clipboard (coupon codes, addresses)."""

    type: Literal["clipboard"]
    clipboardText: Annotated[str, NonEmpty, MaxChars(1000, utf16=True)]


TemplateAction = Annotated[
    Annotated[PostbackAction, Tag("action:postback")]
    | Annotated[MessageAction, Tag("action:message")]
    | Annotated[UriAction, Tag("action:uri")]
    | Annotated[DatetimePickerAction, Tag("action:datetimepicker")]
    | Annotated[ClipboardAction, Tag("action:clipboard")],
    _discriminator("action", "postback, message, uri, datetimepicker, clipboard"),
]
"""Actions allowed on template buttons (camera, cameraRoll and location are quick-reply only)."""

QuickReplyAction = Annotated[
    Annotated[PostbackAction, Tag("action:postback")]
    | Annotated[MessageAction, Tag("action:message")]
    | Annotated[UriAction, Tag("action:uri")]
    | Annotated[DatetimePickerAction, Tag("action:datetimepicker")]
    | Annotated[CameraAction, Tag("action:camera")]
    | Annotated[CameraRollAction, Tag("action:cameraRoll")]
    | Annotated[LocationAction, Tag("action:location")]
    | Annotated[ClipboardAction, Tag("action:clipboard")],
    _discriminator(
        "action",
        "postback, message, uri, datetimepicker, camera, cameraRoll, location, clipboard",
    ),
]


def _require_labels(actions: list[Any], prefix: tuple[str | int, ...]) -> None:
    """Buttons need a visible label in templates and quick replies; LINE rejects them else."""
    for index, action in enumerate(actions):
        if action.label is None:
            raise _issue("label_required", "is required", (*prefix, index, "label"))


# --- common message parts ----------------------------------------------------------------


class QuickReplyItem(_Model):
    """One quick-reply button."""

    type: Literal["action"] = "action"
    imageUrl: HttpsUrl | None = None
    """Icon shown at the start of the button (PNG, https)."""
    action: QuickReplyAction

    @model_validator(mode="after")
    def _label_required(self) -> "QuickReplyItem":
        if self.action.label is None:
            raise _issue("label_required", "is required", ("action", "label"))
        return self


class QuickReply(_Model):
    """Buttons shown above the keyboard until the friend answers."""

    items: list[QuickReplyItem] = Field(min_length=1, max_length=13)


class Sender(_Model):
    """Show this message under a different name and icon."""

    name: Annotated[str, NonEmpty, MaxChars(20)] | None = None
    iconUrl: HttpsUrl | None = None


class _Message(_Model):
    """Fields every message shares."""

    quickReply: QuickReply | None = None
    """Quick-reply buttons (1 to 13)."""
    sender: Sender | None = None


class Emoji(_Model):
    """A LINE emoji that replaces the `$` at `index` in the text."""

    index: int = Field(ge=0)
    """Position of its `$` in `text`, counted in UTF-16 code units from 0."""
    productId: IdString
    emojiId: IdString


class TextMessage(_Message):
    """A text message. `text` may use placeholders such as {{ friend.display_name }}."""

    type: Literal["text"]
    text: MessageText
    """At most 5000 characters (LINE counts emoji as 2)."""
    emojis: list[Emoji] | None = Field(default=None, max_length=MAX_EMOJIS)
    """LINE emojis; each `index` points at a `$` in `text`."""

    @model_validator(mode="after")
    def _emojis_point_at_placeholders(self) -> "TextMessage":
        if not self.emojis:
            return self
        units = self.text.encode("utf-16-le")
        seen: set[int] = set()
        for number, emoji in enumerate(self.emojis):
            start = emoji.index * 2
            if units[start : start + 2] != EMOJI_PLACEHOLDER.encode("utf-16-le"):
                raise _issue(
                    "emoji_index",
                    "must point at a '$' in text (counted in UTF-16 code units from 0)",
                    ("emojis", number, "index"),
                )
            if emoji.index in seen:
                raise _issue("emoji_index", "is used by another emoji", ("emojis", number, "index"))
            seen.add(emoji.index)
        return self


class StickerMessage(_Message):
    """A sticker; ids are listed in LINE's sendable sticker list."""

    type: Literal["sticker"]
    packageId: IdString
    stickerId: IdString


class ImageMessage(_Message):
    """An image (JPEG or PNG) served over https."""

    type: Literal["image"]
    originalContentUrl: HttpsUrl
    previewImageUrl: HttpsUrl


class VideoMessage(_Message):
    """A video (mp4) with a preview image, both over https."""

    type: Literal["video"]
    originalContentUrl: HttpsUrl
    previewImageUrl: HttpsUrl
    trackingId: Annotated[str, NonEmpty, MaxChars(100)] | None = None
    """Id reported in the video-play-complete event."""


# --- templates ---------------------------------------------------------------------------


def _check_card(title: str | None, image: Any, text: str, actions: list[Any]) -> None:
    """Rules shared by buttons templates and carousel columns: shorter text under a title or
    image, and a label on every button."""
    if (title or image) and len(static_text(text)) > SHORT_TEMPLATE_TEXT:
        raise _issue("limit_here", _SHORT_TEXT_RULE, ("text",))
    _require_labels(actions, ("actions",))


class ButtonsTemplate(_Model):
    """A card with optional image and title, some text and up to 4 buttons."""

    type: Literal["buttons"]
    thumbnailImageUrl: HttpsUrl | None = None
    imageAspectRatio: Literal["rectangle", "square"] | None = None
    imageSize: Literal["cover", "contain"] | None = None
    imageBackgroundColor: Color | None = None
    title: Annotated[str, NonEmpty, MaxChars(40)] | None = None
    text: Annotated[str, NonEmpty, MaxChars(160)]
    """At most 160 characters, or 60 with a title or thumbnail."""
    defaultAction: TemplateAction | None = None
    """What tapping the image, title or text does."""
    actions: list[TemplateAction] = Field(min_length=1, max_length=4)

    @model_validator(mode="after")
    def _check(self) -> "ButtonsTemplate":
        _check_card(self.title, self.thumbnailImageUrl, self.text, self.actions)
        return self


def _exactly_two(actions: list[Any]) -> list[Any]:
    """Confirm templates are a yes/no choice: LINE wants exactly two buttons."""
    if len(actions) != 2:
        raise PydanticCustomError(
            "exact_length", "must have exactly 2 actions (got {count})", {"count": len(actions)}
        )
    return actions


class ConfirmTemplate(_Model):
    """A question with exactly two buttons (yes/no)."""

    type: Literal["confirm"]
    text: Annotated[str, NonEmpty, MaxChars(240)]
    actions: Annotated[
        list[TemplateAction],
        AfterValidator(_exactly_two),
        Field(json_schema_extra={"minItems": 2, "maxItems": 2}),
    ]

    @model_validator(mode="after")
    def _check(self) -> "ConfirmTemplate":
        _require_labels(self.actions, ("actions",))
        return self


class CarouselColumn(_Model):
    """One card of a carousel."""

    thumbnailImageUrl: HttpsUrl | None = None
    imageBackgroundColor: Color | None = None
    title: Annotated[str, NonEmpty, MaxChars(40)] | None = None
    text: Annotated[str, NonEmpty, MaxChars(120)]
    """At most 120 characters, or 60 with a title or thumbnail."""
    defaultAction: TemplateAction | None = None
    actions: list[TemplateAction] = Field(min_length=1, max_length=3)

    @model_validator(mode="after")
    def _check(self) -> "CarouselColumn":
        _check_card(self.title, self.thumbnailImageUrl, self.text, self.actions)
        return self


class CarouselTemplate(_Model):
    """Up to 10 cards the friend swipes through."""

    type: Literal["carousel"]
    columns: list[CarouselColumn] = Field(min_length=1, max_length=10)
    imageAspectRatio: Literal["rectangle", "square"] | None = None
    imageSize: Literal["cover", "contain"] | None = None

    @model_validator(mode="after")
    def _same_action_count(self) -> "CarouselTemplate":
        expected = len(self.columns[0].actions)
        for index, column in enumerate(self.columns[1:], start=1):
            if len(column.actions) != expected:
                raise _issue(
                    "action_count",
                    f"must have {expected} actions like the first column "
                    "(every column needs the same number)",
                    ("columns", index, "actions"),
                )
        return self


class ImageCarouselColumn(_Model):
    """One image of an image carousel, with the action tapping it does."""

    imageUrl: HttpsUrl
    action: TemplateAction

    @model_validator(mode="after")
    def _short_label(self) -> "ImageCarouselColumn":
        label = self.action.label
        if label is not None and len(static_text(label)) > 12:
            raise _issue(
                "limit_here",
                "must be at most 12 characters in an image carousel",
                ("action", "label"),
            )
        return self


class ImageCarouselTemplate(_Model):
    """Up to 10 tappable images the friend swipes through."""

    type: Literal["image_carousel"]
    columns: list[ImageCarouselColumn] = Field(min_length=1, max_length=10)


Template = Annotated[
    Annotated[ButtonsTemplate, Tag("template:buttons")]
    | Annotated[ConfirmTemplate, Tag("template:confirm")]
    | Annotated[CarouselTemplate, Tag("template:carousel")]
    | Annotated[ImageCarouselTemplate, Tag("template:image_carousel")],
    _discriminator("template", "buttons, confirm, carousel, image_carousel"),
]


class TemplateMessage(_Message):
    """A buttons, confirm, carousel or image-carousel template."""

    type: Literal["template"]
    altText: AltText
    """Shown in notifications and the chat list (at most 400 characters)."""
    template: Template


# --- flex --------------------------------------------------------------------------------


def _flex_container(value: dict[str, Any]) -> dict[str, Any]:
    """Flex layouts are too rich to model; we check only the container kind."""
    kind = value.get("type")
    if kind not in ("bubble", "carousel"):
        if kind is None:
            raise _issue("flex_type", "is required (bubble or carousel)", ("type",))
        raise _issue("flex_type", "must be one of: bubble, carousel", ("type",))
    return value


FlexContents = Annotated[
    dict[str, Any],
    AfterValidator(_flex_container),
    Field(
        json_schema_extra={
            "required": ["type"],
            "properties": {"type": {"enum": ["bubble", "carousel"]}},
        }
    ),
]


class FlexMessage(_Message):
    """A Flex Message; paste `contents` from the Flex Message Simulator."""

    type: Literal["flex"]
    altText: AltText
    """Shown in notifications and the chat list (at most 400 characters)."""
    contents: FlexContents
    """A bubble or carousel container, kept exactly as written."""


# --- messages ----------------------------------------------------------------------------

AnyMessage = (
    TextMessage | StickerMessage | ImageMessage | VideoMessage | TemplateMessage | FlexMessage
)

_MessageUnion = Annotated[
    Annotated[TextMessage, Tag("message:text")]
    | Annotated[StickerMessage, Tag("message:sticker")]
    | Annotated[ImageMessage, Tag("message:image")]
    | Annotated[VideoMessage, Tag("message:video")]
    | Annotated[TemplateMessage, Tag("message:template")]
    | Annotated[FlexMessage, Tag("message:flex")],
    _discriminator("message", "text, sticker, image, video, template, flex"),
]


def _expand_shorthand(value: object) -> object:
    """A bare string is the common case, so it stands for a text message."""
    if isinstance(value, str):
        return {"type": "text", "text": value}
    return value


#: One message in a scenario: a LINE message object, or a string for a text message.
Message = Annotated[
    _MessageUnion,
    BeforeValidator(_expand_shorthand, json_schema_input_type=MessageText | _MessageUnion),
]


# --- auto-replies ------------------------------------------------------------------------


def _one_or_many(value: object) -> object:
    """`equals: 営業時間` is as natural as `equals: [営業時間, ...]`."""
    return [value] if isinstance(value, str) else value


def _valid_regex(value: str) -> str:
    """An invalid pattern is a load-time error, never a crash when a friend writes."""
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "regex", "invalid regular expression: {reason}", {"reason": str(exc)}
        ) from None
    return value


Keyword = Annotated[str, Field(min_length=1)]
Keywords = Annotated[
    list[Keyword],
    BeforeValidator(_one_or_many, json_schema_input_type=str | list[str]),
    Field(min_length=1),
]
Patterns = Annotated[
    list[Annotated[Keyword, AfterValidator(_valid_regex)]],
    BeforeValidator(_one_or_many, json_schema_input_type=str | list[str]),
    Field(min_length=1),
]


class Match(_Model):
    """When an auto-reply fires: exactly one of `equals`, `contains` or `regex`."""

    equals: Keywords | None = None
    """The whole message (surrounding spaces ignored) equals one of these."""
    contains: Keywords | None = None
    """The message contains one of these."""
    regex: Patterns | None = None
    """One of these Python regular expressions is found in the message (re.search)."""

    _patterns: list[re.Pattern[str]] = PrivateAttr(default_factory=list)
    _equals: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @model_validator(mode="after")
    def _exactly_one(self) -> "Match":
        given = [key for key in ("equals", "contains", "regex") if getattr(self, key) is not None]
        if len(given) != 1:
            found = f" (found {', '.join(given)})" if given else ""
            raise _issue("match_kind", f"must have exactly one of: equals, contains, regex{found}")
        self._patterns = [re.compile(pattern) for pattern in self.regex or ()]
        self._equals = frozenset(word.strip() for word in self.equals or ())
        return self

    def matches(self, text: str) -> bool:
        """Whether a friend's text message triggers this match."""
        if self.equals is not None:
            return text.strip() in self._equals
        if self.contains is not None:
            return any(word in text for word in self.contains)
        return any(pattern.search(text) for pattern in self._patterns)


MessageList = Annotated[list[Message], Field(min_length=1, max_length=MAX_MESSAGES)]


class AutoReply(_Model):
    """Messages sent in reply to a text message that matches."""

    name: str | None = None
    """A label for logs and the admin screen."""
    match: Match
    messages: MessageList | None = None
    """1 to 5 messages sent as the reply."""
    do: "ActionList | None" = None
    """Actions run after the reply, e.g. `start_survey: 好み調査`, `add_stamp: 来店`,
    `show_stamp_card: 来店` (give `messages`, `do`, or both)."""

    @model_validator(mode="after")
    def _says_or_does(self) -> "AutoReply":
        if self.messages is None and self.do is None:
            raise _issue("auto_reply", "must have messages, do, or both")
        return self

    def matches(self, text: str) -> bool:
        """Whether this auto-reply answers `text`."""
        return self.match.matches(text)

    @property
    def label(self) -> str:
        """A name for logs even when the operator gave none."""
        if self.name:
            return self.name
        for key in ("equals", "contains", "regex"):
            words = getattr(self.match, key)
            if words:
                return f"{key} {words[0]!r}"
        return "auto-reply"


# Actions contain messages and postback buttons contain actions: resolve the cycle last.
from .actions import ActionList  # noqa: E402

for _model in [v for v in list(globals().values()) if isinstance(v, type)]:
    if issubclass(_model, BaseModel) and _model.__module__ == __name__:
        _model.model_rebuild(force=True)
