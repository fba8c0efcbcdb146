"""Player options: autocomplete while typing, conversion to a player (names, GUIDs,
@member mentions, the linked profile) and its errors."""

from __future__ import annotations

import pytest

from commands.helpers import ALL, top_player
from discordkit import (
    ORIGINAL_EDIT,
    OWNER_ID,
    PLAYER_ID,
    DiscordRecorder,
)
from discordkit import payloads as p
from etbot import players
from etbot.commands.formatting import escape, player_choice
from etbot.errors import AmbiguousPlayer
from etbot.leaderboard import leaderboard
from etbot.players import (
    PlayerMatch,
    PlayerRef,
    autocomplete_players,
    get_player,
    link_discord,
)


async def test_autocomplete_players(rec: DiscordRecorder) -> None:
    row = top_player()
    prefix = row.name[:2]
    await rec.invoke_autocomplete(
        p.autocomplete("stats", [p.option("player", prefix, focused=True)])
    )
    reply = rec.requests[-1]
    assert reply.callback_type == 8
    expected = [player_choice(match) for match in autocomplete_players(prefix)]
    assert [c["value"] for c in reply.choices] == [c.value for c in expected]
    assert [c["name"] for c in reply.choices] == [c.name for c in expected]
    assert 0 < len(reply.choices) <= 25
    assert all(c["value"].startswith("guid:") for c in reply.choices)


async def test_autocomplete_empty_text_lists_active_players(rec: DiscordRecorder) -> None:
    await rec.invoke_autocomplete(p.autocomplete("stats", [p.option("player", "", focused=True)]))
    assert len(rec.requests[-1].choices) == min(25, len(autocomplete_players("")))


async def test_autocomplete_failure_answers_no_choices(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str, limit: int = 25) -> list[PlayerMatch]:
        raise RuntimeError("database gone")

    monkeypatch.setattr(players, "autocomplete_players", broken)
    payload = p.autocomplete("compare", [p.option("player2", "ab", focused=True)])
    await rec.invoke_autocomplete(payload)
    reply = rec.requests[-1]
    assert reply.callback_type == 8
    assert reply.choices == []


async def test_ambiguous_player_lists_candidates(
    rec: DiscordRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = (get_player(r.player_id) for r in leaderboard("kills", ALL, limit=2).rows)

    def ambiguous(value: str) -> PlayerRef:
        raise AmbiguousPlayer(value, [a, b])

    monkeypatch.setattr(players, "resolve_player", ambiguous)
    payload = p.slash_command("trend", [p.option("player", "x"), p.option("stat", "kd")])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.callback_type == 4
    assert reply.ephemeral
    description = reply.embeds[0]["description"]
    assert f"2 players have used the name “x”: {escape(a.name)} ({a.guid})" in description
    assert f"{escape(b.name)} ({b.guid})" in description


async def test_player_option_accepts_a_linked_member_mention(rec: DiscordRecorder) -> None:
    row = top_player("kills")
    link_discord(PLAYER_ID, row.player_id)
    await rec.invoke_slash(p.slash_command("stats", [p.option("player", f"<@{PLAYER_ID}>")]))
    [edit] = rec.by_route(ORIGINAL_EDIT)
    assert edit.embeds[0]["title"] == row.name


async def test_mention_of_an_unlinked_member_is_a_friendly_error(rec: DiscordRecorder) -> None:
    payload = p.slash_command("stats", [p.option("player", f"<@!{OWNER_ID}>")])
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for_response(payload)
    assert reply.ephemeral
    assert "has not linked a game profile" in reply.embeds[0]["description"]
