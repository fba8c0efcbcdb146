"""``etbot demo``: the folder a newcomer gets, the page in a real browser, the betting pool's
ledger, and scripts/run.sh choosing the demo without a token.

The demo runs once per module as a separate process (``python -m etbot demo``), as the
newcomer runs it, on a small history with a fixed end day and seed, so the same
community comes out every time (933 files; 20-30 s on a busy 2-core machine, mostly the
import and Chromium's start).
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cdp import load_page
from conftest import IN_CI
from etbot import betting, cli
from etbot.commands._base import CHART_HEIGHT, CHART_WIDTH
from etbot.config import Settings
from etbot.db import open_database
from etbot.demo import CHARTS_DIR, DB_NAME, INDEX, MEMBERS, DemoError, DemoOptions, prepare_folder
from etbot.models import BetAccount, BetLedger, BetPool, BetStake, MapResult, Round, database_proxy
from etbot.render import find_browser, png_dimensions

REPO = Path(__file__).resolve().parent.parent
#: A small community: one server, ~10 weeks ending after a quarter (so one season ended);
#: seed 5 gives clan tags in angle brackets (``<HXeP>…``) to names the page shows.
SIZE = ["--players", "30", "--years", "0.2", "--servers", "1", "--seed", "5", "--end", "2025-11-20"]
#: The answers every complete page shows (section anchors).
SECTIONS = (
    "stats",
    "leaderboard",
    "trend",
    "compare",
    "activity",
    "sessions",
    "round-summary",
    "map-summary",
    "rating",
    "teams",
    "matchup",
    "bet-open",
    "bet-result",
    "season",
    "season-recap",
    "achievements",
    "milestone",
)


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCORD_")}
    # The demo must never touch the configured database.
    env["DATABASE_URL"] = f"sqlite:///{tmp / 'configured.db'}"
    env.pop("LOG_LEVEL", None)
    return env


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Run ``etbot demo --out tmp/out`` once; (the output folder, the finished process)."""
    tmp = tmp_path_factory.mktemp("demo")
    out = tmp / "out"
    done = subprocess.run(  # noqa: S603 our own CLI
        [sys.executable, "-m", "etbot", "demo", "--out", str(out), "-q", *SIZE],
        cwd=tmp,
        env=_clean_env(tmp),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return out, done


class _Page(HTMLParser):
    """Section ids and image sources of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        values = dict(attrs)
        if tag == "section" and values.get("id"):
            self.sections.append(str(values["id"]))
        if tag == "img":
            self.images.append(str(values.get("src")))
        for name in ("href", "src"):
            if values.get(name):
                self.links.append(str(values[name]))


def test_demo_writes_the_page_and_charts(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, done = demo
    has_browser = find_browser() is not None
    assert done.returncode == (0 if has_browser else cli.EXIT_DEMO_PARTIAL), done.stderr
    # It says where everything is.
    assert f"folder: {out.resolve()}" in done.stdout
    assert f"open:   {(out / INDEX).resolve()}" in done.stdout
    index = out / INDEX
    parsed = _Page()
    parsed.feed(index.read_text(encoding="utf-8"))
    assert parsed.sections == list(SECTIONS)
    # Nothing from the network: every link is an anchor or a chart beside the page.
    for link in parsed.links:
        assert link.startswith(("#", f"{CHARTS_DIR}/")), link
    charts = sorted((out / CHARTS_DIR).glob("*.png"))
    if has_browser:
        names = {p.name for p in charts}
        assert {"trend.png", "compare.png", "activity.png", "rating.png"} <= names
        assert any(re.fullmatch(r"map-\d+\.png", n) for n in names)
        # Every chart is on the page, and every image of the page is a chart file.
        assert sorted(parsed.images) == sorted(f"{CHARTS_DIR}/{p.name}" for p in charts)
        for path in charts:
            assert png_dimensions(path.read_bytes()) == (CHART_WIDTH, CHART_HEIGHT)
    else:  # the text answers stand in for the charts, and it says which are missing
        assert "chart missing (answered with text): trend.png" in done.stderr
        assert "Chart unavailable" in index.read_text(encoding="utf-8")
    # The demo's own database, not the configured one.
    assert (out / DB_NAME).is_file()
    assert not (out.parent / "configured.db").exists()


#: Every element the page itself writes; a tag made of a player's name would not be one.
PAGE_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "h1",
    "h2",
    "p",
    "div",
    "nav",
    "a",
    "main",
    "section",
    "span",
    "strong",
    "em",
    "u",
    "s",
    "code",
    "pre",
    "button",
    "img",
}


def test_demo_page_shows_names_as_text(demo: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    """Player names come from the game (clan tags like ``<EQHf>``): the page shows them
    as text, never as markup."""
    out, _done = demo
    text = (out / INDEX).read_text(encoding="utf-8")
    parsed = _Page()
    parsed.feed(text)
    assert parsed.tags <= PAGE_TAGS
    db = open_database(f"sqlite:///{out / DB_NAME}", migrate_schema=False)
    try:
        with db.connection_context():
            from etbot.models import Player

            marked = [p.name for p in Player.select(Player.name) if re.search(r"[<>&]", p.name)]
    finally:
        db.close()
        database_proxy.initialize(None)
    shown = [name for name in marked if html.escape(name) in text]
    assert shown, "the community should show a name with markup characters"
    for name in shown:
        assert name not in text


def test_demo_betting_pool_conserves_points(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The pool was settled by importing the map's files, from the real map result, and no
    point was created or lost."""
    out, _done = demo
    db = open_database(f"sqlite:///{out / DB_NAME}", migrate_schema=False)
    try:
        with db.connection_context():
            report = betting.audit()
            assert report.ok, report.problems
            pool = BetPool.get()
            assert pool.state == betting.SETTLED
            result = MapResult.get_by_id(pool.map_result_id)
            assert result.round1_id == pool.round1_id
            # The newest map of the history decided it.
            newest = MapResult.select().order_by(MapResult.ended_at.desc()).first()
            assert newest.id == result.id
            stakes = sum(s.amount for s in BetStake.select().where(BetStake.pool == pool.id))
            paid = sum(
                row.amount
                for row in BetLedger.select().where(
                    (BetLedger.pool == pool.id) & BetLedger.kind.in_(["payout", "refund"])
                )
            )
            assert stakes > 0
            assert paid == stakes
            grants = sum(r.amount for r in BetLedger.select().where(BetLedger.kind == "grant"))
            balances = sum(a.points for a in BetAccount.select())
            assert balances == grants == len(MEMBERS) * betting.Rules().start_points
            r1 = Round.get_by_id(pool.round1_id)
            r2 = Round.get_by_id(result.round2_id)
            expected = betting.winning_side(
                pool.side_a_colour, r1.defender, r2.defender, result.winner_team, result.outcome
            )
            assert pool.winner == expected
    finally:
        db.close()
        database_proxy.initialize(None)


def test_demo_page_in_headless_chromium(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The page loads in a real browser without console errors, requests nothing but
    its own files, and shows every image."""
    browser = find_browser()
    if browser is None:
        if IN_CI:
            pytest.fail("CI=true and no Chromium to open the demo page")
        pytest.skip("no Chromium/Chrome executable (etbot.render.find_browser)")
    out, _done = demo
    expression = """JSON.stringify({
        images: [...document.images].map(i => ({src: i.getAttribute('src'),
            complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})),
        embeds: document.querySelectorAll('.embed').length,
        sections: document.querySelectorAll('section.message').length,
    })"""
    report = asyncio.run(load_page(browser, out / INDEX, expression))
    value = json.loads(report.value)
    assert report.errors == []
    assert report.failed == []
    for url in report.requests:
        assert url.startswith("file://"), url
    assert len(value["images"]) >= 5
    for image in value["images"]:
        assert image["complete"], image
        assert image["width"] > 0, image
        assert image["height"] > 0, image
    assert value["sections"] == len(SECTIONS)
    # One embed per answer; the milestone post is a plain message.
    assert value["embeds"] == len(SECTIONS) - 1


def test_prepare_folder_refuses_foreign_files(tmp_path: Path) -> None:
    """A mistyped --out never deletes someone's files; a demo folder is emptied."""
    (tmp_path / "thesis.tex").write_text("mine")
    with pytest.raises(DemoError, match="not an etbot demo folder"):
        prepare_folder(tmp_path)
    assert (tmp_path / "thesis.tex").read_text() == "mine"
    demo_dir = tmp_path / "demo"
    (demo_dir / CHARTS_DIR).mkdir(parents=True)
    (demo_dir / CHARTS_DIR / "old.png").write_bytes(b"x")
    (demo_dir / INDEX).write_text("old")
    prepare_folder(demo_dir)
    assert sorted(p.name for p in demo_dir.iterdir()) == [CHARTS_DIR]
    assert list((demo_dir / CHARTS_DIR).iterdir()) == []


@pytest.mark.parametrize(
    ("field", "value"), [("players", 5), ("years", 0.0), ("servers", 0), ("servers", 7)]
)
def test_demo_options_are_checked(field: str, value: float) -> None:
    with pytest.raises(DemoError):
        DemoOptions(**{field: value}).check()  # type: ignore[arg-type]


def test_demo_bad_out_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep")
    assert cli.main(["demo", "--out", "busy", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "not an etbot demo folder" in err[0]
    assert (tmp_path / "busy" / "notes.txt").read_text() == "keep"


# --------------------------------------------------------------------------- run.sh


def _fake_demo(calls: list[object]):  # type: ignore[no-untyped-def]
    from etbot.demo import DemoResult

    def run(options: DemoOptions, settings: object) -> DemoResult:
        calls.append(options)
        return DemoResult(
            out=Path("etbot-demo").resolve(), index=Path("etbot-demo/index.html").resolve()
        )

    return run


def test_run_without_token_runs_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``etbot run --demo-without-token`` (scripts/run.sh) without DISCORD_TOKEN in the
    environment or .env: one line says why, then the demo runs; the bot does not start."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    (tmp_path / ".env").write_text("SERVER_TIMEZONE=Europe/Berlin\n")
    calls: list[object] = []
    monkeypatch.setattr("etbot.demo.run_demo", _fake_demo(calls))
    monkeypatch.setattr("etbot.bot.run_bot", lambda settings: pytest.fail("the bot started"))
    assert cli.main(["run", "--demo-without-token"]) == 0
    captured = capsys.readouterr()
    assert cli.NO_TOKEN_LINE in captured.err
    assert calls == [DemoOptions()]
    assert "open:" in captured.out


def test_run_with_token_in_dotenv_runs_the_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    (tmp_path / ".env").write_text("DISCORD_TOKEN=abc.def.ghi\n")
    calls: list[object] = []
    started: list[str | None] = []
    monkeypatch.setattr("etbot.demo.run_demo", _fake_demo(calls))

    def run_bot(settings: Settings) -> int:
        started.append(settings.discord_token)
        return 0

    monkeypatch.setattr("etbot.bot.run_bot", run_bot)
    assert cli.main(["run", "--demo-without-token"]) == 0
    assert started == ["abc.def.ghi"]
    assert calls == []
    assert cli.NO_TOKEN_LINE not in capsys.readouterr().err


def test_run_without_flag_still_refuses_without_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain ``etbot run`` keeps its configuration error (exit code 2)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    calls: list[object] = []
    monkeypatch.setattr("etbot.demo.run_demo", _fake_demo(calls))
    assert cli.main(["run"]) == 2
    assert calls == []


def test_run_sh_runs_the_bot_or_the_demo_through_etbot_run(tmp_path: Path) -> None:
    """scripts/run.sh sets up, then hands over to ``etbot run --demo-without-token`` (the
    decision above); setup and etbot are stand-ins here, the script is the real one."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "run.sh", tmp_path / "scripts" / "run.sh")
    log = tmp_path / "calls.log"
    for name in ("setup-system.sh", "venv.sh"):
        (tmp_path / "scripts" / name).write_text(f'echo "{name} $*" >> "{log}"\n')
    etbot = tmp_path / ".venv" / "bin" / "etbot"
    etbot.parent.mkdir(parents=True)
    etbot.write_text(f'#!/usr/bin/env bash\necho "etbot $*" >> "{log}"\n')
    etbot.chmod(etbot.stat().st_mode | stat.S_IXUSR)
    subprocess.run(  # noqa: S603 the repository's own script
        ["bash", str(tmp_path / "scripts" / "run.sh")],  # noqa: S607 bash from PATH
        check=True,
        timeout=60,
        cwd=tmp_path / "scripts",
    )
    assert log.read_text().splitlines() == [
        "setup-system.sh ",
        "venv.sh ",
        "etbot run --demo-without-token",
    ]


def test_end_option_is_a_day() -> None:
    args = cli.build_parser().parse_args(["demo", "--end", "2025-11-20"])
    assert args.end == date(2025, 11, 20)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["demo", "--end", "yesterday"])


async def test_chart_without_browser_is_answered_with_text(tmp_path: Path) -> None:
    """No Chromium: the chart is listed as missing and the embed carries the cogs' text
    fallback instead of an image (what the bot answers in Discord too)."""
    import disnake
    from peewee import SqliteDatabase

    from etbot import charts
    from etbot.cache import QueryCache
    from etbot.commands._base import Resources
    from etbot.db import Db
    from etbot.demo import DemoResult, _Charts
    from etbot.render import ChartRenderer

    renderer = ChartRenderer(browser_path=tmp_path / "no-such-browser")
    # No query runs here: a database the test never opens.
    res = Resources(Settings(), Db(SqliteDatabase(None)), QueryCache(), renderer)
    result = DemoResult(out=tmp_path, index=tmp_path / INDEX)
    embed = disnake.Embed(title="t")
    keeper = _Charts(res, tmp_path, result)
    await keeper.attach(embed, "bars.png", "the numbers", charts.bar_figure, ["a"], [1.0], "x")
    assert result.missing_charts == ["bars.png"]
    assert result.charts == []
    assert not (tmp_path / "bars.png").exists()
    assert embed.image.url is None
    assert [(f.name, f.value) for f in embed.fields] == [("Chart unavailable", "the numbers")]


def test_partial_page_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A page written with a chart missing: exit code 3, and stderr names the chart."""
    from etbot.demo import DemoResult

    def run(options: DemoOptions, settings: object) -> DemoResult:
        return DemoResult(
            out=Path("x").resolve(),
            index=Path("x/index.html").resolve(),
            missing_charts=["trend.png"],
        )

    monkeypatch.setattr("etbot.demo.run_demo", run)
    assert cli.run_demo_command(Settings(), DemoOptions()) == cli.EXIT_DEMO_PARTIAL
    assert "chart missing (answered with text): trend.png" in capsys.readouterr().err
