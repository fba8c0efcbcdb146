"""Command line: ``etbot run | import | export | migrate | demo | rating | betting audit |
sessions next | bench-data``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from peewee import PeeweeException

from etbot import __version__
from etbot.config import ConfigError, Settings, load_settings
from etbot.db import DatabaseOpenError, DatabaseUrlError, one_line, redact, url_secrets

if TYPE_CHECKING:
    from etbot.demo import DemoOptions
    from etbot.export import ExportRequest

log = logging.getLogger(__name__)


class CliError(Exception):
    """A problem the command reports as its one error line (exit code 1)."""


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


class _Redactor(logging.Filter):
    """Hides the database URL's password and the bot token in every record a handler
    prints, tracebacks included (whatever a module or a driver put in its message)."""

    def __init__(self, url: str, token: str | None) -> None:
        super().__init__()
        self.url = url
        self.secrets = [s for s in [*url_secrets(url), token or ""] if s]

    def _clean(self, text: str) -> str:
        text = redact(text, self.url)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:  # another handler formatted the traceback already
            record.exc_text = self._clean(record.exc_text)
        elif record.exc_info:
            # Formatters reuse exc_text when it is set: format the traceback once, cleaned.
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = self._clean(record.stack_info)
        return True


def redact_logs(handlers: Sequence[logging.Handler], *, url: str, token: str | None) -> None:
    """Make ``handlers`` print every record without the database password and the token."""
    redactor = _Redactor(url, token)
    for handler in handlers:
        handler.addFilter(redactor)


def _open_db(settings: Settings):  # type: ignore[no-untyped-def]
    from etbot.db import open_database

    return open_database(settings.database_url)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from etbot.db import migrate, open_database

    db = open_database(settings.database_url, migrate_schema=False)
    applied = migrate(db)
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from etbot.ingest import FileResult, Importer, iter_stats_files

    _open_db(settings)
    missing = [p for p in args.paths if not Path(p).exists() and not Path(p).is_symlink()]
    for p in missing:
        print(f"error: {p}: no such file or folder", file=sys.stderr)
    paths = [p for p in args.paths if Path(p).exists() or Path(p).is_symlink()]
    skipped: list[tuple[str, str]] = []
    files = list(iter_stats_files(paths, skipped))
    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=args.quiet or len(files) < 50,
        transient=True,
        # No refresh thread: the import forks its parse workers only while this process
        # runs one thread (etbot.ingest.prepare.can_fork); the bar is redrawn as it moves.
        auto_refresh=False,
    ) as progress:
        task = progress.add_task("importing", total=len(files))

        def advance(_result: FileResult) -> None:
            progress.advance(task)
            progress.refresh()

        report = Importer().import_paths(files, progress=advance)
    report.skipped[:0] = skipped
    print(report.summary())
    for name, reason in report.rejected:
        print(f"  rejected {name}: {reason}")
    for name, reason in report.replacements:
        print(f"  replaced {name}: {reason}")
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}")
    # Non-zero only when nothing could be imported (duplicates count as fine).
    if report.imported == 0 and report.duplicates == 0 and report.replaced == 0:
        return 1
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    import io

    from etbot.errors import UserError
    from etbot.export import ENCODING

    _open_db(settings)
    try:
        request = _export_request(settings, args)
        if args.out in (None, "-"):
            sys.stdout.flush()  # the CSV goes to the byte stream below it
            out = io.TextIOWrapper(sys.stdout.buffer, encoding=ENCODING, newline="")
            try:
                count = _write(request, out)
            finally:
                out.detach()  # leave sys.stdout open
        else:
            with open(args.out, "w", encoding=ENCODING, newline="") as fh:
                count = _write(request, fh)
            print(f"wrote {count} rows to {args.out}", file=sys.stderr)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _write(request: ExportRequest, out: IO[str]) -> int:
    from etbot.export import write_export

    count = write_export(request, out)
    out.flush()
    return count


def _export_request(settings: Settings, args: argparse.Namespace) -> ExportRequest:
    """The :class:`etbot.export.ExportRequest` of ``etbot export`` (UserError when bad)."""
    from etbot.export import build_request
    from etbot.players import resolve_player

    return build_request(
        args.what,
        now=datetime.now(settings.tz).replace(tzinfo=None),
        player_id=resolve_player(args.player).id if args.player else None,
        season=args.season,
        date_from=args.date_from,
        date_to=args.date_to,
        stat=args.stat,
        min_rounds=args.min_rounds,
    )


#: What ``etbot run --demo-without-token`` (scripts/run.sh) says before the demo.
NO_TOKEN_LINE = "no DISCORD_TOKEN: running the demo, set it to run the bot"  # noqa: S105
#: ``etbot demo`` exit code when the page was written but some answer or chart is missing.
EXIT_DEMO_PARTIAL = 3


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    if getattr(args, "demo_without_token", False) and not settings.discord_token:
        # A newcomer without a bot token sees the product instead of a configuration error.
        print(f"{NO_TOKEN_LINE} (DISCORD_TOKEN in the environment or .env)", file=sys.stderr)
        from etbot.demo import DemoOptions

        return run_demo_command(
            settings, DemoOptions(), quiet_logs_unless_asked=args.log_level is None
        )
    try:
        from etbot.bot import run_bot
    except ImportError as exc:  # pragma: no cover - bot module missing from a broken install
        print(f"error: the bot is not available: {exc}", file=sys.stderr)
        return 2
    return run_bot(settings)


def _guid_list(value: str) -> list[str]:
    return [part for part in value.split(",") if part.strip()]


def cmd_rating(settings: Settings, args: argparse.Namespace) -> int:
    import json

    from etbot import rating

    if args.rating_command == "predict":
        # Validate before touching the database: a bad line-up is exit code 2.
        try:
            rating.check_lineups(
                _guid_list(args.first_attack),
                _guid_list(args.first_defence),
                ("--first-attack", "--first-defence"),
            )
        except rating.RatingInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        _open_db(settings)
        pred = rating.predict_map(
            _guid_list(args.first_attack), _guid_list(args.first_defence), args.map
        )
        # Two decimals as the contract shows; never exactly 0 or 1 (log loss).
        p = min(0.99, max(0.01, round(pred.p_first_attack_wins, 2)))
        if args.json:
            print(json.dumps({"p_first_attack_wins": p, "n_known_players": pred.n_known_players}))
        else:
            where = f" on {pred.map} ({pred.map_results} rated maps)" if pred.map else ""
            print(
                f"P(first attack wins{where}) = {p:.2f}  "
                f"({pred.n_known_players} of {pred.n_players} players rated; draws excluded)"
            )
        return 0
    _open_db(settings)
    report = rating.rebuild()
    print(f"ratings rebuilt from {report.replayed} map results")
    return 0


def cmd_betting(settings: Settings, args: argparse.Namespace) -> int:
    """``etbot betting audit``: no point created or lost; exit 1 on any difference."""
    from etbot import betting

    _open_db(settings)
    report = betting.audit()
    if args.json:
        out: dict[str, object] = {
            "ok": report.ok,
            "balances": report.balances,
            "open_stakes": report.open_stakes,
        }
        if not report.ok:
            out["problems"] = list(report.problems)
        print(json.dumps(out))
    else:
        if not report.guilds:
            print("no betting accounts yet")
        for g in report.guilds:
            verdict = "ok" if g.difference == 0 else f"DIFFERENCE {g.difference:+d}"
            print(
                f"server {g.guild_id}: {g.members} members, {g.created} points created "
                f"(grants + top-ups) = {g.balances} in balances + {g.open_stakes} in open "
                f"and locked pools: {verdict}"
            )
        for problem in report.problems:
            print(f"problem: {problem}")
        print("audit ok" if report.ok else f"audit FAILED: {len(report.problems)} problem(s)")
    return 0 if report.ok else 1


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from etbot.demo import DemoOptions

    options = DemoOptions(
        out=Path(args.out),
        players=args.players,
        years=args.years,
        servers=args.servers,
        seed=args.seed,
        end=args.end,
        progress=not args.quiet,
    )
    return run_demo_command(settings, options, quiet_logs_unless_asked=args.log_level is None)


def run_demo_command(
    settings: Settings, options: DemoOptions, *, quiet_logs_unless_asked: bool = True
) -> int:
    """Run the demo and print where it is: 0 when every answer and chart is on the page,
    :data:`EXIT_DEMO_PARTIAL` when the page was written with some missing."""
    from etbot.demo import DemoError, run_demo

    asked = not quiet_logs_unless_asked or "log_level" in settings.model_fields_set
    if not asked and logging.getLogger().level < logging.WARNING:
        # The progress bars and the summary say what happens; per-batch INFO lines would
        # bury them (--log-level or LOG_LEVEL still show them).
        logging.getLogger().setLevel(logging.WARNING)
    try:
        result = run_demo(options, settings)
    except DemoError as exc:
        raise CliError(str(exc)) from exc
    print(
        f"demo: {result.files:,} stats files, {result.player_rounds:,} player-rounds, "
        f"{result.players:,} players; {len(result.charts)} charts; "
        f"{result.timings.get('total', 0.0):.1f} s"
    )
    for name in result.missing_charts:
        print(f"  chart missing (answered with text): {name}", file=sys.stderr)
    for problem in result.problems:
        print(f"  answer missing: {problem}", file=sys.stderr)
    print(f"folder: {result.out}")
    print(f"open:   {result.index}")
    return 0 if result.complete else EXIT_DEMO_PARTIAL


def cmd_bench_data(settings: Settings, args: argparse.Namespace) -> int:
    from etbot.synth import generate_history

    summary = generate_history(
        Path(args.out), players=args.players, years=args.years, seed=args.seed
    )
    print(summary)
    return 0


def _iso_day(value: str) -> date:
    """argparse type for ``--end``: an ISO day from 1970 to 2999."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid day {value!r} (YYYY-MM-DD)") from None
    if not 1971 <= day.year <= 2999:
        raise argparse.ArgumentTypeError(f"day {value!r} is out of range (years 1971-2999)")
    return day


