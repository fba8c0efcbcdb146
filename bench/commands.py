"""Latency of the data queries behind every slash command and autocomplete, p50 / p95.

Usage::

    # existing databases (SQLite file and/or PostgreSQL), side by side
    python bench/commands.py --database-url sqlite:////tmp/etbench/full.db \
        --database-url postgresql://etbot@127.0.0.1/etbench

    # or build them: one synthetic history (etbot.synth) imported through the real ingest
    # into every database given that is still empty
    python bench/commands.py --generate /tmp/etbench/hist --players 3000 --years 5 \
        --database-url sqlite:////tmp/etbench/full.db \
        --database-url postgresql://etbot@127.0.0.1/etbench

Every slash command of the bot (and every sub-command) is timed with the domain calls its
handler makes, through the bot's query cache (:class:`etbot.cache.QueryCache`), twice:

* **cold**: the cache is cleared before each call (the first question after an import);
* **warm**: the same calls again once they are cached (what a repeated question costs;
  writes and clock-dependent calls are not cached and run again).

Commands that write (``/bet open``, ``/link``…) run inside a transaction that is rolled
back after each call, so the database stays as it was. The script lists every command of
the bot it has no timing for, so a new command cannot be forgotten silently. Rendering the
chart images is timed separately at the end (``--no-render`` skips it).

Also printed: the resident memory (VmRSS, peak VmHWM) of this process after loading the
bot's cogs, after the cold and after the warm run (the query cache full), and the load
average of the machine with each table (numbers from a busy machine are upper bounds).

Without ``--database-url`` the database is ``DATABASE_URL`` from the environment, or a
SQLite file next to the generated history. Full size (3,000 players, 5 years, ~0.98 M
player-rounds) takes ~1.5 min to generate and ~10 min to import on SQLite here.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from etbot import aggregates, availability, betting, export, seasons, teams
from etbot.achievements import achievements
from etbot.activity import activity
from etbot.announce import enabled_kinds, set_kind_enabled
from etbot.bot import CACHE_MAXSIZE
from etbot.cache import QueryCache, is_cached_query
from etbot.commands.activity import heatmap_chart
from etbot.commands.compare import radar_chart
from etbot.commands.rating import rating_chart
from etbot.commands.trend import trend_chart
from etbot.compare import compare
from etbot.db import is_postgres, open_database
from etbot.errors import UserError
from etbot.leaderboard import leaderboard
from etbot.matchups import duos, matchup, rivals
from etbot.models import Alias, PlayerDay, PlayerRound, Round, database_proxy
from etbot.periods import latest_round_time, parse_period
from etbot.players import (
    autocomplete_players,
    get_player,
    link_discord,
    player_for_discord,
    resolve_player,
    unlink_discord,
)
from etbot.rating import apply_map_results, ranking, rating_history, rating_summary
from etbot.sessions import recent_sessions, weekly_pattern
from etbot.statdefs import STATS, player_values
from etbot.summary import player_summary
from etbot.trend import trend

#: The Discord server, channel and members the betting / linking commands act for.
GUILD = 990_001
CHANNEL = 990_002
MEMBER = 990_100
RULES = betting.Rules()
#: Attachment limit handed to /export (Discord's default for a server without boosts).
ATTACHMENT_LIMIT = 10 * 1024 * 1024

Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Call:
    return (fn, args, kwargs)


@dataclass
class Case:
    """One command (or autocomplete) variant: the domain calls of one invocation.

    ``make`` returns the calls of the next invocation (inputs vary between invocations);
    ``write``: run in a transaction that is rolled back.
    """

    command: str
    label: str
    make: Callable[[], list[Call]]
    write: bool = False
    notes: set[str] = field(default_factory=set)
    #: The invocations timed (kept to fill the cache at the end).
    invocations: list[list[Call]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.command} {self.label}".strip()


@dataclass
class Timing:
    cold: tuple[float, float]
    warm: tuple[float, float]
    cached: str  # "yes", "part", "no": are the calls declared cached queries?


def percentiles(times: list[float]) -> tuple[float, float]:
    """(p50, p95) in ms."""
    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95


def cycle(items: Sequence[Any]) -> Callable[[], Any]:
    """A zero-argument getter walking through ``items`` (different input per call)."""
    state = {"i": 0}

    def nxt() -> Any:
        state["i"] += 1
        return items[state["i"] % len(items)]

    return nxt


def vm_status() -> dict[str, int]:
    """VmRSS and VmHWM of this process in MiB (Linux /proc)."""
    out: dict[str, int] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) // 1024
    except OSError:
        import resource

        out["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return out


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return (
        f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min, {os.cpu_count()} CPUs)"
    )


# --------------------------------------------------------------------------- running


def run_once(cache: QueryCache, calls: list[Call]) -> str | None:
    """Run one invocation's calls through the cache; a user error is an answer too (the
    command replies with it), returned as its text."""
    for fn, args, kwargs in calls:
        try:
            cache.call(fn, *args, **kwargs)
        except UserError as exc:
            return str(exc)[:60]
    return None


def timed(case: Case, cache: QueryCache, calls: list[Call]) -> float:
    t0 = time.perf_counter()
    if case.write:
        with database_proxy.atomic() as tx:
            t0 = time.perf_counter()
            refused = run_once(cache, calls)
            took = time.perf_counter() - t0
            tx.rollback()
    else:
        refused = run_once(cache, calls)
        took = time.perf_counter() - t0
    if refused:
        case.notes.add(f"answered with an error: {refused}")
    return took * 1000


def measure(case: Case, cache: QueryCache, repeat: int) -> Timing:
    """Cold (cache cleared before each call) and warm (same calls, cached) p50/p95."""
    invocations = case.invocations = [case.make() for _ in range(repeat)]
    cache.invalidate()
    timed(case, cache, invocations[0])  # warm-up: connection, statement caches
    cold = []
    for calls in invocations:
        cache.invalidate()
        cold.append(timed(case, cache, calls))
    for calls in invocations:  # fill the cache (writes are rolled back as always)
        timed(case, cache, calls)
    warm = [timed(case, cache, calls) for calls in invocations]
    declared = [is_cached_query(fn) for calls in invocations for fn, _, _ in calls]
    cached = "yes" if all(declared) else "part" if any(declared) else "no"
    return Timing(percentiles(cold), percentiles(warm), cached)


# --------------------------------------------------------------------------- the cases


def prepare_betting(now: datetime) -> int | None:
    """An open pool of the latest round's teams with a few bets (committed once; the
    benchmark's own Discord server id keeps it apart). Returns its id."""
    try:
        return betting.latest_pool(GUILD)
    except UserError:
        pass
    try:
        team_a, team_b = betting.lineups_from_last_round()
        pool = betting.open_pool(GUILD, MEMBER, team_a, team_b, not_before=now)
    except UserError as exc:
        print(f"betting commands skipped: {exc}", file=sys.stderr)
        return None
    for i in range(20):
        betting.place_bet(pool, GUILD, MEMBER + i, 1 + i % 2, 10, f"bench:{i}", RULES)
    return pool


