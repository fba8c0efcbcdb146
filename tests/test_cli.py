"""The command line and the CSV export, end to end on the real corpus."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from conftest import ODD, REAL, real_files
from etbot.cli import main
from etbot.export import ROUND_COLUMNS, safe_cell
from etbot.statsfile import parse_round

REQUIRED = [
    "source_file",
    "map",
    "round_no",
    "orphan",
    "guid",
    "name",
    "team",
    "kills",
    "deaths",
    "damage_given",
    "damage_received",
    "team_damage_given",
    "gibs",
    "headshot_kills",
    "revives_given",
    "times_revived",
    "time_played_seconds",
]


@pytest.fixture
def env_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's folder
    return path


def test_import_reports_summary_and_rejections(env_db: Path, capsys) -> None:
    real_files()
    assert main(["import", "-q", str(REAL), str(ODD)]) == 0
    out = capsys.readouterr().out
    n = len(real_files())
    assert f"{n - 1} imported, 0 duplicates" in out
    assert "rejected 2024-09-12-174949-supply-round-2.txt: header only" in out
    assert "rejected 2025-12-17-130000-badmap-round-1.txt: line 1: header has 1 fields" in out
    # again: all duplicates, which is not a failure
    assert main(["import", "-q", str(REAL)]) == 0
    assert f"0 imported, {n - 1} duplicates" in capsys.readouterr().out


def test_import_exit_code_non_zero_only_when_nothing_imported(env_db: Path, capsys) -> None:
    assert main(["import", "-q", str(ODD)]) == 1
    assert main(["import", "-q", "/definitely/not/here"]) == 1
    err = capsys.readouterr().err
    assert "/definitely/not/here: no such file or folder" in err


def test_migrate_is_idempotent(env_db: Path, capsys) -> None:
    assert main(["migrate"]) == 0
    first = capsys.readouterr().out
    assert "0001_initial" in first
    assert main(["migrate"]) == 0
    assert "applied 0 migration(s)" in capsys.readouterr().out


def test_bad_database_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert main(["migrate"]) == 2
    assert "unsupported scheme 'mysql'" in capsys.readouterr().err


def test_export_rounds_csv(env_db: Path, tmp_path: Path, capsys) -> None:
    files = real_files()
    main(["import", "-q", str(REAL)])
    out = tmp_path / "rounds.csv"
    assert main(["export", "rounds", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[: len(REQUIRED)] == REQUIRED
    assert len(rows) == sum(
        len(parse_round(p.read_bytes(), p.name).players)
        for p in files
        if p.name != "2024-09-12-174949-supply-round-2.txt"
    )
    by_key = {(r["source_file"], r["guid"]): r for r in rows}
    # a round 1 row: exactly the file; a round 2 row: round-2-only values
    vid1 = by_key[("2025-09-24-233255-te_escape2-round-1.txt", "D8423F90")]
    assert (vid1["name"], vid1["team"], vid1["kills"], vid1["damage_given"]) == (
        "vid",
        "axis",
        "9",
        "1375",
    )
    assert vid1["revives_given"] == ""  # unknown in the 37-field layout, not 0
    vid2 = by_key[("2025-09-24-233657-te_escape2-round-2.txt", "D8423F90")]
    assert (vid2["round_no"], vid2["orphan"], vid2["kills"], vid2["time_played_seconds"]) == (
        "2",
        "0",
        "6",
        "204",
    )
    orphan = by_key[("2025-10-26-200001-etl_sp_delivery-round-2.txt", "C74FB315")]
    assert orphan["orphan"] == "1"
    assert {r["team"] for r in rows} <= {"axis", "allies", "spectator"}
    assert not any("^" in r["name"] and r["name"].count("^") > 1 for r in rows)


def test_export_protects_against_formula_injection(env_db: Path, tmp_path: Path) -> None:
    src = REAL / "2025-09-24-233255-te_escape2-round-1.txt"
    if not src.exists():
        pytest.skip("corpus missing")
    evil = tmp_path / "in" / src.name
    evil.parent.mkdir()
    data = src.read_bytes().replace(b"\\^pvid\\", b'\\=HYPERLINK("http://x","y")\\', 1)
    data = data.replace(b"te_escape2\\", b"@evilmap\\", 1)
    evil.write_bytes(data)
    shutil.copy(REAL / "2025-09-24-233657-te_escape2-round-2.txt", tmp_path / "in")
    main(["import", "-q", str(evil.parent)])
    buf = io.StringIO()
    from etbot.export import export_rounds

    export_rounds(buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue())))
    cells = [c for r in rows[1:] for c in r]
    assert '\'=HYPERLINK("http://x","y")' in cells
    assert "'@evilmap" in cells
    text_cols = [ROUND_COLUMNS.index(c) for c in ("source_file", "map", "guid", "name", "server")]
    for r in rows[1:]:
        for i in text_cols:
            assert not r[i].startswith(("=", "+", "-", "@", "\t", "\r")), r[i]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("normal", "normal"),
        (-2, -2),  # numbers are ours, not user text
    ],
)
def test_safe_cell(value, expected) -> None:
    assert safe_cell(value) == expected
