"""Shared fixtures: the stats corpus, and a fresh database on SQLite and PostgreSQL.

**Corpus.** Tests that need many stats files call :func:`corpus_files`: the real corpus
(``../shared/corpus/real`` beside the repository, or ``$ETBOT_CORPUS/real``) when it
exists, else a small corpus written by the project's own generator
(:func:`etbot.synth.generate_test_corpus`, fixed seed) into a session temp folder. It has
every case the real one has (all four layouts, pairs, a midnight pair, orphans, a reset, a
substitute, a spectator, a header-only file, aliases, colour codes); :func:`corpus_info`
says where they are. ``ETBOT_CORPUS=generated`` forces the generated corpus (CI runs the
suite both ways). Only tests that check values read off real files by hand use
:func:`real_files` / :func:`odd_files`; they skip without the real corpus, and in CI
(``CI=true``) a missing real corpus is a failure instead, unless ``ETBOT_CORPUS=generated``.

PostgreSQL tests run when ``ETBOT_TEST_POSTGRES_URL`` is set (``scripts/test.sh`` sets it
after starting a server); in CI (``CI=true``) a missing server is an error, not a skip.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest
from peewee import Database

from etbot.db import connect, drop_everything, migrate
from etbot.ingest import Importer, ImportReport
from etbot.models import database_proxy
from etbot.synth import TEST_CORPUS_SEED, CorpusManifest, generate_test_corpus

#: Fixtures and expected values of the query tests (recomputed from the raw files).
pytest_plugins = ["raw_truth"]

REPO = Path(__file__).resolve().parents[1]
_CORPUS_ENV = os.environ.get("ETBOT_CORPUS", "")
#: ``ETBOT_CORPUS=generated``: act as if there were no real corpus.
FORCE_GENERATED = _CORPUS_ENV == "generated"
CORPUS = (
    Path(_CORPUS_ENV) if _CORPUS_ENV and not FORCE_GENERATED else REPO.parent / "shared" / "corpus"
)
REAL = CORPUS / "real"
ODD = CORPUS / "odd"
PG_URL = os.environ.get("ETBOT_TEST_POSTGRES_URL")
#: pytest-xdist worker name ("gw0", "gw1", …) when the suite runs in parallel, else None.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def _worker_postgres_url(base_url: str, worker: str) -> str:
    """A PostgreSQL database of this xdist worker's own, beside the configured one.

    Every test empties its database (``drop_everything``), so two workers sharing one
    database would wipe each other's tables. Each worker gets ``<db>_<worker>``, created
    here (through the configured database) when it does not exist yet, and its URL replaces
    ``ETBOT_TEST_POSTGRES_URL`` for this process and the subprocesses tests start.
    """
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(base_url)
    name = f"{parts.path.lstrip('/')}_{worker}"
    conn = psycopg2.connect(base_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    return urlunsplit(parts._replace(path=f"/{name}"))


if PG_URL and XDIST_WORKER:
    PG_URL = _worker_postgres_url(PG_URL, XDIST_WORKER)
    os.environ["ETBOT_TEST_POSTGRES_URL"] = PG_URL
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _missing(what: str, where: Path) -> NoReturn:
    """Skip a test that needs the real corpus, or fail it in CI (see the module docstring)."""
    if FORCE_GENERATED:
        pytest.skip(f"ETBOT_CORPUS=generated: hand-checked test on the real {what} not run")
    reason = f"{what} not found at {where} (expected ../shared/corpus beside the repo)"
    if IN_CI:
        pytest.fail(f"CI=true and the real {reason}; set ETBOT_CORPUS (or =generated)")
    pytest.skip(f"real {reason}")


def has_real_corpus() -> bool:
    """Whether the tests use the real corpus (it exists and is not overridden)."""
    return not FORCE_GENERATED and REAL.is_dir()


def real_files() -> list[Path]:
    """The real corpus, for tests that check values read off specific real files."""
    if not has_real_corpus():
        _missing("corpus", REAL)
    return sorted(REAL.glob("*.txt"))


def odd_files() -> list[Path]:
    """The hand-made odd files (wrong formats) beside the real corpus."""
    if FORCE_GENERATED or not ODD.is_dir():
        _missing("odd corpus", ODD)
    return sorted(ODD.glob("*.txt"))


@dataclass(frozen=True)
class CorpusInfo:
    """The corpus in use and where its special cases are (file names, GUIDs).

    For the real corpus these were found by hand (FORMAT.md, the hand-checked tests); for
    the generated one the generator's manifest says where it put them (and
    tests/test_synth.py checks that they are really there). Lists may be partial for the
    real corpus: only cases checked by hand are named.
    """

    kind: Literal["real", "generated"]
    folder: Path
    files: list[Path]
    header_only: tuple[str, ...]
    midnight_pair: tuple[str, str]
    orphans: tuple[str, ...]
    resets: tuple[tuple[str, str], ...]
    substitutes: tuple[tuple[str, str], ...]


#: Hand-checked facts about the real corpus (see the tests that read these files).
_REAL_CASES = {
    "header_only": ("2024-09-12-174949-supply-round-2.txt",),
    "midnight_pair": (
        "2025-10-19-235307-etl_adlernest-round-1.txt",
        "2025-10-20-000043-etl_adlernest-round-2.txt",
    ),
    "orphans": ("2025-10-26-200001-etl_sp_delivery-round-2.txt",),
    "resets": (("2025-10-26-203013-etl_sp_delivery-round-2.txt", "C74FB315"),),
    "substitutes": (("2025-10-25-161002-supply-round-2.txt", "EA326149"),),  # MaccabrosLicious
}

_tmp_factory: pytest.TempPathFactory | None = None


@pytest.fixture(scope="session", autouse=True)
def _remember_tmp_path_factory(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Let :func:`corpus_files` (a plain helper) write the generated corpus lazily."""
    global _tmp_factory
    _tmp_factory = tmp_path_factory


