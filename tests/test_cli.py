"""The command line and the CSV export, end to end on the corpus (real, else generated)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ODD, REAL, corpus_files, corpus_info, first_pair, odd_files, real_files
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
    info = corpus_info()
    assert main(["import", "-q", str(info.folder)]) == 0
    out = capsys.readouterr().out
    good = len(info.files) - len(info.header_only)
    assert f"{good} imported, 0 duplicates" in out
    assert info.header_only
    for name in info.header_only:  # real: 2024-09-12-174949-supply-round-2.txt
        assert f"rejected {name}: header only" in out
    # again: all duplicates, which is not a failure
    assert main(["import", "-q", str(info.folder)]) == 0
    assert f"0 imported, {good} duplicates" in capsys.readouterr().out


def test_import_reports_odd_files(env_db: Path, capsys) -> None:
    real_files()
    odd_files()
    assert main(["import", "-q", str(REAL), str(ODD)]) == 0
    out = capsys.readouterr().out
    assert f"{len(real_files()) - 1} imported, 0 duplicates" in out
    assert "rejected 2025-12-17-130000-badmap-round-1.txt: line 1: header has 1 fields" in out


def test_import_exit_code_non_zero_only_when_nothing_imported(env_db: Path, capsys) -> None:
    bad = env_db.parent / "bad"
    bad.mkdir()
    header_only = corpus_info().header_only[0]
    (bad / header_only).write_bytes((corpus_info().folder / header_only).read_bytes())
    (bad / "2025-01-01-120000-supply-round-1.txt").write_text("not a stats file\n")
    assert main(["import", "-q", str(bad)]) == 1
    capsys.readouterr()
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


def _export(folder: Path, tmp_path: Path) -> list[dict[str, str]]:
    main(["import", "-q", str(folder)])
    out = tmp_path / "rounds.csv"
    assert main(["export", "rounds", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for spreadsheets
    header = data.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[: len(REQUIRED)] == REQUIRED
    assert tuple(header) == ROUND_COLUMNS  # `etbot export rounds` keeps its columns
    return list(csv.DictReader(out.open(encoding="utf-8-sig", newline="")))


def test_export_rounds_csv(env_db: Path, tmp_path: Path) -> None:
    info = corpus_info()
    rows = _export(info.folder, tmp_path)
    assert len(rows) == sum(
        len(parse_round(p.read_bytes(), p.name).players)
        for p in info.files
        if p.name not in info.header_only
    )
    assert {r["orphan"] for r in rows if r["source_file"] in info.orphans} == {"1"}
    assert {r["round_no"] for r in rows} == {"1", "2"}
    assert {r["team"] for r in rows} <= {"axis", "allies", "spectator"}
    assert not any("^" in r["name"] and r["name"].count("^") > 1 for r in rows)


def test_export_rounds_csv_hand_checked_rows(env_db: Path, tmp_path: Path) -> None:
    real_files()
    rows = _export(REAL, tmp_path)
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
    round1, round2 = first_pair(corpus_files())
    evil = tmp_path / "in" / round1.name
    evil.parent.mkdir()
    header, first, rest = round1.read_bytes().split(b"\n", 2)
    guid, _name, player = first.split(b"\\", 2)
    first = b"\\".join([guid, b'=HYPERLINK("http://x","y")', player])
    mapname = header.split(b"\\")[1]
    header = header.replace(b"\\" + mapname + b"\\", b"\\@evilmap\\", 1)
    evil.write_bytes(b"\n".join([header, first, rest]))
    shutil.copy(round2, tmp_path / "in")
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


def test_database_url_errors_never_show_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://u:pw123@h/x")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "'mysql://u:***@h/x': unsupported scheme 'mysql'" in err
    assert "pw123" not in err


def test_log_lines_never_show_the_password(tmp_path: Path) -> None:
    """Whatever a module logs (here: the URL itself, and an exception quoting it), the
    handlers etbot's command line sets up print it redacted."""
    import logging

    from etbot.cli import redact_logs

    url = "postgresql://u:pw123@db.example/etbot"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redact_logs([handler], url=url, token="tok-en.secret")
        log = logging.getLogger("etbot.test")
        log.error("cannot reach %s (token %s)", url, "tok-en.secret")
        try:
            raise RuntimeError(f"connection to {url} failed")
        except RuntimeError:
            log.exception("import failed")
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "postgresql://u:***@db.example/etbot" in text
    assert "connection to postgresql://u:***@db.example/etbot failed" in text
    assert "pw123" not in text
    assert "tok-en.secret" not in text


# --------------------------------------------------------------------------- errors
# Every CLI error is one clear line on stderr and a non-zero exit code, never a traceback
# (issue 12, item 14).


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_export_to_a_missing_folder_is_one_error_line(env_db: Path, capsys) -> None:
    assert main(["migrate"]) == 0
    capsys.readouterr()
    assert main(["export", "rounds", "--out", "/nonexistent/x.csv"]) != 0
    line = _one_error_line(capsys.readouterr().err)
    assert "/nonexistent/x.csv" in line
    assert "No such file or directory" in line


