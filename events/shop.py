"""The game's shop: one entry per item with its price, its currency and what owning it unlocks.

The catalog's seed routes sell the items marked `seed_route`; the simulator buys from the
whole shop; the marts count revenue in `CURRENCY`; the notebooks and the player endpoint
label spend with it.
"""

from __future__ import annotations

from dataclasses import dataclass

# The shop's currency: revenue is what players spend in it.
CURRENCY = "gold"
# The player_purchases column with a player's spend in the shop's currency.
SPENT_COLUMN = f"{CURRENCY}_spent"
# What being in a guild lets a player do in the game.
GUILD_UNLOCK = "guild_quests"


@dataclass(frozen=True)
class Item:
    """An item for sale: its unit price in `currency`, and what owning it lets a player do."""

    price: int
    currency: str = CURRENCY
    unlocks: str | None = None
    # Sold by the seed's GET /purchase_a_<item> route.
    seed_route: bool = False


# In this order: the simulator draws items by position.
SHOP: dict[str, Item] = {
    "sword": Item(100, unlocks="duel", seed_route=True),
    "horse": Item(250, unlocks="ride_to_far_lands", seed_route=True),
    "shield": Item(80, unlocks="defend_the_castle", seed_route=True),
    "potion": Item(5),
    "armor": Item(400, unlocks="enter_the_arena"),
    "dragon_egg": Item(2500, unlocks="hatch_a_dragon"),
}
SEED_ITEMS = tuple(name for name, item in SHOP.items() if item.seed_route)
# What owning an item lets a player do in the game.
UNLOCKS = {name: item.unlocks for name, item in SHOP.items() if item.unlocks}