@functools.cache
def generated() -> tuple[Path, CorpusManifest]:
    """The generated test corpus: written once per session, on first use."""
    assert _tmp_factory is not None, "called before the session fixtures"
    folder = _tmp_factory.mktemp("generated-corpus")
    return folder, generate_test_corpus(folder, TEST_CORPUS_SEED)


@pytest.fixture(scope="session")
def generated_corpus() -> tuple[Path, CorpusManifest]:
    """The generated corpus folder and its manifest (whichever corpus the suite uses)."""
    return generated()


@functools.cache
def corpus_info() -> CorpusInfo:
    """The corpus tests with many stats files use: the real one, else the generated one."""
    if has_real_corpus():
        files = sorted(REAL.glob("*.txt"))
        return CorpusInfo("real", REAL, files, **_REAL_CASES)  # type: ignore[arg-type]
    folder, manifest = generated()
    return CorpusInfo(
        "generated",
        folder,
        sorted(folder.glob("*.txt")),
        header_only=manifest.header_only,
        midnight_pair=manifest.midnight_pairs[0],
        orphans=manifest.orphans,
        resets=manifest.resets,
        substitutes=manifest.substitutes,
    )


def corpus_files() -> list[Path]:
    """Every stats file of the corpus in use (sorted by name = by time)."""
    return list(corpus_info().files)


def evening(files: list[Path]) -> list[Path]:
    """The files of the corpus's busiest day (none of them rejected): one gaming evening."""
    bad = set(corpus_info().header_only)
    days: dict[str, list[Path]] = {}
    for path in files:
        days.setdefault(path.name[:10], []).append(path)
    good = [day for day in days.values() if not bad & {p.name for p in day}]
    busiest = max(good, key=len)  # the first of equally busy days
    assert len(busiest) >= 4
    return busiest


def first_pair(files: list[Path]) -> tuple[Path, Path]:
    """The first round 1 directly followed by its round 2 (same map, at most 45 minutes)."""

    def ended(path: Path) -> datetime:
        return datetime.strptime(path.name[:17], "%Y-%m-%d-%H%M%S")

    for a, b in itertools.pairwise(sorted(files)):
        if (
            a.name.endswith("-round-1.txt")
            and b.name.endswith("-round-2.txt")
            and a.name[18:-12] == b.name[18:-12]  # the map
            and timedelta(0) < ended(b) - ended(a) <= timedelta(minutes=45)
        ):
            return a, b
    raise AssertionError("the corpus has no round 1 directly followed by its round 2")


@dataclass
class PlayerLine:
    """One player line of a stats file, as text fields, for tests that craft files."""

    guid: str
    name: str
    rounds: str
    team: str
    #: The weapon mask, then 5 ints per weapon (hits, shots, kills, deaths, headshots).
    ints: list[str]
    tabs: list[str]
    #: Whitespace after the ints (the script writes a space before the first TAB).
    gap: str = ""

    def text(self) -> str:
        weapons = " ".join(self.ints) + self.gap
        head = "\\".join([self.guid, self.name, self.rounds, self.team, weapons])
        return "\t".join([head, *self.tabs])


