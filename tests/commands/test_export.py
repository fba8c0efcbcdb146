"""/export: a CSV attachment, private by default, gzipped above the attachment limit the
interaction reports, and a clear message when even that is too large."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from commands.helpers import guid, ranked
from discordkit import INTERACTION_CALLBACK, ORIGINAL_EDIT, DiscordRecorder
from discordkit import payloads as p
from etbot import seasons
from etbot.export import (
    LEADERBOARD_COLUMNS,
    ROUND_COLUMNS,
    SEASON_COLUMNS,
    ExportRequest,
    export_file,
)
from etbot.models import PlayerRound

BERLIN_NOW = datetime(2026, 2, 10, 13, 0)


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 2, 10, 12, 0, tzinfo=UTC), tick=True):
        yield


def rows_of(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def run_export(rec: DiscordRecorder, *options: dict, limit: int | None = None) -> Any:
    payload = p.slash_command("export", list(options))
    if limit is not None:
        payload["attachment_size_limit"] = limit
    await rec.invoke_slash(payload, raise_errors=False)
    return payload


async def test_export_is_a_private_csv_attachment(rec: DiscordRecorder) -> None:
    key = seasons.seasons_with_data(BERLIN_NOW)[0].key
    payload = await run_export(
        rec, p.option("what", "season"), p.option("season", key), p.option("min_rounds", 1)
    )
    callback = await rec.wait_for_response(payload)
    assert callback.callback_type == 5
    assert callback.ephemeral  # private unless asked otherwise
    edit = await rec.wait_for(lambda r: r.route == ORIGINAL_EDIT, timeout=10)
    [(name, data)] = edit.attachments
    assert name == f"etbot-season-{key}.csv"
    rows = rows_of(data)
    assert tuple(rows[0]) == SEASON_COLUMNS
    standings = seasons.season_page(key, "dpm", 1, 100, 0, BERLIN_NOW).page
    assert len(rows) - 1 == standings.total
    assert f"{standings.total:,} rows" in edit.embeds[0]["description"]


async def test_public_export_and_player_filter(rec: DiscordRecorder) -> None:
    ref = ranked("rounds", 1)[0]
    payload = await run_export(
        rec, p.option("what", "rounds"), p.option("player", guid(ref)), p.option("public", True)
    )
    callback = await rec.wait_for_response(payload)
    assert not callback.ephemeral
    edit = await rec.wait_for(lambda r: r.route == ORIGINAL_EDIT, timeout=10)
    [(_, data)] = edit.attachments
    rows = rows_of(data)
    assert tuple(rows[0]) == ROUND_COLUMNS
    column = ROUND_COLUMNS.index("guid")
    assert {r[column] for r in rows[1:]} == {ref.guid}
    assert len(rows) - 1 == PlayerRound.select().where(PlayerRound.player == ref.id).count()


async def test_export_is_gzipped_above_the_attachment_limit(rec: DiscordRecorder) -> None:
    plain = export_file(ExportRequest("rounds"), 10**9)
    payload = await run_export(rec, p.option("what", "rounds"), limit=plain.csv_bytes - 1)
    await rec.wait_for_response(payload)
    edit = await rec.wait_for(lambda r: r.route == ORIGINAL_EDIT, timeout=10)
    [(name, data)] = edit.attachments
    assert name == "etbot-rounds.csv.gz"
    assert len(data) < plain.csv_bytes
    assert gzip.decompress(data) == plain.data
    assert "gzipped" in edit.embeds[0]["description"]


async def test_too_large_even_gzipped_is_a_clear_message(rec: DiscordRecorder) -> None:
    payload = await run_export(rec, p.option("what", "rounds"), limit=2_000)
    reply = await rec.wait_for(
        lambda r: r.token == payload["token"] and r.ephemeral and bool(r.embeds), timeout=10
    )
    text = reply.embeds[0]["description"]
    assert "too large to attach even compressed" in text
    assert "the limit here is 0.0 MB" in text
    assert not [r for r in rec.by_route(ORIGINAL_EDIT) if r.attachments]


async def test_leaderboard_export_by_dates(rec: DiscordRecorder) -> None:
    season = seasons.seasons_with_data(BERLIN_NOW)[0]
    payload = await run_export(
        rec,
        p.option("what", "leaderboard"),
        p.option("from", season.first_day.isoformat()),
        p.option("to", season.last_day.isoformat()),
        p.option("stat", "kills"),
        p.option("min_rounds", 1),
    )
    await rec.wait_for_response(payload)
    edit = await rec.wait_for(lambda r: r.route == ORIGINAL_EDIT, timeout=10)
    [(name, data)] = edit.attachments
    assert name == f"etbot-leaderboard-kills-{season.first_day}_{season.last_day}.csv"
    rows = rows_of(data)
    assert tuple(rows[0]) == LEADERBOARD_COLUMNS
    page = seasons.season_page(season.key, "kills", 1, 100, 0, BERLIN_NOW).page
    kills = LEADERBOARD_COLUMNS.index("kills")
    assert [int(r[kills]) for r in rows[1:]] == [int(r.value) for r in page.rows]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([p.option("what", "ratings"), p.option("season", "2025-Q3")], "Ratings are today's"),
        ([p.option("what", "rounds"), p.option("from", "01/02/2025")], "must be a date"),
        ([p.option("what", "season"), p.option("season", "=cmd")], "no season called"),
    ],
)
async def test_bad_options_are_friendly(
    rec: DiscordRecorder, options: list[dict], message: str
) -> None:
    payload = await run_export(rec, *options)
    reply = await rec.wait_for(
        lambda r: r.token == payload["token"] and r.ephemeral and bool(r.embeds), timeout=10
    )
    assert message in reply.embeds[0]["description"]
    assert not rec.by_route(INTERACTION_CALLBACK)[0].json["data"].get("content")
