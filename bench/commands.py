"""Latency of the data queries behind the bot's commands (uncached), p50 / p95.

Usage::

    # an existing database (SQLite file or PostgreSQL)
    python bench/commands.py --database-url sqlite:////tmp/etbench/full.db

    # or build one: synthetic history (etbot.synth) imported through the real ingest
    python bench/commands.py --generate /tmp/etbench/hist --players 3000 --years 5 \
        --database-url sqlite:////tmp/etbench/full.db

Then the chart renders: Chromium cold start, first and warm p50/p95 render of the figures
``/trend``, ``/compare`` and ``/activity`` send (``--no-render`` skips them).

Without ``--database-url`` the database is ``DATABASE_URL`` from the environment, or a
SQLite file next to the generated history. Full size (3,000 players, 5 years, ~0.9 M
player-rounds) takes ~1.5 min to generate and ~9 min to import on SQLite here.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from etbot import aggregates, availability
from etbot.activity import activity
from etbot.balance import balance
from etbot.commands.activity import heatmap_chart
from etbot.commands.compare import radar_chart
from etbot.commands.rating import rating_chart
from etbot.commands.trend import trend_chart
from etbot.compare import compare
from etbot.db import is_postgres, open_database
from etbot.errors import UserError
from etbot.leaderboard import leaderboard
from etbot.matchups import duos, matchup, rivals
from etbot.models import Alias, PlayerDay, PlayerRound
from etbot.periods import latest_round_time, parse_period
from etbot.players import autocomplete_players, get_player, resolve_player
from etbot.rating import apply_map_results, ranking, rating_history, rating_summary
from etbot.seasons import compute_awards, season_page, seasons_with_data, timeline
from etbot.sessions import recent_sessions, weekly_pattern
from etbot.statdefs import STATS, player_values
from etbot.summary import player_summary
from etbot.trend import trend


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float, float]:
    """(p50, p95, max) in milliseconds of ``repeat`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, times[-1]


def cycle(items: list[Any]) -> Callable[[], Any]:
    """A zero-argument getter walking through ``items`` (different input per call)."""
    state = {"i": 0}

    def nxt() -> Any:
        state["i"] += 1
        return items[state["i"] % len(items)]

    return nxt


def build(args: argparse.Namespace, url: str) -> None:
    from etbot.ingest import Importer
    from etbot.synth import generate_history

    out = Path(args.generate)
    if not any(out.glob("**/*.txt")):
        t0 = time.perf_counter()
        summary = generate_history(
            out, players=args.players, years=args.years, seed=args.seed, servers=args.servers
        )
        print(
            f"generated {summary.files} files, {summary.player_rounds} player-rounds "
            f"in {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
        )
    open_database(url)
    t0 = time.perf_counter()
    report = Importer().import_paths([out])
    print(f"imported: {report.summary()} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Latency of the stats queries (uncached).")
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    ap.add_argument("--generate", type=Path, help="generate + import a synthetic history here")
    ap.add_argument("--players", type=int, default=3000)
    ap.add_argument("--years", type=float, default=5.0)
    ap.add_argument("--servers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=40, help="timed calls per query")
    ap.add_argument("--tz", default="Europe/Berlin")
    ap.add_argument("--no-render", action="store_true", help="skip the chart render timings")
    args = ap.parse_args(argv)

    url = args.database_url
    if args.generate is not None:
        url = url or f"sqlite:///{Path(args.generate).resolve()}.db"
        build(args, url)
    if not url:
        ap.error("give --database-url (or DATABASE_URL) or --generate")
    db = open_database(url)
    if not PlayerDay.select().exists() and PlayerRound.select().exists():
        t0 = time.perf_counter()
        aggregates.rebuild_all()
        print(f"rebuilt aggregates in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    if is_postgres():
        db.execute_sql("ANALYZE")  # as autovacuum would after a bulk import
    rng = random.Random(args.seed)
    now = latest_round_time() or datetime.now()
    everything = parse_period("all", now)
    month = parse_period("30d", now)
    by_rounds = leaderboard("rounds", everything, min_rounds=1, limit=100)
    heavy = [r.player_id for r in by_rounds.rows[:20]]  # worst case: most rows
    board = player_values(["rounds"], everything)
    typical = rng.sample(sorted(board), min(20, len(board)))
    players = heavy + typical
    active = player_values(["rounds"], month)
    recent = [p for p in players if p in active] or sorted(active)[:20] or players
    last_year = player_values(["rounds"], parse_period("365d", now))
    yearly = [p for p in players if p in last_year] or players
    names = [a for (a,) in Alias.select(Alias.name_lower).tuples()]
    prefixes = [n[: rng.randint(1, 3)] for n in rng.sample(names, min(200, len(names)))]
    middles = [n[1:4] for n in rng.sample(names, min(200, len(names))) if len(n) > 4]

    print(
        f"database: {url}\n"
        f"{PlayerRound.select().count():,} player-rounds, {len(board):,} players, "
        f"{len(names):,} aliases, {PlayerDay.select().count():,} player-days; now = {now}\n"
    )
    player = cycle(players)
    yearly_player = cycle(yearly)
    recent_player = cycle(recent)
    trio = cycle([rng.sample(players, 3) for _ in range(50)])
    prefix = cycle(prefixes)
    middle = cycle(middles)
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("summary all-time", lambda: player_summary(player(), everything)),
        ("summary 30d", lambda: player_summary(recent_player(), month)),
    ]
    for key in STATS:
        cases.append((f"leaderboard {key} all", functools.partial(leaderboard, key, everything)))
    cases += [
        ("leaderboard dpm 30d", lambda: leaderboard("dpm", month)),
        ("leaderboard kd 30d page 3", lambda: leaderboard("kd", month, offset=20)),
        ("trend kd 365d", lambda: trend(yearly_player(), "kd", 365, now=now)),
        ("trend dpm 90d", lambda: trend(recent_player(), "dpm", 90, now=now)),
        ("compare 3 all-time", lambda: compare(trio(), everything)),
        ("compare 3 30d", lambda: compare(rng.sample(recent, min(3, len(recent))), month)),
        ("activity player 52w", lambda: activity(player(), 52, now=now)),
        ("activity server 12w", lambda: activity(None, 12, now=now)),
        ("activity server 260w", lambda: activity(None, 260, now=now)),
        ("recent sessions 5", lambda: recent_sessions(5)),
        ("weekly pattern", lambda: weekly_pattern(args.tz, now)),
        ("next session (forecast + polls)", lambda: availability.next_session(now, args.tz)),
        ("autocomplete prefix", lambda: autocomplete_players(prefix())),
        ("autocomplete substring", lambda: autocomplete_players(middle())),
        ("autocomplete empty", lambda: autocomplete_players("")),
        ("resolve guid", lambda: resolve_player(f"guid:{get_player(player()).guid}")),
    ]
    quarters = timeline(now)
    if len(quarters) >= 2:
        newest, before = quarters[-1], quarters[-2]
        cases += [
            ("season page (+ menu)", lambda: season_page(None, "dpm", 10, 10, 0, now)),
            ("season page 3, kd", lambda: season_page(before.key, "kd", 10, 10, 20, now)),
            ("seasons with data", lambda: seasons_with_data(now)),
            ("season awards (at close)", lambda: compute_awards(newest, before)),
        ]
    cases += rating_cases(rng)
    print(f"{'query':32s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
    for name, fn in cases:
        try:
            p50, p95, worst = measure(fn, args.repeat)
        except UserError as exc:
            print(f"{name:32s} skipped: {exc}")
            continue
        print(f"{name:32s} {p50:8.1f} {p95:8.1f} {worst:8.1f}", flush=True)
    if not args.no_render:
        figures = {
            "trend": trend_chart(trend(yearly_player(), "kd", 365, now=now)),
            "compare": radar_chart(compare(trio(), everything)),
            "activity": heatmap_chart(activity(None, 12, now=now), "Activity", args.tz),
        }
        rated = ranking()
        if rated:
            busiest = max(rated, key=lambda r: r.maps)
            figures["rating"] = rating_chart(busiest.name, rating_history(busiest.player_id))
        asyncio.run(bench_render(figures, args.repeat))
    db.close()
    return 0


def rating_cases(rng: random.Random) -> list[tuple[str, Callable[[], Any]]]:
    """/rating, /teams, /matchup, /duos, /rivals on the active players (rated first)."""
    t0 = time.perf_counter()
    report = apply_map_results()
    if report.replayed:
        took = time.perf_counter() - t0
        print(f"rated {report.replayed:,} maps in {took:.1f} s", file=sys.stderr)
    rated = ranking()
    if len(rated) < 12:
        return []
    busiest = sorted(rated, key=lambda r: -r.maps)
    ids = [r.player_id for r in busiest[:20]] + [
        r.player_id for r in rng.sample(rated, min(20, len(rated)))
    ]
    player = cycle(ids)
    guids = [r.guid for r in rated]
    twelve = cycle([rng.sample(guids, 12) for _ in range(50)])
    pair = cycle([rng.sample(ids, 2) for _ in range(50)])
    return [
        ("rating summary + history", lambda: (rating_summary(p := player()), rating_history(p))),
        ("teams 12 players (balance)", lambda: balance(twelve())),
        ("matchup", lambda: matchup(*pair())),
        ("duos", lambda: duos(player())),
        ("rivals", lambda: rivals(player())),
    ]


async def bench_render(figures: dict[str, Any], repeat: int) -> None:
    """Cold start, first render and warm p50/p95 of the figures the chart commands send."""
    from etbot.render import ChartRenderer, RenderError

    renderer = ChartRenderer()
    t0 = time.perf_counter()
    try:
        await renderer.start()
    except RenderError as exc:
        print(f"\nrendering skipped: {exc}")
        return
    print(f"\nrenderer cold start (Chromium launch): {(time.perf_counter() - t0) * 1000:8.0f} ms")
    print(f"{'render (900x600 PNG)':32s} {'first':>8s} {'p50 ms':>8s} {'p95 ms':>8s}")
    try:
        for name, fig in figures.items():
            t0 = time.perf_counter()
            await renderer.render_png(fig)
            first = (time.perf_counter() - t0) * 1000
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                await renderer.render_png(fig)
                times.append((time.perf_counter() - t0) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            print(f"{name:32s} {first:8.0f} {statistics.median(times):8.0f} {p95:8.0f}")
    finally:
        await renderer.close()


if __name__ == "__main__":
    sys.exit(main())
