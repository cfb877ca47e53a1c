"""Reading a scenario file: YAML → validated `Scenario`, or every problem at once.

Operators fix files faster when one run lists everything wrong, so YAML problems, schema
errors and placeholder errors are all collected before raising one `ScenarioError`.
"""

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .document import Scenario
from .errors import ScenarioError, ScenarioIssue, issues_from_validation_error
from .references import check_references
from .render import check_templates, check_templates_in_data
from .richmenus import check_rich_menu_files

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _Loader(yaml.SafeLoader):
    """SafeLoader that notes duplicate keys, which plain YAML loading silently overwrites."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, int, str, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in first_line:
                    mark = key_node.start_mark
                    self.duplicates.append((mark.line, mark.column, str(key), first_line[key]))
                else:
                    first_line[key] = key_node.start_mark.line
            except TypeError:  # unhashable key: construct_mapping reports it below
                pass
        return super().construct_mapping(node, deep=deep)


def _where(line: int, column: int) -> str:
    """PyYAML counts from 0; editors count from 1."""
    return f"line {line + 1}, column {column + 1}"


def _read_yaml(text: str, filename: str) -> tuple[Any, list[ScenarioIssue]]:
    """The YAML data and duplicate-key issues; a YAML syntax error raises at once."""
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context:
            context_mark = exc.context_mark
            if context_mark and mark and context_mark.line != mark.line:
                problem += f" ({exc.context} on line {context_mark.line + 1})"
            else:
                problem += f" ({exc.context})"
        where = _where(mark.line, mark.column) if mark else ""
        raise ScenarioError([ScenarioIssue(filename, where, problem)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([ScenarioIssue(filename, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    duplicates = [
        ScenarioIssue(
            filename, _where(line, column), f"duplicate key '{key}' (first on line {first + 1})"
        )
        for line, column, key, first in loader.duplicates
    ]
    return data, duplicates


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return f"a {type(value).__name__}"


_PATH_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def _position(data: Any, path: str) -> tuple[int, ...]:
    """Where `path` sits in the file's own order, so issues read top to bottom.

    Keys the file lacks ("is required") sort after the keys it has at that level.
    """
    key: list[int] = []
    current = data
    for index, name in _PATH_PART.findall(path):
        if isinstance(current, list) and index:
            position = int(index)
            current = current[position] if position < len(current) else None
        elif isinstance(current, dict) and name:
            keys = list(current)
            position = keys.index(name) if name in keys else len(keys)
            current = current.get(name)
        else:
            break
        key.append(position)
    return tuple(key)


def _in_file_order(data: Any, issues: list[ScenarioIssue]) -> list[ScenarioIssue]:
    """Issues sorted by position; YAML issues (paths like "line 3, column 1") stay first."""
    located = [issue for issue in issues if issue.path.startswith("line ")]
    rest = [issue for issue in issues if not issue.path.startswith("line ")]
    return located + sorted(rest, key=lambda issue: _position(data, issue.path))


def parse_scenario(text: str, filename: str) -> Scenario:
    """Validate scenario YAML; raises ScenarioError listing every problem, named by `filename`."""
    data, issues = _read_yaml(text, filename)
    if data is None:
        raise ScenarioError(
            [ScenarioIssue(filename, "", "file is empty (expected at least 'version: 1')")]
        )
    if not isinstance(data, dict):
        raise ScenarioError(
            [
                ScenarioIssue(
                    filename,
                    "",
                    "the top level must be a mapping of keys such as version, welcome and "
                    f"auto_replies (found {_kind(data)})",
                )
            ]
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        issues += issues_from_validation_error(exc, filename, Scenario)
        issues += check_templates_in_data(data, filename)
        raise ScenarioError(_in_file_order(data, issues)) from None
    issues += check_templates(scenario, filename)
    issues += [ScenarioIssue(filename, path, msg) for path, msg in check_references(scenario)]
    if issues:
        raise ScenarioError(_in_file_order(data, issues))
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; issues name the file as the caller wrote it."""
    filename = path if isinstance(path, str) else str(path)
    try:
        # utf-8-sig: editors on Windows may start the file with a byte order mark.
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError([ScenarioIssue(filename, "", "file not found")]) from None
    except IsADirectoryError:
        raise ScenarioError([ScenarioIssue(filename, "", "is a directory, not a file")]) from None
    except UnicodeDecodeError as exc:
        message = f"is not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"
        raise ScenarioError([ScenarioIssue(filename, "", message)]) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ScenarioError([ScenarioIssue(filename, "", f"cannot be read: {reason}")]) from None
    scenario = parse_scenario(text, filename)
    # Image files are relative to the scenario file, known only here (not for text alone).
    missing = check_rich_menu_files(scenario, Path(path).parent)
    if missing:
        raise ScenarioError([ScenarioIssue(filename, where, msg) for where, msg in missing])
    return scenario


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario file, for editors (VS Code's YAML extension) and docs."""
    schema = Scenario.model_json_schema(mode="validation")
    schema.pop("title", None)
    schema.pop("description", None)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": "stepbot scenario file",
        "description": (
            "Configuration of a stepbot LINE Official Account bot: welcome messages, keyword "
            "auto-replies and a default reply. Messages are LINE Messaging API message objects; "
            "a plain string is a text message. See docs/scenario.md."
        ),
        **schema,
    }


def _count(number: int, noun: str, plural: str) -> str:
    return f"{number} {noun if number == 1 else plural}"


def summarize(scenario: Scenario) -> str:
    """One line saying what a scenario holds, for `stepbot check` and startup logs."""
    parts = [
        f"timezone {scenario.timezone}",
        _count(len(scenario.welcome), "welcome message", "welcome messages"),
        _count(len(scenario.auto_replies), "auto-reply", "auto-replies"),
        f"default reply: {'yes' if scenario.default_reply else 'no'}",
    ]
    extras = [
        (len(scenario.tag_folders), "tag", "tags"),
        (len(scenario.fields), "field", "fields"),
        (len(scenario.scores), "score", "scores"),
        (len(scenario.segments), "segment", "segments"),
        (len(scenario.rules), "rule", "rules"),
        (len(scenario.steps), "step scenario", "step scenarios"),
    ]
    parts += [_count(n, one, many) for n, one, many in extras if n]
    summary = "; ".join(parts)
    return f"{scenario.name}: {summary}" if scenario.name else summary
