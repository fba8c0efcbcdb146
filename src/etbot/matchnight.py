"""A live match night as data: round and map summaries, the summary hook, the presence state.

* :func:`queue_summaries` is a batch hook (:mod:`etbot.ingest.hooks`): for **live** imports
  only (files that arrived through a source while the bot runs) it queues a
  ``round_summary`` post per new round 1 (key: the round id) and a ``map_summary`` post
  per map the batch decided (key: the round 2 id), in the import's transaction
  (:func:`etbot.announce.enqueue`, exactly once). A round 2 that arrives before its
  round 1 decides nothing: its map is decided, and its summary queued, when the round 1
  arrives.
* :func:`round_summary` / :func:`map_summary` return what the posts show (the Discord
  layer, :mod:`etbot.commands.matchnight`, turns them into embeds), computed "as of" the
  round: a post sent late still shows the score after its own map.
* :func:`presence_state`: what is going on now (a match, the last result, the next
  predicted session), for the bot's presence.

**MVP and "best players"**: players are ranked by points (:attr:`PlayerLine.points`):
one per kill and per revive given (a revive undoes a death), half per kill assist, three
per objective (dynamite planted or defused, objective stolen or returned, construction:
what moves a stopwatch map) and minus one per team kill; ties go to more damage given,
then fewer deaths. The map's MVP is the best of both teams over both rounds.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from etbot import announce, availability
from etbot.db import as_datetime
from etbot.models import MapResult, Player, PlayerRound, Round, Server
from etbot.statdefs import objectives_expr, revives_expr
from etbot.stopwatch import (
    FIRST_ATTACK,
    FIRST_DEFENCE,
    TEAM_A,
    TEAM_B,
    Lineup,
    Match,
    ScoredMap,
    load_lineups,
    match_of_round1,
    matches_from_lineups,
)

if TYPE_CHECKING:
    from etbot.ingest.hooks import Batch

log = logging.getLogger(__name__)

ROUND_SUMMARY = "round_summary"
MAP_SUMMARY = "map_summary"

#: Points of the MVP rule (see the module docstring and the README).
POINTS_PER_KILL = 1.0
POINTS_PER_REVIVE = 1.0
POINTS_PER_ASSIST = 0.5
POINTS_PER_OBJECTIVE = 3.0
POINTS_PER_TEAM_KILL = -1.0

#: Notable lines: a multikill of at least this many kills, at least this many revives,
#: accuracy only among players who fired at least this many shots.
NOTABLE_MULTIKILL = 4
NOTABLE_REVIVES = 5
NOTABLE_MIN_SHOTS = 50

#: The presence says "a match is on" while the last round ended at most this long ago,
#: and shows the last result for this long after a session's last round.
LIVE_WINDOW = timedelta(minutes=30)
AFTER_WINDOW = timedelta(hours=6)


# --------------------------------------------------------------------------- player lines


@dataclass(frozen=True)
class PlayerLine:
    """One player's numbers in a round (or summed over both rounds of a map)."""

    player_id: int
    name: str
    kills: int
    deaths: int
    damage_given: int
    time_played_s: int
    objectives: int
    revives: int
    kill_assists: int
    team_kills: int
    headshot_kills: int
    hits: int
    shots: int
    #: Largest multikill (2-6; 6 means six or more); 0 for none.
    best_multikill: int

    @property
    def dpm(self) -> float:
        """Damage given per minute played."""
        return self.damage_given * 60 / self.time_played_s if self.time_played_s else 0.0

    @property
    def accuracy(self) -> float | None:
        """Hits per shot, in percent (None without shots)."""
        return self.hits * 100 / self.shots if self.shots else None

    @property
    def points(self) -> float:
        """The MVP rule's points (see the module docstring)."""
        return (
            self.kills * POINTS_PER_KILL
            + self.revives * POINTS_PER_REVIVE
            + self.kill_assists * POINTS_PER_ASSIST
            + self.objectives * POINTS_PER_OBJECTIVE
            + self.team_kills * POINTS_PER_TEAM_KILL
        )

    def rank_key(self) -> tuple[float, int, int, str, int]:
        """Best first: more points, more damage, fewer deaths, then by name."""
        return (-self.points, -self.damage_given, self.deaths, self.name.casefold(), self.player_id)

    def __add__(self, other: PlayerLine) -> PlayerLine:
        return PlayerLine(
            self.player_id,
            self.name,
            self.kills + other.kills,
            self.deaths + other.deaths,
            self.damage_given + other.damage_given,
            self.time_played_s + other.time_played_s,
            self.objectives + other.objectives,
            self.revives + other.revives,
            self.kill_assists + other.kill_assists,
            self.team_kills + other.team_kills,
            self.headshot_kills + other.headshot_kills,
            self.hits + other.hits,
            self.shots + other.shots,
            max(self.best_multikill, other.best_multikill),
        )


