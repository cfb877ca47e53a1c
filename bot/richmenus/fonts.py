"""Finding a font that has Japanese glyphs, for drawing rich-menu labels.

Pillow's own default font has no kana or kanji, so a label such as 予約する would come out as
boxes. The operator can name a font with STEPBOT_FONT; otherwise Debian's usual Japanese
fonts are tried, then fontconfig is asked for one that covers Japanese.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

FONT_ENV = "STEPBOT_FONT"
#: Where Debian's Japanese font packages put their files: fonts-ipafont-gothic first (its
#: proportional IPA P Gothic, then IPA Gothic).
KNOWN_FONTS = (
    "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/takao-gothic/TakaoGothic.ttf",
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
)
#: The Debian package that provides the first of KNOWN_FONTS.
FONT_PACKAGE = "fonts-ipafont-gothic"


class FontMissing(RuntimeError):
    """No usable Japanese font: the message says which menu needed one and how to fix it."""


def _from_fontconfig() -> str | None:
    """A font file fontconfig says covers Japanese (fc-match always answers with something,
    so its languages are checked too)."""
    if shutil.which("fc-match") is None:
        return None
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}\n%{lang}", ":lang=ja"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    file, _, langs = found.stdout.partition("\n")
    if found.returncode != 0 or not file or "ja" not in langs.split("|"):
        return None
    return file


def find_font(menu: str, env: dict[str, str] | None = None) -> Path:
    """The font file to draw `menu`'s labels with; FontMissing if there is none."""
    env = dict(os.environ) if env is None else env
    named = (env.get(FONT_ENV) or "").strip()
    if named:
        path = Path(named)
        if path.is_file():
            return path
        raise FontMissing(
            f"リッチメニュー「{menu}」: {FONT_ENV} のフォントが見つかりません "
            f"({FONT_ENV}={named} is not a file); set it to a .ttf/.otf/.ttc font with Japanese "
            "glyphs"
        )
    for candidate in KNOWN_FONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    found = _from_fontconfig()
    if found and Path(found).is_file():
        return Path(found)
    raise FontMissing(
        f"リッチメニュー「{menu}」を描くための日本語フォントがありません "
        f"(no Japanese font found to draw rich menu '{menu}'): install {FONT_PACKAGE} "
        f"(sudo apt-get install {FONT_PACKAGE}) or set {FONT_ENV} to a font file"
    )