def command_cases(rng: random.Random, now: datetime, tz: str) -> list[Case]:
    """Every slash command's domain calls, as its handler makes them."""
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
    maps = sorted({m for (m,) in Round.select(Round.map).distinct().tuples()})

    player = cycle(players)
    yearly_player = cycle(yearly)
    recent_player = cycle(recent)
    trio = cycle([tuple(rng.sample(players, 3)) for _ in range(50)])
    recent_trio = cycle([tuple(rng.sample(recent, min(3, len(recent)))) for _ in range(50)])
    prefix = cycle(prefixes)
    middle = cycle(middles)
    map_prefix = cycle([m[:2] for m in maps] or [""])
    quarters = seasons.timeline(now)
    season_keys = cycle([s.key for s in quarters[-8:]])
    stat_keys = cycle(list(STATS))

    def stats_card(period: Any) -> Callable[[], list[Call]]:
        def make() -> list[Call]:
            p = player() if period is everything else recent_player()
            return [call(player_summary, p, period), call(seasons.player_trophies, p, now)]

        return make

    def stats_season() -> list[Call]:
        key, p = season_keys(), player()
        return [
            call(seasons.find_season, key, now),
            call(player_summary, p, seasons.find_season(key, now).period),
            call(seasons.player_trophies, p, now),
        ]

    cases = [
        Case("/stats", "all-time", stats_card(everything)),
        Case("/stats", "30 days", stats_card(month)),
        Case("/stats", "season", stats_season),
        Case(
            "/leaderboard",
            "each stat, all-time",
            lambda: [call(leaderboard, stat_keys(), everything, min_rounds=10, limit=10)],
        ),
        Case(
            "/leaderboard",
            "dpm 30 days",
            lambda: [call(leaderboard, "dpm", month, min_rounds=10, limit=10)],
        ),
        Case(
            "/leaderboard",
            "kd all-time, page 3",
            lambda: [call(leaderboard, "kd", everything, min_rounds=10, limit=10, offset=20)],
        ),
        Case("/trend", "kd 365 days", lambda: [call(trend, yearly_player(), "kd", 365, now)]),
        Case("/trend", "dpm 90 days", lambda: [call(trend, recent_player(), "dpm", 90, now)]),
        Case("/compare", "3 players all-time", lambda: [call(compare, trio(), everything)]),
        Case("/compare", "3 players 30 days", lambda: [call(compare, recent_trio(), month)]),
        Case("/activity", "player 52 weeks", lambda: [call(activity, player(), 52, now)]),
        Case("/activity", "server 12 weeks", lambda: [call(activity, None, 12, now)]),
        Case("/activity", "server 260 weeks", lambda: [call(activity, None, 260, now)]),
        Case(
            "/sessions",
            "",
            # As the cog asks: pattern and forecast as of the current minute (cached until
            # the next import), the polls' agreed starts every time (``predicted`` is the
            # forecast's answer there; its value does not change the cost).
            lambda: [
                call(recent_sessions, 5),
                call(weekly_pattern, tz, now.replace(second=0, microsecond=0)),
                call(availability.predicted_start, now.replace(second=0, microsecond=0), tz),
                call(availability.next_session, now, tz, predicted=None),
            ],
        ),
        Case("/achievements", "", lambda: [call(achievements, player())]),
        Case(
            "/season",
            "current (+ menu)",
            lambda: [
                call(seasons.find_season, None, now),
                call(seasons.season_page, None, "dpm", 10, 10, 0, now),
            ],
        ),
        Case(
            "/season",
            "older season, kd, page 3",
            lambda: [call(seasons.season_page, season_keys(), "kd", 10, 10, 20, now)],
        ),
        Case("/season-admin list", "", lambda: [call(seasons.season_overview, now)]),
        Case(
            "/season-admin rename",
            "",
            lambda: [call(seasons.rename_season, season_keys(), "Bench season", now)],
            write=True,
        ),
        Case(
            "/season-admin add",
            "",
            lambda: [
                call(
                    seasons.add_season,
                    "Bench cup",
                    (now - timedelta(days=20)).date(),
                    (now - timedelta(days=10)).date(),
                    now,
                )
            ],
            write=True,
        ),
        Case(
            "/season-admin remove",
            "(after an add)",
            lambda: [
                call(
                    seasons.add_season,
                    "Bench cup",
                    (now - timedelta(days=20)).date(),
                    (now - timedelta(days=10)).date(),
                    now,
                ),
                call(seasons.remove_season, "Bench cup", now),
            ],
            write=True,
        ),
        Case(
            "/export",
            "leaderboard",
            lambda: [call(export_csv, "leaderboard", now, None, stat_keys())],
        ),
        Case(
            "/export",
            "rounds of one player",
            lambda: [call(export_csv, "rounds", now, recent_player(), "dpm")],
        ),
        Case(
            "/export",
            "a season",
            lambda: [call(export_csv, "season", now, None, "dpm", season_keys())],
        ),
        Case("/export", "ratings", lambda: [call(export_csv, "ratings", now, None, "dpm")]),
        Case(
            "/availability",
            "7 days",
            lambda: [
                call(
                    availability.create_poll,
                    guild_id=GUILD,
                    channel_id=CHANNEL,
                    created_by=MEMBER,
                    now=now,
                    days=7,
                )
            ],
            write=True,
        ),
        Case(
            "/link",
            "",
            lambda: [call(link_discord, MEMBER, player()), call(player_for_discord, MEMBER)],
            write=True,
        ),
        Case(
            "/link-member",
            "",
            lambda: [call(link_discord, MEMBER + 1, player(), force=True)],
            write=True,
        ),
        Case(
            "/unlink",
            "(after a link)",
            lambda: [call(link_discord, MEMBER, player()), call(unlink_discord, MEMBER)],
            write=True,
        ),
        Case(
            "/announce",
            "list",
            lambda: [call(enabled_kinds, GUILD, ["round_summary", "map_summary", "milestone"])],
        ),
        Case(
            "/announce",
            "switch",
            lambda: [call(set_kind_enabled, GUILD, "milestone", False)],
            write=True,
        ),
        Case("autocomplete", "player prefix", lambda: [call(autocomplete_players, prefix())]),
        Case("autocomplete", "player substring", lambda: [call(autocomplete_players, middle())]),
        Case("autocomplete", "player empty", lambda: [call(autocomplete_players, "")]),
        Case("autocomplete", "season", lambda: [call(seasons.seasons_with_data, now)]),
        Case("autocomplete", "season (any)", lambda: [call(seasons.timeline, now)]),
        Case(
            "autocomplete",
            "map (bet open)",
            lambda: [call(betting.known_maps, map_prefix(), 25)],
        ),
        Case("autocomplete", "pool", lambda: [call(betting.pools, GUILD)]),
        Case(
            "(player option)",
            "resolve guid",
            lambda: [call(resolve_player, f"guid:{get_player(player()).guid}")],
        ),
    ]
    servers = server_autocomplete()
    if servers is not None:
        cases.append(Case("autocomplete", "server", lambda: [call(servers, prefix()[:1])]))
    return cases + betting_cases(now) + rating_cases(rng)


