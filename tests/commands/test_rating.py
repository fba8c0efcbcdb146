"""/rating: the card matches the domain's summary, the history chart (fake renderer) and
its text fallback, your own linked profile, and a player without rated maps."""

from __future__ import annotations

from datetime import datetime, timedelta

from commands.conftest import TINY_PNG, FakeRenderer
from commands.helpers import fields, guid, run_deferred
from discordkit import FOLLOWUP, PLAYER_ID, DiscordRecorder
from discordkit import payloads as p
from etbot import players, rating
from etbot.commands.formatting import escape
from etbot.commands.rating import (
    CHART_DETAIL_MAPS,
    SESSIONS,
    TOP_MOVES,
    chart_points,
    outcome,
    rating_chart,
)
from etbot.players import PlayerRef, get_player
from rating_helpers import unrated_player


def rated_players() -> list[PlayerRef]:
    """The best, a middle and the last of the ranking."""
    ranked = rating.ranking()
    return [get_player(ranked[i].player_id) for i in (0, len(ranked) // 2, -1)]


async def test_rating_card_matches_the_summary(
    rec: DiscordRecorder, renderer: FakeRenderer
) -> None:
    for ref in rated_players():
        rec.clear()
        renderer.figures.clear()
        edit = await run_deferred(rec, p.slash_command("rating", [p.option("player", guid(ref))]))
        s = rating.rating_summary(ref.id, sessions=SESSIONS, top=TOP_MOVES)
        [embed] = edit.embeds
        assert embed["title"] == f"{escape(ref.name)} · rating"
        assert embed["description"].startswith(f"**{s.rating}** · ")
        assert s.rank is not None
        assert f"#{s.rank} of {s.active_players} players active" in embed["description"]
        shown = fields(embed)
        assert shown["Skill"] == f"{s.skill:.0f} ± {s.uncertainty:.0f}"
        assert shown["Maps"] == f"{s.maps} ({s.wins} won · {s.losses} lost · {s.draws} draws)"
        [change_name] = [name for name in shown if name.startswith("Change over the last ")]
        assert change_name.endswith("session" if s.sessions == 1 else f"{s.sessions} sessions")
        assert shown[change_name].startswith(f"{s.rating_change:+d} rating")
        moves = shown["Maps that moved the skill most"].split("\n")
        assert len(moves) == len(s.top_moves) > 0
        for line, move in zip(moves, s.top_moves, strict=True):
            expected = f"{move.change:+.0f} · {escape(move.map)} · {outcome(move.score)}"
            assert line.startswith(expected)
        assert "skill −" in embed["footer"]["text"]
        # The chart: the rating after every rated map, oldest first.
        assert edit.attachments == [("rating.png", TINY_PNG)]
        assert embed["image"]["url"] == "attachment://rating.png"
        [fig] = renderer.figures
        history = rating.rating_history(ref.id)
        assert list(fig.data[-1].y) == [pt.rating for pt in history]
        assert list(fig.data[-1].x) == [pt.ended_at for pt in history]


async def test_rating_text_fallback_without_renderer(
    rec: DiscordRecorder, renderer: FakeRenderer
) -> None:
    renderer.fail = True
    ref = rated_players()[0]
    edit = await run_deferred(rec, p.slash_command("rating", [p.option("player", guid(ref))]))
    assert edit.attachments == []
    [embed] = edit.embeds
    assert "image" not in embed
    fallback = fields(embed)["Chart unavailable"]
    last = rating.rating_history(ref.id)[-1]
    assert f"{last.ended_at:%Y-%m-%d} {last.map}" in fallback
    assert fallback.rstrip("`\n").endswith(f"{outcome(last.score):<5} {last.rating}")


async def test_rating_without_a_player_shows_your_linked_profile(rec: DiscordRecorder) -> None:
    ref = rated_players()[1]
    players.link_discord(PLAYER_ID, ref.id)
    edit = await run_deferred(rec, p.slash_command("rating"))
    assert edit.embeds[0]["title"] == f"{escape(ref.name)} · rating"


async def test_a_player_without_rated_maps_gets_a_private_error(rec: DiscordRecorder) -> None:
    newcomer = unrated_player()
    payload = p.slash_command("rating", [p.option("player", f"guid:{newcomer.guid}")])
    await rec.invoke_slash(payload, raise_errors=False)
    error = await rec.wait_for(lambda r: r.route == FOLLOWUP)  # after the defer
    assert error.ephemeral
    assert error.embeds[0]["description"].startswith(
        f"{escape(newcomer.name)} has no rated maps yet"
    )


def test_long_histories_are_charted_per_day() -> None:
    start = datetime(2025, 1, 1, 20, 0)
    history = [
        rating.RatingPoint(start + timedelta(hours=h), None, "supply", 1.0, 600 + h, 1000.0, 190.0)
        for h in range(CHART_DETAIL_MAPS + 30)
    ]
    assert chart_points(history[:CHART_DETAIL_MAPS]) == history[:CHART_DETAIL_MAPS]
    daily = chart_points(history)
    days = sorted({pt.ended_at.date() for pt in history})
    assert [pt.ended_at.date() for pt in daily] == days
    for point in daily:  # the rating after the day's last map
        same_day = [q for q in history if q.ended_at.date() == point.ended_at.date()]
        assert point == max(same_day, key=lambda q: q.ended_at)
    fig = rating_chart("Alice", history)
    assert list(fig.data[-1].y) == [pt.rating for pt in daily]
    assert "end of each day played" in fig.layout.title.text
