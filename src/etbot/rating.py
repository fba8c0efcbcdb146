"""Skill ratings learned from stopwatch map results (not from K/D).

The model
---------
Every paired map (round 1 + round 2) is one match between the team that attacked first
and the team that defended first. Teams are identified by who played: a player counts
for the side they played in each round (round 1 colours, then the swapped colours of
round 2), weighted by the share of the map's time they played for it, so a substitute
who only played round 2 counts for the side he joined, with the time he played.

The probability that the first attackers win a decided map is a Bayesian logistic
(Bradley-Terry) model::

    logit P = side + map[name] + avg_w(skill, first attack) - avg_w(skill, first defence)

* ``side`` is the stopwatch side effect (round 2's attackers chase a known time); its
  prior is neutral, N(0, 0.5²): it is learned from the maps, not assumed.
* ``map[name]`` shifts the side effect per map, shrunk toward the global side rate by a
  N(0, 0.25²) prior: a map needs many results before it moves far from the global rate.
* Skills have a N(0, 1²) prior: a player with few maps stays near the average (0).
  Team strength is the time-weighted *mean* skill, so the scale does not depend on
  the team size (3v3 and 10v10 both occur).
* Skills drift: an absent player's variance grows back to the prior over a year
  (Glicko's idea), so ratings can follow players who improve or decline.
* The posterior is kept as independent Gaussians (mean ``mu``, sd ``sigma`` per term)
  and updated one map at a time in time order with a Laplace / extended-Kalman step,
  the update Glicko and TrueSkill use in their own forms. The win probability integrates
  over the uncertainty (probit approximation ``logistic(m / sqrt(1 + pi v / 8))``), so
  uncertain match-ups are predicted closer to 50 %.
* Draws (both defences held the full time) count as half a win for both teams: they say
  the teams were even. The predicted quantity is still P(first attack wins | decided).

Five numbers in :class:`RatingParams`, all fixed a priori, none fitted to the corpus;
``bench/rating.py`` shows the score barely moves when each is halved or doubled.

Determinism
-----------
The stored ratings are a function of the *set* of map results: they are replayed in
the order (round 2 end time, tiebreak), where the tiebreak is a hash of the round 2
file name and server name (not a database id, which depends on the import order), and
every sum runs over terms in GUID order. :func:`rebuild` recomputes everything;
:func:`apply_map_results` (called by the importer inside its batch transaction) replays
from the earliest new, changed or deleted result, restoring the state at that point
from the stored history, and stores exactly what a rebuild would.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from peewee import JOIN, fn

from etbot.cache import cached_query
from etbot.db import among, as_datetime, insert_rows, lock_writers
from etbot.errors import Typed, UserError
from etbot.models import (
    MapResult,
    Player,
    PlayerRating,
    PlayerRound,
    RatingFactor,
    RatingGame,
    RatingHistory,
    Round,
    Server,
    database_proxy,
)

log = logging.getLogger(__name__)

#: Model term names besides players.
SIDE = "side"
MAP_PREFIX = "map:"

#: Friendly scale: skill 0 (the prior, an average player) is shown as 1000 and one unit
#: of skill (logit of the team average) as 200 points.
DISPLAY_CENTER = 1000.0
DISPLAY_SCALE = 200.0
#: The shown rating is conservative: mean minus this many standard deviations, so a
#: newcomer starts low and climbs as the model becomes sure of them (TrueSkill's habit).
CONSERVATIVE_SDS = 2.0

#: Teams of up to this many players per line-up are accepted by the prediction API.
MAX_LINEUP = 64


class RatingInputError(UserError):
    """A line-up the model cannot judge (empty side, a player on both sides…)."""


class NoRating(UserError):
    """The player has no rated map yet."""


def no_rating(player_id: int) -> NoRating:
    """The error for a player without a rated map, naming them."""
    name = Player.select(Player.name).where(Player.id == player_id).scalar()
    return NoRating(
        "{player} has no rated maps yet (a map counts once both of its rounds are in).",
        player=name if name is not None else f"Player #{player_id}",
    )


@dataclass(frozen=True)
class RatingParams:
    """The model's prior beliefs (see the module docstring); fixed, not fitted."""

    #: Prior sd of a player's skill (logit units of the team average).
    player_sd: float = 1.0
    #: Prior sd of the first-attack side effect (neutral mean 0).
    side_sd: float = 0.5
    #: Prior sd of a map's shift of the side effect.
    map_sd: float = 0.25
    #: An absent player's variance grows back to the prior over this many days
    #: (None: no drift).
    forget_days: float | None = 365.25
    #: Score of a draw for both sides; None skips draws.
    draw_score: float | None = 0.5

    @property
    def drift_per_day(self) -> float:
        if not self.forget_days:
            return 0.0
        return self.player_sd**2 / self.forget_days


DEFAULT_PARAMS = RatingParams()


# --------------------------------------------------------------------------- pure model


@dataclass(frozen=True, slots=True)
class SkillState:
    """One term's posterior: N(mu, sigma²), after ``maps`` rated maps."""

    mu: float
    sigma: float
    maps: int = 0
    last_played: datetime | None = None