def server_autocomplete() -> Callable[..., Any] | None:
    """The server option's autocomplete query, where the code base has one."""
    import importlib

    for module, name in (
        ("etbot.servers", "autocomplete_servers"),
        ("etbot.players", "autocomplete_servers"),
    ):
        try:
            fn = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if callable(fn):
            return fn  # type: ignore[no-any-return]
    return None


def export_csv(
    what: str, now: datetime, player_id: int | None, stat: str, season: str | None = None
) -> Any:
    """What /export does: the request, then the file (written to a temporary file)."""
    request = export.build_request(
        what, now=now, player_id=player_id, season=season, stat=stat, min_rounds=10
    )
    return export.export_file(request, ATTACHMENT_LIMIT)


def betting_cases(now: datetime) -> list[Case]:
    pool = prepare_betting(now)
    if pool is None:
        return []
    member = cycle([MEMBER + i for i in range(20)])
    bettor = cycle([(MEMBER + i, 1 + i % 2) for i in range(20)])  # each on their own side
    return [
        Case(
            "/bet open",
            "teams of the last round",
            lambda: [
                call(open_from_last_round, now),
            ],
            write=True,
        ),
        Case("/bet lock", "", lambda: [call(betting.lock_pool, pool, guild_id=GUILD)], write=True),
        Case(
            "/bet settle",
            "20 bets",
            lambda: [call(betting.settle_pool, pool, 1, guild_id=GUILD)],
            write=True,
        ),
        Case(
            "/bet cancel",
            "20 bets",
            lambda: [call(betting.cancel_pool, pool, guild_id=GUILD)],
            write=True,
        ),
        Case("/bet balance", "", lambda: [call(betting.balance, GUILD, member(), RULES)]),
        Case(
            "/bet topup",
            "",
            lambda: [call(betting.claim_topup, GUILD, member(), now.date(), RULES)],
            write=True,
        ),
        Case(
            "/bet leaderboard",
            "",
            lambda: [call(betting.richest, GUILD, 10), call(betting.best_returns, GUILD, 10)],
        ),
        Case("/bet history", "", lambda: [call(betting.history, GUILD, member(), 15)]),
        Case(
            "/bet-settings",
            "",
            lambda: [
                call(betting.set_manager_role, GUILD, 42),
                call(betting.guild_settings, GUILD),
            ],
            write=True,
        ),
        Case(
            "(bet button)",
            "place a bet",
            lambda: [
                call(
                    betting.place_bet,
                    pool,
                    GUILD,
                    *bettor(),
                    5,
                    f"bench:{random.random()}",
                    RULES,
                )
            ],
            write=True,
        ),
    ]


