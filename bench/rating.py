"""Rating benchmark: how well the skill model predicts stopwatch maps it has not seen.

Imports a folder of stats files (default: the real corpus, ``../shared/corpus/real``)
into a temporary SQLite database, replays the map results in time order and predicts
every decided map from the earlier maps only, before learning from it. Prints the Brier
score and log loss of

* the rating model (etbot.rating, default parameters),
* a coin (always 50 %),
* the side prior: the first-attack win rate of the earlier maps (Beta(1, 1) smoothed),
* a K/D baseline: team mean of each player's K/D on earlier maps, turned into a
  probability by a logistic regression fitted on the earlier maps,

plus a calibration table (predicted bucket → observed first-attack win rate), the
paired difference to the side prior with its standard error, and a sensitivity table
(each model parameter halved / doubled / switched off).

    python bench/rating.py [FOLDER]

A second, independent data set: ``etbot bench-data /tmp/synth --players 60 --years 1``
writes a synthetic history whose map results depend on hidden skills; run the bench on
that folder too.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np

from etbot.db import open_database
from etbot.ingest import Importer, iter_stats_files
from etbot.models import MapResult, Player, PlayerRound
from etbot.rating import DEFAULT_PARAMS, Game, RatingParams, load_games, replay

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "real"
BUCKETS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0001)


def brier(ps: list[float], ys: list[float]) -> float:
    return statistics.fmean((p - y) ** 2 for p, y in zip(ps, ys, strict=True))


def log_loss(ps: list[float], ys: list[float]) -> float:
    eps = 1e-12
    return -statistics.fmean(
        math.log(max(eps, p)) if y else math.log(max(eps, 1 - p))
        for p, y in zip(ps, ys, strict=True)
    )


def model_predictions(games: list[Game], params: RatingParams) -> list[float]:
    _model, updates = replay(games, params)
    return [u.p_first_attack for u in updates if u.game.decided and u.p_first_attack is not None]


def side_prior_predictions(games: list[Game]) -> list[float]:
    wins = n = 0
    out = []
    for g in games:
        if not g.decided:
            continue
        out.append((wins + 1) / (n + 2))
        wins += bool(g.first_attack_won)
        n += 1
    return out


def kd_predictions(games: list[Game]) -> list[float]:
    """Team mean of the players' K/D on earlier maps, through an online logistic fit."""
    r1 = {}
    r2 = {}
    for mr_id, round1, round2 in MapResult.select(
        MapResult.id, MapResult.round1, MapResult.round2
    ).tuples():
        r1[mr_id] = round1
        r2[mr_id] = round2
    per_round: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
    for round_id, guid, round_kills, round_deaths in (
        PlayerRound.select(PlayerRound.round, Player.guid, PlayerRound.kills, PlayerRound.deaths)
        .join(Player, on=(PlayerRound.player == Player.id))
        .where(PlayerRound.team != 3)
        .tuples()
    ):
        per_round[round_id].append((guid, round_kills, round_deaths))

    kills: dict[str, int] = defaultdict(int)
    deaths: dict[str, int] = defaultdict(int)
    xs: list[list[float]] = []
    ys: list[float] = []
    out = []

    def team_kd(team: tuple[tuple[str, float], ...]) -> float:
        return statistics.fmean((kills[g] + 1) / (deaths[g] + 1) for g, _w in team)

    for g in games:
        if g.decided and g.first_attack and g.first_defence:
            f = math.log(team_kd(g.first_attack) / team_kd(g.first_defence))
            if xs:
                w = _fit_logistic(np.array(xs), np.array(ys))
                out.append(1.0 / (1.0 + math.exp(-(w[0] + w[1] * f))))
            else:
                out.append(0.5)
            xs.append([1.0, f])
            ys.append(1.0 if g.first_attack_won else 0.0)
        elif g.decided:
            out.append(0.5)
        assert g.map_result_id is not None
        for round_id in (r1[g.map_result_id], r2[g.map_result_id]):
            for guid, k, d in per_round.get(round_id, []):
                kills[guid] += k
                deaths[guid] += d
    return out


def _fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = 1.0) -> np.ndarray:
    w = np.zeros(x.shape[1])
    for _ in range(25):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (y - p) - ridge * w
        hess = (x.T * (p * (1 - p))) @ x + ridge * np.eye(x.shape[1])
        w = w + np.linalg.solve(hess, grad)
    return w


