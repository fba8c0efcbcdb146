"""/activity: heatmap (fake renderer), the summary text, and the chart cooldown."""

from __future__ import annotations

from commands.conftest import TINY_PNG, FakeRenderer
from commands.helpers import guid, ranked, run_deferred
from discordkit import (
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot.activity import activity


async def test_activity_server_heatmap(rec: DiscordRecorder, renderer: FakeRenderer) -> None:
    payload = p.slash_command("activity", [p.option("weeks", 520)])
    edit = await run_deferred(rec, payload)
    counts = activity(None, 520)
    assert edit.attachments == [("activity.png", TINY_PNG)]
    [embed] = edit.embeds
    assert embed["title"] == "Server · activity over 520 weeks"
    total = sum(map(sum, counts))
    assert embed["description"].startswith(f"{total:,} rounds · busiest (Europe/Berlin)")
    [fig] = renderer.figures
    assert [list(row) for row in fig.data[0].z] == counts
    assert "Europe/Berlin" in fig.layout.xaxis.title.text


async def test_activity_of_player(rec: DiscordRecorder) -> None:
    ref = ranked(n=1)[0]
    payload = p.slash_command("activity", [p.option("player", guid(ref)), p.option("weeks", 520)])
    edit = await run_deferred(rec, payload)
    total = sum(map(sum, activity(ref.id, 520)))
    assert edit.embeds[0]["title"].startswith(ref.name)
    assert edit.embeds[0]["description"].startswith(f"{total:,} rounds")


async def test_chart_commands_have_a_cooldown(rec: DiscordRecorder) -> None:
    for _ in range(3):
        await rec.invoke_slash(p.slash_command("activity", [p.option("weeks", 4)]))
    payload = p.slash_command("activity", [p.option("weeks", 4)])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert reply.embeds[0]["description"].startswith("Slow down")