@dataclass(frozen=True)
class Game:
    """One map result, as the model sees it."""

    map_result_id: int | None
    ended_at: datetime
    tiebreak: int
    map: str
    #: True: the team that attacked first won; False: the first defence won; None: draw.
    first_attack_won: bool | None
    #: (GUID, share of the map's time played for this side), sorted by GUID.
    first_attack: tuple[tuple[str, float], ...]
    first_defence: tuple[tuple[str, float], ...]

    @property
    def key(self) -> tuple[datetime, int]:
        """The replay order."""
        return (self.ended_at, self.tiebreak)

    @property
    def decided(self) -> bool:
        return self.first_attack_won is not None


@dataclass(frozen=True)
class Prediction:
    """P(first attack wins), with the mean and variance of the logit behind it."""

    p_first_attack: float
    mean: float
    variance: float
    n_known_players: int


@dataclass(frozen=True)
class PlayerChange:
    """One player's rating before (as stored, before drift) and after one map."""

    guid: str
    side: int  # 1 first attack, 2 first defence
    weight: float
    score: float  # 1 win, 0 loss, 0.5 draw, for the player's side
    before: SkillState
    after: SkillState


@dataclass(frozen=True)
class GameUpdate:
    """What learning one game did."""

    game: Game
    #: Predicted before learning; None when a side had no players.
    p_first_attack: float | None
    #: The score learned from (1 / 0 / draw score); None = not learned from.
    score: float | None
    side_before: SkillState | None
    map_before: SkillState | None
    changes: tuple[PlayerChange, ...]


def logistic(x: float) -> float:
    """1 / (1 + e^-x) without overflow."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@dataclass(slots=True)
class _Term:
    key: str
    is_player: bool
    x: float
    mu: float
    var: float


class RatingModel:
    """The replayable state of the model: a Gaussian per player and per factor."""

    def __init__(self, params: RatingParams = DEFAULT_PARAMS) -> None:
        self.params = params
        self.players: dict[str, SkillState] = {}
        self.factors: dict[str, SkillState] = {}

    # ---- state

    def prior_sd(self, key: str, *, is_player: bool) -> float:
        if is_player:
            return self.params.player_sd
        return self.params.side_sd if key == SIDE else self.params.map_sd

    def player(self, guid: str) -> SkillState:
        """A player's stored state (the prior for an unknown player)."""
        return self.players.get(guid) or SkillState(0.0, self.params.player_sd)

    def factor(self, name: str) -> SkillState:
        return self.factors.get(name) or SkillState(0.0, self.prior_sd(name, is_player=False))

    def _player_belief(self, guid: str, at: datetime | None) -> tuple[float, float]:
        """(mean, variance) of a player's skill at time ``at``, with drift since last played."""
        prior_var = self.params.player_sd**2
        state = self.players.get(guid)
        if state is None:
            return 0.0, prior_var
        var = state.sigma * state.sigma
        drift = self.params.drift_per_day
        if (
            drift > 0
            and at is not None
            and state.last_played is not None
            and at > state.last_played
        ):
            days = (at - state.last_played).total_seconds() / 86400.0
            var = min(prior_var, var + drift * days)
        return state.mu, var

    def _terms(
        self,
        first_attack: Mapping[str, float],
        first_defence: Mapping[str, float],
        map_name: str | None,
        at: datetime | None,
    ) -> list[_Term]:
        side = self.factor(SIDE)
        terms = [_Term(SIDE, False, 1.0, side.mu, side.sigma * side.sigma)]
        if map_name:
            key = MAP_PREFIX + map_name
            state = self.factor(key)
            terms.append(_Term(key, False, 1.0, state.mu, state.sigma * state.sigma))
        # Team strength = time-weighted mean skill; a player listed on both sides (it
        # happens when someone switches teams between rounds) gets the net coefficient.
        xs: dict[str, float] = defaultdict(float)
        total_a = math.fsum(first_attack.values())
        total_d = math.fsum(first_defence.values())
        for guid, weight in first_attack.items():
            xs[guid] += weight / total_a
        for guid, weight in first_defence.items():
            xs[guid] -= weight / total_d
        for guid in sorted(xs):  # a fixed summation order: bit-identical replays
            mu, var = self._player_belief(guid, at)
            terms.append(_Term(guid, True, xs[guid], mu, var))
        return terms

    @staticmethod
    def _moments(terms: Sequence[_Term]) -> tuple[float, float]:
        mean = 0.0
        var = 0.0
        for t in terms:
            mean += t.x * t.mu
            var += t.x * t.x * t.var
        return mean, var

    # ---- predict / learn

    def predict(
        self,
        first_attack: Mapping[str, float],
        first_defence: Mapping[str, float],
        map_name: str | None = None,
        at: datetime | None = None,
    ) -> Prediction:
        """P(the first-attack line-up wins the map); weights are shares of time played
        (1.0 for a full map). Unknown players get the prior."""
        if not first_attack or not first_defence:
            raise RatingInputError("Both sides need at least one player.")
        terms = self._terms(first_attack, first_defence, map_name, at)
        mean, var = self._moments(terms)
        p = logistic(mean / math.sqrt(1.0 + math.pi * var / 8.0))
        known = len({g for g in (*first_attack, *first_defence) if g in self.players})
        return Prediction(p, mean, var, known)

    def learn(self, game: Game) -> GameUpdate:
        """Predict ``game`` from what is known so far, then update the state from it."""
        first_attack = dict(game.first_attack)
        first_defence = dict(game.first_defence)
        if not first_attack or not first_defence:
            return GameUpdate(game, None, None, None, None, ())
        terms = self._terms(first_attack, first_defence, game.map, game.ended_at)
        mean, var_z = self._moments(terms)
        p = logistic(mean / math.sqrt(1.0 + math.pi * var_z / 8.0))
        if game.first_attack_won is None:
            score = self.params.draw_score
        else:
            score = 1.0 if game.first_attack_won else 0.0
        side_before = self.factor(SIDE)
        map_before = self.factor(MAP_PREFIX + game.map)
        if score is None:
            return GameUpdate(game, p, None, side_before, map_before, ())
        # Laplace step of the logistic likelihood at the prior mean (extended Kalman
        # filter): gradient score - p, curvature p(1 - p), shrunk by the prior variance.
        curvature = p * (1.0 - p)
        denom = 1.0 + curvature * var_z
        changes: list[PlayerChange] = []
        for t in terms:
            mu = t.mu + t.var * t.x * (score - p) / denom
            var = t.var - t.var * t.var * t.x * t.x * curvature / denom
            sigma = math.sqrt(var)
            if t.is_player:
                before = self.player(t.key)
                after = SkillState(mu, sigma, before.maps + 1, game.ended_at)
                self.players[t.key] = after
                w_a = first_attack.get(t.key, 0.0)
                w_d = first_defence.get(t.key, 0.0)
                side = 1 if w_a >= w_d else 2
                changes.append(
                    PlayerChange(
                        t.key,
                        side,
                        max(w_a, w_d),
                        score if side == 1 else 1.0 - score,
                        before,
                        after,
                    )
                )
            else:
                before_f = self.factor(t.key)
                self.factors[t.key] = SkillState(mu, sigma, before_f.maps + 1)
        return GameUpdate(game, p, score, side_before, map_before, tuple(changes))


