"""Stopwatch score of a gaming session: which two teams played, who won each map, the score.

The stats files only know colours (Axis / Allies), and in stopwatch the colours swap every
round, so "Allies won" says nothing about who won. This module recognises the two *teams*
of an evening by their players and keeps their score:

* Every stopwatch map of a session (a round 1, with its round 2 once paired) is a
  :class:`Lineup`: the players of the side that attacked first and of the side that
  defended first (a player counts for the side he played longer on; spectators are left
  out).
* :func:`identify_matches` (pure) walks the maps in time order and gives each side of each
  map to team A or team B by **GUID overlap** with the players the teams fielded so far.
  A map continues the current match when more than two thirds of its *returning*
  players (players who already played for a team in this match) are on their team's
  side, so a substitute, a late joiner or a player leaving does not break it, nor does one
  player changing sides in 4v4 or bigger; when the line-ups are reshuffled (in 3v3 one
  side change already swaps a third of each team) or nobody returns, a new match starts
  with a score of 0–0.
* **Team names**: team A is the side that attacked first on the match's first map. Each
  team is named after its *captain*: the player of the team's opening round (round 1 of
  the first map) with the most rounds recorded before that day (ties: name, then id), so
  "Team vid" stays "Team vid" all evening whoever joins later. Two captains with the same
  name fall back to "Team A" / "Team B".
* **Score**: a decided map counts one win for the team that won it by the stopwatch rule
  (:class:`~etbot.models.MapResult`); a draw (both defences held) counts for neither and
  is shown separately.

Everything is computed from the rounds as stored, "as of" a moment when asked (a summary
posted late still shows the score after its own map), so nothing here is stored.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from peewee import fn

from etbot.cache import cached_query
from etbot.db import as_datetime
from etbot.models import MapResult, Player, PlayerDay, PlayerRound, Round

log = logging.getLogger(__name__)

#: The side that attacked first on a map (it defends in round 2) and the other one.
FIRST_ATTACK = 1
FIRST_DEFENCE = 2

TEAM_A = "A"
TEAM_B = "B"

#: A map continues the match when more than this share of its returning players is on
#: their team's side (6 of 8 in a 4v4 with one side change; 4 of 6 in a 3v3 is not).
CONTINUE_SHARE = (2, 3)


@dataclass(frozen=True)
class Lineup:
    """One stopwatch map of a session as the two line-ups that played it.

    A round 1 whose round 2 has not arrived (or never will) is a lineup without a result.
    """

    round1_id: int
    round2_id: int | None
    map: str
    round1_ended_at: datetime
    round2_ended_at: datetime | None
    #: Everyone who played for the side that attacked first / defended first (player ids).
    first_attack: frozenset[int]
    first_defence: frozenset[int]
    #: The same sides in round 1 only (a team's captain comes from its opening round).
    opening_attack: frozenset[int] = frozenset()
    opening_defence: frozenset[int] = frozenset()
    #: :data:`FIRST_ATTACK` / :data:`FIRST_DEFENCE` won; None: a draw, or not decided.
    winner: int | None = None
    #: MapResult outcome ("beat_time", "held", "draw"); None while the map is undecided.
    outcome: str | None = None

    @property
    def decided(self) -> bool:
        return self.outcome is not None

    @property
    def players(self) -> frozenset[int]:
        return self.first_attack | self.first_defence

    def as_of(self, moment: datetime) -> Lineup:
        """This map as it stood at ``moment``: undecided if its round 2 ended later."""
        if self.round2_ended_at is None or self.round2_ended_at <= moment:
            return self
        return Lineup(
            self.round1_id,
            None,
            self.map,
            self.round1_ended_at,
            None,
            self.opening_attack,
            self.opening_defence,
            self.opening_attack,
            self.opening_defence,
        )


@dataclass
class MatchPlan:
    """Maps of one match and which team attacked first on each (output of
    :func:`identify_matches`)."""

    lineups: list[Lineup] = field(default_factory=list)
    #: Per lineup: team A was the side that attacked first.
    a_attacked_first: list[bool] = field(default_factory=list)

    def side_players(self, index: int, team: str) -> frozenset[int]:
        """The players of ``team`` on the map at ``index``."""
        lineup = self.lineups[index]
        a_first = self.a_attacked_first[index]
        first_attack_team = TEAM_A if a_first else TEAM_B
        return lineup.first_attack if team == first_attack_team else lineup.first_defence


def _playable(lineup: Lineup) -> bool:
    """A map counts only when both sides had players."""
    return bool(lineup.first_attack) and bool(lineup.first_defence)


def identify_matches(lineups: Iterable[Lineup]) -> list[MatchPlan]:
    """Split a session's maps into matches and give each map's sides to team A / B.

    See the module docstring for the rule. Maps where a side had no players are left out.
    """
    plans: list[MatchPlan] = []
    current: MatchPlan | None = None
    member_of: dict[int, str] = {}
    need, of = CONTINUE_SHARE
    for lineup in sorted(lineups, key=lambda lu: (lu.round1_ended_at, lu.round1_id)):
        if not _playable(lineup):
            continue
        a_first = True
        if current is not None:
            straight = sum(member_of.get(p) == TEAM_A for p in lineup.first_attack) + sum(
                member_of.get(p) == TEAM_B for p in lineup.first_defence
            )
            crossed = sum(member_of.get(p) == TEAM_B for p in lineup.first_attack) + sum(
                member_of.get(p) == TEAM_A for p in lineup.first_defence
            )
            returning = straight + crossed
            # An even split never continues: of * best > need * returning fails for it.
            if returning and of * max(straight, crossed) > need * returning:
                a_first = straight > crossed
            else:
                current = None
        if current is None:
            current = MatchPlan()
            plans.append(current)
            member_of = {}
        current.lineups.append(lineup)
        current.a_attacked_first.append(a_first)
        for p in lineup.first_attack:
            member_of[p] = TEAM_A if a_first else TEAM_B
        for p in lineup.first_defence:
            member_of[p] = TEAM_B if a_first else TEAM_A
    return plans


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Team:
    """One team of a match."""

    label: str  # "A" or "B"
    #: "Team <captain>" (or "Team A" / "Team B").
    name: str
    captain_id: int | None
    #: Everyone who played for the team in the match so far: captain first, then by name.
    player_ids: tuple[int, ...]
    player_names: tuple[str, ...]


@dataclass(frozen=True)
class ScoredMap:
    """One map of a match, with the score after it."""

    round1_id: int
    round2_id: int | None
    map: str
    ended_at: datetime
    #: Team A attacked first on this map.
    a_attacked_first: bool
    #: "beat_time" / "held" / "draw"; None: not decided (yet).
    outcome: str | None
    #: "A" / "B"; None for a draw or an undecided map.
    winner: str | None
    #: The score after this map.
    wins_a: int
    wins_b: int
    draws: int
    #: Players of team A / team B on this map.
    players_a: frozenset[int]
    players_b: frozenset[int]

    def first_attack_team(self) -> str:
        return TEAM_A if self.a_attacked_first else TEAM_B


@dataclass(frozen=True)
class Match:
    """Two teams and their maps in one session (usually the whole evening)."""

    team_a: Team
    team_b: Team
    maps: tuple[ScoredMap, ...]

    @property
    def decided(self) -> tuple[ScoredMap, ...]:
        return tuple(m for m in self.maps if m.outcome is not None)

    @property
    def wins_a(self) -> int:
        return sum(m.winner == TEAM_A for m in self.maps)

    @property
    def wins_b(self) -> int:
        return sum(m.winner == TEAM_B for m in self.maps)

    @property
    def draws(self) -> int:
        return sum(m.outcome == "draw" for m in self.maps)

    @property
    def leader(self) -> str | None:
        """ "A", "B" or None when level."""
        if self.wins_a == self.wins_b:
            return None
        return TEAM_A if self.wins_a > self.wins_b else TEAM_B

    def team(self, label: str) -> Team:
        return self.team_a if label == TEAM_A else self.team_b

    def map_of(self, round1_id: int) -> ScoredMap | None:
        """The map whose round 1 is ``round1_id``, if it is part of this match."""
        for m in self.maps:
            if m.round1_id == round1_id:
                return m
        return None


def _team_order(players: Iterable[int], captain: int | None, names: dict[int, str]) -> list[int]:
    rest = sorted(
        (p for p in set(players) if p != captain), key=lambda p: (names.get(p, "").casefold(), p)
    )
    return ([captain] if captain is not None else []) + rest


def _captain(candidates: Collection[int], seniority: dict[int, int], names: dict[int, str]) -> int:
    return min(candidates, key=lambda p: (-seniority.get(p, 0), names.get(p, "").casefold(), p))


def score_plan(plan: MatchPlan, names: dict[int, str], seniority: dict[int, int]) -> Match:
    """Name the teams of a match and add up its score (pure).

    ``seniority``: rounds each player had played before the match's day (captains);
    ``names``: display name per player id.
    """
    first, a_first = plan.lineups[0], plan.a_attacked_first[0]
    opening = {
        TEAM_A: first.opening_attack if a_first else first.opening_defence,
        TEAM_B: first.opening_defence if a_first else first.opening_attack,
    }
    captains: dict[str, int] = {}
    for label in (TEAM_A, TEAM_B):
        candidates = opening[label] or plan.side_players(0, label)
        captains[label] = _captain(candidates, seniority, names)
    captain_names = {label: names.get(pid, "") for label, pid in captains.items()}
    distinct = captain_names[TEAM_A].casefold() != captain_names[TEAM_B].casefold()
    maps: list[ScoredMap] = []
    wins = {TEAM_A: 0, TEAM_B: 0}
    draws = 0
    members: dict[str, set[int]] = {TEAM_A: set(), TEAM_B: set()}
    for index, (lineup, a_attacked) in enumerate(
        zip(plan.lineups, plan.a_attacked_first, strict=True)
    ):
        players = {label: plan.side_players(index, label) for label in (TEAM_A, TEAM_B)}
        for label in (TEAM_A, TEAM_B):
            members[label] |= players[label]
        winner: str | None = None
        if lineup.outcome == "draw":
            draws += 1
        elif lineup.winner is not None:
            winner = (
                (TEAM_A if a_attacked else TEAM_B)
                if lineup.winner == FIRST_ATTACK
                else (TEAM_B if a_attacked else TEAM_A)
            )
            wins[winner] += 1
        maps.append(
            ScoredMap(
                lineup.round1_id,
                lineup.round2_id,
                lineup.map,
                lineup.round2_ended_at or lineup.round1_ended_at,
                a_attacked,
                lineup.outcome,
                winner,
                wins[TEAM_A],
                wins[TEAM_B],
                draws,
                players[TEAM_A],
                players[TEAM_B],
            )
        )
    teams = []
    for label in (TEAM_A, TEAM_B):
        captain = captains[label]
        order = _team_order(members[label], captain, names)
        name = f"Team {captain_names[label]}" if distinct and captain_names[label] else None
        teams.append(
            Team(
                label,
                name or f"Team {label}",
                captain,
                tuple(order),
                tuple(names.get(p, "?") for p in order),
            )
        )
    return Match(teams[0], teams[1], tuple(maps))


# --------------------------------------------------------------------------- database


def load_lineups(session_ids: Collection[int]) -> dict[int, list[Lineup]]:
    """Every round 1 of these sessions as a :class:`Lineup` (with its paired round 2 and map
    result when there is one), per session id, in time order."""
    ids = sorted(set(session_ids))
    if not ids:
        return {}
    rounds = list(
        Round.select(
            Round.id,
            Round.session,
            Round.map,
            Round.round_no,
            Round.ended_at,
            Round.defender,
            Round.round1,
        )
        .where(Round.session.in_(ids))
        .tuples()
    )
    by_id = {r[0]: r for r in rounds}
    round2_of: dict[int, int] = {}
    for rid, _session, _map, round_no, _ended, _defender, round1 in rounds:
        if round_no == 2 and round1 is not None and round1 in by_id:
            round2_of[round1] = rid
    results = {
        r2: (outcome, winner)
        for r2, outcome, winner in MapResult.select(
            MapResult.round2, MapResult.outcome, MapResult.winner_team
        )
        .where(MapResult.round2.in_(list(round2_of.values()) or [0]))
        .tuples()
    }
    # Seconds each player played per side: [first attack, first defence].
    seconds: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    opening: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    first_side: dict[tuple[int, int], int] = {}
    wanted = [*round2_of.keys(), *round2_of.values()] + [
        r[0] for r in rounds if r[3] == 1 and r[0] not in round2_of
    ]
    rows = (
        PlayerRound.select(
            PlayerRound.round, PlayerRound.player, PlayerRound.team, PlayerRound.time_played_s
        )
        .where(PlayerRound.round.in_(wanted or [0]) & PlayerRound.team.in_([1, 2]))
        .order_by(PlayerRound.ended_at, PlayerRound.id)
        .tuples()
    )
    round1_of = {r2: r1 for r1, r2 in round2_of.items()}
    for round_id, player_id, team, secs in rows:
        rnd = by_id[round_id]
        if rnd[3] == 1:
            r1_id = round_id
            # Round 1: the attackers are the colour that does not defend.
            side = FIRST_ATTACK if team != rnd[5] else FIRST_DEFENCE
            opening[r1_id][side - 1].add(player_id)
        else:
            r1_id = round1_of[round_id]
            # Round 2: the team that attacked first now defends.
            side = FIRST_ATTACK if team == rnd[5] else FIRST_DEFENCE
        seconds[r1_id][player_id][side - 1] += secs or 0
        first_side.setdefault((r1_id, player_id), side)
    out: dict[int, list[Lineup]] = defaultdict(list)
    for rid, session_id, map_name, round_no, ended, _defender, _round1 in rounds:
        if round_no != 1:
            continue
        sides: tuple[set[int], set[int]] = (set(), set())
        for player_id, (attack, defence) in seconds[rid].items():
            if attack == defence:
                side = first_side[(rid, player_id)]
            else:
                side = FIRST_ATTACK if attack > defence else FIRST_DEFENCE
            sides[side - 1].add(player_id)
        r2 = round2_of.get(rid)
        outcome, winner_colour = results.get(r2, (None, None)) if r2 is not None else (None, None)
        winner: int | None = None
        if outcome is not None and outcome != "draw" and winner_colour is not None and r2:
            # The first attackers defend in round 2: a round 2 defence win is theirs.
            winner = FIRST_ATTACK if winner_colour == by_id[r2][5] else FIRST_DEFENCE
        out[session_id].append(
            Lineup(
                rid,
                r2 if outcome is not None else None,
                map_name,
                as_datetime(ended),
                as_datetime(by_id[r2][4]) if r2 is not None and outcome is not None else None,
                frozenset(sides[0]),
                frozenset(sides[1]),
                frozenset(opening[rid][0]),
                frozenset(opening[rid][1]),
                winner,
                outcome,
            )
        )
    for lineups in out.values():
        lineups.sort(key=lambda lu: (lu.round1_ended_at, lu.round1_id))
    return dict(out)


def _names(player_ids: Collection[int]) -> dict[int, str]:
    if not player_ids:
        return {}
    return dict(
        Player.select(Player.id, Player.name).where(Player.id.in_(sorted(player_ids))).tuples()
    )


def _seniority(player_ids: Collection[int], before: date) -> dict[int, int]:
    """Counted rounds of each player on the days before ``before``."""
    if not player_ids:
        return {}
    query = (
        PlayerDay.select(PlayerDay.player, fn.SUM(PlayerDay.rounds))
        .where(PlayerDay.player.in_(sorted(player_ids)) & (PlayerDay.day < before))
        .group_by(PlayerDay.player)
        .tuples()
    )
    return {pid: int(n or 0) for pid, n in query}


def matches_from_lineups(lineups: Sequence[Lineup], as_of: datetime | None = None) -> list[Match]:
    """The matches of one session's lineups, as they stood at ``as_of`` (server-local;
    None: everything stored)."""
    if as_of is not None:
        lineups = [lu.as_of(as_of) for lu in lineups if lu.round1_ended_at <= as_of]
    plans = identify_matches(lineups)
    if not plans:
        return []
    everyone = {p for plan in plans for lu in plan.lineups for p in lu.players}
    names = _names(everyone)
    out = []
    for plan in plans:
        first = plan.lineups[0]
        candidates = first.players
        seniority = _seniority(candidates, first.round1_ended_at.date())
        out.append(score_plan(plan, names, seniority))
    return out


def session_matches(session_id: int, as_of: datetime | None = None) -> list[Match]:
    """The matches of a gaming session (usually one), as they stood at ``as_of``."""
    lineups = load_lineups([session_id]).get(session_id, [])
    return matches_from_lineups(lineups, as_of)


@cached_query
def session_scores(session_ids: tuple[int, ...]) -> dict[int, list[Match]]:
    """The matches of each of these sessions (for /sessions)."""
    lineups = load_lineups(session_ids)
    return {sid: matches_from_lineups(lineups.get(sid, [])) for sid in session_ids}


def match_of_round1(matches: Sequence[Match], round1_id: int) -> tuple[Match, ScoredMap] | None:
    """The match and map a round 1 belongs to."""
    for match in matches:
        found = match.map_of(round1_id)
        if found is not None:
            return match, found
    return None
