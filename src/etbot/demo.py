"""``etbot demo``: what the bot would answer, without Discord and without a token.

Steps (everything real except the community, which is synthetic):

1. :func:`etbot.synth.generate_history` writes a community's stats files in the real
   file format into ``OUT/stats/`` (one subfolder per game server).
2. The :class:`~etbot.ingest.Importer` imports them into a fresh SQLite database
   ``OUT/etbot-demo.db`` (never the configured ``DATABASE_URL``), with every batch hook
   (ratings, milestones…). The last stopwatch map is held back.
3. A betting pool is opened on that map with its real line-ups, a few made-up members
   bet through :func:`etbot.betting.place_bet`, then the held-back files are imported:
   the importer's betting hook locks and settles the pool from the map's real result,
   exactly as on a live match night. Ended seasons are closed as the bot's periodic
   check does.
4. Every answer is built with the cogs' own embed and component builders (and their
   poster builders for the automatic posts), charts with the cogs' figure builders,
   rendered on one warm Chromium (:mod:`etbot.render`) into ``OUT/charts/*.png``.
5. :mod:`etbot.demo_page` draws them all into ``OUT/index.html``.

A chart that cannot be rendered (no Chromium) is answered with the cogs' text fallback,
as the bot does; the run then counts as incomplete (see :attr:`DemoResult.complete`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import disnake

from etbot import (
    achievements,
    activity,
    availability,
    betting,
    compare,
    leaderboard,
    rating,
    seasons,
    sessions,
    summary,
    teams,
    trend,
)
from etbot.cache import QueryCache
from etbot.commands import activity as activity_cog
from etbot.commands import compare as compare_cog
from etbot.commands import leaderboard as leaderboard_cog
from etbot.commands import matchups as matchups_cog
from etbot.commands import rating as rating_cog
from etbot.commands import sessions as sessions_cog
from etbot.commands import summary as summary_cog
from etbot.commands import teams as teams_cog
from etbot.commands import trend as trend_cog
from etbot.commands._base import Resources, attach_chart, error_embed
from etbot.commands.achievements import AchievementsCog, achievements_embed
from etbot.commands.betting import BettingCog
from etbot.commands.formatting import error_text
from etbot.commands.matchnight import MatchNightCog
from etbot.commands.seasons import SEASON_MIN_ROUNDS, SeasonsCog
from etbot.config import Settings
from etbot.db import Db, open_database
from etbot.demo_page import Message, RenderContext, page_html
from etbot.errors import UserError
from etbot.ingest import Importer, iter_stats_files
from etbot.models import BetPool, MapResult, PlayerMilestone, Round, SeasonClose
from etbot.render import ChartRenderer
from etbot.statsfile import parse_file_name, parse_round
from etbot.synth import HistorySummary, generate_history
from etbot.views import betting as betting_views
from etbot.views.paginator import Paginator
from etbot.views.seasons import SeasonState

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("etbot-demo")
DB_NAME = "etbot-demo.db"
STATS_DIR = "stats"
CHARTS_DIR = "charts"
INDEX = "index.html"
#: What a demo folder may hold: it is emptied of these (and only these) on every run.
OWNED = frozenset(
    {
        INDEX,
        STATS_DIR,
        CHARTS_DIR,
        DB_NAME,
        f"{DB_NAME}-wal",
        f"{DB_NAME}-shm",
        f"{DB_NAME}-journal",
        f"{DB_NAME}.migrate-lock",
    }
)

#: The made-up Discord server and members of the demo (ids in Discord's snowflake range).
GUILD_ID = 900_000_000_000_000_001
MEMBERS: dict[int, str] = {
    900_000_000_000_000_101: "newcomer",
    900_000_000_000_000_102: "Ana",
    900_000_000_000_000_103: "Bram",
    900_000_000_000_000_104: "Chiara",
    900_000_000_000_000_105: "Dmitri",
}
ASKER = 900_000_000_000_000_101
#: (member, side, share of the starting points) of the demo bets.
BETS = (
    (900_000_000_000_000_102, betting.SIDE_A, 0.40),
    (900_000_000_000_000_103, betting.SIDE_B, 0.25),
    (900_000_000_000_000_104, betting.SIDE_A, 0.60),
    (900_000_000_000_000_105, betting.SIDE_B, 0.50),
    (ASKER, betting.SIDE_B, 0.20),
)

#: Files per game server per week of the generator's defaults (~4.4 sessions x ~11 maps
#: x 2 rounds), for the progress bar's total.
FILES_PER_SERVER_WEEK = 96


class DemoError(Exception):
    """The demo cannot run (bad size, an output folder holding other files)."""


@dataclass(frozen=True)
class DemoOptions:
    """``etbot demo`` options. The defaults finish in seconds and still show every answer
    with data behind it (at least one ended season, several sessions in the last 90 days)."""

    out: Path = DEFAULT_OUT
    players: int = 100
    #: Long enough that the previous quarter (a season) ended inside the history, whatever
    #: today's date: 0.4 years = 146 days > 92 days.
    years: float = 0.4
    servers: int = 1
    seed: int = 1
    #: The history's last day; None: yesterday, so that the page looks like today. The
    #: demo's clock is then the evening after it (or now, whichever is later).
    end: date | None = None
    #: Progress bars on stderr.
    progress: bool = True

    def check(self) -> None:
        """Raise :class:`DemoError` for sizes the demo cannot use."""
        if not 20 <= self.players <= 100_000:
            raise DemoError("--players must be between 20 and 100000")
        if not 0.1 <= self.years <= 20:
            raise DemoError("--years must be between 0.1 and 20")
        if not 1 <= self.servers <= 6:
            raise DemoError("--servers must be between 1 and 6")


@dataclass
class DemoResult:
    """What a demo run wrote."""

    out: Path
    index: Path
    charts: list[Path] = field(default_factory=list)
    #: Charts answered with text because they could not be rendered (file names).
    missing_charts: list[str] = field(default_factory=list)
    #: Answers that could not be built (a sentence each); the page says so too.
    problems: list[str] = field(default_factory=list)
    files: int = 0
    player_rounds: int = 0
    players: int = 0
    #: Seconds per step: generate, import, betting, answers, total.
    timings: dict[str, float] = field(default_factory=dict)
    audit_ok: bool = False
    pool_id: int | None = None

    @property
    def complete(self) -> bool:
        """Every answer and every chart is on the page."""
        return not self.missing_charts and not self.problems


class _DemoResources(Resources):
    """The cogs' resources with the demo's clock (the end of the synthetic history)."""

    demo_now: datetime

    def local_now(self) -> datetime:
        return self.demo_now


# --------------------------------------------------------------------------- folder


def prepare_folder(out: Path) -> None:
    """Make ``out`` an empty demo folder; refuse a folder holding anything else, so a
    mistyped ``--out`` never deletes someone's files."""
    if out.exists() and not out.is_dir():
        raise DemoError(f"{out} exists and is not a folder")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in OWNED)
        if foreign:
            shown = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
            raise DemoError(
                f"{out} is not an etbot demo folder (it holds {shown}); "
                "choose an empty or new folder with --out"
            )
        for name in OWNED:
            path = out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    (out / CHARTS_DIR).mkdir(parents=True, exist_ok=True)


