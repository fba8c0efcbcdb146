"""Players for the rating tests, whichever corpus is in use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from etbot.models import Player, PlayerRating, database_proxy
from etbot.rating import reference_time


def unrated_player() -> Player:
    """A player without a rated map (call it inside :func:`rolled_back`).

    The real corpus has some (players seen only in rounds that never got their other
    half); when the corpus in use has none, a newcomer is added the way the importer adds
    one whose first round 1 is in but whose map is not finished yet.
    """
    found = (
        Player.select()
        .where(Player.id.not_in(PlayerRating.select(PlayerRating.player)))
        .order_by(Player.id)
        .first()
    )
    if found is not None:
        return found
    seen = reference_time()
    assert seen is not None, "rate the corpus first"
    return Player.create(
        guid="0E0C0FFE", name="Newcomer*", raw_name="^1Newcomer*", first_seen=seen, last_seen=seen
    )


@contextmanager
def rolled_back() -> Iterator[None]:
    """Undo what the block writes: the module's corpus database is shared by its tests."""
    with database_proxy.atomic() as transaction:
        yield
        transaction.rollback()
