"""/compare: radar chart (fake renderer), the table and validation."""

from __future__ import annotations

import pytest

from commands.conftest import TINY_PNG, FakeRenderer
from commands.helpers import ALL, guid, ranked, run_deferred
from discordkit import (
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot.compare import compare


async def test_compare_radar_and_table(rec: DiscordRecorder, renderer: FakeRenderer) -> None:
    a, b, c = ranked(n=3)
    payload = p.slash_command(
        "compare",
        [p.option("player1", guid(a)), p.option("player2", guid(b)), p.option("player3", guid(c))],
    )
    edit = await run_deferred(rec, payload)
    assert edit.attachments == [("compare.png", TINY_PNG)]
    [embed] = edit.embeds
    data = compare([a.id, b.id, c.id], ALL)
    assert [f["name"] for f in embed["fields"]] == [a.name, b.name, c.name]
    first = data.players[0]
    assert f"Rounds: {first.rounds:,}" in embed["fields"][0]["value"]
    assert f"K/D: **{first.raw[0]:.2f}**" in embed["fields"][0]["value"]
    assert f"DPM: **{first.raw[1]:.1f}**" in embed["fields"][0]["value"]
    [fig] = renderer.figures
    assert [t.name for t in fig.data] == [a.name, b.name, c.name]
    assert list(fig.data[0].r)[:-1] == pytest.approx(first.percentiles)


async def test_compare_rejects_duplicates(rec: DiscordRecorder) -> None:
    a = ranked(n=1)[0]
    payload = p.slash_command(
        "compare", [p.option("player1", guid(a)), p.option("player2", a.name)]
    )
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "different players" in reply.embeds[0]["description"]
