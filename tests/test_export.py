"""The CSV exports (etbot.export) and ``etbot export``: formula injection (hypothesis),
line breaks inside cells, UTF-8 with BOM, each export's rows against the queries it
reuses, filters, gzip above the attachment limit, and clear errors."""

from __future__ import annotations

import csv
import gzip
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from peewee import Database

from conftest import corpus_files
from etbot import rating, seasons
from etbot.cli import main
from etbot.errors import BadOption, NoData
from etbot.export import (
    FORMULA_PREFIXES,
    LEADERBOARD_COLUMNS,
    RATING_COLUMNS,
    ROUND_COLUMNS,
    SEASON_COLUMNS,
    ExportRequest,
    ExportTooLarge,
    build_request,
    export_file,
    safe_cell,
    write_csv,
    write_export,
)
from etbot.ingest import Importer
from etbot.leaderboard import ranked
from etbot.models import Player, PlayerRound
from etbot.periods import Period
from etbot.statdefs import STATS, player_values

NOW = datetime(2026, 6, 1, 12, 0)
HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tTAB",
    "\rCR first",
    "plain\r=cmd|' /C calc'!A0",  # a lone CR, then a formula
    'quote " and, comma',
    "line\nbreak\n@SUM(1)",
    "crlf\r\n+1",
    "'already quoted",
]


def read_back(text: str) -> list[list[str]]:
    """Rows as a spreadsheet-like reader sees them (no newline translation)."""
    return list(csv.reader(io.StringIO(text, newline="")))


def lines_of(cell: str) -> list[str]:
    return re.split(r"\r\n|\r|\n", cell)


def assert_no_formula(cell: str) -> None:
    """No line of the cell (the first one included) starts with a formula character."""
    for line in lines_of(cell):
        assert not line.startswith(FORMULA_PREFIXES[:4]), repr(cell)
    assert not cell.startswith(("\t", "\r")), repr(cell)


def csv_text(rows: list[list[Any]], columns: tuple[str, ...] = ("guid", "name", "kills")) -> str:
    out = io.StringIO(newline="")
    write_csv(out, columns, rows)
    return out.getvalue()


# --------------------------------------------------------------------------- the writer


def test_a_lone_cr_in_a_name_cannot_start_an_unguarded_row() -> None:
    # Before the fix the CR was written unquoted: readers split the row there and
    # "=cmd…" became the first cell of a row of its own.
    text = csv_text([["ABCDEF12", "plain\r=cmd|' /C calc'!A0", 3]])
    rows = read_back(text)
    assert len(rows) == 2
    assert rows[1] == ["ABCDEF12", "plain\r'=cmd|' /C calc'!A0", "3"]
    for cell in rows[1]:
        assert_no_formula(cell)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_arrive_as_text(name: str) -> None:
    rows = read_back(csv_text([["ABCDEF12", name, -2]]))
    assert len(rows) == 2
    guid, cell, kills = rows[1]
    assert (guid, kills) == ("ABCDEF12", "-2")  # our numbers stay numbers
    assert_no_formula(cell)
    assert cell.replace("'", "") == name.replace("'", "")  # only quotes were added


hostile_text = st.one_of(
    st.text(),
    st.tuples(
        st.sampled_from(["=", "+", "-", "@", "\t", "\r", "\n", "\r\n", '"', ","]), st.text()
    ).map("".join),
    st.lists(
        st.tuples(
            st.sampled_from(["\r", "\n", "\r\n"]),
            st.sampled_from(["=", "+", "-", "@", "\t", ""]),
            st.text(max_size=5),
        ),
        max_size=5,
    ).map(lambda parts: "".join("".join(p) for p in parts)),
)


@settings(max_examples=400)
@given(names=st.lists(hostile_text, min_size=1, max_size=5))
def test_any_name_arrives_as_text_in_its_own_cell(names: list[str]) -> None:
    rows: list[list[Any]] = [[f"{i:08X}", name, i] for i, name in enumerate(names)]
    back = read_back(csv_text(rows))
    assert len(back) == len(rows) + 1  # no row was split or merged
    for number, (name, got) in enumerate(zip(names, back[1:], strict=True)):
        assert got[0] == f"{number:08X}"
        assert got[2] == str(number)
        assert_no_formula(got[1])
        assert got[1].replace("'", "") == name.replace("'", "")
        assert got[1] == safe_cell(name)


def test_safe_cell_guards_every_line() -> None:
    assert safe_cell("a\n=b\r\n+c\r@d") == "a\n'=b\r\n'+c\r'@d"
    assert safe_cell("\r=x") == "'\r'=x"
    assert safe_cell(7) == 7


# --------------------------------------------------------------------------- the exports