def ranked(lines: Sequence[PlayerLine]) -> tuple[PlayerLine, ...]:
    """Players best first (MVP order)."""
    return tuple(sorted(lines, key=PlayerLine.rank_key))


@dataclass(frozen=True)
class Notable:
    """One line worth a mention: ``kind`` is "multikill" (value: kills), "revives",
    "accuracy" (percent; ``shots`` fired) or "headshots" (headshot kills)."""

    kind: str
    player: str
    value: float
    shots: int = 0


def notable(lines: Sequence[PlayerLine]) -> Notable | None:
    """The most remarkable thing in a round or map, first rule that applies:

    1. a multikill of :data:`NOTABLE_MULTIKILL` or more kills (the biggest);
    2. the most revives, when at least :data:`NOTABLE_REVIVES`;
    3. the best accuracy among players with :data:`NOTABLE_MIN_SHOTS` shots or more;
    4. the most headshot kills (at least one).
    """
    order = ranked(lines)  # ties go to the better player
    multi = max(order, key=lambda p: p.best_multikill, default=None)
    if multi is not None and multi.best_multikill >= NOTABLE_MULTIKILL:
        return Notable("multikill", multi.name, multi.best_multikill)
    medic = max(order, key=lambda p: p.revives, default=None)
    if medic is not None and medic.revives >= NOTABLE_REVIVES:
        return Notable("revives", medic.name, medic.revives)
    shooters = [p for p in order if p.shots >= NOTABLE_MIN_SHOTS]
    if shooters:
        aim = max(shooters, key=lambda p: p.accuracy or 0.0)
        return Notable("accuracy", aim.name, aim.accuracy or 0.0, aim.shots)
    heads = max(order, key=lambda p: p.headshot_kills, default=None)
    if heads is not None and heads.headshot_kills > 0:
        return Notable("headshots", heads.name, heads.headshot_kills)
    return None


_MULTIKILLS = (
    PlayerRound.multikill_6,
    PlayerRound.multikill_5,
    PlayerRound.multikill_4,
    PlayerRound.multikill_3,
    PlayerRound.multikill_2,
)


def _lines_by_round(round_ids: Sequence[int]) -> dict[int, dict[int, tuple[int, PlayerLine]]]:
    """{round id: {player id: (team colour, line)}} of the playing (non-spectator) rows."""
    query = (
        PlayerRound.select(
            PlayerRound.round,
            PlayerRound.player,
            Player.name,
            PlayerRound.team,
            PlayerRound.kills,
            PlayerRound.deaths,
            PlayerRound.damage_given,
            PlayerRound.time_played_s,
            objectives_expr(),
            revives_expr(),
            PlayerRound.kill_assists,
            PlayerRound.team_kills,
            PlayerRound.headshot_kills,
            PlayerRound.hits,
            PlayerRound.shots,
            *_MULTIKILLS,
        )
        .join(Player, on=(PlayerRound.player == Player.id))
        .where(PlayerRound.round.in_(list(round_ids)) & PlayerRound.team.in_([1, 2]))
        .tuples()
    )
    out: dict[int, dict[int, tuple[int, PlayerLine]]] = defaultdict(dict)
    for round_id, player_id, name, team, *values in query:
        k, d, dmg, secs, obj, rev, assists, tks, heads, hits, shots = (
            int(v or 0) for v in values[:11]
        )
        # multikill_6 … multikill_2: the first non-zero one is the biggest.
        best = next((6 - i for i, n in enumerate(values[11:]) if n), 0)
        line = PlayerLine(
            player_id, name, k, d, dmg, secs, obj, rev, assists, tks, heads, hits, shots, best
        )
        out[round_id][player_id] = (team, line)
    return out


# --------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class TeamSide:
    """One side of a round or map: the team's name (or the colour when the teams are not
    known) and its players, best first."""

    name: str
    #: "A" / "B" when the team is known (see :mod:`etbot.stopwatch`).
    label: str | None
    players: tuple[PlayerLine, ...]

    @property
    def player_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.players)


COLOURS = {1: "Axis", 2: "Allies"}


def _side(match: Match | None, label: str | None, colour: int, lines: list[PlayerLine]) -> TeamSide:
    name = match.team(label).name if match is not None and label is not None else COLOURS[colour]
    return TeamSide(name, label if match is not None else None, ranked(lines))


