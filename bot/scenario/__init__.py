"""The scenario file: schema, loading with readable errors, and message templating."""

from .errors import ScenarioError, ScenarioIssue

# The message schema first: it completes itself by importing the actions, which need it.
from . import schema as _schema  # noqa: F401  # isort: skip
from .document import Scenario
from .loader import load_scenario, parse_scenario, scenario_json_schema, summarize
from .render import check_templates, render_message, render_messages
from .schema import (
    AnyMessage,
    AutoReply,
    FlexMessage,
    ImageMessage,
    Match,
    Message,
    StickerMessage,
    TemplateMessage,
    TextMessage,
    VideoMessage,
)

__all__ = [
    "AnyMessage",
    "AutoReply",
    "FlexMessage",
    "ImageMessage",
    "Match",
    "Message",
    "Scenario",
    "ScenarioError",
    "ScenarioIssue",
    "StickerMessage",
    "TemplateMessage",
    "TextMessage",
    "VideoMessage",
    "check_templates",
    "load_scenario",
    "parse_scenario",
    "render_message",
    "render_messages",
    "scenario_json_schema",
    "summarize",
]