@pytest.fixture
def hostile_db(db: Database) -> Database:
    """The corpus's 2025 Q3 files, with some players renamed to hostile names."""
    files = [p for p in corpus_files() if "2025-07-01" <= p.name[:10] <= "2025-09-30"]
    report = Importer().import_paths(files)
    assert report.imported >= 10
    players = list(Player.select().order_by(Player.id))
    for player, name in zip(players, HOSTILE, strict=False):
        Player.update(name=name).where(Player.id == player.id).execute()
        PlayerRound.update(name=name).where(PlayerRound.player == player.id).execute()
    return db


def export_rows(req: ExportRequest) -> list[list[str]]:
    out = io.StringIO(newline="")
    count = write_export(req, out)
    rows = read_back(out.getvalue())
    assert len(rows) == count + 1
    return rows


def assert_all_text_safe(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            if not re.fullmatch(r"-?\d+(\.\d+)?", cell):  # numbers are ours
                assert_no_formula(cell)


def test_every_export_is_safe_with_hostile_names(hostile_db: Database) -> None:
    q3 = seasons.find_season("2025-Q3", NOW)
    seasons.close_ended_seasons(NOW)
    for req in (
        ExportRequest("rounds"),
        ExportRequest("leaderboard", min_rounds=1),
        ExportRequest("season", season=q3, period=q3.period, min_rounds=1),
        ExportRequest("ratings"),
    ):
        rows = export_rows(req)
        assert len(rows) > 1, req.what
        assert_all_text_safe(rows)
        names = {cell.replace("'", "") for row in rows[1:] for cell in row}
        assert HOSTILE[0].replace("'", "") in names, req.what


def test_rounds_export_filters(hostile_db: Database) -> None:
    everything = export_rows(ExportRequest("rounds"))
    assert tuple(everything[0]) == ROUND_COLUMNS
    assert len(everything) - 1 == PlayerRound.select().count()
    player = Player.select().order_by(Player.id).first()
    mine = export_rows(ExportRequest("rounds", player_id=player.id))
    guid_col = ROUND_COLUMNS.index("guid")
    assert {r[guid_col] for r in mine[1:]} == {player.guid}
    assert len(mine) - 1 == PlayerRound.select().where(PlayerRound.player == player.id).count()
    august = Period(datetime(2025, 8, 1), datetime(2025, 9, 1), "August")
    rows = export_rows(ExportRequest("rounds", period=august))
    ended = ROUND_COLUMNS.index("ended_at")
    assert rows[1:]
    assert all(r[ended].startswith("2025-08") for r in rows[1:])


def test_leaderboard_export_is_the_ranking_with_every_stat(hostile_db: Database) -> None:
    rows = export_rows(ExportRequest("leaderboard", stat="kd", min_rounds=3))
    assert tuple(rows[0]) == LEADERBOARD_COLUMNS
    everyone = Period(None, None, "All time")
    ranking = ranked(STATS["kd"], everyone, 3)
    assert [int(r[0]) for r in rows[1:]] == [r.rank for r in ranking]
    guids = dict(Player.select(Player.id, Player.guid).tuples())
    assert [r[1] for r in rows[1:]] == [guids[r.player_id] for r in ranking]
    values = player_values(list(STATS), everyone)
    for row, r in zip(rows[1:], ranking, strict=True):
        for key in ("dpm", "kills", "rounds", "accuracy"):
            cell = row[LEADERBOARD_COLUMNS.index(key)]
            assert float(cell) == pytest.approx(values[r.player_id][key], abs=1e-4)


def test_season_export_has_the_standings_and_awards(hostile_db: Database) -> None:
    seasons.close_ended_seasons(NOW)
    q3 = seasons.find_season("2025-Q3", NOW)
    rows = export_rows(build_request("season", now=NOW, season="2025 Q3", min_rounds=1))
    assert tuple(rows[0]) == SEASON_COLUMNS
    assert {tuple(r[:4]) for r in rows[1:]} == {("2025-Q3", "2025 Q3", "2025-07-01", "2025-09-30")}
    standings = seasons.season_page(q3.key, "dpm", 1, 100, 0, NOW).page
    guid_col = SEASON_COLUMNS.index("guid")
    guids = dict(Player.select(Player.id, Player.guid).tuples())
    assert [r[guid_col] for r in rows[1:]] == [guids[r.player_id] for r in standings.rows]
    won: dict[str, set[str]] = {}
    for award in seasons.season_awards(q3.key):
        won.setdefault(guids[award.player_id], set()).add(award.category)
    assert won
    got = {r[guid_col]: set(r[-1].split()) for r in rows[1:] if r[-1]}
    assert got == won


def test_ratings_export_is_the_ranking(hostile_db: Database) -> None:
    rows = export_rows(ExportRequest("ratings"))
    assert tuple(rows[0]) == RATING_COLUMNS
    expected = rating.ranking(active_days=365 * 100)
    assert expected
    assert [(r[1], int(r[3])) for r in rows[1:]] == [(e.guid, e.rating) for e in expected]


def test_requests_are_validated(hostile_db: Database) -> None:
    with pytest.raises(BadOption, match="Ratings are today's values"):
        build_request("ratings", now=NOW, season="2025-Q3")
    with pytest.raises(BadOption, match="either a season or from/to"):
        build_request("rounds", now=NOW, season="2025-Q3", date_from="2025-08-01")
    with pytest.raises(BadOption, match="must not be before"):
        build_request("rounds", now=NOW, date_from="2025-08-02", date_to="2025-08-01")
    with pytest.raises(BadOption, match="`from` date must be a date"):
        build_request("rounds", now=NOW, date_from="=1+1")
    with pytest.raises(BadOption, match="Unknown statistic"):
        build_request("leaderboard", now=NOW, stat="=cmd")
    default = build_request("season", now=NOW)
    assert default.season is not None
    assert default.season.key == "2025-Q3"
    dated = build_request("rounds", now=NOW, date_from="2025-08-01", date_to="2025-08-31")
    assert dated.period.start == datetime(2025, 8, 1)
    assert dated.period.end == datetime(2025, 9, 1)  # the last day is included
    assert dated.file_name == "etbot-rounds-2025-08-01_2025-08-31.csv"


# --------------------------------------------------------------------------- files


def test_export_file_is_utf8_with_bom_and_gzipped_above_the_limit(hostile_db: Database) -> None:
    req = ExportRequest("rounds")
    plain = export_file(req, 10**9)
    assert not plain.gzipped
    assert plain.name == "etbot-rounds.csv"
    assert plain.data.startswith(b"\xef\xbb\xbf")
    assert len(plain.data) == plain.csv_bytes
    text = plain.data.decode("utf-8-sig")
    assert read_back(text)[0] == list(ROUND_COLUMNS)

    packed = export_file(req, plain.csv_bytes - 1)  # one byte too many: gzip
    assert packed.gzipped
    assert packed.name == "etbot-rounds.csv.gz"
    assert len(packed.data) <= plain.csv_bytes - 1
    assert gzip.decompress(packed.data) == plain.data
    assert packed.rows == plain.rows

    with pytest.raises(ExportTooLarge, match="too large to attach even compressed") as err:
        export_file(req, 100)
    assert err.value.fields["limit"] == "0.0"


def test_nothing_to_export_is_said(db: Database) -> None:
    with pytest.raises(NoData, match="Nothing to export"):
        export_file(ExportRequest("rounds"), 10**6)


# --------------------------------------------------------------------------- etbot export


@pytest.fixture
def env_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("SERVER_TIMEZONE", "Europe/Berlin")
    monkeypatch.chdir(tmp_path)
    files = [p for p in corpus_files() if "2025-07-01" <= p.name[:10] <= "2025-09-30"]
    folder = tmp_path / "in"
    folder.mkdir()
    for f in files:
        (folder / f.name).write_bytes(f.read_bytes())
    assert main(["import", "-q", str(folder)]) == 0
    return path


def test_cli_exports(env_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    for what, columns in (
        ("leaderboard", LEADERBOARD_COLUMNS),
        ("season", SEASON_COLUMNS),
        ("ratings", RATING_COLUMNS),
    ):
        out = tmp_path / f"{what}.csv"
        extra = ["--season", "2025 Q3"] if what == "season" else []
        assert main(["export", what, "--out", str(out), "--min-rounds", "1", *extra]) == 0
        data = out.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        rows = read_back(data.decode("utf-8-sig"))
        assert tuple(rows[0]) == columns
        assert len(rows) > 1
    # stdout too, and the player filter
    assert main(["export", "leaderboard", "--min-rounds", "1", "--player", "ABCDEF99"]) == 2
    assert "No player" in capsys.readouterr().err
    guid = Player.select().first().guid
    assert main(["export", "leaderboard", "--min-rounds", "1", "--player", guid]) == 0
    rows = read_back(capsys.readouterr().out.lstrip("\ufeff"))
    assert [r[1] for r in rows[1:]] == [guid]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ratings", "--season", "2025-Q3"], "Ratings are today's values"),
        (["season", "--season", "no such"], "There is no season called"),
        (["rounds", "--from", "yesterday"], "must be a date"),
        (["leaderboard", "--stat", "nope"], "Unknown statistic"),
    ],
)
def test_cli_export_errors_are_one_line(
    env_db: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    capsys.readouterr()
    assert main(["export", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_cli_export_to_a_missing_folder(env_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "rounds", "--out", "/nonexistent/folder/x.csv"]) == 1
    err = capsys.readouterr().err
    assert "error: cannot write /nonexistent/folder/x.csv" in err
    assert "Traceback" not in err
