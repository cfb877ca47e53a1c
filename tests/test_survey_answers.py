"""How typed survey answers are accepted, stored and refused (pure checks, no server)."""

from __future__ import annotations

import pytest

from bot import clock
from bot.scenario.conversations import Question
from bot.states.answers import check_text, find_choice


def question(**keys: object) -> Question:
    return Question.model_validate({"id": "q", "text": "?", **keys})


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("2026-04-01", "2026-04-01"),
        ("2026/4/1", "2026-04-01"),
        ("２０２６年４月１日", "2026-04-01"),
    ],
)
def test_dates_in_the_forms_friends_type(typed: str, stored: str) -> None:
    assert check_text(question(type="date"), typed).value == stored


def test_a_date_without_a_year_is_this_year_and_nonsense_is_refused() -> None:
    year = clock.now().year
    assert check_text(question(type="date"), "12/24").value == f"{year}-12-24"
    refused = check_text(question(type="date"), "2026-02-30")
    assert refused.value is None and refused.error == "日付を 2025-04-01 のように入力してください。"


def test_phone_numbers_are_stored_as_digits() -> None:
    assert check_text(question(type="phone"), "090-1234-5678").value == "09012345678"
    assert check_text(question(type="phone"), "０９０ー１２３４ー５６７８").value == "09012345678"
    assert check_text(question(type="phone"), "1234").value is None


def test_regex_answers_must_match_as_a_whole_with_the_operators_message() -> None:
    q = question(type="regex", pattern="[A-Z]{2}[0-9]{4}", error="会員番号は英字2文字+数字4桁です")
    assert check_text(q, "AB1234").value == "AB1234"
    assert check_text(q, "AB12345").error == "会員番号は英字2文字+数字4桁です"


def test_numbers_within_bounds_and_plain() -> None:
    q = question(type="number", min=0, max=10)
    assert check_text(q, "7.0").value == "7"
    assert check_text(q, "2.5").value == "2.5"
    assert check_text(q, "11").error == "0から10までの数字で入力してください。"


def test_choices_match_label_or_value_in_any_width() -> None:
    q = question(choices=[{"label": "はい", "value": "yes"}, "ＡＢＣ"])
    assert find_choice(q, "yes") == 0
    assert find_choice(q, "ABC") == 1
    assert find_choice(q, "いいえ") is None
