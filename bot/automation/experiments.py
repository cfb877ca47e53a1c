"""A/B tests at run time: which variant a friend gets, recording it, and the results.

The variant is a hash of the test and the friend mapped onto the split weights: random
across friends, stable for each (a resend, a restart or another process picks the same).
Assignments are rows (unique per test and friend), written in the same transaction as the
messages, and the results are counted by SQL over them: delivered, tapped (a button or a
tracked link in that variant, after delivery) and converted (the chosen tag added within
the window after delivery).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.connection import connections

from bot.clock import parse_duration
from bot.db.models import Tag, VariantAssignment
from bot.scenario.schema import PostbackAction
from bot.scenario.variants import AbTest, Variant
from bot.scenario.walk import walk

from .significance import chi_square_p

SIGNIFICANCE_LEVEL = 0.05


def _unit(*parts: object) -> float:
    """A number in [0, 1) fixed by `parts`, evenly spread over friends."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def variant_for(experiment: str, friend_id: int, variants: Sequence[Variant]) -> Variant:
    point = _unit(experiment, friend_id) * sum(v.weight for v in variants)
    for variant in variants:
        if point < variant.weight:
            return variant
        point -= variant.weight
    return variants[-1]


def in_test_group(experiment: str, friend_id: int, share: float) -> bool:
    """Whether a friend is in the test part of the audience (the rest waits for the winner)."""
    return _unit(experiment, "share", friend_id) < share


def link_source(experiment: str, variant: str | None) -> str:
    """The tracked-link source of a variant's messages, so link taps count per variant."""
    return f"{experiment}#{variant}" if variant else experiment


async def record(experiment: str, chosen: dict[int, str], at: datetime) -> None:
    """Keep each friend's variant (the first one stays: a friend never changes sides)."""
    rows = [
        VariantAssignment(experiment=experiment, friend_id=fid, variant=name, delivered_at=at)
        for fid, name in chosen.items()
    ]
    await VariantAssignment.bulk_create(rows, batch_size=1000, ignore_conflicts=True)


@dataclass
class VariantResult:
    name: str
    delivered: int = 0
    tapped: int = 0
    """Friends who tapped a button or tracked link of this variant after receiving it."""
    converted: int = 0

    @property
    def tap_rate(self) -> float:
        return self.tapped / self.delivered if self.delivered else 0.0

    @property
    def conversion_rate(self) -> float:
        return self.converted / self.delivered if self.delivered else 0.0


@dataclass
class AbResult:
    experiment: str
    metric: str
    """What decides: "conversion" or "taps"."""
    variants: list[VariantResult] = field(default_factory=list)
    p_value: float | None = None
    """Chance of a difference this large if the variants were alike (chi-square)."""

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < SIGNIFICANCE_LEVEL

    def rate(self, variant: VariantResult) -> float:
        return variant.conversion_rate if self.metric == "conversion" else variant.tap_rate

    @property
    def leader(self) -> str | None:
        """The variant with the best rate (the first on a tie); None before any delivery."""
        delivered = [v for v in self.variants if v.delivered]
        if not delivered:
            return None
        return max(delivered, key=self.rate).name


def _postback_data(variant: Variant) -> list[str]:
    return [
        model.data
        for _, model in walk(variant.messages)
        if isinstance(model, PostbackAction) and model.data
    ]


async def _counts(sql: str, params: list[Any]) -> dict[str, int]:
    rows = await connections.get("default").execute_query_dict(sql, params)
    return {str(row["variant"]): int(row["n"]) for row in rows}


async def ab_results(experiment: str, variants: Sequence[Variant], test: AbTest | None) -> AbResult:
    """Delivered, tapped and converted per variant, and whether the difference is real."""
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    mark = (lambda n: f"${n}") if postgres else (lambda n: "?")
    result = AbResult(experiment, test.metric if test else "taps")
    delivered = await _counts(
        f"SELECT variant, COUNT(*) AS n FROM variant_assignments WHERE experiment = {mark(1)} "
        "GROUP BY variant",
        [experiment],
    )
    tapped: dict[str, int] = {}
    for variant in variants:
        data = _postback_data(variant)
        # Parameters in the order they appear: SQLite's `?` are positional.
        params: list[Any] = [experiment, variant.name, *data, link_source(experiment, variant.name)]
        taps = "FALSE"
        if data:
            marks = ", ".join(mark(3 + i) for i in range(len(data)))
            taps = (
                "EXISTS (SELECT 1 FROM taps t WHERE t.friend_id = va.friend_id "
                f"AND t.data IN ({marks}) AND t.at >= va.delivered_at)"
            )
        found = await _counts(
            "SELECT va.variant AS variant, COUNT(*) AS n FROM variant_assignments va "
            f"WHERE va.experiment = {mark(1)} AND va.variant = {mark(2)} AND ({taps} OR EXISTS "
            "(SELECT 1 FROM link_clicks lc JOIN tracked_links tl ON tl.id = lc.link_id "
            f"WHERE lc.friend_id = va.friend_id AND tl.source = {mark(len(params))})) "
            "GROUP BY va.variant",
            params,
        )
        tapped.update(found)
    converted: dict[str, int] = {}
    if test is not None and test.conversion is not None:
        tag = await Tag.get_or_none(name=test.conversion.tag)
        seconds = parse_duration(test.conversion.within).total_seconds()
        if tag is not None:
            if postgres:
                window = "ft.added_at <= va.delivered_at + make_interval(secs => $3)"
            else:
                window = "julianday(ft.added_at) <= julianday(va.delivered_at) + ? / 86400.0"
            converted = await _counts(
                "SELECT va.variant AS variant, COUNT(*) AS n FROM variant_assignments va "
                f"WHERE va.experiment = {mark(1)} AND EXISTS (SELECT 1 FROM friend_tags ft "
                f"WHERE ft.friend_id = va.friend_id AND ft.tag_id = {mark(2)} "
                f"AND ft.added_at >= va.delivered_at AND {window}) GROUP BY va.variant",
                [experiment, tag.id, seconds],
            )
    for variant in variants:
        result.variants.append(
            VariantResult(
                variant.name,
                delivered.get(variant.name, 0),
                tapped.get(variant.name, 0),
                converted.get(variant.name, 0),
            )
        )
    counts = [v.converted if result.metric == "conversion" else v.tapped for v in result.variants]
    result.p_value = chi_square_p(counts, [v.delivered for v in result.variants])
    return result