def test_import_with_postgresql_unreachable_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:pw123@127.0.0.1:{port}/etbot")
    monkeypatch.chdir(tmp_path)
    assert main(["import", "-q", str(corpus_info().folder)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"cannot open the database 'postgresql://u:***@127.0.0.1:{port}/etbot'" in line
    assert "Connection refused" in line


def test_unexpected_database_error_is_one_error_line(
    env_db: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from peewee import OperationalError

    from etbot import rating

    def broken() -> None:
        raise OperationalError("disk I/O error\nDETAIL: the disk is on fire")

    assert main(["migrate"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(rating, "rebuild", broken)
    assert main(["rating", "rebuild"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "disk I/O error" in line
    assert "the disk is on fire" in line


# --------------------------------------------------------------------------- odd paths
# Only regular files are read, with a size cap; every path that is skipped is reported
# with its reason (issue 12, items 8 and 9). These run `etbot import` in a child process:
# before the fix a FIFO hangs it and /dev/zero eats the memory, which the test process
# must survive (a timeout and an address-space limit turn those into failures).


def _etbot(
    args: list[str], cwd: Path, *, unprivileged: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m etbot ARGS`` in ``cwd`` (its own SQLite database there).

    ``unprivileged``: as root, drop the capabilities that let root read any folder
    (``setpriv``), so a folder without read permission is unreadable as it is for a
    normal user.
    """
    import resource
    import shutil as sh
    import sys

    command = [sys.executable, "-m", "etbot", *args]
    if unprivileged and os.geteuid() == 0:
        setpriv = sh.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a folder unreadable")
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]

    def limit_memory() -> None:  # reading /dev/zero must not take the machine down
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{cwd / 'etbot.db'}", "LOG_LEVEL": "ERROR"}
    return subprocess.run(  # noqa: S603 this interpreter running etbot, on test paths
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # a hang fails the test instead of stalling the suite
        preexec_fn=limit_memory,
        check=False,
    )


def _good_round(folder: Path) -> Path:
    src = first_pair(corpus_files())[0]
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(src, folder / src.name))


def test_import_skips_a_fifo_given_directly(tmp_path: Path) -> None:
    fifo = tmp_path / "2025-01-01-120000-supply-round-1.txt"
    os.mkfifo(fifo)
    good = _good_round(tmp_path / "in")
    done = _etbot(["import", "-q", str(fifo), str(good)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 imported" in done.stdout
    assert f"skipped {fifo}: not a regular file (a FIFO)" in done.stdout


def test_import_skips_dev_zero_and_a_txt_symlink_to_it(tmp_path: Path) -> None:
    link = tmp_path / "2025-01-01-120000-supply-round-1.txt"
    link.symlink_to("/dev/zero")
    done = _etbot(["import", "-q", "/dev/zero", str(link)], tmp_path)
    assert done.returncode == 1, done.stderr  # nothing could be imported
    assert "0 imported" in done.stdout
    assert "skipped /dev/zero: not a regular file (a character device)" in done.stdout
    assert f"skipped {link}: not a regular file (a character device)" in done.stdout
    assert "Traceback" not in done.stderr


def test_import_reports_every_skipped_path_in_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "stats"
    _good_round(folder)
    locked = folder / "locked"
    locked.mkdir()
    shutil.copy(first_pair(corpus_files())[1], locked)
    fifo = folder / "2025-01-01-120000-supply-round-1.txt"
    os.mkfifo(fifo)
    dangling = folder / "2025-01-01-130000-supply-round-1.txt"
    dangling.symlink_to(folder / "gone.txt")
    device = folder / "2025-01-01-140000-supply-round-1.txt"
    device.symlink_to("/dev/zero")
    locked.chmod(0)
    try:
        done = _etbot(["import", "-q", str(folder)], tmp_path, unprivileged=True)
    finally:
        locked.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert "1 imported" in done.stdout
    assert f"skipped {locked}: cannot read the folder: Permission denied" in done.stdout
    assert f"skipped {fifo}: not a regular file (a FIFO)" in done.stdout
    assert f"skipped {dangling}: a symbolic link to nothing (dangling)" in done.stdout
    assert f"skipped {device}: not a regular file (a character device)" in done.stdout
    assert "4 skipped" in done.stdout


def test_import_of_an_unreadable_folder_says_why(tmp_path: Path) -> None:
    folder = tmp_path / "stats"
    _good_round(folder)
    folder.chmod(0)
    try:
        done = _etbot(["import", "-q", str(folder)], tmp_path, unprivileged=True)
    finally:
        folder.chmod(0o755)
    assert done.returncode == 1
    assert f"skipped {folder}: cannot read the folder: Permission denied" in done.stdout
