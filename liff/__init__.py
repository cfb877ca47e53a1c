"""LIFF pages served by stepbot: answer forms and the lesson history, for friends in LINE.

`setup_liff(app)` adds the pages and their API to the bot's aiohttp application; `liff_url`,
`form_url` and `lessons_url` build the LIFF URLs that messages and rich menus link to.
"""

from bot.scenario.forms import form_url, lessons_url, liff_url
from liff.routes import setup_liff

__all__ = ["form_url", "lessons_url", "liff_url", "setup_liff"]