@dataclass(frozen=True)
class RoundSummary:
    """A round 1, just played: who attacked, the time set, the best players, one notable."""

    round_id: int
    map: str
    server: str
    ended_at: datetime
    attack: TeamSide
    defence: TeamSide
    #: The attackers reached their objective; ``time_s`` is the time they set (None when
    #: the file does not know it). False: the defence held the whole ``time_limit_s``.
    completed: bool
    time_s: int | None
    time_limit_s: int
    notable: Notable | None
    #: The match this map belongs to, as it stood when the round ended (this map
    #: undecided); None when the teams cannot be told.
    match: Match | None
    scored: ScoredMap | None


@dataclass(frozen=True)
class MapSummary:
    """A map decided by the stopwatch rule: both times, the winner, the best players, the
    MVP and the match score after it."""

    round1_id: int
    round2_id: int
    map: str
    server: str
    ended_at: datetime
    #: "beat_time": the second attack beat the first attack's time; "held": the second
    #: attack did not (the team that attacked first wins); "draw": both defences held.
    outcome: str
    first_attack: TeamSide
    first_defence: TeamSide
    #: :data:`~etbot.stopwatch.FIRST_ATTACK` or ``FIRST_DEFENCE``; None for a draw.
    winner: int | None
    round1_time_s: int | None
    round2_time_s: int | None
    time_limit_s: int
    #: Everyone, both rounds summed, best first (the first is the MVP).
    players: tuple[PlayerLine, ...]
    notable: Notable | None
    match: Match | None
    scored: ScoredMap | None

    @property
    def mvp(self) -> PlayerLine | None:
        return self.players[0] if self.players else None

    @property
    def winning_side(self) -> TeamSide | None:
        if self.winner == FIRST_ATTACK:
            return self.first_attack
        if self.winner == FIRST_DEFENCE:
            return self.first_defence
        return None

    @property
    def losing_side(self) -> TeamSide | None:
        if self.winner == FIRST_ATTACK:
            return self.first_defence
        if self.winner == FIRST_DEFENCE:
            return self.first_attack
        return None


def _match_for(
    session_id: int | None, round1_id: int, as_of: datetime
) -> tuple[Match | None, ScoredMap | None, Lineup | None]:
    if session_id is None:
        return None, None, None
    lineups = load_lineups([session_id]).get(session_id, [])
    lineup = next((lu for lu in lineups if lu.round1_id == round1_id), None)
    found = match_of_round1(matches_from_lineups(lineups, as_of), round1_id)
    if found is None:
        return None, None, lineup
    return found[0], found[1], lineup


def _labels(scored: ScoredMap | None) -> tuple[str | None, str | None]:
    """(team of the first attack, team of the first defence) on a map."""
    if scored is None:
        return None, None
    first = scored.first_attack_team()
    return first, TEAM_B if first == TEAM_A else TEAM_A


def round_summary(round_id: int) -> RoundSummary | None:
    """The summary of a round 1; None when the round is gone or not a round 1."""
    rnd = Round.get_or_none(Round.id == round_id)
    if rnd is None or rnd.round_no != 1:
        return None
    ended = as_datetime(rnd.ended_at)
    server = Server.get_by_id(rnd.server_id).clean_name
    match, scored, _ = _match_for(rnd.session_id, rnd.id, ended)
    rows = _lines_by_round([rnd.id]).get(rnd.id, {})
    attack_colour = 3 - rnd.defender
    attack = [line for team, line in rows.values() if team == attack_colour]
    defence = [line for team, line in rows.values() if team != attack_colour]
    attack_label, defence_label = _labels(scored)
    completed = rnd.winner != rnd.defender
    return RoundSummary(
        round_id=rnd.id,
        map=rnd.map,
        server=server,
        ended_at=ended,
        attack=_side(match, attack_label, attack_colour, attack),
        defence=_side(match, defence_label, rnd.defender, defence),
        completed=completed,
        time_s=rnd.round_time_s if completed else None,
        time_limit_s=rnd.time_limit_s,
        notable=notable([line for _, line in rows.values()]),
        match=match,
        scored=scored,
    )