def calibration(ps: list[float], ys: list[float]) -> None:
    print("\ncalibration of the model (predicted P(first attack wins) → observed)")
    print(f"  {'bucket':<10} {'n':>4} {'mean predicted':>15} {'observed':>9}")
    for lo, hi in pairwise(BUCKETS):
        sel = [(p, y) for p, y in zip(ps, ys, strict=True) if lo <= p < hi]
        if not sel:
            continue
        mean_p = statistics.fmean(p for p, _ in sel)
        obs = statistics.fmean(y for _, y in sel)
        print(f"  {lo:.1f}–{min(hi, 1.0):.1f}    {len(sel):>4} {mean_p:>15.3f} {obs:>9.3f}")


def sensitivity(games: list[Game], ys: list[float]) -> None:
    base = DEFAULT_PARAMS
    variants: list[tuple[str, RatingParams]] = [("defaults", base)]
    for name in ("player_sd", "side_sd", "map_sd"):
        value = getattr(base, name)
        variants.append((f"{name} × 0.5 ({value * 0.5:g})", replace(base, **{name: value * 0.5})))
        variants.append((f"{name} × 2 ({value * 2:g})", replace(base, **{name: value * 2})))
    variants += [
        ("no map terms (map_sd 0)", replace(base, map_sd=0.0)),
        ("no drift", replace(base, forget_days=None)),
        ("drift: forget in 90 days", replace(base, forget_days=90.0)),
        ("draws skipped", replace(base, draw_score=None)),
    ]
    print("\nsensitivity (each prior changed alone)")
    print(f"  {'variant':<30} {'Brier':>7} {'log loss':>9}")
    for label, params in variants:
        ps = model_predictions(games, params)
        print(f"  {label:<30} {brier(ps, ys):>7.4f} {log_loss(ps, ys):>9.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(DEFAULT_CORPUS))
    parser.add_argument("--no-sensitivity", action="store_true")
    args = parser.parse_args()
    folder = Path(args.folder)
    files = list(iter_stats_files([folder]))
    if not files:
        sys.exit(f"no stats files in {folder}")
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(f"sqlite:///{tmp}/bench.db")
        start = time.perf_counter()
        report = Importer().import_paths(files)
        print(f"{folder}: {report.summary()} ({time.perf_counter() - start:.1f} s)")
        games = load_games()
        decided = [g for g in games if g.decided]
        ys = [1.0 if g.first_attack_won else 0.0 for g in decided]
        print(
            f"{len(games)} map results, {len(decided)} decided, "
            f"first attack won {statistics.fmean(ys):.3f} of them"
        )
        start = time.perf_counter()
        model_ps = model_predictions(games, DEFAULT_PARAMS)
        took = time.perf_counter() - start
        side_ps = side_prior_predictions(games)
        kd_ps = kd_predictions(games)
        rate = statistics.fmean(ys)

        print("\nevery decided map predicted from the earlier maps only (time order)")
        print(f"  {'predictor':<36} {'Brier':>7} {'log loss':>9}")
        rows = [
            ("rating model (etbot.rating)", model_ps),
            ("coin (0.5)", [0.5] * len(ys)),
            ("side prior (earlier maps' rate)", side_ps),
            ("K/D baseline (earlier maps)", kd_ps),
        ]
        for label, ps in rows:
            print(f"  {label:<36} {brier(ps, ys):>7.4f} {log_loss(ps, ys):>9.4f}")
        hindsight = [rate] * len(ys)
        print(
            f"  {'(hindsight side rate, not a forecast)':<36} {brier(hindsight, ys):>7.4f} "
            f"{log_loss(hindsight, ys):>9.4f}"
        )
        diffs = [(m - y) ** 2 - (s - y) ** 2 for m, s, y in zip(model_ps, side_ps, ys, strict=True)]
        se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
        print(
            f"\nmodel - side prior, Brier per map: {statistics.fmean(diffs):+.4f} ± {se:.4f} (1 se)"
        )
        half = len(ys) // 2
        print(
            f"model Brier, first / second half of the maps: {brier(model_ps[:half], ys[:half]):.4f}"
            f" / {brier(model_ps[half:], ys[half:]):.4f}"
        )
        print(f"replay: {len(games)} maps in {took * 1000:.0f} ms")
        calibration(model_ps, ys)
        if not args.no_sensitivity:
            sensitivity(games, ys)
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
