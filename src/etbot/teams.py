"""``/teams`` proposals: the fairest split of a group, stored so its buttons keep working.

A proposal is one answer to ``/teams``: the players (GUIDs), the member who asked, and
which split of the ranking (:func:`etbot.balance.balance`, fairest first) its message
shows. It lives in the database (:class:`~etbot.models.TeamProposal`), so the message's
**Accept** and **Next best split** buttons work after a restart and from any bot process:
their custom ids carry only the proposal id and the split index the message shows.

* "Next best split" re-ranks the splits from the ratings as they are now and shows the
  next one; the shown split is stored, so **Accept** finalises exactly what the message
  showed.
* Both are conditional UPDATEs on (id, the split index the button was pressed on, not
  accepted yet): a double click, a stale message or a second process changes nothing
  twice. Only the member who asked may press them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from etbot import balance
from etbot.errors import UserError
from etbot.models import Player, PlayerRating, TeamProposal, database_proxy
from etbot.rating import display_rating

log = logging.getLogger(__name__)

Source = Literal["players", "session", "round"]
SOURCES: tuple[str, ...] = ("players", "session", "round")
#: Proposals older than this are deleted when a new one is made (their buttons then say
#: the teams are gone).
KEEP_DAYS = 30
_SEPARATOR = ","


class NotYourTeams(UserError):
    """Someone other than the member who asked pressed a button."""


class TeamsGone(UserError):
    """The proposal no longer exists (older than :data:`KEEP_DAYS`)."""


class TeamsChanged(UserError):
    """Accept was pressed on a split the message no longer shows."""


@dataclass(frozen=True)
class TeamPlayer:
    """A player in a proposed team, with their rating now (None: not rated)."""

    guid: str
    name: str
    rating: int | None


@dataclass(frozen=True)
class Proposal:
    """What a ``/teams`` message shows."""

    id: int
    asked_by: int
    source: str
    #: Rank of the split shown (0 = the fairest) and how many splits there are.
    index: int
    splits: int
    team_a: tuple[TeamPlayer, ...]
    team_b: tuple[TeamPlayer, ...]
    #: Predicted chance that team A wins a map (who attacks first not known yet).
    p_team_a: float
    accepted_by: int | None
    accepted_at: datetime | None

    @property
    def accepted(self) -> bool:
        return self.accepted_by is not None

    @property
    def has_next(self) -> bool:
        """Whether a less fair split is left to show."""
        return self.index + 1 < self.splits


def utcnow() -> datetime:
    """Now, as the naive UTC the proposal times are stored in."""
    return datetime.now(UTC).replace(tzinfo=None)


def _split(text: str) -> list[str]:
    return [g for g in text.split(_SEPARATOR) if g]


def _team(guids: Sequence[str]) -> tuple[TeamPlayer, ...]:
    """Players with their names and current ratings, best rated first (then by name)."""
    info = {
        guid: (name, mu, sigma)
        for guid, name, mu, sigma in Player.select(
            Player.guid, Player.name, PlayerRating.mu, PlayerRating.sigma
        )
        .left_outer_join(PlayerRating, on=(PlayerRating.player == Player.id))
        .where(Player.guid.in_(list(guids)))
        .tuples()
    }
    team = []
    for guid in guids:
        name, mu, sigma = info.get(guid, (guid, None, None))
        shown = display_rating(mu, sigma) if mu is not None and sigma is not None else None
        team.append(TeamPlayer(guid, name, shown))
    team.sort(key=lambda p: (p.rating is None, -(p.rating or 0), p.name.lower(), p.guid))
    return tuple(team)


def _proposal(row: TeamProposal) -> Proposal:
    players = _split(row.players)
    team_a = _split(row.team_a)
    team_b = [g for g in players if g not in set(team_a)]
    return Proposal(
        id=row.id,
        asked_by=row.asked_by,
        source=row.source,
        index=row.split_index,
        splits=row.split_count,
        team_a=_team(team_a),
        team_b=_team(team_b),
        p_team_a=row.p_team_a,
        accepted_by=row.accepted_by,
        accepted_at=row.accepted_at,
    )


def propose(
    players: Sequence[str] | None,
    asked_by: int,
    *,
    source: Source = "players",
    now: datetime | None = None,
) -> Proposal:
    """Store and return the fairest split of ``players`` (GUIDs), or of everyone who
    played in the last session / round when ``source`` says so (``players`` is then
    ignored).

    Raises:
        etbot.rating.RatingInputError: the same player twice, fewer than 2 or more than
            12 players.
        etbot.rating.NoRating: a player has no rated map yet (named in the message).
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    guids = list(players or ()) if source == "players" else balance.players_from_last(source)
    ranked = balance.balance(guids)
    best = ranked.splits[0]
    now = now or utcnow()
    with database_proxy.atomic():
        # Old proposals go: their messages' buttons then answer that the teams are gone.
        expired = TeamProposal.created_at < now - timedelta(days=KEEP_DAYS)
        TeamProposal.delete().where(expired).execute()
        row = TeamProposal.create(
            asked_by=asked_by,
            source=source,
            players=_SEPARATOR.join(sorted([*best.team_a, *best.team_b])),
            split_index=0,
            split_count=len(ranked.splits),
            team_a=_SEPARATOR.join(best.team_a),
            p_team_a=best.p_team_a,
            created_at=now,
        )
    log.info("teams proposal %d for %d players (%s) by %s", row.id, len(guids), source, asked_by)
    return _proposal(row)


