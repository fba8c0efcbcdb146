"""``etbot betting audit [--json]``: totals per server, one JSON line, exit 1 on a difference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from peewee import Database, PostgresqlDatabase

from conftest import PG_URL
from etbot import betting
from etbot.betting import Rules
from etbot.cli import main
from etbot.models import BetAccount, database_proxy

RULES = Rules()


def run_audit(
    db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    url = str(PG_URL) if isinstance(db, PostgresqlDatabase) else f"sqlite:///{db.database}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(Path(str(db.database)).parent if url.startswith("sqlite") else "/")
    capsys.readouterr()
    try:
        code = main(["betting", "audit", *args])
    finally:
        opened = database_proxy.obj
        if opened is not db:
            opened.close()
        database_proxy.initialize(db)
    return code, capsys.readouterr().out


def play(guild: int) -> None:
    pool = betting.open_pool(guild, 1, ["AAAA0001"], ["BBBB0001"], not_before=betting.utcnow())
    betting.place_bet(pool, guild, 5, 1, 30, f"bet:{guild}:1", RULES)
    betting.place_bet(pool, guild, 6, 2, 20, f"bet:{guild}:2", RULES)
    settled = betting.open_pool(guild, 1, ["AAAA0001"], ["BBBB0001"], not_before=betting.utcnow())
    betting.place_bet(settled, guild, 7, 2, 50, f"bet:{guild}:3", RULES)
    betting.place_bet(settled, guild, 5, 1, 10, f"bet:{guild}:4", RULES)
    betting.settle_pool(settled, 2)


def test_audit_json_is_one_line_with_the_balances(
    db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    play(10)
    play(20)
    code, out = run_audit(db, monkeypatch, capsys, "--json")
    assert code == 0
    [line] = out.splitlines()
    data = json.loads(line)
    assert list(data) == ["ok", "balances", "open_stakes"]
    assert data["ok"] is True
    # Member 5 staked 30 (open pool) and lost 10; member 7 won the 60-point pot.
    expected = {"5": 60, "6": 80, "7": 110}
    assert data["balances"] == {f"{g}:{m}": p for g in (10, 20) for m, p in expected.items()}
    assert data["open_stakes"] == 2 * 50


def test_audit_text_and_failure(
    db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_audit(db, monkeypatch, capsys)
    assert (code, out.strip().splitlines()[-1]) == (0, "audit ok")
    play(10)
    code, out = run_audit(db, monkeypatch, capsys)
    assert code == 0
    assert "server 10: 3 members, 300 points created" in out
    assert "= 250 in balances + 50 in open and locked pools: ok" in out
    # A point appears from nowhere (a buggy or manual write): exit code 1, named.
    BetAccount.update(points=BetAccount.points + 1).where(BetAccount.member_id == 6).execute()
    code, out = run_audit(db, monkeypatch, capsys)
    assert code == 1
    assert "DIFFERENCE -1" in out
    assert "10:6: balance 81 but the ledger adds up to 80" in out
    code, out = run_audit(db, monkeypatch, capsys, "--json")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    assert len(data["problems"]) == 2
