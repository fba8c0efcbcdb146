"""/matchup, /duos and /rivals: answers match the domain functions; the same player twice,
a player without rated maps and an empty list are handled kindly."""

from __future__ import annotations

from typing import Any

from commands.helpers import fields, guid, run_deferred
from discordkit import FOLLOWUP, ORIGINAL_EDIT, DiscordRecorder
from discordkit import payloads as p
from etbot import matchups, rating
from etbot.bot import EtBot
from etbot.commands.formatting import escape
from etbot.commands.matchups import LIST_LIMIT, record_text
from etbot.players import PlayerRef, get_player
from rating_helpers import unrated_player


def regulars() -> list[PlayerRef]:
    """Rated players, most maps first (they share the most maps)."""
    ranked = sorted(rating.ranking(), key=lambda r: (-r.maps, r.guid))
    return [get_player(r.player_id) for r in ranked]


async def private_error(rec: DiscordRecorder, payload: dict[str, Any]) -> str:
    await rec.invoke_slash(payload, raise_errors=False)
    reply = await rec.wait_for(
        lambda r: r.token == payload["token"] and (r.callback_type == 4 or r.route == FOLLOWUP)
    )
    assert reply.ephemeral
    assert not rec.by_route(ORIGINAL_EDIT)
    return str(reply.embeds[0]["description"])


def test_record_text() -> None:
    rec = matchups.Record().add(1.0).add(1.0).add(0.0).add(0.5)
    assert record_text(rec) == "4 maps: 2 won · 1 lost · 1 draw · 67% won"
    assert record_text(matchups.Record().add(0.5)) == "1 map: 0 won · 0 lost · 1 draw"
    assert record_text(matchups.Record()) == "no maps"


async def test_matchup_matches_the_domain(rec: DiscordRecorder) -> None:
    a, b = regulars()[:2]
    payload = p.slash_command(
        "matchup", [p.option("player1", guid(a)), p.option("player2", guid(b))]
    )
    edit = await run_deferred(rec, payload)
    m = matchups.matchup(a.id, b.id)
    [embed] = edit.embeds
    assert embed["title"] == f"{escape(a.name)} & {escape(b.name)}"
    shown = fields(embed)
    assert shown["Together"] == record_text(m.together)
    assert shown[f"{escape(a.name)} without {escape(b.name)}"] == record_text(m.a_without_b)
    assert shown[f"{escape(b.name)} without {escape(a.name)}"] == record_text(m.b_without_a)
    against = shown["Against each other"]
    if m.opposed.maps:
        score = f"**{escape(a.name)} {m.opposed.wins} – {m.opposed.losses} {escape(b.name)}**"
        assert score in against
        assert against.startswith(f"{m.opposed.maps} map")
    else:
        assert against == "never on opposite sides"
    # Every map of A is together, against or without B.
    assert m.together.maps + m.opposed.maps + m.a_without_b.maps == rating.rating_summary(a.id).maps


async def test_matchup_refuses_the_same_player_and_unrated_players(rec: DiscordRecorder) -> None:
    a = regulars()[0]
    same = p.slash_command("matchup", [p.option("player1", guid(a)), p.option("player2", a.guid)])
    assert "two different players" in await private_error(rec, same)
    rec.clear()
    newcomer = unrated_player()
    unrated = p.slash_command(
        "matchup", [p.option("player1", guid(a)), p.option("player2", f"guid:{newcomer.guid}")]
    )
    text = await private_error(rec, unrated)
    assert text.startswith(f"{escape(newcomer.name)} has no rated maps yet")


async def test_duos_list_the_best_partners(rec: DiscordRecorder) -> None:
    player = regulars()[0]
    for min_maps in (1, 5):
        rec.clear()
        payload = p.slash_command(
            "duos", [p.option("player", guid(player)), p.option("min_maps", min_maps)]
        )
        edit = await run_deferred(rec, payload)
        expected = matchups.duos(player.id, min_maps=min_maps, limit=LIST_LIMIT)
        assert expected
        [embed] = edit.embeds
        assert embed["title"] == f"{escape(player.name)} · best partners"
        lines = embed["description"].split("\n")
        assert lines == [
            f"{i}. **{escape(d.name)}** — {record_text(d.record)}"
            for i, d in enumerate(expected, start=1)
        ]
        assert f"≥ {min_maps} maps" in embed["footer"]["text"]


async def test_duos_without_partners_says_so(rec: DiscordRecorder) -> None:
    player = regulars()[0]
    edit = await run_deferred(
        rec,
        p.slash_command("duos", [p.option("player", guid(player)), p.option("min_maps", 1000)]),
    )
    assert edit.embeds[0]["description"] == "No partner with at least 1000 maps together yet."


async def test_rivals_list_the_opponents_faced_most(rec: DiscordRecorder) -> None:
    player = regulars()[0]
    edit = await run_deferred(rec, p.slash_command("rivals", [p.option("player", guid(player))]))
    expected = matchups.rivals(player.id, limit=LIST_LIMIT)
    assert expected
    [embed] = edit.embeds
    assert embed["title"] == f"{escape(player.name)} · rivals"
    assert embed["description"].split("\n") == [
        f"{i}. **{escape(r.name)}** — {record_text(r.record)}"
        for i, r in enumerate(expected, start=1)
    ]


async def test_duos_and_rivals_of_an_unrated_player(rec: DiscordRecorder) -> None:
    newcomer = unrated_player()
    for name in ("duos", "rivals"):
        rec.clear()
        payload = p.slash_command(name, [p.option("player", f"guid:{newcomer.guid}")])
        assert "has no rated maps yet" in await private_error(rec, payload)


async def test_options(bot: EtBot) -> None:
    duos = bot.get_slash_command("duos")
    assert duos is not None
    options = {o.name: o for o in duos.body.options}
    assert (options["min_maps"].min_value, options["min_maps"].max_value) == (1, 1000)
    assert not options["player"].required
    matchup = bot.get_slash_command("matchup")
    assert matchup is not None
    assert [(o.name, o.required) for o in matchup.body.options] == [
        ("player1", True),
        ("player2", True),
    ]
