"""How well does ``etbot sessions next`` predict the next gaming session? A time-ordered replay.

Usage::

    python bench/sessions.py                         # the real corpus (../shared/corpus/real)
    python bench/sessions.py --files DIR [DIR...]    # any stats files
    python bench/sessions.py --synthetic             # etbot.synth: 200 players, 1 year, 3 servers
    python bench/sessions.py --cli                   # also replay through the CLI (slow)
    python bench/sessions.py --sample 0.5 --seed 2   # a random half of the files (held-out style)
    python bench/sessions.py --sample 0.5 --seeds 6  # six random halves, asks pooled
    python bench/sessions.py --grid                  # each knob varied alone, 1st / 2nd half
    python bench/sessions.py --database-url sqlite:///x.db   # rounds of an imported history

The files are imported through the real ingest into a temporary SQLite database; the truth
is the gaming sessions of *all* rounds (rounds of one server with no gap over 60 minutes,
start = end of the first round minus its length).

Metric (per asking time ``at``):

* the target is the first session (any server) that starts strictly after ``at``;
* every predictor sees only rounds that ended before ``at`` (the same filter the CLI uses);
* **hit** when ``|predicted - target| <= 60 min``; no prediction (null) is a miss;
* reported: hit rate, median absolute error of the predictions made, coverage (share of
  asks with a prediction), each over all asks and over the first / second half in time.

Asking times:

* ``after``: ``--delay`` minutes after the last round of each session, after a warm-up
  of ``--warmup`` sessions (default 5). Two by default: 1 minute (the bot refreshes
  "next session" as soon as the night's last round is in) and 60 minutes (the earliest
  moment anyone can know the session is over: the next round would have joined it).
  With several servers the target may be a session of another server.
* ``random``: ``--random`` uniform instants between the end of the warm-up and the last
  session start (seeded), as when someone asks at an arbitrary moment.

Baselines (the "naive" predictors of the issue):

* ``last-week``: the same weekday and time as a session of the last 7 days (the earliest
  such instant after ``at``); if none, the latest session rolled forward by whole weeks.
* ``median-time``: the median start time of day of the last 10 sessions, at its first
  occurrence after ``at`` (today or tomorrow).
* ``median-usual-day``: that median time on the next weekday that had a session in the
  last 28 days.
* ``weekly-pattern``: the "next expected session" ``/sessions`` showed before this model
  (``weekly_pattern``: a weekday with sessions in 2/3 of the last 12 weeks, at its median
  start); it gives no answer without such a weekday.

Besides all asks, the report shows the asks whose next session started within 7 days
("active"): a corpus that holds only some of a community's files has gaps of weeks that
no forecast can bridge.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from pathlib import Path

from etbot.db import as_datetime, open_database
from etbot.forecast import (
    DEFAULT_PARAMS,
    ForecastParams,
    PastSession,
    forecast_next,
    sessions_from_rounds,
)
from etbot.ingest import Importer, iter_stats_files
from etbot.models import Round

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "real"
HIT = timedelta(minutes=60)
#: An ask is "active" when the next session started within this.
ACTIVE = timedelta(days=7)

RoundRow = tuple[int, datetime, int | None, int | None]
Predictor = Callable[[list[PastSession], datetime], datetime | None]


# --------------------------------------------------------------------------- predictors


def last_week(past: list[PastSession], at: datetime) -> datetime | None:
    if not past:
        return None
    week = timedelta(days=7)
    recent = [s.start + week for s in past if s.start + week > at]
    if recent:
        return min(recent)
    latest = past[-1].start
    weeks = (at - latest) // week + 1
    return latest + weeks * week


def _median_minute(past: list[PastSession]) -> int:
    return int(statistics.median(s.start.hour * 60 + s.start.minute for s in past[-10:]))


def median_time(past: list[PastSession], at: datetime) -> datetime | None:
    if not past:
        return None
    m = _median_minute(past)
    candidate = datetime.combine(at.date(), time(m // 60, m % 60))
    return candidate if candidate > at else candidate + timedelta(days=1)


def median_usual_day(past: list[PastSession], at: datetime) -> datetime | None:
    if not past:
        return None
    m = _median_minute(past)
    days = {s.start.weekday() for s in past if s.start > at - timedelta(days=28)}
    days = days or {past[-1].start.weekday()}
    for ahead in range(8):
        candidate = datetime.combine(at.date() + timedelta(days=ahead), time(m // 60, m % 60))
        if candidate > at and candidate.weekday() in days:
            return candidate
    return None


def weekly_pattern_today(past: list[PastSession], at: datetime) -> datetime | None:
    """What ``/sessions`` showed before this model: the weekly pattern's next slot (a
    weekday seen in 2/3 of the last 12 weeks, at its median time), None without one.

    It reads the bound database itself (sessions that started before ``at``)."""
    from etbot.sessions import weekly_pattern

    predicted = weekly_pattern("UTC", at).next_session
    return None if predicted is None else predicted.replace(tzinfo=None)


def model(params: ForecastParams) -> Predictor:
    def predict(past: list[PastSession], at: datetime) -> datetime | None:
        result = forecast_next(past, at, params)
        return None if result is None else result.start

    return predict


# --------------------------------------------------------------------------- replay


@dataclass
class Ask:
    at: datetime
    target: datetime


@dataclass
class Score:
    asks: int = 0
    hits: int = 0
    predicted: int = 0
    errors: list[float] | None = None

    def add(self, predicted: datetime | None, target: datetime) -> None:
        self.asks += 1
        if self.errors is None:
            self.errors = []
        if predicted is None:
            return
        self.predicted += 1
        error = abs(predicted - target)
        self.errors.append(error.total_seconds() / 3600)
        self.hits += error <= HIT

    def line(self) -> str:
        if not self.asks:
            return "   -"
        med = statistics.median(self.errors) if self.errors else float("nan")
        return (
            f"{100 * self.hits / self.asks:5.1f}% ({self.hits:3d}/{self.asks:3d})"
            f"  med |err| {med:6.1f} h  coverage {100 * self.predicted / self.asks:5.1f}%"
        )


class History:
    """All rounds in end order; the sessions any asking time could have seen."""

    def __init__(self, rounds: list[RoundRow]) -> None:
        self.rounds = sorted(rounds, key=lambda r: r[1])
        self.ends = [r[1] for r in self.rounds]
        self.sessions = sessions_from_rounds(self.rounds)
        self.starts = sorted(s.start for s in self.sessions)

    def before(self, at: datetime, lookback: timedelta) -> list[PastSession]:
        lo = bisect.bisect_left(self.ends, at - lookback)
        hi = bisect.bisect_left(self.ends, at)
        return sessions_from_rounds(self.rounds[lo:hi])

    def target(self, at: datetime) -> datetime | None:
        i = bisect.bisect_right(self.starts, at)
        return self.starts[i] if i < len(self.starts) else None


def after_asks(history: History, warmup: int, delay: timedelta) -> list[Ask]:
    by_end = sorted(history.sessions, key=lambda s: s.end)
    asks = []
    for s in by_end[warmup:]:
        at = s.end + delay
        target = history.target(at)
        if target is not None:
            asks.append(Ask(at, target))
    return asks


def random_asks(history: History, warmup: int, count: int, seed: int) -> list[Ask]:
    by_end = sorted(history.sessions, key=lambda s: s.end)
    if len(by_end) <= warmup + 1:
        return []
    lo, hi = by_end[warmup].end, history.starts[-1]
    rng = random.Random(seed)
    asks = []
    for _ in range(count):
        at = lo + (hi - lo) * rng.random()
        target = history.target(at)
        if target is not None:
            asks.append(Ask(at, target))
    asks.sort(key=lambda a: a.at)
    return asks


def evaluate(
    history: History, asks: Sequence[Ask], predictors: dict[str, Predictor], lookback: timedelta
) -> dict[str, tuple[Score, Score, Score, Score]]:
    """(all, first half, second half, active) scores per predictor."""
    out = {name: (Score(), Score(), Score(), Score()) for name in predictors}
    half = len(asks) // 2
    for i, ask in enumerate(asks):
        past = history.before(ask.at, lookback)
        for name, predict in predictors.items():
            predicted = predict(past, ask.at)
            total, first, second, active = out[name]
            total.add(predicted, ask.target)
            (first if i < half else second).add(predicted, ask.target)
            if ask.target - ask.at <= ACTIVE:
                active.add(predicted, ask.target)
    return out


def report(title: str, asks: Sequence[Ask], scores: Mapping[str, tuple[Score, ...]]) -> None:
    print(f"\n{title}: {len(asks)} asks")
    if asks:
        print(f"  {asks[0].at:%Y-%m-%d} .. {asks[-1].at:%Y-%m-%d}")
    for name, (total, first, second, active) in scores.items():
        print(f"  {name:16s} all    {total.line()}")
        print(f"  {'':16s} 1st    {first.line()}")
        print(f"  {'':16s} 2nd    {second.line()}")
        print(f"  {'':16s} active {active.line()}")


# --------------------------------------------------------------------------- CLI replay


def cli_replay(
    files: list[Path], asks: Sequence[Ask], workdir: Path, history: History
) -> tuple[Score, int]:
    """Import the files in time order as the asks advance and ask ``etbot sessions next``.

    This is how a reviewer replays held-out files; it must agree with the in-memory
    replay (the model reads only rounds that ended before ``--at``): returns the score and
    the number of asks where the two differ."""
    dated = []
    for path in files:
        try:
            dated.append((datetime.strptime(path.name[:17], "%Y-%m-%d-%H%M%S"), path))
        except ValueError:
            continue
    dated.sort()
    env = dict(os.environ, DATABASE_URL=f"sqlite:///{workdir / 'replay.db'}", LOG_LEVEL="WARNING")
    etbot = [sys.executable, "-m", "etbot"]
    score = Score()
    differ = 0
    i = 0
    for ask in asks:
        batch = []
        while i < len(dated) and dated[i][0] < ask.at:
            batch.append(str(dated[i][1]))
            i += 1
        if batch:
            # Our own CLI, with arguments this script builds; no shell.
            subprocess.run([*etbot, "import", "-q", *batch], env=env, capture_output=True)  # noqa: S603
        out = subprocess.run(  # noqa: S603 (as above)
            [*etbot, "sessions", "next", "--at", ask.at.isoformat(), "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        value = json.loads(out)["next_start"]
        predicted = None
        if value is not None:
            predicted = datetime.fromisoformat(value).replace(tzinfo=None)
        score.add(predicted, ask.target)
        lookback = timedelta(days=DEFAULT_PARAMS.lookback_days)
        differ += predicted != model(DEFAULT_PARAMS)(history.before(ask.at, lookback), ask.at)
    return score, differ


# --------------------------------------------------------------------------- main


def load_rounds(
    files: list[Path], database_url: str | None, workdir: Path, name: str = "bench.db"
) -> list[RoundRow]:
    """Every round's (server, end, length, limit): from ``database_url`` when given, else
    from the files imported through the real ingest into a fresh SQLite database."""
    if database_url:
        open_database(database_url)
    else:
        open_database(f"sqlite:///{workdir / name}")
        report = Importer().import_paths(files)
        print(report.summary(), file=sys.stderr)
    return [
        (sid, as_datetime(end), rt, tl)
        for sid, end, rt, tl in Round.select(
            Round.server, Round.ended_at, Round.round_time_s, Round.time_limit_s
        ).tuples()
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="+", type=Path, help="stats files or folders")
    ap.add_argument("--synthetic", action="store_true", help="use an etbot.synth history")
    ap.add_argument(
        "--database-url", help="read the rounds from this database instead of importing"
    )
    ap.add_argument("--players", type=int, default=200)
    ap.add_argument("--years", type=float, default=1.0)
    ap.add_argument("--servers", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=5, help="sessions before the first ask")
    ap.add_argument(
        "--delay",
        type=float,
        nargs="+",
        default=[1.0, 60.0],
        help="minutes after a session's last round to ask (default: 1 and 60)",
    )
    ap.add_argument("--random", type=int, default=500, help="random asking instants")
    ap.add_argument(
        "--sample", type=float, default=1.0, help="replay only this random share of the files"
    )
    ap.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="with --sample: replay that many random samples (seeds --seed, --seed+1, …) "
        "and pool their asks",
    )
    ap.add_argument("--cli", action="store_true", help="also replay through `etbot` (slow)")
    ap.add_argument("--grid", action="store_true", help="sensitivity to each model knob")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="etbot-sessions-") as tmp:
        workdir = Path(tmp)
        if args.database_url:
            files = []
        elif args.synthetic:
            from etbot.synth import generate_history

            out = workdir / "synth"
            summary = generate_history(
                out, players=args.players, years=args.years, servers=args.servers, seed=args.seed
            )
            print(f"synthetic: {summary.sessions} sessions, weekdays {summary.weekdays}")
            files = list(iter_stats_files([out]))
        else:
            files = list(iter_stats_files(args.files or [DEFAULT_CORPUS]))
        if args.sample < 1.0 and args.seeds > 1:
            return pooled_samples(files, args, workdir)
        if args.sample < 1.0:
            rng = random.Random(args.seed)
            files = sorted(f for f in files if rng.random() < args.sample)
            print(f"a random {args.sample:.0%} of the files (seed {args.seed}): {len(files)}")
        history = History(load_rounds(files, args.database_url, workdir))
        print(f"{len(history.rounds)} rounds, {len(history.sessions)} sessions")
        lookback = timedelta(days=DEFAULT_PARAMS.lookback_days)
        predictors = all_predictors()
        for delay in args.delay:
            asks = after_asks(history, args.warmup, timedelta(minutes=delay))
            report(
                f"after: {delay:g} min after each session's last round",
                asks,
                evaluate(history, asks, predictors, lookback),
            )
        after = after_asks(history, args.warmup, timedelta(minutes=args.delay[0]))
        rand = random_asks(history, args.warmup, args.random, args.seed)
        report("random instants", rand, evaluate(history, rand, predictors, lookback))

        if args.grid:
            grid(history, after, lookback)
        if args.cli:
            if not files:
                sys.exit("--cli needs stats files (not --database-url)")
            score, differ = cli_replay(files, after, workdir, history)
            print(
                f"\nCLI replay ({args.delay[0]:g} min after): {score.line()}; "
                f"differs from the in-memory model: {differ}"
            )
    return 0


def all_predictors() -> dict[str, Predictor]:
    """The model and the naive baselines, in report order."""
    return {
        "model": model(DEFAULT_PARAMS),
        "last-week": last_week,
        "median-time": median_time,
        "median-usual-day": median_usual_day,
        "weekly-pattern": weekly_pattern_today,
    }


def pooled_samples(files: list[Path], args: argparse.Namespace, workdir: Path) -> int:
    """``--seeds`` random samples of the files, each replayed on its own (after-asks at
    each ``--delay``); the asks of all samples pooled per predictor."""
    lookback = timedelta(days=DEFAULT_PARAMS.lookback_days)
    pooled: dict[float, dict[str, tuple[Score, Score, Score, Score]]] = {}
    for seed in range(args.seed, args.seed + args.seeds):
        rng = random.Random(seed)
        sample = sorted(f for f in files if rng.random() < args.sample)
        history = History(load_rounds(sample, None, workdir, f"sample-{seed}.db"))
        print(f"seed {seed}: {len(sample)} files, {len(history.sessions)} sessions")
        for delay in args.delay:
            asks = after_asks(history, args.warmup, timedelta(minutes=delay))
            scores = evaluate(history, asks, all_predictors(), lookback)
            into = pooled.setdefault(delay, {})
            for name, parts in scores.items():
                if name not in into:
                    into[name] = (Score(), Score(), Score(), Score())
                for total, part in zip(into[name], parts, strict=True):
                    total.asks += part.asks
                    total.hits += part.hits
                    total.predicted += part.predicted
                    total.errors = (total.errors or []) + (part.errors or [])
    for delay, scores in pooled.items():
        title = f"{args.seeds} random {args.sample:.0%} samples, {delay:g} min after each session"
        print(f"\n{title}: {scores['model'][0].asks} asks pooled")
        for name, (total, first, second, active) in scores.items():
            print(f"  {name:16s} all    {total.line()}")
            print(f"  {'':16s} 1st    {first.line()}")
            print(f"  {'':16s} 2nd    {second.line()}")
            print(f"  {'':16s} active {active.line()}")
    return 0


def grid(history: History, asks: Sequence[Ask], lookback: timedelta) -> None:
    """Sensitivity: each candidate set changed alone, hit rates on the first and second
    half of the asks (a change worth making must win on both halves)."""
    d = DEFAULT_PARAMS
    variants: list[tuple[str, ForecastParams]] = [
        ("defaults", d),
        ("no weekday factor", replace(d, weekday_half_lives_days=())),
        ("weekday start times", replace(d, time_weekday_prior_starts=(1.0, 4.0))),
        (
            "level from 3.5 d",
            replace(d, level_half_lives_days=(3.5, 7.0, 14.0, 28.0, 56.0, 112.0)),
        ),
        ("level memory 14 d only", replace(d, level_half_lives_days=(14.0,))),
        ("time memory 56 d only", replace(d, time_half_lives_days=(56.0,))),
        ("bandwidth 30 min only", replace(d, bandwidths_minutes=(30.0,))),
        ("forgetting 0.98", replace(d, forgetting_per_day=0.98)),
        ("no forgetting", replace(d, forgetting_per_day=1.0)),
    ]
    half = len(asks) // 2
    print(f"\nsensitivity (after asks; 1st half {half}, 2nd half {len(asks) - half}):")
    for label, params in variants:
        _total, first, second, _active = evaluate(history, asks, {"m": model(params)}, lookback)[
            "m"
        ]
        print(
            f"  {label:24s} 1st {100 * first.hits / max(first.asks, 1):5.1f}%"
            f"  2nd {100 * second.hits / max(second.asks, 1):5.1f}%"
        )


if __name__ == "__main__":
    sys.exit(main())
