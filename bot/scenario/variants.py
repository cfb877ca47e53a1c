"""A/B tests (ABテスト): a broadcast or a step with variants of its messages.

Each friend gets one variant, picked at random by the split weights but stable (a hash of
the test and the friend), so a resend or a restart never changes who sees what. Results per
variant: delivered, tapped (a button or tracked link in that variant), converted (a chosen
tag added within a time after delivery), with a chi-square test of the difference.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from .actions import TagName
from .crm import Duration
from .schema import MessageList, _Model


class Variant(_Model):
    """One version of the messages."""

    name: Annotated[str, Field(min_length=1, max_length=50)]
    """Shown in results (e.g. A, B, 画像あり)."""
    weight: Annotated[float, Field(gt=0)] = 1
    """Share of friends, relative to the other variants' weights (1 and 1 = half each)."""
    messages: MessageList


class Conversion(_Model):
    """What counts as success: the tag added within this long after delivery."""

    tag: TagName
    within: Duration = "7d"


def _share(value: object) -> float:
    """ "20%" or 0.2, strictly between none and everyone."""
    share: float | None = None
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            share = float(value.strip()[:-1]) / 100
        except ValueError:
            share = None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        share = float(value)
    if share is None or not 0 < share < 1:
        raise PydanticCustomError(
            "share", 'must be a share of the audience above 0 and below 100%, such as "20%" or 0.2'
        )
    return share


Share = Annotated[float, BeforeValidator(_share, json_schema_input_type=str | float)]


class AbTest(_Model):
    """How an A/B test is judged, and whether the winner then goes to everyone else."""

    conversion: Conversion | None = None
    """A tag that marks success; without it variants are compared by taps."""
    winner_by: Literal["conversion", "taps"] | None = None
    """What decides the winner (default: conversion when given, otherwise taps)."""
    test_share: Share | None = None
    """Broadcasts only: send the test to this share of the audience (e.g. 20%), then the
    winning variant to the rest after `decide_after`."""
    decide_after: Duration = "1d"
    """How long after the test send the winner is chosen and sent to the rest."""

    @model_validator(mode="after")
    def _judged(self) -> AbTest:
        if self.winner_by == "conversion" and self.conversion is None:
            raise PydanticCustomError(
                "ab_test", "winner_by: conversion needs `conversion` (a tag and `within`)"
            )
        return self

    @property
    def metric(self) -> str:
        return self.winner_by or ("conversion" if self.conversion else "taps")


Variants = Annotated[list[Variant], Field(min_length=2, max_length=10)]


def check_variant_names(variants: list[Variant] | None) -> None:
    if variants is None:
        return
    names = [variant.name for variant in variants]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise PydanticCustomError(
            "variants",
            "variant names must differ (repeated: {names})",
            {"names": ", ".join(repeated)},
        )
