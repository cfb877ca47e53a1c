"""The lesson-history page's data (これまでの動画): lessons delivered to a friend so far.

Delivery and watching are recorded in `lesson_progress` by the course machinery; this only
reads it, in the order the course lists its lessons. A lesson removed from the scenario is
left out, and so is a link that is not http(s) (the page must never link to script).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from bot.db.models import LessonProgress
from bot.scenario.conversations import Course


def _safe_link(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


async def delivered_lessons(
    course_name: str, course: Course, friend_id: int
) -> list[dict[str, Any]]:
    """Delivered lessons with title, link and whether (and when) the friend watched them."""
    rows = {
        row.lesson: row
        for row in await LessonProgress.filter(
            friend_id=friend_id, course=course_name, delivered_at__isnull=False
        )
    }
    out = []
    for number, lesson in enumerate(course.lessons, start=1):
        row = rows.get(lesson.key)
        if row is None or row.delivered_at is None:
            continue
        out.append(
            {
                "key": lesson.key,
                "number": number,
                "title": lesson.title,
                "url": _safe_link(lesson.url),
                "deliveredAt": row.delivered_at.isoformat(),
                "watched": row.watched_at is not None,
                "watchedAt": row.watched_at.isoformat() if row.watched_at else None,
            }
        )
    return out
