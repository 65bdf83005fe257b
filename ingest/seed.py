"""The seed's GET routes, answering with the seed's text once Kafka has the event."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request

from events.envelope import validate
from events.shop import SEED_ITEMS, SHOP
from ingest import guard, intake
from ingest.errors import ApiError

bp = Blueprint("seed", __name__)

ANONYMOUS_PLAYER = "anonymous"
DEFAULT_GUILD = "founders"
# The sender of a request that sends no credential to an open route.
OPEN = guard.Sender(None)


def _sender() -> guard.Sender:
    """What each seed route does first: 404 when the seed routes are off; else who sends.

    Open routes still verify a credential that is sent: a player token names the player.
    A call from the routes, not a blueprint hook: one hook fewer for Flask to dispatch on
    every seed request.
    """
    mode = current_app.config["SETTINGS"].seed_routes
    if mode == "off":
        abort(404, "the seed routes are turned off")
    # The WSGI environ holds each header as sent; `request.headers` would look it up through
    # a transformed key and a caught KeyError.
    if mode == "key" or request.environ.get("HTTP_AUTHORIZATION"):
        return guard.sender()
    return OPEN


def _player_id(sent_by: guard.Sender) -> str:
    """The player a player token names; else `?player_id=`, else the `X-Player-Id` header,
    else the anonymous player."""
    req = request._get_current_object()
    given = {
        "player_id": req.args.get("player_id"),
        "X-Player-Id": req.environ.get("HTTP_X_PLAYER_ID"),
    }
    for name, value in given.items():
        if value is not None and len(value) > 128:
            abort(400, f"{name} is longer than 128 characters")
    named = given["player_id"] or given["X-Player-Id"]
    if sent_by.player is not None:
        guard.own_player_only(sent_by, [named or sent_by.player])
        return sent_by.player
    return named or ANONYMOUS_PLAYER


def _log(sent_by: guard.Sender, event_type: str, properties: dict) -> None:
    event = {"event_type": event_type, "player_id": _player_id(sent_by), "properties": properties}
    problems = validate(event)
    if problems:
        raise ApiError(400, "the event was rejected", problems=[p.as_dict() for p in problems])
    intake.publish([event], api_version="seed", sent_by=sent_by)


def _purchase(sent_by: guard.Sender, item: str) -> None:
    sold = SHOP[item]
    properties = {"item": item, "price": sold.price, "currency": sold.currency, "quantity": 1}
    _log(sent_by, "purchase", properties)


@bp.get("/")
def default_response():
    _log(_sender(), "default", {})
    return "\nThis is the default response!\n"


def _purchase_route(item: str):
    """GET /purchase_a_<item>: log the purchase, answer with the seed's text."""

    def purchase():
        _purchase(_sender(), item)
        return f"\n{item.capitalize()} Purchased!\n"

    return purchase


for _item in SEED_ITEMS:
    bp.add_url_rule(f"/purchase_a_{_item}", f"purchase_a_{_item}", _purchase_route(_item))


@bp.get("/join_a_guild")
def join_a_guild():
    sent_by = _sender()
    guild_id = request.args.get("guild_id", DEFAULT_GUILD)
    if not 1 <= len(guild_id) <= 128:
        abort(400, "guild_id must have 1 to 128 characters")
    _log(sent_by, "join_guild", {"guild_id": guild_id})
    return "\nGuild Joined!\n"
