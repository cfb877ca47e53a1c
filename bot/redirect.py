"""`GET /l/<code>`: the short redirect behind tracked links (see bot.automation.links).

A good code records the tap and answers 302 to the real URL at once; anything else gets a
plain Japanese page saying the link is not valid, never a redirect to somewhere unknown.
"""

from __future__ import annotations

from aiohttp import web

from bot.appkeys import SERVICES

INVALID_PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>リンクが無効です</title></head>
<body><main><h1>リンクが無効です</h1>
<p>このリンクは無効か、期限が切れています。LINEのトーク画面から開き直してください。</p>
</main></body></html>
"""


async def follow_link(request: web.Request) -> web.StreamResponse:
    url = await request.app[SERVICES].links.click(request.match_info["code"])
    if url is None:
        return web.Response(status=404, text=INVALID_PAGE, content_type="text/html")
    # No caching: every tap should reach us and be counted.
    raise web.HTTPFound(url, headers={"Cache-Control": "no-store"})
