"""Every delivery statistic as rows (section, name, detail, measure, value): one shape for
the terminal, a CSV for a spreadsheet's pivot table, and later the admin's stats command."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from bot.automation.analytics import (
    broadcast_ab_results,
    broadcast_stats,
    link_stats,
    step_ab_results,
    step_stats,
    tap_stats,
)
from bot.automation.experiments import AbResult


@dataclass(frozen=True)
class Row:
    section: str
    name: str
    detail: str
    measure: str
    value: int | float | str


def _ab_rows(section: str, name: str, result: AbResult) -> list[Row]:
    rows: list[Row] = []
    for variant in result.variants:
        detail = f"variant {variant.name}"
        rows += [
            Row(section, name, detail, "delivered", variant.delivered),
            Row(section, name, detail, "tapped", variant.tapped),
            Row(section, name, detail, "converted", variant.converted),
            Row(section, name, detail, "rate", round(result.rate(variant), 4)),
        ]
    rows.append(Row(section, name, "test", "metric", result.metric))
    p_value = "" if result.p_value is None else round(result.p_value, 4)
    rows.append(Row(section, name, "test", "p_value", p_value))
    rows.append(Row(section, name, "test", "leader", result.leader or ""))
    return rows


async def delivery_report(scenario: Any) -> list[Row]:
    rows: list[Row] = []
    for name, definition in scenario.steps.items():
        for stats in await step_stats(name):
            step = definition.steps[stats.step] if stats.step < len(definition.steps) else None
            detail = f"step {stats.step}" + (f" {step.name}" if step and step.name else "")
            rows += [Row("steps", name, detail, "due", stats.due)]
            rows += [Row("steps", name, detail, "sent", stats.sent)]
            rows += [Row("steps", name, detail, "failed", stats.failed)]
            rows += [
                Row("steps", name, detail, f"failed: {e}", n) for e, n in stats.failures.items()
            ]
            rows += [
                Row("steps", name, detail, f"branch {b}", n) for b, n in stats.branches.items()
            ]
            rows += [
                Row("steps", name, detail, f"skipped {r}", n) for r, n in stats.skipped.items()
            ]
        for index, step in enumerate(definition.steps):
            if step.variants:
                rows += _ab_rows(
                    "ab_tests", f"steps.{name}", await step_ab_results(scenario, name, index)
                )
    for name, broadcast in scenario.broadcasts.items():
        sent = await broadcast_stats(name)
        for measure in ("occurrences", "recipients", "delivered", "failed"):
            rows.append(Row("broadcasts", name, "", measure, getattr(sent, measure)))
        rows += [Row("broadcasts", name, "", f"skipped {r}", n) for r, n in sent.skipped.items()]
        rows += [Row("broadcasts", name, "", f"failed: {e}", n) for e, n in sent.failures.items()]
        if broadcast.variants:
            rows += _ab_rows(
                "ab_tests", f"broadcasts.{name}", await broadcast_ab_results(scenario, name)
            )
    for tap in await tap_stats(scenario):
        detail = tap.label or ""
        rows += [Row("taps", tap.button, detail, "taps", tap.taps)]
        rows += [Row("taps", tap.button, detail, "friends", tap.friends)]
    for link in await link_stats():
        rows += [Row("links", link.source, link.url, "clicks", link.clicks)]
        rows += [Row("links", link.source, link.url, "friends", link.friends)]
    return rows


def as_text(rows: list[Row]) -> str:
    """Grouped lines for a terminal: one line per (section, name, detail)."""
    lines: list[str] = []
    current: tuple[str, str, str] | None = None
    for row in rows:
        key = (row.section, row.name, row.detail)
        if key != current:
            if current is None or current[0] != row.section:
                lines.append(f"[{row.section}]")
            lines.append(f"  {row.name}" + (f"  {row.detail}" if row.detail else "") + ":")
            current = key
        lines[-1] += f" {row.measure}={row.value}"
    return "\n".join(lines) + ("\n" if lines else "(まだ記録がありません)\n")


def as_csv(rows: list[Row]) -> bytes:
    """UTF-8 with BOM and CRLF, like the friends export, so Excel opens it as is."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "name", "detail", "measure", "value"])
    for row in rows:
        writer.writerow([row.section, row.name, row.detail, row.measure, row.value])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
