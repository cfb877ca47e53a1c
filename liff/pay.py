"""The LIFF pay page (`/liff/pay/NAME`): sends the friend on to a Stripe checkout link with
their signed reference as `client_reference_id`, so the payment comes back naming them.

The page gets the friend's ID token, asks `/liff/api/pay/NAME` for the link (the server takes
the friend from the verified token alone) and goes there. In sandbox mode it stays, shows the
link, and offers to complete a test payment through the sandbox's Stripe helper instead
(the real checkout page cannot be reached from the simulator).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from aiohttp import web

from bot.appkeys import SERVICES
from bot.scenario.forms import liff_url
from liff.auth import ApiError, api, json_answer, verified_friend
from liff.routes import LIFF_KEY

CHECKOUT_NOT_FOUND = (
    "お支払いページが見つかりません。LINEのメニューやメッセージから開き直してください。"
)
REFERENCE_PARAM = "client_reference_id"
#: Where the sandbox page posts its test payment (bot/sandbox/payments.py).
SANDBOX_EVENTS_PATH = "/sandbox/api/stripe/events"


def pay_url(liff_id: str, name: str) -> str:
    """The LIFF URL that opens the checkout link `name` (`integrations.stripe.checkout`),
    for `uri` actions in messages; rich menus can use a `liff` action with `path: pay/NAME`."""
    return liff_url(liff_id, "pay/" + quote(name, safe=""))


def with_reference(url: str, reference: str) -> str:
    """The checkout URL with `client_reference_id` set (replacing any there); its other
    parameters, such as `prefilled_email`, stay as they are."""
    parts = urlsplit(url)
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != REFERENCE_PARAM
    ]
    query.append((REFERENCE_PARAM, reference))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _checkout(request: web.Request) -> str | None:
    stripe = request.app[SERVICES].scenario.integrations.stripe
    return stripe.checkout.get(request.match_info["name"]) if stripe is not None else None


async def pay_page(request: web.Request) -> web.Response:
    pages = request.app[LIFF_KEY].pages
    name = request.match_info["name"]
    if _checkout(request) is None:
        return pages.render(
            "missing.html", status=404, title="見つかりません", message=CHECKOUT_NOT_FOUND
        )
    return pages.render(
        "pay.html",
        script="pay.js",
        title="お支払い",
        api_path=request.app.router["liff_pay_api"].url_for(name=name).raw_path,
        sandbox_events=SANDBOX_EVENTS_PATH if pages.sandbox else None,
    )


@api
async def pay_api(request: web.Request) -> web.Response:
    """The checkout link for the friend whose ID token this is."""
    url = _checkout(request)
    if url is None:
        raise ApiError(404, "not_found", CHECKOUT_NOT_FOUND)
    friend = await verified_friend(request, request.app[LIFF_KEY].verifier)
    reference = request.app[SERVICES].refs.make(friend.id)
    return json_answer({"url": with_reference(url, reference), "reference": reference})


def setup_pay_page(app: web.Application) -> None:
    app.router.add_get("/liff/pay/{name}", pay_page)
    app.router.add_get("/liff/api/pay/{name}", pay_api, name="liff_pay_api")