def open_from_last_round(now: datetime) -> Any:
    team_a, team_b = betting.lineups_from_last_round()
    pool = betting.open_pool(GUILD, MEMBER, team_a, team_b, not_before=now)
    return betting.pool_view(pool)


def rating_cases(rng: random.Random) -> list[Case]:
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
    twelve = cycle([tuple(rng.sample(guids, 12)) for _ in range(50)])
    pair = cycle([rng.sample(ids, 2) for _ in range(50)])

    def rating_calls() -> list[Call]:
        p = player()
        return [call(rating_summary, p, sessions=5, top=3), call(rating_history, p)]

    return [
        Case("/rating", "", rating_calls),
        Case("/teams", "12 players", lambda: [call(teams.propose, twelve(), MEMBER)], write=True),
        Case("/matchup", "", lambda: [call(matchup, *pair())]),
        Case("/duos", "", lambda: [call(duos, player(), min_maps=5, limit=10)]),
        Case("/rivals", "", lambda: [call(rivals, player(), limit=10)]),
    ]


# --------------------------------------------------------------------------- coverage


def bot_commands() -> tuple[set[str], set[str]]:
    """The bot's slash commands ("/bet open") and its autocompleters ("player"), from the
    cogs as the bot loads them (no Discord connection)."""
    from etbot.bot import EtBot
    from etbot.config import Settings
    from etbot.db import Db

    bot = EtBot(Settings(_env_file=None), Db(database_proxy.obj, workers=1))  # type: ignore[call-arg]
    commands: set[str] = set()
    completers: set[str] = set()

    def walk(cmd: Any, prefix: str) -> None:
        name = f"{prefix}{cmd.name}"
        children = getattr(cmd, "children", None) or {}
        if children:
            for child in children.values():
                walk(child, name + " ")
            return
        commands.add(name)
        for fn in getattr(cmd, "autocompleters", {}).values():
            kind = getattr(fn, "__name__", str(fn)).removeprefix("autocomplete_")
            completers.add(kind.removeprefix("any_"))

    for cmd in bot.slash_commands:
        walk(cmd, "/")
    return commands, completers