# --------------------------------------------------------------------------- progress


@contextmanager
def _progress_bar(enabled: bool, description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr; yields ``set_completed(n)``."""
    if not enabled:
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=max(1, total))

        def update(n: int) -> None:
            progress.update(task, completed=min(n, max(1, total)))

        yield update
        progress.update(task, completed=max(1, total))


# --------------------------------------------------------------------------- history


def _last_map(files: Sequence[Path]) -> tuple[Path, Path]:
    """The newest stopwatch map with both files: (round 1 file, round 2 file)."""
    by_folder: dict[Path, list[tuple[datetime, str, int, Path]]] = {}
    for path in files:
        try:
            ended, map_name, round_no = parse_file_name(path.name)
        except ValueError:
            continue
        by_folder.setdefault(path.parent, []).append((ended, map_name, round_no, path))
    best: tuple[datetime, Path, Path] | None = None
    for rounds in by_folder.values():
        rounds.sort()
        for before, after in itertools.pairwise(rounds):
            pair = before[2] == 1 and after[2] == 2 and before[1] == after[1]
            if pair and (best is None or after[0] > best[0]):
                best = (after[0], before[3], after[3])
    if best is None:
        raise DemoError("the generated history holds no complete stopwatch map")
    return best[1], best[2]


def _lineups(round1: Path) -> tuple[list[str], list[str], str, datetime]:
    """Axis and allies GUIDs (humans), the map and the end time of a round 1 file."""
    parsed = parse_round(round1.read_bytes(), round1.name)
    axis = sorted(p.guid for p in parsed.players if p.team == 1 and not p.is_bot)
    allies = sorted(p.guid for p in parsed.players if p.team == 2 and not p.is_bot)
    ended, map_name, _round_no = parse_file_name(round1.name)
    return axis, allies, map_name, ended


def _utc_naive(local: datetime, settings: Settings) -> datetime:
    return local.replace(tzinfo=settings.tz).astimezone(UTC).replace(tzinfo=None)


# --------------------------------------------------------------------------- the run


def run_demo(options: DemoOptions, settings: Settings) -> DemoResult:
    """Generate, import, bet, answer and write the page (module docstring)."""
    options.check()
    started = time.perf_counter()
    out = options.out
    prepare_folder(out)
    result = DemoResult(out=out.resolve(), index=(out / INDEX).resolve())
    zone = settings.tz

    # 1. The community: a history that ended yesterday (by default), so that "the last
    # 90 days" of /trend and the next session of /sessions are about today.
    real_now = datetime.now(zone)
    end = options.end or (real_now - timedelta(days=1)).date()
    clock = real_now if options.end is None else datetime.combine(end, real_now.timetz())
    expected = max(1, round(options.years * 52.18 * options.servers * FILES_PER_SERVER_WEEK))
    t = time.perf_counter()
    with _progress_bar(options.progress, "generating stats files", expected) as update:
        history = generate_history(
            out / STATS_DIR,
            players=options.players,
            years=options.years,
            servers=options.servers,
            seed=options.seed,
            end=end,
            progress=update,
        )
    result.timings["generate"] = time.perf_counter() - t
    result.files, result.player_rounds, result.players = (
        history.files,
        history.player_rounds,
        history.players,
    )
    log.info("demo history: %s", history)

    # 2. Import all but the last map into a fresh SQLite database of the demo folder.
    database = open_database(f"sqlite:///{out / DB_NAME}")
    try:
        _fill_and_answer(options, settings, result, database, history, clock, started)
    finally:
        database.close()
    return result


def _fill_and_answer(
    options: DemoOptions,
    settings: Settings,
    result: DemoResult,
    database: Any,
    history: HistorySummary,
    clock: datetime,
    started: float,
) -> None:
    """Steps 2-5 of the module docstring, on the open demo database."""
    out, zone = options.out, settings.tz
    # In time order across the servers' folders, as the files arrived (iter_stats_files
    # orders a folder's files by their names, which start with the time the round ended).
    files = list(iter_stats_files([out / STATS_DIR]))
    held_round1, held_round2 = _last_map(files)
    first = [f for f in files if f not in (held_round1, held_round2)]
    t = time.perf_counter()
    with _progress_bar(options.progress, "importing into SQLite", len(first)) as update:
        done = 0

        def advance(_result: object) -> None:
            nonlocal done
            done += 1
            update(done)

        report = Importer().import_paths(first, progress=advance)
    result.timings["import"] = time.perf_counter() - t
    if report.imported == 0:
        raise DemoError(f"nothing was imported: {report.summary()}")

    # 3. A betting pool on the held-back map, settled by importing it.
    t = time.perf_counter()
    rules = betting.Rules(settings.betting_start_points, settings.betting_topup_points)
    axis, allies, map_name, r1_end = _lineups(held_round1)
    opened_local = r1_end - timedelta(minutes=20)
    opened = _utc_naive(opened_local, settings)
    pool_id = betting.open_pool(
        GUILD_ID,
        ASKER,
        axis,
        allies,
        not_before=opened_local,
        map_name=map_name,
        now=opened,
    )
    result.pool_id = pool_id
    for minute, (member, side, share) in enumerate(BETS, start=1):
        amount = max(1, min(rules.start_points, round(rules.start_points * share)))
        betting.place_bet(
            pool_id,
            GUILD_ID,
            member,
            side,
            amount,
            f"bet:demo:{member}",
            rules,
            now=opened + timedelta(minutes=minute),
        )
    open_view = betting.pool_view(pool_id, GUILD_ID)
    open_at = opened + timedelta(minutes=len(BETS) + 1)
    Importer().import_paths([held_round1, held_round2])
    result.audit_ok = betting.audit().ok
    result.timings["betting"] = time.perf_counter() - t

    # Ended seasons get their awards, as the bot's periodic check does after an import.
    last_round = Round.select(Round.ended_at).order_by(Round.ended_at.desc()).scalar()
    demo_now = clock
    if last_round is not None:
        demo_now = max(clock, _as_local(last_round, settings) + timedelta(minutes=30))
    seasons.close_ended_seasons(demo_now)

    # 4. The answers.
    t = time.perf_counter()
    messages = asyncio.run(
        _answers(settings, database, demo_now, result, pool_id, open_view, open_at)
    )
    result.timings["answers"] = time.perf_counter() - t

    # 5. The page.
    result.timings["total"] = time.perf_counter() - started
    ctx = RenderContext(now=demo_now, zone=zone, members=MEMBERS)
    images = {f"attachment://{p.name}": f"{CHARTS_DIR}/{p.name}" for p in result.charts}
    warnings = []
    if result.missing_charts:
        warnings.append(
            "Charts missing: they could not be rendered (is Chromium installed? "
            "scripts/setup-system.sh installs it); the bot answers with the same text in "
            "their place: " + ", ".join(result.missing_charts)
        )
    warnings.extend(result.problems)
    intro = [
        f"A synthetic community of {history.players:,} players on {options.servers} game "
        f"server(s): {history.files:,} stats files ({history.player_rounds:,} player-rounds), "
        f"{_day(history.first)} to {_day(history.last)}, generated in the real stats-file "
        f"format (seed {options.seed}) and imported into {DB_NAME} beside this page.",
        "Every answer below is built by the bot's own code from that database, as it would "
        "appear in Discord. Buttons and menus are drawn but do nothing here.",
        f"Server time zone: {settings.server_timezone}. Made in "
        f"{result.timings['total']:.1f} s (generate {result.timings['generate']:.1f} s, "
        f"import {result.timings['import']:.1f} s, answers {result.timings['answers']:.1f} s).",
    ]
    page = page_html("etbot demo: what the bot answers", intro, messages, images, ctx, warnings)
    result.index.write_text(page, encoding="utf-8")


def _as_local(value: object, settings: Settings) -> datetime:
    from etbot.db import as_datetime

    return as_datetime(cast(Any, value)).replace(tzinfo=settings.tz)


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "–"


# --------------------------------------------------------------------------- answers


class _Charts:
    """Renders figures through the cogs' resources and keeps the PNG files."""

    def __init__(self, res: Resources, folder: Path, result: DemoResult) -> None:
        self.res = res
        self.folder = folder
        self.result = result

    async def attach(
        self,
        embed: disnake.Embed,
        filename: str,
        fallback: str,
        build: Callable[..., Any],
        *args: Any,
    ) -> None:
        """Render ``build(*args)`` and attach it to ``embed`` like ``reply_with_chart``
        (text fallback when it cannot be rendered)."""
        png = await self.res.try_render(build, *args)
        self.keep(filename, png)
        attach_chart(embed, png, filename, fallback)

    def keep(self, filename: str, png: bytes | None) -> None:
        if png is None:
            self.result.missing_charts.append(filename)
            return
        path = self.folder / filename
        path.write_bytes(png)
        self.result.charts.append(path)


async def _answers(
    settings: Settings,
    database: Any,
    now: datetime,
    result: DemoResult,
    pool_id: int,
    open_view: betting.PoolView,
    open_at: datetime,
) -> list[Message]:
    renderer = ChartRenderer()
    res = _DemoResources(
        settings=settings,
        db=Db(database),
        cache=QueryCache(ttl=600),
        renderer=renderer,
    )
    res.demo_now = now
    bot = cast(Any, SimpleNamespace(resources=res, poster=None))
    charts = _Charts(res, result.out / CHARTS_DIR, result)
    messages: list[Message] = []

    async def answer(name: str, build: Callable[[], Awaitable[Message | None]]) -> None:
        """One answer; a failure costs that answer only and is reported on the page."""
        try:
            msg = await build()
        except UserError as exc:  # the bot would answer with its error embed
            log.warning("demo answer %s: %s", name, exc)
            result.problems.append(f"{name}: {exc}")
            msg = Message(name, name, None, [error_embed(error_text(exc))])
        if msg is not None:
            messages.append(msg)

    if renderer.available:
        try:
            await renderer.start()
        except Exception as exc:  # noqa: BLE001 the answers fall back to text
            log.warning("no chart rendering: %s", exc)
    try:
        window_all = res.period("all")
        top = await res.run(leaderboard.leaderboard, "rounds", window_all, min_rounds=1, limit=4)
        regulars = [row for row in top.rows]
        if len(regulars) < 2:
            raise DemoError("the history has fewer than two players")
        star = regulars[0]

        async def stats() -> Message:
            card = await res.run(summary.player_summary, star.player_id, window_all)
            trophies = await res.run(seasons.player_trophies, star.player_id, now)
            return Message(
                "stats",
                "/stats: a player's card",
                f"/stats player: {star.name}",
                [summary_cog.player_card(card, trophies)],
                note="The most active player of the community; without a player, "
                "/stats shows your own linked profile.",
            )

        async def board() -> Message:
            fetch = leaderboard_cog.make_leaderboard_fetcher(res, "dpm", "all", window_all, 10)
            page = await fetch(0)
            components: list[Any] = []
            if page.page_count > 1:
                components = [Paginator(ASKER, fetch, page_count=page.page_count)]
            return Message(
                "leaderboard",
                "/leaderboard: top players by one statistic",
                "/leaderboard stat: DPM",
                [page.embed],
                components=components,
                note="Previous / Next turn the pages (only for the member who asked).",
            )

        async def trend_answer() -> Message:
            data = await res.run(trend.trend, star.player_id, "dpm", 90, res.window_end())
            embed = trend_cog.trend_embed(star.name, data)
            await charts.attach(
                embed, "trend.png", trend_cog.fallback_text(data), trend_cog.trend_chart, data
            )
            return Message(
                "trend",
                "/trend: better or worse?",
                f"/trend player: {star.name} stat: DPM",
                [embed],
            )

        async def compare_answer() -> Message:
            ids = tuple(row.player_id for row in regulars[:3])
            data = await res.run(compare.compare, ids, window_all)
            embed = compare_cog.compare_embed(data)
            await charts.attach(
                embed,
                "compare.png",
                "The radar chart could not be drawn; the numbers are above.",
                compare_cog.radar_chart,
                data,
            )
            names = " ".join(f"player{i}: {r.name}" for i, r in enumerate(regulars[:3], 1))
            return Message(
                "compare", "/compare: a radar of percentiles", f"/compare {names}", [embed]
            )

        async def activity_answer() -> Message:
            weeks = activity_cog.DEFAULT_WEEKS
            counts = await res.run(activity.activity, None, weeks, res.window_end())
            title = activity_cog.activity_title("Server", weeks)
            embed = activity_cog.activity_embed("Server", title, counts, settings.server_timezone)
            await charts.attach(
                embed,
                "activity.png",
                "The heatmap could not be drawn.",
                activity_cog.heatmap_chart,
                counts,
                title,
                settings.server_timezone,
            )
            return Message("activity", "/activity: when people play", "/activity", [embed])

        async def sessions_answer() -> Message:
            recent = await res.run(sessions.recent_sessions, sessions_cog.SESSIONS_SHOWN)
            pattern = await res.run(sessions.weekly_pattern, settings.server_timezone, now)
            upcoming = await res.run(availability.next_session, now, settings.server_timezone)
            embed = sessions_cog.sessions_embed(recent, pattern, settings.tz, upcoming)
            return Message(
                "sessions",
                "/sessions: recent evenings and the next one",
                "/sessions",
                [embed],
                note="Each evening's stopwatch score, the weekly pattern, and when the "
                "next session is due (forecast from the history).",
            )

        async def summaries() -> None:
            pool = BetPool.get_by_id(pool_id)
            if pool.round1_id is None or pool.map_result_id is None:
                result.problems.append("the last map was not tied to the betting pool")
                return
            round2_id = MapResult.get_by_id(pool.map_result_id).round2_id
            cog = MatchNightCog(bot, res)
            post1 = await cog.build_round_summary(str(pool.round1_id))
            post2 = await cog.build_map_summary(str(round2_id))
            if post1 is not None:
                messages.append(
                    Message(
                        "round-summary",
                        "Round summary (automatic post)",
                        None,
                        list(post1.embeds),
                        note="Posted in the announcement channel when a round 1 file "
                        "arrives during a match night.",
                    )
                )
            if post2 is not None:
                for name, png in post2.files:
                    charts.keep(name, png)
                if not post2.files:
                    result.missing_charts.append(f"map-{round2_id}.png")
                messages.append(
                    Message(
                        "map-summary",
                        "Map summary (automatic post)",
                        None,
                        list(post2.embeds),
                        note="Posted when the map's round 2 arrives: the stopwatch winner, "
                        "the score of the evening, the MVP.",
                    )
                )

        async def rating_answers() -> None:
            rated = None
            for row in regulars:
                try:
                    rated = (
                        row,
                        await res.run(
                            rating.rating_summary,
                            row.player_id,
                            sessions=rating_cog.SESSIONS,
                            top=rating_cog.TOP_MOVES,
                        ),
                    )
                    break
                except rating.NoRating:
                    continue
            if rated is None:
                result.problems.append("no rated player for /rating")
                return
            row, s = rated
            history = await res.run(rating.rating_history, row.player_id)
            embed = rating_cog.rating_embed(s)
            await charts.attach(
                embed,
                "rating.png",
                rating_cog.fallback_text(history),
                rating_cog.rating_chart,
                s.name,
                history,
            )
            messages.append(
                Message(
                    "rating",
                    "/rating: skill from map results",
                    f"/rating player: {row.name}",
                    [embed],
                )
            )

            # Ten players of the last map (5 of each side), as a member would pick them.
            picked = [
                *open_view.side(betting.SIDE_A).players[:5],
                *open_view.side(betting.SIDE_B).players[:5],
            ]
            proposal = await res.run(teams.propose, [p.guid for p in picked], ASKER, now=_utc(now))
            options = " ".join(f"player{i}: {p.name}" for i, p in enumerate(picked, 1))
            messages.append(
                Message(
                    "teams",
                    "/teams: the fairest split",
                    f"/teams {options}",
                    [teams_cog.teams_embed(proposal)],
                    components=list(teams_cog.teams_buttons(proposal)),
                    note="Ten players of the last map, split so that both teams have the "
                    "same chance to win (every split is checked).",
                )
            )
            a, b = regulars[0], regulars[1]
            refs = [await res.run(_player_ref, p.player_id) for p in (a, b)]
            m = await res.run(_matchup, a.player_id, b.player_id)
            messages.append(
                Message(
                    "matchup",
                    "/matchup: together and against each other",
                    f"/matchup player1: {a.name} player2: {b.name}",
                    [matchups_cog.matchup_embed(refs[0], refs[1], m)],
                )
            )

        async def betting_answers() -> None:
            cog = BettingCog(bot)
            messages.append(
                Message(
                    "bet-open",
                    "/bet open: a pool on the next map",
                    f"/bet open map: {open_view.map}",
                    [betting_views.pool_embed(open_view, open_at)],
                    components=betting_views.pool_components(open_view, open_at),
                    note="The pool while betting was open: the two line-ups of the map's "
                    "round 1, the rating model's odds, and five members' bets.",
                )
            )
            post = await cog.build_result(str(pool_id))
            if post is None:
                result.problems.append(f"pool #{pool_id} was not settled by the import")
                return
            messages.append(
                Message(
                    "bet-result",
                    "Betting result (automatic post)",
                    None,
                    list(post.embeds),
                    note="The import of the map's files locked and settled the pool from "
                    "the real map result; the ledger audit says "
                    + ("ok (no point created or lost)." if result.audit_ok else "NOT ok."),
                )
            )

        async def season_answers() -> None:
            cog = SeasonsCog(bot)
            chosen = await res.run(seasons.find_season, "", now)
            state = SeasonState(chosen.key, "dpm", SEASON_MIN_ROUNDS, 0, ASKER)
            embed, components = await cog.render(state, place_menu=True)
            messages.append(
                Message(
                    "season", "/season: standings", "/season", [embed], components=list(components)
                )
            )
            key = await res.run(_newest_recap_key)
            post = await cog.build_recap(key) if key is not None else None
            if post is None:
                result.problems.append("no season has ended in this history: no recap")
                return
            messages.append(
                Message(
                    "season-recap",
                    "Season recap (automatic post)",
                    None,
                    list(post.embeds),
                    note="Posted once when a season ends, with its awards.",
                )
            )

        async def achievement_answers() -> None:
            data = await res.run(achievements.achievements, star.player_id)
            messages.append(
                Message(
                    "achievements",
                    "/achievements: milestones",
                    f"/achievements player: {star.name}",
                    [achievements_embed(star.name, data)],
                )
            )
            key = await res.run(_newest_milestone_key)
            if key is None:
                return
            post = await AchievementsCog(res).build_milestone(key)
            if post is not None:
                messages.append(
                    Message(
                        "milestone",
                        "Milestone (automatic post)",
                        None,
                        list(post.embeds),
                        content=post.content,
                        note="Pings only the member linked to the player, nobody else.",
                    )
                )

        await answer("/stats", stats)
        await answer("/leaderboard", board)
        await answer("/trend", trend_answer)
        await answer("/compare", compare_answer)
        await answer("/activity", activity_answer)
        await answer("/sessions", sessions_answer)
        await _run_part(result, "round and map summaries", summaries)
        await _run_part(result, "ratings", rating_answers)
        await _run_part(result, "betting", betting_answers)
        await _run_part(result, "seasons", season_answers)
        await _run_part(result, "achievements", achievement_answers)
    finally:
        await renderer.close()
        await asyncio.to_thread(res.db.close)
    return messages


async def _run_part(result: DemoResult, name: str, part: Callable[[], Awaitable[None]]) -> None:
    try:
        await part()
    except UserError as exc:
        log.warning("demo %s: %s", name, exc)
        result.problems.append(f"{name}: {exc}")


def _utc(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(tzinfo=None)


def _player_ref(player_id: int) -> Any:
    from etbot.players import get_player

    return get_player(player_id)


def _matchup(a: int, b: int) -> Any:
    from etbot import matchups

    return matchups.matchup(a, b)


def _newest_recap_key() -> str | None:
    """The most recently ended season that was closed with awards."""
    keys = [
        k
        for (k,) in SeasonClose.select(SeasonClose.season_key)
        .where(SeasonClose.season_key != seasons.TRACKING_KEY)
        .order_by(SeasonClose.end.desc())
        .tuples()
    ]
    return keys[0] if keys else None


def _newest_milestone_key() -> str | None:
    row = (
        PlayerMilestone.select(
            PlayerMilestone.player, PlayerMilestone.stat, PlayerMilestone.threshold
        )
        .order_by(PlayerMilestone.reached_on.desc(), PlayerMilestone.threshold.desc())
        .tuples()
        .first()
    )
    if row is None:
        return None
    player_id, stat, threshold = row
    return achievements.milestone_key(int(player_id), str(stat), int(threshold))