def map_summary(round2_id: int) -> MapSummary | None:
    """The summary of the map a round 2 decided; None when it decides nothing (any more)."""
    result = MapResult.get_or_none(MapResult.round2 == round2_id)
    if result is None:
        return None
    r1 = Round.get_by_id(result.round1_id)
    r2 = Round.get_by_id(result.round2_id)
    ended = as_datetime(r2.ended_at)
    server = Server.get_by_id(r2.server_id).clean_name
    match, scored, lineup = _match_for(r1.session_id, r1.id, ended)
    rows = _lines_by_round([r1.id, r2.id])
    totals: dict[int, PlayerLine] = {}
    for round_id in (r1.id, r2.id):
        for _team, line in rows.get(round_id, {}).values():
            previous = totals.get(line.player_id)
            totals[line.player_id] = line if previous is None else previous + line
    first_attack_ids = lineup.first_attack if lineup is not None else frozenset()
    first = [line for pid, line in totals.items() if pid in first_attack_ids]
    second = [line for pid, line in totals.items() if pid not in first_attack_ids]
    winner: int | None = None
    if result.outcome != "draw" and result.winner_team is not None:
        winner = FIRST_ATTACK if result.winner_team == r2.defender else FIRST_DEFENCE
    attack_label, defence_label = _labels(scored)
    return MapSummary(
        round1_id=r1.id,
        round2_id=r2.id,
        map=r2.map,
        server=server,
        ended_at=ended,
        outcome=result.outcome,
        first_attack=_side(match, attack_label, 3 - r1.defender, first),
        first_defence=_side(match, defence_label, r1.defender, second),
        winner=winner,
        round1_time_s=result.round1_time_s,
        round2_time_s=result.round2_time_s,
        time_limit_s=r1.time_limit_s,
        players=ranked(list(totals.values())),
        notable=notable(list(totals.values())),
        match=match,
        scored=scored,
    )


# --------------------------------------------------------------------------- the hook


def queue_summaries(batch: Batch) -> None:
    """Batch hook: queue the summaries of what a live batch brought, in time order.

    Bulk imports (``batch.live`` False) queue nothing: they are history, not news.
    """
    if not batch.live:
        return
    events: list[tuple[datetime, int, str, int]] = []
    new_round1s = batch.new_rounds(1)
    if new_round1s:
        for rid, ended in (
            Round.select(Round.id, Round.ended_at).where(Round.id.in_(new_round1s)).tuples()
        ):
            events.append((as_datetime(ended), 0, ROUND_SUMMARY, rid))
    map_results = batch.map_result_ids()
    if map_results:
        for round2, ended in (
            MapResult.select(MapResult.round2, MapResult.ended_at)
            .where(MapResult.id.in_(map_results))
            .tuples()
        ):
            events.append((as_datetime(ended), 1, MAP_SUMMARY, round2))
    for _ended, _order, kind, key in sorted(events):
        if announce.enqueue(kind, key):
            log.info("queued %s %s", kind, key)


# --------------------------------------------------------------------------- presence


@dataclass(frozen=True)
class PresenceState:
    """What is going on, for the bot's presence.

    ``kind``: "live" (a round ended less than :data:`LIVE_WINDOW` ago: ``map`` is the map
    of the last round, ``next_round`` the round being played now: 2 after a round 1, 1
    after a map), "after" (the last session ended less than :data:`AFTER_WINDOW` ago),
    "next" (``next_start``: the predicted start of the next session, aware UTC) or "idle".
    ``match``: the current (or the last session's last) match, with its score.
    """

    kind: str
    map: str | None = None
    next_round: int | None = None
    match: Match | None = None
    maps_played: int = 0
    rounds: int = 0
    next_start: datetime | None = None


def _local(now: datetime, zone: ZoneInfo) -> datetime:
    return now.astimezone(zone).replace(tzinfo=None) if now.tzinfo else now


def presence_state(
    now: datetime, tz: str, *, predicted: datetime | Literal["fit"] | None = "fit"
) -> PresenceState:
    """What the presence should say at ``now`` (aware, or naive server-local).

    ``predicted``: the forecast's next start when the caller has it from the cache
    (:func:`etbot.availability.predicted_start`, as ``/sessions`` asks it); by default the
    forecast is fitted here."""
    zone = ZoneInfo(tz)
    local_now = _local(now, zone)
    last: Any = (
        Round.select(Round.id, Round.map, Round.round_no, Round.ended_at, Round.session)
        .where(Round.ended_at <= local_now)
        .order_by(Round.ended_at.desc(), Round.id.desc())
        .first()
    )
    if last is not None and last.session_id is not None:
        since = local_now - as_datetime(last.ended_at)
        if since <= AFTER_WINDOW:
            matches = _matches_as_of(last.session_id, local_now)
            match = matches[-1] if matches else None
            maps_played = sum(len(m.decided) for m in matches)
            rounds = (
                Round.select()
                .where((Round.session == last.session_id) & (Round.ended_at <= local_now))
                .count()
            )
            if since <= LIVE_WINDOW:
                next_round = 2 if last.round_no == 1 else 1
                return PresenceState("live", last.map, next_round, match, maps_played, rounds)
            return PresenceState("after", last.map, None, match, maps_played, rounds)
    # What /sessions says: a start a poll agreed on, else the forecast.
    start = availability.next_session(now, zone, predicted=predicted).start
    if start is not None:
        return PresenceState("next", next_start=start)
    return PresenceState("idle")


def _matches_as_of(session_id: int, local_now: datetime) -> list[Match]:
    lineups = load_lineups([session_id]).get(session_id, [])
    return matches_from_lineups(lineups, local_now)
