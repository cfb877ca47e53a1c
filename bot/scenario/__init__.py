"""The scenario file: schema, loading with readable errors, and message templating."""

from .errors import ScenarioError, ScenarioIssue
from .loader import load_scenario, parse_scenario, scenario_json_schema, summarize
from .render import check_templates, render_message, render_messages
from .schema import (
    AnyMessage,
    AutoReply,
    FlexMessage,
    ImageMessage,
    Match,
    Message,
    Scenario,
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