def _iso_time(value: str) -> datetime:
    """argparse type for ``--at``: ISO 8601, with a UTC offset or naive (server-local)."""
    example = "e.g. 2025-10-28T21:00 in server time, or 2025-10-28T21:00+01:00"
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid ISO 8601 time {value!r} ({example})") from None
    # Far-off years would overflow the date arithmetic; no stats file is that old or new.
    if not 1970 <= parsed.year <= 2999:
        raise argparse.ArgumentTypeError(
            f"ISO 8601 time {value!r} is out of range (years 1970-2999; {example})"
        )
    return parsed


def cmd_sessions_next(settings: Settings, args: argparse.Namespace) -> int:
    from etbot.forecast import next_session

    _open_db(settings)
    zone = settings.tz
    predicted = next_session(args.at, zone)
    local = predicted.astimezone(zone) if predicted is not None else None
    if args.json:
        print(json.dumps({"next_start": local.isoformat() if local else None}))
    elif local is None:
        print("no prediction: no rounds were played in the year before that time")
    else:
        at = args.at.astimezone(zone) if args.at.tzinfo else args.at.replace(tzinfo=zone)
        hours = (local - at).total_seconds() / 3600
        print(
            f"next session: {local.isoformat()} "
            f"({local:%a %d %b %H:%M} {settings.server_timezone}, in {hours:.1f} h)"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etbot", description="ET:Legacy stats for Discord communities."
    )
    parser.add_argument("--version", action="version", version=f"etbot {__version__}")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING…")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the Discord bot (needs DISCORD_TOKEN)")
    p.add_argument(
        "--demo-without-token",
        action="store_true",
        help="without DISCORD_TOKEN, say so and run 'etbot demo' instead (scripts/run.sh)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "demo",
        help="write what the bot would answer for a synthetic community (no Discord needed)",
        description="Generates a synthetic community in the real stats-file format, imports "
        "it into a fresh SQLite database inside OUT, and writes every answer of the bot "
        "(embeds, charts as PNG) into OUT/index.html. Exit code 0 when the page is "
        f"complete, {EXIT_DEMO_PARTIAL} when it was written with some chart or answer "
        "missing (e.g. no Chromium for the charts).",
    )
    p.add_argument("--out", default="etbot-demo", help="output folder (default ./etbot-demo)")
    p.add_argument("--players", type=int, default=100, help="players (default 100)")
    p.add_argument("--years", type=float, default=0.4, help="years of history (default 0.4)")
    p.add_argument("--servers", type=int, default=1, help="game servers (default 1)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument(
        "--end",
        type=_iso_day,
        default=None,
        metavar="YYYY-MM-DD",
        help="last day of the history (default: yesterday); the same --end and --seed "
        "give the same community",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("import", help="import stats files or folders")
    p.add_argument("paths", nargs="+", help="stats files or folders (searched recursively)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "export",
        help="export data as CSV (UTF-8 with BOM, safe to open in a spreadsheet)",
        description="rounds: one row per player per round; leaderboard: players ranked by "
        "--stat with every stat; season: a season's standings and awards; ratings: skill "
        "ratings. Columns: README, 'Exports'.",
    )
    p.add_argument("what", choices=["rounds", "leaderboard", "season", "ratings"])
    p.add_argument("--out", "-o", default=None, help="output file (default: stdout)")
    p.add_argument("--player", default=None, help="only this player (name or GUID)")
    p.add_argument(
        "--season", default=None, help="a season's key or name (default for 'season': current)"
    )
    p.add_argument("--from", dest="date_from", default=None, metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", default=None, metavar="YYYY-MM-DD")
    p.add_argument("--stat", default="dpm", help="rank leaderboard/season by (default dpm)")
    p.add_argument(
        "--min-rounds", type=int, default=10, help="leaderboard/season: at least this many rounds"
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("migrate", help="apply pending database migrations")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("rating", help="skill ratings from stopwatch map results")
    rsub = p.add_subparsers(dest="rating_command", required=True)
    rp = rsub.add_parser(
        "predict", help="P(the team attacking first wins the map), from the database now"
    )
    rp.add_argument("--first-attack", required=True, metavar="GUID,GUID,…")
    rp.add_argument("--first-defence", required=True, metavar="GUID,GUID,…")
    rp.add_argument("--map", default=None, metavar="NAME", help="map name (e.g. supply)")
    rp.add_argument("--json", action="store_true", help="one JSON line")
    rp.set_defaults(func=cmd_rating)
    rr = rsub.add_parser("rebuild", help="recompute every rating from the map results")
    rr.set_defaults(func=cmd_rating)

    p = sub.add_parser("betting", help="betting pools")
    bsub = p.add_subparsers(dest="betting_command", required=True)
    bp = bsub.add_parser(
        "audit",
        help="check that the ledger adds up to the balances plus the stakes in open pools",
        description="For every Discord server: points created (starting grants + top-ups) "
        "must equal the balances plus the stakes in open and locked pools; every member's "
        "ledger must add up to their balance, no balance may be negative, and every "
        "finished pool must have paid back exactly its pot. Exit code 1 on any difference.",
    )
    bp.add_argument(
        "--json",
        action="store_true",
        help='one line: {"ok": …, "balances": {"<guild>:<member>": points}, "open_stakes": …}',
    )
    bp.set_defaults(func=cmd_betting)

    p = sub.add_parser("sessions", help="gaming sessions")
    sessions = p.add_subparsers(dest="sessions_command", required=True)
    p = sessions.add_parser(
        "next",
        help="predict the start of the next gaming session after a given time",
        description="Predicted start of the next gaming session (any server) after --at, "
        "from the rounds that ended before it. Times without an offset are server time "
        "(SERVER_TIMEZONE).",
    )
    p.add_argument(
        "--at", required=True, type=_iso_time, help="ISO 8601 time, e.g. 2025-10-28T21:00+01:00"
    )
    p.add_argument(
        "--json", action="store_true", help='one line: {"next_start": "ISO 8601" | null}'
    )
    p.set_defaults(func=cmd_sessions_next)

    p = sub.add_parser("bench-data", help="write a large synthetic history of stats files")
    p.add_argument("out", help="output folder")
    p.add_argument("--players", type=int, default=3000)
    p.add_argument("--years", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=cmd_bench_data)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _setup_logging(args.log_level or settings.log_level)
    redact_logs(
        logging.getLogger().handlers, url=settings.database_url, token=settings.discord_token
    )
    try:
        return int(args.func(settings, args))
    except (ConfigError, DatabaseUrlError, DatabaseOpenError) as exc:
        # These messages name the database without its password already.
        return _fail(str(exc), settings, 2)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``etbot export rounds | head``): nothing left to say.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except CliError as exc:
        return _fail(str(exc), settings)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}", settings)
    except PeeweeException as exc:
        log.debug("database error", exc_info=True)
        return _fail(f"database error: {exc}", settings)
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        return _fail(
            f"unexpected {type(exc).__name__}: {exc} (--log-level DEBUG logs the traceback)",
            settings,
        )


def _fail(message: str, settings: Settings, code: int = 1) -> int:
    """Print ``message`` as the one error line (no password, one line); return ``code``."""
    print(f"error: {one_line(redact(message, settings.database_url))}", file=sys.stderr)
    return code