def get_proposal(proposal_id: int) -> Proposal:
    """The proposal as stored; :class:`TeamsGone` when it no longer exists."""
    row = TeamProposal.get_or_none(TeamProposal.id == proposal_id)
    if row is None:
        raise TeamsGone(
            f"These teams are gone (proposals are kept {KEEP_DAYS} days). Run /teams again."
        )
    return _proposal(row)


def _check_asker(proposal: Proposal, member_id: int) -> None:
    if proposal.asked_by != member_id:
        raise NotYourTeams(
            "Only the member who asked for these teams can press their buttons. "
            "Run /teams yourself for your own split."
        )


def next_split(proposal_id: int, shown_index: int, member_id: int) -> Proposal:
    """Show the next fairer-to-less-fair split after ``shown_index`` (the split on the
    message whose button was pressed), ranked from the ratings as they are now.

    Nothing changes when the proposal is accepted, when the message was stale (another
    click got there first) or when there is no next split: the current state comes back.

    Raises:
        NotYourTeams: ``member_id`` did not ask for these teams.
        TeamsGone: the proposal no longer exists.
    """
    current = get_proposal(proposal_id)
    _check_asker(current, member_id)
    if current.accepted or current.index != shown_index:
        return current
    players = [p.guid for p in (*current.team_a, *current.team_b)]
    # Players rated when the proposal was made stay rated; allow_unrated only guards
    # against a rebuild in between leaving one without a rating.
    splits = balance.balance(players, allow_unrated=True).splits
    new_index = shown_index + 1
    if new_index >= len(splits):
        return current
    split = splits[new_index]
    TeamProposal.update(
        split_index=new_index,
        split_count=len(splits),
        team_a=_SEPARATOR.join(split.team_a),
        p_team_a=split.p_team_a,
    ).where(
        (TeamProposal.id == proposal_id)
        & (TeamProposal.split_index == shown_index)
        & TeamProposal.accepted_by.is_null()
    ).execute()
    # Whether this click or a concurrent one won, the stored row is what to show.
    return get_proposal(proposal_id)


def accept(
    proposal_id: int, shown_index: int, member_id: int, *, now: datetime | None = None
) -> Proposal:
    """Accept the split the message showed (``shown_index``). Accepting twice is harmless
    (the accepted proposal comes back).

    Raises:
        NotYourTeams: ``member_id`` did not ask for these teams.
        TeamsGone: the proposal no longer exists.
        TeamsChanged: the message showed another split than the stored one (a "Next best
            split" click got there first); the user should look again.
    """
    current = get_proposal(proposal_id)
    _check_asker(current, member_id)
    if current.accepted:
        return current
    updated = (
        TeamProposal.update(accepted_by=member_id, accepted_at=now or utcnow())
        .where(
            (TeamProposal.id == proposal_id)
            & (TeamProposal.split_index == shown_index)
            & TeamProposal.accepted_by.is_null()
        )
        .execute()
    )
    result = get_proposal(proposal_id)
    if not updated and not result.accepted:
        raise TeamsChanged(
            "The teams on that message have changed since; look at the new split and press "
            "Accept again."
        )
    return result