def replay(
    games: Iterable[Game], params: RatingParams = DEFAULT_PARAMS
) -> tuple[RatingModel, list[GameUpdate]]:
    """Learn ``games`` in replay order from scratch; every prediction uses earlier maps only."""
    model = RatingModel(params)
    updates = [model.learn(g) for g in sorted(games, key=lambda g: g.key)]
    return model, updates


# --------------------------------------------------------------------------- display


def display_skill(mu: float) -> float:
    """A skill mean on the friendly scale (1000 = average)."""
    return DISPLAY_CENTER + DISPLAY_SCALE * mu


def display_rating(mu: float, sigma: float) -> int:
    """The conservative rating shown to players: skill minus two standard deviations."""
    return round(DISPLAY_CENTER + DISPLAY_SCALE * (mu - CONSERVATIVE_SDS * sigma))


# --------------------------------------------------------------------------- loading


def tiebreak_for(server_name: str, round2_file_name: str) -> int:
    """A replay tiebreak from what identifies the round 2 (63 bits, fits a BIGINT)."""
    digest = hashlib.sha256(f"{server_name}\x00{round2_file_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def load_games(since: datetime | None = None) -> list[Game]:
    """Map results (ending at or after ``since``) as games, in replay order."""
    r1 = Round.alias("r1")
    r2 = Round.alias("r2")
    query = (
        MapResult.select(
            MapResult.id,
            MapResult.ended_at,
            MapResult.map,
            MapResult.outcome,
            MapResult.winner_team,
            MapResult.round1,
            MapResult.round2,
            r1.defender,
            r2.defender,
            r2.file_name,
            Server.name,
        )
        .join(r1, on=(MapResult.round1 == r1.id))
        .switch(MapResult)
        .join(r2, on=(MapResult.round2 == r2.id))
        .join(Server, on=(r2.server == Server.id))
    )
    if since is not None:
        query = query.where(MapResult.ended_at >= since)
    results = list(query.tuples())
    if not results:
        return []

    # Player rows of those rounds: (round id, guid, team, seconds played).
    rows: dict[int, list[tuple[str, int, int]]] = defaultdict(list)

    def player_rows() -> Any:
        return PlayerRound.select(
            PlayerRound.round, Player.guid, PlayerRound.team, PlayerRound.time_played_s
        ).join(Player, on=(PlayerRound.player == Player.id))

    if since is None:
        # Every map: the player rows of all paired rounds, by a join.
        queries = [
            player_rows().switch(PlayerRound).join(MapResult, on=(PlayerRound.round == link))
            for link in (MapResult.round1, MapResult.round2)
        ]
    else:
        # The maps of a batch: their rounds by id. (A join filtered on the map result's
        # time lets SQLite, before it has statistics, scan every player row of the history
        # for each batch: the cost of a batch then grew with the history.)
        round_ids = sorted({rid for row in results for rid in (row[5], row[6])})
        queries = [player_rows().where(among(PlayerRound.round, round_ids))]
    for query in queries:
        # A plain cursor: peewee's row conversion would cost more than the query itself.
        for round_id, guid, team, seconds in database_proxy.execute(query):
            rows[round_id].append((guid, team, seconds or 0))

    games = []
    for mr_id, ended, map_name, outcome, winner, r1_id, r2_id, d1, d2, file2, server in results:
        # The team that attacked first plays colour 3 - d1 in round 1 and defends (colour
        # d2) in round 2.
        sides = _side_weights(rows.get(r1_id, []), rows.get(r2_id, []), 3 - d1, d2)
        if outcome == "draw" or winner is None:
            won: bool | None = None
        else:
            won = winner == d2
        games.append(
            Game(
                mr_id,
                as_datetime(ended),
                tiebreak_for(server, file2),
                map_name,
                won,
                sides[0],
                sides[1],
            )
        )
    games.sort(key=lambda g: g.key)
    return games


def _side_weights(
    round1: Sequence[tuple[str, int, int]],
    round2: Sequence[tuple[str, int, int]],
    attack_colour_r1: int,
    attack_colour_r2: int,
) -> tuple[tuple[tuple[str, float], ...], tuple[tuple[str, float], ...]]:
    """(first attack, first defence) as (GUID, share of the map's time) pairs."""
    playing1 = [r for r in round1 if r[1] in (1, 2)]
    playing2 = [r for r in round2 if r[1] in (1, 2)]
    # A round's length is what its longest-playing player played (the round time in
    # the header can be garbage or missing in old files).
    total = max((r[2] for r in playing1), default=0) + max((r[2] for r in playing2), default=0)
    seconds: list[dict[str, int]] = [defaultdict(int), defaultdict(int)]
    present: list[set[str]] = [set(), set()]
    for rows, attack_colour in ((playing1, attack_colour_r1), (playing2, attack_colour_r2)):
        for guid, team, secs in rows:
            side = 0 if team == attack_colour else 1
            seconds[side][guid] += secs
            present[side].add(guid)
    out = []
    for side in (0, 1):
        if total > 0:
            pairs = [(g, min(1.0, seconds[side][g] / total)) for g in sorted(present[side])]
            pairs = [(g, w) for g, w in pairs if w > 0]
        else:  # no times at all: everyone who appeared counts fully
            pairs = [(g, 1.0) for g in sorted(present[side])]
        out.append(tuple(pairs))
    return out[0], out[1]


# --------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class ApplyReport:
    """What :func:`apply_map_results` / :func:`rebuild` did."""

    #: Replay start (ended_at, tiebreak); None = nothing to do.
    start: tuple[datetime, int] | None
    #: Games replayed (learned again or for the first time).
    replayed: int
    #: Of those, map results that were not rated before.
    new: int


def _load_state(model: RatingModel) -> dict[str, int]:
    """Load every stored rating into ``model``; returns {GUID: player id} for them."""
    ids: dict[str, int] = {}
    for guid, pid, mu, sigma, maps, last in (
        PlayerRating.select(
            Player.guid,
            PlayerRating.player,
            PlayerRating.mu,
            PlayerRating.sigma,
            PlayerRating.maps,
            PlayerRating.last_played,
        )
        .join(Player, on=(PlayerRating.player == Player.id))
        .tuples()
    ):
        model.players[guid] = SkillState(mu, sigma, maps, as_datetime(last))
        ids[guid] = pid
    for name, mu, sigma, maps in RatingFactor.select(
        RatingFactor.name, RatingFactor.mu, RatingFactor.sigma, RatingFactor.maps
    ).tuples():
        model.factors[name] = SkillState(mu, sigma, maps)
    return ids


def _from(model: Any, start: tuple[datetime, int]) -> Any:
    """SQL condition: row key (ended_at, tiebreak) >= start."""
    t0, tb0 = start
    return (model.ended_at > t0) | ((model.ended_at == t0) & (model.tiebreak >= tb0))


def _restore(model: RatingModel, start: tuple[datetime, int]) -> tuple[set[str], set[str]]:
    """Turn the current state in ``model`` back into the state just before ``start``,
    from the stored rows at or after it (each row keeps the values before its map).

    Returns the (players, factors) whose state was restored.
    """
    history = sorted(
        (
            (as_datetime(e), tb, guid, mu, sigma, as_datetime(prev) if prev else None)
            for e, tb, guid, mu, sigma, prev in RatingHistory.select(
                RatingHistory.ended_at,
                RatingHistory.tiebreak,
                Player.guid,
                RatingHistory.mu_before,
                RatingHistory.sigma_before,
                RatingHistory.previous_at,
            )
            .join(Player, on=(RatingHistory.player == Player.id))
            .where(_from(RatingHistory, start))
            .tuples()
        ),
        key=lambda r: (r[0], r[1], r[2]),
    )
    counts = Counter(r[2] for r in history)
    players: set[str] = set()
    for _e, _tb, guid, mu, sigma, prev in history:
        if guid in players:
            continue
        players.add(guid)
        maps_before = model.player(guid).maps - counts[guid]
        if maps_before <= 0:
            model.players.pop(guid, None)
        else:
            model.players[guid] = SkillState(mu, sigma, maps_before, prev)

    games = sorted(
        (
            (as_datetime(e), tb, name, side_mu, side_sigma, map_mu, map_sigma)
            for e, tb, name, side_mu, side_sigma, map_mu, map_sigma in RatingGame.select(
                RatingGame.ended_at,
                RatingGame.tiebreak,
                RatingGame.map,
                RatingGame.side_mu_before,
                RatingGame.side_sigma_before,
                RatingGame.map_mu_before,
                RatingGame.map_sigma_before,
            )
            .where(_from(RatingGame, start) & RatingGame.score.is_null(False))
            .tuples()
        ),
        key=lambda r: (r[0], r[1]),
    )
    factors: set[str] = set()
    learned = Counter([SIDE] * len(games) + [MAP_PREFIX + g[2] for g in games])
    for _e, _tb, name, side_mu, side_sigma, map_mu, map_sigma in games:
        for key, mu, sigma in ((SIDE, side_mu, side_sigma), (MAP_PREFIX + name, map_mu, map_sigma)):
            if key in factors:
                continue
            factors.add(key)
            maps_before = model.factor(key).maps - learned[key]
            if maps_before <= 0:
                model.factors.pop(key, None)
            else:
                model.factors[key] = SkillState(mu, sigma, maps_before)
    return players, factors


def _pending_start() -> tuple[tuple[datetime, int] | None, int]:
    """Where the stored ratings stop matching the map results: the earliest result not
    rated yet or rated but since deleted. Returns (start, number of unrated results)."""
    r2 = Round.alias("r2")
    unrated = list(
        MapResult.select(MapResult.ended_at, r2.file_name, Server.name)
        .join(RatingGame, JOIN.LEFT_OUTER, on=(RatingGame.map_result == MapResult.id))
        .switch(MapResult)
        .join(r2, on=(MapResult.round2 == r2.id))
        .join(Server, on=(r2.server == Server.id))
        .where(RatingGame.id.is_null())
        .tuples()
    )
    keys = [(as_datetime(e), tiebreak_for(server, f)) for e, f, server in unrated]
    keys += [
        (as_datetime(e), tb)
        for e, tb in RatingGame.select(RatingGame.ended_at, RatingGame.tiebreak)
        .where(RatingGame.map_result.is_null())
        .tuples()
    ]
    return (min(keys) if keys else None), len(unrated)


def _replay_stored(start: tuple[datetime, int] | None, params: RatingParams) -> int:
    """Replay every map result from ``start`` (None: from scratch) and store the result."""
    model = RatingModel(params)
    if start is None:
        for table in (RatingHistory, RatingGame, PlayerRating, RatingFactor):
            table.delete().execute()
        touched_players: set[str] = set()
        touched_factors: set[str] = set()
        games = load_games()
    else:
        _load_state(model)
        touched_players, touched_factors = _restore(model, start)
        RatingHistory.delete().where(_from(RatingHistory, start)).execute()
        RatingGame.delete().where(_from(RatingGame, start)).execute()
        games = [g for g in load_games(since=start[0]) if g.key >= start]

    game_rows: list[tuple[Any, ...]] = []
    history: list[tuple[Game, PlayerChange]] = []
    for game in games:
        update = model.learn(game)
        side_before, map_before = update.side_before, update.map_before
        game_rows.append(
            (
                game.map_result_id,
                game.ended_at,
                game.tiebreak,
                game.map,
                update.score,
                update.p_first_attack,
                len(game.first_attack) + len(game.first_defence),
                side_before.mu if side_before else None,
                side_before.sigma if side_before else None,
                map_before.mu if map_before else None,
                map_before.sigma if map_before else None,
            )
        )
        if update.score is not None:
            touched_factors.update((SIDE, MAP_PREFIX + game.map))
        for change in update.changes:
            touched_players.add(change.guid)
            history.append((game, change))

    ids = _player_ids(touched_players)
    insert_rows(RatingGame, _GAME_COLUMNS, game_rows)
    insert_rows(
        RatingHistory,
        _HISTORY_COLUMNS,
        [
            (
                ids[c.guid],
                g.map_result_id,
                g.ended_at,
                g.tiebreak,
                c.side,
                c.weight,
                c.score,
                c.before.mu,
                c.before.sigma,
                c.after.mu,
                c.after.sigma,
                c.before.last_played,
            )
            for g, c in history
        ],
    )

    # Current values of everything the replay touched (restored or learned).
    if touched_players:
        PlayerRating.delete().where(
            among(PlayerRating.player, [ids[g] for g in touched_players])
        ).execute()
        insert_rows(
            PlayerRating,
            ("player_id", "mu", "sigma", "maps", "last_played"),
            [
                (ids[g], s.mu, s.sigma, s.maps, s.last_played)
                for g in sorted(touched_players)
                if (s := model.players.get(g)) is not None
            ],
        )
    if touched_factors:
        RatingFactor.delete().where(RatingFactor.name.in_(sorted(touched_factors))).execute()
        insert_rows(
            RatingFactor,
            ("name", "mu", "sigma", "maps"),
            [
                (k, s.mu, s.sigma, s.maps)
                for k in sorted(touched_factors)
                if (s := model.factors.get(k)) is not None
            ],
        )
    return len(games)


_GAME_COLUMNS = (
    "map_result_id",
    "ended_at",
    "tiebreak",
    "map",
    "score",
    "p_first_attack",
    "players",
    "side_mu_before",
    "side_sigma_before",
    "map_mu_before",
    "map_sigma_before",
)
_HISTORY_COLUMNS = (
    "player_id",
    "map_result_id",
    "ended_at",
    "tiebreak",
    "side",
    "weight",
    "score",
    "mu_before",
    "sigma_before",
    "mu_after",
    "sigma_after",
    "previous_at",
)


def _player_ids(guids: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(guids))
    ids: dict[str, int] = {}
    query = Player.select(Player.guid, Player.id).where(among(Player.guid, wanted))
    for guid, pid in database_proxy.execute(query):
        ids[guid] = pid
    return ids


def rebuild(params: RatingParams = DEFAULT_PARAMS) -> ApplyReport:
    """Recompute every rating from the map results, in replay order, and store it."""
    with database_proxy.atomic():
        lock_writers()  # never beside an import batch (its hook replays ratings too)
        replayed = _replay_stored(None, params)
    log.info("ratings rebuilt from %d map results", replayed)
    return ApplyReport(None, replayed, replayed)


def apply_map_results(
    map_result_ids: Iterable[int] = (), params: RatingParams = DEFAULT_PARAMS
) -> ApplyReport:
    """Bring the stored ratings up to date after an import batch wrote map results.

    Call it inside the batch's transaction, after the map results are written (it runs
    in a savepoint of the caller's transaction). ``map_result_ids`` are the results the
    batch wrote; results not listed are found too, so the stored ratings are always
    those of the current set of map results: a result older than the newest rated one
    (a late file), or one the ingest deleted (a round 2 re-paired), makes it replay from
    that point. The stored numbers are exactly those :func:`rebuild` would store.
    """
    wanted = set(map_result_ids)
    with database_proxy.atomic():
        lock_writers()  # already held inside an import batch; taken by `rating predict`
        start, unrated = _pending_start()
        if start is None:
            return ApplyReport(None, 0, 0)
        replayed = _replay_stored(start, params)
    log.debug(
        "ratings: replayed %d map results from %s (%d new, %d listed by the caller)",
        replayed,
        start[0],
        unrated,
        len(wanted),
    )
    return ApplyReport(start, replayed, unrated)


# --------------------------------------------------------------------------- predictions


def reference_time() -> datetime | None:
    """End of the newest rated map: "now" for drift and for who counts as active (so an
    archive of old files ranks the same as it did back then)."""
    value = RatingGame.select(fn.MAX(RatingGame.ended_at)).scalar()
    return as_datetime(value) if value is not None else None


def load_model(
    guids: Iterable[str] | None = None, params: RatingParams = DEFAULT_PARAMS
) -> RatingModel:
    """The stored state as a model (only the listed players' ratings, if given)."""
    model = RatingModel(params)
    for name, mu, sigma, maps in RatingFactor.select(
        RatingFactor.name, RatingFactor.mu, RatingFactor.sigma, RatingFactor.maps
    ).tuples():
        model.factors[name] = SkillState(mu, sigma, maps)
    query = PlayerRating.select(
        Player.guid,
        PlayerRating.mu,
        PlayerRating.sigma,
        PlayerRating.maps,
        PlayerRating.last_played,
    ).join(Player, on=(PlayerRating.player == Player.id))
    if guids is not None:
        query = query.where(among(Player.guid, sorted(set(guids))))
    for guid, mu, sigma, maps, last in query.tuples():
        model.players[guid] = SkillState(mu, sigma, maps, as_datetime(last))
    return model


def normalise_guid(value: str) -> str:
    """A GUID as stored: stripped, upper case. Raises RatingInputError if malformed."""
    guid = value.strip().upper()
    if not guid or len(guid) > 32 or not guid.isalnum() or not guid.isascii():
        raise RatingInputError("Not a player GUID: {value}.", value=Typed(value.strip()[:40]))
    return guid


def check_lineups(
    first: Iterable[str], second: Iterable[str], names: tuple[str, str] = ("first", "second")
) -> tuple[list[str], list[str]]:
    """Two line-ups of GUIDs, normalised and de-duplicated, or RatingInputError when a
    side is empty, too large, or a GUID is on both sides."""
    a = list(dict.fromkeys(normalise_guid(g) for g in first if g.strip()))
    b = list(dict.fromkeys(normalise_guid(g) for g in second if g.strip()))
    for label, side in zip(names, (a, b), strict=True):
        if not side:
            raise RatingInputError(f"The {label} side has no players.")
        if len(side) > MAX_LINEUP:
            raise RatingInputError(f"The {label} side has more than {MAX_LINEUP} players.")
    both = sorted(set(a) & set(b))
    if both:
        raise RatingInputError("On both sides: {guids}.", guids=[Typed(g) for g in both])
    return a, b


@dataclass(frozen=True)
class MapPrediction:
    """P(the team attacking first wins the map), draws excluded."""

    p_first_attack_wins: float
    n_known_players: int
    n_players: int
    map: str | None
    #: Rated maps of that name the model has learned from (0: the map's prior).
    map_results: int


def predict_map(
    first_attack: Iterable[str],
    first_defence: Iterable[str],
    map_name: str | None = None,
    *,
    sync: bool = True,
) -> MapPrediction:
    """Predict a map between two line-ups of GUIDs from what the database holds now.

    Unknown GUIDs get the prior (an average player). With ``sync`` the ratings are first
    brought up to date with the stored map results (cheap when they already are).
    """
    fa, fd = check_lineups(first_attack, first_defence, ("first attack", "first defence"))
    name = map_name.strip() if map_name and map_name.strip() else None
    if sync:
        apply_map_results()
    model = load_model([*fa, *fd])
    pred = model.predict(dict.fromkeys(fa, 1.0), dict.fromkeys(fd, 1.0), name, reference_time())
    maps = model.factor(MAP_PREFIX + name).maps if name else 0
    return MapPrediction(pred.p_first_attack, pred.n_known_players, len(fa) + len(fd), name, maps)


def team_win_probability(
    model: RatingModel,
    team_a: Sequence[str],
    team_b: Sequence[str],
    map_name: str | None = None,
    at: datetime | None = None,
) -> float:
    """P(team A wins a map against team B) when who attacks first is not known yet:
    the mean over both orders."""
    a = dict.fromkeys(team_a, 1.0)
    b = dict.fromkeys(team_b, 1.0)
    p_a_first = model.predict(a, b, map_name, at).p_first_attack
    p_b_first = model.predict(b, a, map_name, at).p_first_attack
    return 0.5 * (p_a_first + (1.0 - p_b_first))


@dataclass(frozen=True)
class TeamPrediction:
    p_team_a: float
    n_known_players: int


def win_probability(
    team_a: Iterable[str], team_b: Iterable[str], map_name: str | None = None
) -> TeamPrediction:
    """P(team A beats team B on a map, sides not yet known), from the stored ratings."""
    a, b = check_lineups(team_a, team_b, ("first team", "second team"))
    model = load_model([*a, *b])
    p = team_win_probability(model, a, b, map_name, reference_time())
    known = sum(1 for g in (*a, *b) if g in model.players)
    return TeamPrediction(p, known)


# --------------------------------------------------------------------------- player views


@dataclass(frozen=True)
class RatingMove:
    """One map's effect on a player's rating."""

    map_result_id: int | None
    map: str
    ended_at: datetime
    score: float  # 1 win, 0 loss, 0.5 draw
    #: Change of the skill on the friendly scale (points).
    change: float


@dataclass(frozen=True)
class RatingSummary:
    """What ``/rating`` shows about a player."""

    player_id: int
    guid: str
    name: str
    #: Conservative rating on the friendly scale (skill - 2 sd).
    rating: int
    #: Skill estimate and its standard deviation on the friendly scale.
    skill: float
    uncertainty: float
    maps: int
    wins: int
    losses: int
    draws: int
    #: Rank by rating among players active in the last ``active_days`` (None: inactive).
    rank: int | None
    active_players: int
    last_played: datetime
    #: How many of the player's last sessions ``rating_change`` / ``skill_change`` cover.
    sessions: int
    rating_change: int
    skill_change: float
    #: The maps of those sessions that moved the skill most, largest change first.
    top_moves: tuple[RatingMove, ...]


@dataclass(frozen=True)
class RatedPlayer:
    rank: int
    player_id: int
    guid: str
    name: str
    rating: int
    skill: float
    uncertainty: float
    maps: int
    last_played: datetime


@cached_query
def ranking(active_days: int = 90) -> list[RatedPlayer]:
    """Players who played a rated map in the ``active_days`` before the newest rated map,
    best conservative rating first (ties: more maps, then GUID)."""
    ref = reference_time()
    if ref is None:
        return []
    rows = (
        PlayerRating.select(
            PlayerRating.player,
            Player.guid,
            Player.name,
            PlayerRating.mu,
            PlayerRating.sigma,
            PlayerRating.maps,
            PlayerRating.last_played,
        )
        .join(Player, on=(PlayerRating.player == Player.id))
        .where(PlayerRating.last_played >= ref - timedelta(days=active_days))
        .tuples()
    )
    scored = sorted(rows, key=lambda r: (-display_rating(r[3], r[4]), -r[5], r[1]))
    return [
        RatedPlayer(
            i + 1,
            pid,
            guid,
            name,
            display_rating(mu, sigma),
            display_skill(mu),
            DISPLAY_SCALE * sigma,
            maps,
            as_datetime(last),
        )
        for i, (pid, guid, name, mu, sigma, maps, last) in enumerate(scored)
    ]


@cached_query
def rating_summary(
    player_id: int, *, sessions: int = 5, top: int = 3, active_days: int = 90
) -> RatingSummary:
    """A player's rating, rank, change over their last ``sessions`` gaming sessions and
    the ``top`` maps of those sessions that moved it most. Raises NoRating."""
    row = (
        PlayerRating.select(PlayerRating, Player)
        .join(Player, on=(PlayerRating.player == Player.id))
        .where(PlayerRating.player == player_id)
        .first()
    )
    if row is None:
        raise no_rating(player_id)
    player = row.player
    history = _history_rows(player_id)
    scores = Counter(h[5] for h in history)
    ranked = ranking(active_days)
    rank = next((r.rank for r in ranked if r.player_id == player_id), None)

    # The player's last `sessions` sessions (maps without a session count on their own).
    order: list[Any] = []
    for h in history:
        session = h[6] if h[6] is not None else ("map", h[0], h[1])
        if not order or order[-1] != session:
            order.append(session)
    recent = set(order[-sessions:]) if sessions > 0 else set()
    window = [h for h in history if (h[6] if h[6] is not None else ("map", h[0], h[1])) in recent]
    if window:
        first, last = window[0], window[-1]
        rating_change = display_rating(last[9], last[10]) - display_rating(first[7], first[8])
        skill_change = DISPLAY_SCALE * (last[9] - first[7])
    else:
        rating_change, skill_change = 0, 0.0
    moves = sorted(
        (RatingMove(h[2], h[3], h[0], h[5], DISPLAY_SCALE * (h[9] - h[7])) for h in window),
        key=lambda m: (-abs(m.change), m.ended_at),
    )[: max(0, top)]
    return RatingSummary(
        player_id=player_id,
        guid=player.guid,
        name=player.name,
        rating=display_rating(row.mu, row.sigma),
        skill=display_skill(row.mu),
        uncertainty=DISPLAY_SCALE * row.sigma,
        maps=row.maps,
        wins=scores.get(1.0, 0),
        losses=scores.get(0.0, 0),
        draws=sum(n for s, n in scores.items() if s not in (0.0, 1.0)),
        rank=rank,
        active_players=len(ranked),
        last_played=as_datetime(row.last_played),
        sessions=len(recent),
        rating_change=rating_change,
        skill_change=skill_change,
        top_moves=tuple(moves),
    )


def _history_rows(player_id: int) -> list[tuple[Any, ...]]:
    """(ended_at, tiebreak, map_result, map, side, score, session, mu_before,
    sigma_before, mu_after, sigma_after) of a player, in replay order."""
    r2 = Round.alias("r2")
    rows = (
        RatingHistory.select(
            RatingHistory.ended_at,
            RatingHistory.tiebreak,
            RatingHistory.map_result,
            RatingGame.map,
            RatingHistory.side,
            RatingHistory.score,
            r2.session,
            RatingHistory.mu_before,
            RatingHistory.sigma_before,
            RatingHistory.mu_after,
            RatingHistory.sigma_after,
        )
        .join(
            RatingGame,
            on=(
                (RatingGame.ended_at == RatingHistory.ended_at)
                & (RatingGame.tiebreak == RatingHistory.tiebreak)
            ),
        )
        .switch(RatingHistory)
        .join(MapResult, JOIN.LEFT_OUTER, on=(RatingHistory.map_result == MapResult.id))
        .join(r2, JOIN.LEFT_OUTER, on=(MapResult.round2 == r2.id))
        .where(RatingHistory.player == player_id)
    )
    # A plain cursor: for a regular's thousands of maps peewee's row conversion costs
    # several times the query; only the timestamp needs converting (SQLite gives text).
    out = [(as_datetime(r[0]), *r[1:]) for r in database_proxy.execute(rows)]
    out.sort(key=lambda r: (r[0], r[1]))
    return out


@dataclass(frozen=True)
class RatingPoint:
    """The player's rating after one map (a point of the history chart)."""

    ended_at: datetime
    map_result_id: int | None
    map: str
    score: float
    rating: int
    skill: float
    uncertainty: float


@cached_query
def rating_history(player_id: int) -> list[RatingPoint]:
    """Every rated map of the player, oldest first. Raises NoRating."""
    rows = _history_rows(player_id)
    if not rows:
        raise no_rating(player_id)
    return [
        RatingPoint(
            r[0],
            r[2],
            r[3],
            r[5],
            display_rating(r[9], r[10]),
            display_skill(r[9]),
            DISPLAY_SCALE * r[10],
        )
        for r in rows
    ]