def read_round(path: Path) -> tuple[list[str], list[PlayerLine]]:
    """A stats file as (header fields, player lines), to change and :func:`write_round`.

    latin-1 both ways keeps every byte as it was (names need not be UTF-8)."""
    header, *lines = path.read_bytes().decode("latin-1").rstrip("\n").split("\n")
    players = []
    for line in lines:
        head, *tabs = line.split("\t")
        parts = head.split("\\")
        name = "\\".join(parts[1:-3])
        ints = parts[-1]
        gap = ints[len(ints.rstrip()) :]
        players.append(PlayerLine(parts[0], name, parts[-3], parts[-2], ints.split(), tabs, gap))
    return header.split("\\"), players


def write_round(header: list[str], players: list[PlayerLine]) -> bytes:
    """The bytes of a stats file from :func:`read_round`'s parts."""
    lines = ["\\".join(header), *(p.text() for p in players)]
    return ("\n".join(lines) + "\n").encode("latin-1")


async def until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait for ``condition()`` to be true; the limit only turns a hang into a failure."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.05)


#: File names :func:`until_watching` writes; callbacks leave them out.
PROBE_PREFIX = "watcher-probe-"


def is_probe(path: Path) -> bool:
    return path.name.startswith(PROBE_PREFIX)


async def until_watching(
    folder: Path, seen: Callable[[], bool], *, every: float = 1.5, timeout: float = 20.0
) -> None:
    """Return once a folder watcher is really running: write a probe ``*.txt`` file, and
    another one every ``every`` seconds, until ``seen()`` (the watcher's callback got one).

    watchfiles has no "ready" signal and a file written before its inotify watch exists
    is never reported, so a fixed sleep would be a guess (too short on a busy machine).
    ``every`` should exceed the watcher's debounce + settle time, so that normally one
    probe is enough. The waits are real: the watcher reacts to the real filesystem.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await asyncio.sleep(0)  # let a just created watcher task start
    n = 0
    next_probe = loop.time()
    while not seen():
        if loop.time() > deadline:
            raise TimeoutError(f"no watcher reported a probe file in {folder}")
        if loop.time() >= next_probe:
            n += 1
            (folder / f"{PROBE_PREFIX}{n}.txt").write_text("probe\n")
            next_probe = loop.time() + every
        await asyncio.sleep(0.02)


def pytest_report_header(config: pytest.Config) -> str:
    if has_real_corpus():
        return f"corpus: real ({REAL})"
    why = "ETBOT_CORPUS=generated" if FORCE_GENERATED else f"no real corpus at {REAL}"
    note = "; CI=true: hand-checked tests FAIL" if IN_CI and not FORCE_GENERATED else ""
    return f"corpus: generated (seed {TEST_CORPUS_SEED}; {why}{note})"


def _backends() -> list[str]:
    return ["sqlite", "postgres"]


def make_database(backend: str, tmp_path: Path) -> Database:
    if backend == "sqlite":
        db = connect(f"sqlite:///{tmp_path / 'etbot-test.db'}")
    else:
        if not PG_URL:
            if IN_CI:
                pytest.fail("ETBOT_TEST_POSTGRES_URL is not set in CI: PostgreSQL must run")
            pytest.skip("PostgreSQL not configured (set ETBOT_TEST_POSTGRES_URL)")
        db = connect(PG_URL)
    database_proxy.initialize(db)
    db.connect(reuse_if_open=True)
    if backend == "postgres":
        drop_everything(db)
    migrate(db)
    return db


@pytest.fixture(params=_backends())
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated database (function scope), on SQLite and PostgreSQL."""
    database = make_database(request.param, tmp_path)
    yield database
    database.close()


@pytest.fixture
def pg_db(tmp_path: Path) -> Iterator[Database]:
    """An empty, migrated PostgreSQL database, for what only PostgreSQL has (COPY, planner
    settings); skipped where PostgreSQL is not configured, a failure in CI."""
    database = make_database("postgres", tmp_path)
    yield database
    database.close()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = make_database("sqlite", tmp_path)
    yield database
    database.close()


def import_files(paths: list[Path], *, shuffle_seed: int | None = None) -> ImportReport:
    files = list(paths)
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(files)
    return Importer().import_paths(files)


@pytest.fixture(scope="module", params=_backends())
def corpus_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, ImportReport]]:
    """The whole corpus (:func:`corpus_files`) imported once per test module (read-only)."""
    files = corpus_files()
    database = make_database(request.param, tmp_path_factory.mktemp("corpus"))
    report = import_files(files)
    yield database, report
    database.close()


@pytest.fixture
def corpus(corpus_db: tuple[Database, ImportReport]) -> ImportReport:
    """Rebind the module's corpus database (another fixture may have rebound the proxy)."""
    database, report = corpus_db
    database_proxy.initialize(database)
    return report


@pytest.fixture
def real_corpus(corpus: ImportReport) -> ImportReport:
    """:func:`corpus`, for hand-checked tests: skips (fails in CI) unless it is the real one."""
    real_files()
    return corpus
