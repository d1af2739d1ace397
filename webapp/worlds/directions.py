"""The twelve directions of a text world, their short forms, their opposites, and where they point
on a map. Full names and short forms are accepted in any case; anything else is a 400 that names the
valid ones."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.errors import BadRequest


@dataclass(frozen=True)
class Direction:
    name: str  # "north": the exit's key
    short: str  # "n": its default alias
    opposite_name: str
    dx: int  # where a neighbour in this direction is drawn on the map (y grows southwards)
    dy: int

    @property
    def opposite(self) -> Direction:
        return DIRECTIONS[self.opposite_name]

    @property
    def names(self) -> tuple[str, str]:
        return self.name, self.short

    @property
    def on_compass(self) -> bool:
        """North … southwest; up, down, in and out are not compass points."""
        return self.name not in OFF_COMPASS


OFF_COMPASS = frozenset({"up", "down", "in", "out"})
# Up/down/in/out have no compass point; they are drawn on diagonals the compass leaves to them.
DIRECTIONS: dict[str, Direction] = {d.name: d for d in (
    Direction("north", "n", "south", 0, -1),
    Direction("south", "s", "north", 0, 1),
    Direction("east", "e", "west", 1, 0),
    Direction("west", "w", "east", -1, 0),
    Direction("northeast", "ne", "southwest", 1, -1),
    Direction("northwest", "nw", "southeast", -1, -1),
    Direction("southeast", "se", "northwest", 1, 1),
    Direction("southwest", "sw", "northeast", -1, 1),
    Direction("up", "u", "down", 1, -2),
    Direction("down", "d", "up", -1, 2),
    Direction("in", "i", "out", 2, 1),
    Direction("out", "o", "in", -2, -1),
)}
_BY_NAME = {name: d for d in DIRECTIONS.values() for name in d.names}
VALID = ", ".join(f"{d.name} ({d.short})" for d in DIRECTIONS.values())


def parse_direction(text: object) -> Direction:
    """`north`, `N`, ` ne ` … → the Direction; 400 naming the valid ones otherwise."""
    if isinstance(text, str) and (direction := _BY_NAME.get(text.strip().lower())):
        return direction
    shown = repr(text) if isinstance(text, str) and len(text) <= 40 else "that"
    raise BadRequest(f"{shown} is not a direction; use one of: {VALID}.", code="unknown_direction")


def where(direction: str | Direction) -> str:
    """Where a place lies from another reached through `direction`, as English that the other's name
    follows: "north of", "northeast of", "up from", "down from", "in from", "out from".

    The one wording of "connected northeast of Village square" and "The Old Mill is open, up from
    Village square": compass points take "of"; up/down/in/out are ways to go, not places, so "from"
    ("down of" is not English, and "inside"/"above" would claim more than an exit says). A name that
    is not a direction reads 'by the exit "portal" from'.
    """
    found = direction if isinstance(direction, Direction) else find_direction(direction)
    if found is None:
        return f'by the exit "{str(direction).strip()}" from'
    return f"{found.name} {'of' if found.on_compass else 'from'}"


def find_direction(text: str) -> Direction | None:
    """The Direction an exit name or alias stands for, or None (custom aliases such as "mill")."""
    return _BY_NAME.get(text.strip().lower())
