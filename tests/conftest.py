"""Shared fixtures: the real corpus, and a fresh database on SQLite and PostgreSQL.

PostgreSQL tests run when ``ETBOT_TEST_POSTGRES_URL`` is set (``.ci/run`` sets it after
starting a server); in CI (``CI=true``) a missing server is an error, not a skip.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from peewee import Database

from etbot.db import connect, drop_everything, migrate
from etbot.ingest import Importer, ImportReport
from etbot.models import database_proxy

#: Fixtures and expected values of the query tests (recomputed from the raw files).
pytest_plugins = ["raw_truth"]

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("ETBOT_CORPUS", REPO.parent / "shared" / "corpus"))
REAL = CORPUS / "real"
ODD = CORPUS / "odd"
PG_URL = os.environ.get("ETBOT_TEST_POSTGRES_URL")


def real_files() -> list[Path]:
    if not REAL.is_dir():
        pytest.skip(f"real corpus not found at {REAL} (expected ../shared/corpus beside the repo)")
    return sorted(REAL.glob("*.txt"))


def odd_files() -> list[Path]:
    if not ODD.is_dir():
        pytest.skip(f"odd corpus not found at {ODD}")
    return sorted(ODD.glob("*.txt"))


def _backends() -> list[str]:
    return ["sqlite", "postgres"]


def make_database(backend: str, tmp_path: Path) -> Database:
    if backend == "sqlite":
        db = connect(f"sqlite:///{tmp_path / 'etbot-test.db'}")
    else:
        if not PG_URL:
            if os.environ.get("CI"):
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
    """The whole real corpus imported once per test module (read-only tests)."""
    files = real_files()
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
