"""Fair team splits (``/teams``) from the skill ratings.

A split puts the players into two teams whose sizes differ by at most one; its
unfairness is how far the predicted chance of team A winning a map is from 50 % (the
mean over both attack orders, see :func:`etbot.rating.team_win_probability`). Up to
12 players every split is scored (at most 462), so the fairest one is exact, and the
whole ranking is returned for a "next best split" button.

Limitation: the model rates the time-weighted *mean* skill of a team, so with an odd
number of players it does not know that the bigger team has an extra gun (the corpus has
no uneven teams to learn that from).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from typing import Literal

from etbot.errors import Typed
from etbot.models import GamingSession, Player, PlayerRound, Round
from etbot.rating import (
    NoRating,
    RatingInputError,
    RatingModel,
    load_model,
    normalise_guid,
    reference_time,
    team_win_probability,
)

log = logging.getLogger(__name__)

MIN_PLAYERS = 2
MAX_PLAYERS = 12


@dataclass(frozen=True)
class Split:
    """Two teams (GUIDs, sorted) and team A's predicted chance to win a map."""

    team_a: tuple[str, ...]
    team_b: tuple[str, ...]
    p_team_a: float

    @property
    def unfairness(self) -> float:
        """Distance of the predicted chance from a coin flip (0 = perfectly fair)."""
        return abs(self.p_team_a - 0.5)


def check_players(players: Sequence[str]) -> list[str]:
    """Normalised GUIDs, sorted; RatingInputError for duplicates or a bad count."""
    guids = [normalise_guid(p) for p in players]
    dupes = sorted(g for g, n in Counter(guids).items() if n > 1)
    if dupes:
        raise RatingInputError(
            "The same player twice: {players}.", players=[Typed(g) for g in dupes]
        )
    if not MIN_PLAYERS <= len(guids) <= MAX_PLAYERS:
        raise RatingInputError(
            "Teams need between {low} and {high} players (got {count}).",
            low=MIN_PLAYERS,
            high=MAX_PLAYERS,
            count=len(guids),
        )
    return sorted(guids)


def all_splits(players: Sequence[str]) -> Iterator[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Every split into two teams whose sizes differ by at most one, each exactly once.

    Team A always holds the first player, so (A, B) and (B, A) are not both produced.
    """
    n = len(players)
    if n < 2:
        return
    for size_a in sorted({n // 2, n - n // 2}):
        for rest in combinations(range(1, n), size_a - 1):
            chosen = {0, *rest}
            yield (
                tuple(players[i] for i in sorted(chosen)),
                tuple(players[i] for i in range(n) if i not in chosen),
            )


def ranked_splits(
    players: Sequence[str],
    model: RatingModel,
    map_name: str | None = None,
    at: datetime | None = None,
) -> list[Split]:
    """All splits of ``players`` (GUIDs), fairest first (ties: team A's GUIDs)."""
    guids = check_players(players)
    scored = [
        Split(a, b, team_win_probability(model, a, b, map_name, at)) for a, b in all_splits(guids)
    ]
    scored.sort(key=lambda s: (s.unfairness, s.team_a))
    return scored


@dataclass(frozen=True)
class Balance:
    """The ranked splits for one set of players (``splits[0]`` is the fairest)."""

    splits: tuple[Split, ...]
    #: Players the model has no rated map for (they count as average newcomers).
    unrated: tuple[str, ...]


def balance(
    players: Sequence[str], map_name: str | None = None, *, allow_unrated: bool = False
) -> Balance:
    """Rank every split of ``players`` (GUIDs) by fairness from the stored ratings.

    Raises RatingInputError (duplicates, fewer than 2 or more than 12 players) and,
    unless ``allow_unrated``, NoRating naming the players without a rated map.
    """
    guids = check_players(players)
    model = load_model(guids)
    unrated = tuple(g for g in guids if g not in model.players)
    if unrated and not allow_unrated:
        names = dict(
            Player.select(Player.guid, Player.name).where(Player.guid.in_(unrated)).tuples()
        )
        # Names from the data; a GUID nobody has played with is what the user typed.
        shown = [names[g] if g in names else Typed(g) for g in unrated]
        raise NoRating(
            "No rated maps yet for: {players} (a map counts once both of its rounds are in).",
            players=shown,
        )
    return Balance(tuple(ranked_splits(guids, model, map_name, reference_time())), unrated)


def players_from_last(scope: Literal["session", "round"]) -> list[str]:
    """GUIDs of everyone who played (not spectated) in the newest round or gaming session."""
    if scope == "round":
        last = Round.select(Round.id).order_by(Round.ended_at.desc(), Round.id.desc()).first()
        if last is None:
            return []
        where = PlayerRound.round == last.id
    elif scope == "session":
        session = (
            GamingSession.select(GamingSession.id)
            .order_by(GamingSession.ended_at.desc(), GamingSession.id.desc())
            .first()
        )
        if session is None:
            return []
        where = PlayerRound.round.in_(Round.select(Round.id).where(Round.session == session.id))
    else:
        raise RatingInputError(
            "Unknown scope {scope}: use 'session' or 'round'.", scope=Typed(str(scope))
        )
    query = (
        PlayerRound.select(Player.guid)
        .join(Player, on=(PlayerRound.player == Player.id))
        .where(where & (PlayerRound.team != 3))
        .distinct()
        .tuples()
    )
    return sorted(g for (g,) in query)
