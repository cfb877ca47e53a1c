"""The `stepbot` command as an operator uses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stepbot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_check_accepts_the_bundled_example() -> None:
    result = stepbot("check", "examples/welcome.yaml")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "auto-repl" in result.stdout


def test_check_names_file_path_and_expectation_of_every_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "version: 1\n"
        "welcome:\n"
        "  - type: text\n"
        f'    text: "{"あ" * 5001}"\n'
        "auto_replies:\n"
        "  - match: {equals: こんにちは}\n"
        "    messages:\n"
        "      - type: stiker\n"
        "        packageId: '1'\n"
        "  - match: {regex: '(unclosed'}\n"
        "    messages: ['x']\n",
        encoding="utf-8",
    )
    result = stepbot("check", str(broken))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(
        line.startswith(f"{broken}: welcome[0].text:") and "5000" in line for line in lines
    ), result.stderr
    assert any(f"{broken}: auto_replies[0].messages[0]" in line for line in lines), result.stderr
    assert any(f"{broken}: auto_replies[1].match" in line for line in lines), result.stderr
    assert "3 errors" in result.stderr


def test_check_reports_a_missing_file() -> None:
    result = stepbot("check", "no/such/scenario.yaml")
    assert result.returncode == 1
    assert "no/such/scenario.yaml" in result.stderr


def test_schema_is_json_schema_for_editors() -> None:
    result = stepbot("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert "$schema" in schema
    assert "welcome" in schema["properties"] and "auto_replies" in schema["properties"]


def test_admin_add_list_remove(database_url: str) -> None:
    import os

    env = dict(os.environ, DATABASE_URL=database_url)
    uid = "U" + "a" * 32

    def admin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "admin", *args],
            capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
        )  # fmt: skip

    assert admin("add", uid, "--role", "owner").returncode == 0
    assert admin("list").stdout.strip() == f"{uid}\towner"
    bad = admin("add", "not-a-user")
    assert bad.returncode == 2 and "32 hex digits" in bad.stderr
    assert admin("remove", uid).returncode == 0
    assert admin("list").stdout.strip() == ""
    assert admin("remove", uid).returncode == 1