def coverage(cases: list[Case], commands: set[str], completers: set[str]) -> list[str]:
    """What the bot has (:func:`bot_commands`) and this script does not time."""
    timed_commands = {c.command for c in cases}
    timed_completers = {c.label.split()[0] for c in cases if c.command == "autocomplete"}
    static = {"kind"}  # /announce kind: a fixed list, no query
    missing = sorted(commands - timed_commands)
    missing += [f"autocomplete {k}" for k in sorted(completers - timed_completers - static)]
    return missing


# --------------------------------------------------------------------------- main


def build(args: argparse.Namespace, urls: list[str]) -> None:
    """Generate the history once (if the folder is empty) and import it into every
    database that has no rounds yet."""
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
    for url in urls:
        db = open_database(url)
        if not Round.select().exists():
            t0 = time.perf_counter()
            report = Importer().import_paths([out])
            took = time.perf_counter() - t0
            print(f"{url}: imported {report.summary()} in {took:.0f} s", file=sys.stderr)
        db.close()


def bench_database(url: str, args: argparse.Namespace) -> tuple[dict[str, Timing], str]:
    """Time every case on one database; returns the timings and the backend's name."""
    db = open_database(url)
    if not PlayerDay.select().exists() and PlayerRound.select().exists():
        t0 = time.perf_counter()
        aggregates.rebuild_all()
        print(f"rebuilt aggregates in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if is_postgres():
        # As autovacuum would after a bulk import: statistics, and the visibility map
        # that lets covering indexes answer without the table.
        db.execute_sql("VACUUM ANALYZE")
    backend = "PostgreSQL" if is_postgres() else "SQLite"
    memory: dict[str, Any] = {"start": vm_status()}
    commands, completers = bot_commands()  # loads the cogs as the bot does
    memory["bot loaded"] = vm_status()
    rng = random.Random(args.seed)
    now = latest_round_time() or datetime.now()
    cases = command_cases(rng, now, args.tz)
    missing = coverage(cases, commands, completers)
    rows = PlayerRound.select().count()
    print(
        f"\n== {backend}: {url}\n"
        f"{rows:,} player-rounds, {Alias.select().count():,} aliases, "
        f"{PlayerDay.select().count():,} player-days; now = {now}\n{load()}\n"
    )
    cache = QueryCache(ttl=3600, maxsize=CACHE_MAXSIZE)  # the bot's size
    print(f"{'command':48s} {'cold p50':>9s} {'p95':>7s} {'warm p50':>9s} {'p95':>7s}  cached")
    results: dict[str, Timing] = {}
    for case in cases:
        try:
            timing = measure(case, cache, args.repeat)
        except UserError as exc:
            print(f"{case.name:48s} skipped: {exc}")
            continue
        results[case.name] = timing
        (c50, c95), (w50, w95) = timing.cold, timing.warm
        print(
            f"{case.name:48s} {c50:9.1f} {c95:7.1f} {w50:9.2f} {w95:7.2f}  {timing.cached}",
            flush=True,
        )
        notes = sorted(case.notes)
        for note in notes[:2]:
            print(f"{'':48s} ({note})")
        if len(notes) > 2:
            print(f"{'':48s} (and {len(notes) - 2} more answers with an error)")
    memory["after the runs"] = vm_status()
    for case in cases:  # every answer of the runs cached at once, as in a busy evening
        if not case.write:
            for calls in case.invocations:
                run_once(cache, calls)
    memory[f"query cache full ({len(cache)} answers)"] = vm_status()
    print(f"\n{load()}")
    print(
        "memory of this process (MiB; the bot's cogs loaded, no Discord connection, "
        "Chromium not included):"
    )
    for when, value in memory.items():
        print(f"  {when}: {value}")
    if missing:
        print(f"NOT TIMED (add them to bench/commands.py): {', '.join(missing)}")
    else:
        print("every slash command and autocomplete of the bot is timed above")
    if not args.no_render:
        render_figures(now, args)
    db.close()
    return results, backend


def render_figures(now: datetime, args: argparse.Namespace) -> None:
    everything = parse_period("all", now)
    busiest = leaderboard("rounds", everything, min_rounds=1, limit=3).rows
    ids = [r.player_id for r in busiest]
    if len(ids) < 3:
        return
    figures = {
        "trend": trend_chart(trend(ids[0], "kd", 365, now=now)),
        "compare": radar_chart(compare(ids, everything)),
        "activity": heatmap_chart(activity(None, 12, now=now), "Activity", args.tz),
    }
    rated = ranking()
    if rated:
        top = max(rated, key=lambda r: r.maps)
        figures["rating"] = rating_chart(top.name, rating_history(top.player_id))
    asyncio.run(bench_render(figures, args.repeat))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Latency of every command's queries.")
    ap.add_argument(
        "--database-url",
        action="append",
        help="a database to measure (repeat for several; default DATABASE_URL)",
    )
    ap.add_argument("--generate", type=Path, help="generate + import a synthetic history here")
    ap.add_argument("--players", type=int, default=3000)
    ap.add_argument("--years", type=float, default=5.0)
    ap.add_argument("--servers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=30, help="timed calls per command")
    ap.add_argument("--tz", default="Europe/Berlin")
    ap.add_argument("--no-render", action="store_true", help="skip the chart render timings")
    args = ap.parse_args(argv)

    urls = args.database_url or (
        [os.environ["DATABASE_URL"]] if "DATABASE_URL" in os.environ else []
    )
    if args.generate is not None:
        urls = urls or [f"sqlite:///{Path(args.generate).resolve()}.db"]
        build(args, urls)
    if not urls:
        ap.error("give --database-url (or DATABASE_URL) or --generate")
    print(f"{load()}; repeat {args.repeat} per command")
    results = {}
    for url in urls:
        timings, backend = bench_database(url, args)
        results[backend if backend not in results else url] = timings
    if len(results) > 1:
        side_by_side(results)
    return 0


def side_by_side(results: dict[str, dict[str, Timing]]) -> None:
    """One line per command: cold and warm p50/p95 of every database."""
    urls = list(results)
    print(f"\n{'ms: cold p50/p95 | warm p50/p95':48s}" + "".join(f" {u[-30:]:>30s}" for u in urls))
    names = list(dict.fromkeys(n for r in results.values() for n in r))
    for name in names:
        cells = []
        for url in urls:
            t = results[url].get(name)
            cells.append(
                f"{t.cold[0]:5.1f}/{t.cold[1]:5.1f} | {t.warm[0]:4.2f}/{t.warm[1]:4.2f}"
                if t
                else "-"
            )
        print(f"{name:48s}" + "".join(f" {c:>30s}" for c in cells))


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
            p50, p95 = percentiles(times)
            print(f"{name:32s} {first:8.0f} {p50:8.0f} {p95:8.0f}")
    finally:
        await renderer.close()


if __name__ == "__main__":
    sys.exit(main())
