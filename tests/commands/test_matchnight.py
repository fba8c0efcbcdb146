"""Round and map summary posts (through the poster), their texts, and the presence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import disnake
import pytest

from commands.conftest import TINY_PNG, FakeRenderer
from conftest import corpus_files, first_pair
from discordkit import CHANNEL_ID, CHANNEL_MESSAGE, GUILD_ID, DiscordRecorder
from etbot import announce, matchnight
from etbot.bot import EtBot
from etbot.commands.matchnight import (
    MatchNightCog,
    clock,
    final_score_text,
    map_summary_embed,
    presence_text,
    score_text,
)
from etbot.matchnight import MapSummary, PlayerLine, PresenceState, TeamSide
from etbot.models import Announcement, GamingSession, Round
from etbot.stopwatch import FIRST_ATTACK, FIRST_DEFENCE, Match, ScoredMap, Team

BERLIN = ZoneInfo("Europe/Berlin")
esc = disnake.utils.escape_markdown


def pair_ids() -> tuple[int, int]:
    r1, r2 = first_pair(corpus_files())
    return (
        Round.get(Round.file_name == r1.name).id,
        Round.get(Round.file_name == r2.name).id,
    )


def posting(rec: DiscordRecorder) -> EtBot:
    bot = rec.bot
    bot.poster.channel_id = CHANNEL_ID
    return bot


def cog(bot: EtBot) -> MatchNightCog:
    # disnake executes extension modules afresh: the class is not this module's import.
    found: Any = bot.get_cog("MatchNightCog")
    assert type(found).__name__ == "MatchNightCog"
    return found


async def test_the_summary_kinds_are_registered(bot: EtBot) -> None:
    assert {"round_summary", "map_summary", "milestone"} <= set(bot.poster.kinds)


async def test_round_summary_post(rec: DiscordRecorder) -> None:
    bot = posting(rec)
    r1_id, _ = pair_ids()
    announce.enqueue("round_summary", r1_id)
    assert await bot.poster.drain() == 1
    [post] = rec.by_route(CHANNEL_MESSAGE)
    [embed] = post.embeds
    summary = matchnight.round_summary(r1_id)
    assert summary is not None
    assert embed["title"] == f"{esc(summary.map)} · round 1"
    if summary.completed:
        assert f"set **{clock(summary.time_s)}**" in embed["description"]
    else:
        assert "**defence held**" in embed["description"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    attack = fields[f"{summary.attack.name} (attack)"]  # field names are plain text
    defence = fields[f"{summary.defence.name} (defence)"]
    for side, text in ((summary.attack, attack), (summary.defence, defence)):
        lines = text.split("\n")
        assert len(lines) == min(3, len(side.players))
        for shown, player in zip(lines, side.players, strict=False):
            assert disnake.utils.escape_markdown(player.name) in shown
            assert f"{player.kills} K · {player.dpm:.0f} DPM · {player.objectives} obj" in shown
    assert post.json["allowed_mentions"] == {"parse": []}
    assert Announcement.get(Announcement.key == str(r1_id)).status == "sent"


async def test_map_summary_post_with_its_chart(
    rec: DiscordRecorder, renderer: FakeRenderer
) -> None:
    bot = posting(rec)
    _, r2_id = pair_ids()
    announce.enqueue("map_summary", r2_id)
    assert await bot.poster.drain() == 1
    [post] = rec.by_route(CHANNEL_MESSAGE)
    name = f"map-{r2_id}.png"
    assert post.attachments == [(name, TINY_PNG)]
    [embed] = post.embeds
    assert embed["image"]["url"] == f"attachment://{name}"
    summary = matchnight.map_summary(r2_id)
    assert summary is not None
    assert embed["title"] == f"{esc(summary.map)} · map result"
    mvp = summary.mvp
    assert mvp is not None
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["MVP"].startswith(f"**{disnake.utils.escape_markdown(mvp.name)}**")
    assert f"{mvp.points:g} points" in fields["MVP"]
    top = fields["Top players (both rounds)"].split("\n")
    assert len(top) == min(5, len(summary.players))
    # The chart: both teams' DPM per player.
    [fig] = renderer.figures
    assert [t.name for t in fig.data] == [summary.first_attack.name, summary.first_defence.name]
    shown = {y: x for trace in fig.data for y, x in zip(trace.y, trace.x, strict=True)}
    for p in summary.players:
        assert shown[p.name] == pytest.approx(round(p.dpm, 1))
    winner = summary.winning_side
    if winner is not None:
        assert f"**{disnake.utils.escape_markdown(winner.name)}** (" in embed["description"]
        assert "wins" in embed["description"]
    else:
        assert "draw" in embed["description"]


async def test_map_summary_posts_without_the_chart_when_rendering_fails(
    rec: DiscordRecorder, renderer: FakeRenderer
) -> None:
    bot = posting(rec)
    renderer.fail = True
    _, r2_id = pair_ids()
    announce.enqueue("map_summary", r2_id)
    assert await bot.poster.drain() == 1
    [post] = rec.by_route(CHANNEL_MESSAGE)
    assert post.attachments == []
    assert "image" not in post.embeds[0]
    assert post.embeds[0]["title"].endswith("· map result")


async def test_a_switched_off_kind_is_not_posted(rec: DiscordRecorder) -> None:
    bot = posting(rec)
    r1_id, r2_id = pair_ids()
    announce.set_kind_enabled(GUILD_ID, "map_summary", False)
    announce.enqueue("round_summary", r1_id)
    announce.enqueue("map_summary", r2_id)
    assert await bot.poster.drain() == 1
    [post] = rec.by_route(CHANNEL_MESSAGE)
    assert post.embeds[0]["title"].endswith("· round 1")
    status = Announcement.get(Announcement.kind == "map_summary").status
    assert status == "silent"


async def test_a_summary_of_a_vanished_round_is_dropped(rec: DiscordRecorder) -> None:
    bot = posting(rec)
    announce.enqueue("round_summary", 10**9)
    announce.enqueue("map_summary", 10**9)
    assert await bot.poster.drain() == 0
    assert {a.status for a in Announcement.select()} == {"silent"}


# --------------------------------------------------------------------------- texts


def team(label: str, name: str, *players: str) -> Team:
    return Team(label, name, 1, tuple(range(len(players))), players)


def pl(pid: int, name: str, kills: int = 10) -> PlayerLine:
    return PlayerLine(pid, name, kills, 5, 2000, 600, 0, 0, 0, 0, 0, 50, 200, 0)


def scored(n: int, winner: str | None, wins_a: int, wins_b: int, draws: int = 0) -> ScoredMap:
    outcome = "draw" if winner is None else "beat_time"
    return ScoredMap(
        10 * n + 1,
        10 * n + 2,
        f"map{n}",
        datetime(2025, 10, 14, 21, 0) + timedelta(minutes=15 * n),
        True,
        outcome,
        winner,
        wins_a,
        wins_b,
        draws,
        frozenset({1}),
        frozenset({2}),
    )


def match_of(*maps: ScoredMap) -> Match:
    return Match(team("A", "Team vid", "vid", "endekk"), team("B", "Team olz", "olz"), maps)


def a_map_summary(match: Match, last: ScoredMap, outcome: str, winner: int | None) -> MapSummary:
    attack = TeamSide(match.team_a.name, "A", (pl(1, "vid"),))
    defence = TeamSide(match.team_b.name, "B", (pl(2, "olz"),))
    return MapSummary(
        round1_id=last.round1_id,
        round2_id=last.round2_id or 0,
        map="supply",
        server="srv",
        ended_at=last.ended_at,
        outcome=outcome,
        first_attack=attack,
        first_defence=defence,
        winner=winner,
        round1_time_s=412,
        round2_time_s=390,
        time_limit_s=720,
        players=(pl(1, "vid"), pl(2, "olz")),
        notable=None,
        match=match,
        scored=last,
    )


def test_score_texts() -> None:
    lead = match_of(scored(0, "A", 1, 0), scored(1, "B", 1, 1), scored(2, "A", 2, 1))
    assert score_text(lead, markdown=False) == "Team vid leads 2–1"
    assert final_score_text(lead) == "**Team vid** 2–1 **Team olz**"
    level = match_of(scored(0, "A", 1, 0), scored(1, "B", 1, 1), scored(2, None, 1, 1, 1))
    assert score_text(level, markdown=False) == "Team vid and Team olz are level at 1–1 (1 draw)"
    behind = match_of(scored(0, "B", 0, 1))
    assert score_text(behind) == "**Team olz** leads 1–0"
    assert score_text(match_of(), markdown=False) == "Team vid vs Team olz, 0–0"


@pytest.mark.parametrize(
    ("maps", "winner", "sentence"),
    [
        ([scored(0, "A", 1, 0)], FIRST_ATTACK, "wins **supply** and leads 1–0."),
        (
            [scored(0, "B", 0, 1), scored(1, "A", 1, 1)],
            FIRST_ATTACK,
            "and levels the score at 1–1.",
        ),
        (
            [scored(0, "B", 0, 1), scored(1, "B", 0, 2), scored(2, "A", 1, 2)],
            FIRST_ATTACK,
            "wins **supply** but trails 1–2.",
        ),
        (
            [scored(0, "B", 0, 1)],
            FIRST_DEFENCE,
            "**Team olz** (olz) wins **supply** and leads 1–0.",
        ),
        (
            [scored(0, "A", 1, 0), scored(1, None, 1, 0, 1)],
            None,
            "ends in a draw; **Team vid** leads 1–0.",
        ),
    ],
)
def test_map_summary_sentences(maps: list[ScoredMap], winner: int | None, sentence: str) -> None:
    match = match_of(*maps)
    outcome = "draw" if winner is None else "beat_time"
    embed = map_summary_embed(a_map_summary(match, maps[-1], outcome, winner), None)
    assert sentence in (embed.description or "")
    if winner == FIRST_ATTACK:
        assert "**Team vid** (vid) wins" in (embed.description or "")


def test_stopwatch_sentences() -> None:
    match = match_of(scored(0, "A", 1, 0))
    held = map_summary_embed(a_map_summary(match, match.maps[0], "held", FIRST_ATTACK), None)
    assert "Round 1: **Team vid** set **6:52**." in (held.description or "")
    assert "Round 2: **Team olz** did not beat it (defence held)." in (held.description or "")
    beat = map_summary_embed(a_map_summary(match, match.maps[0], "beat_time", FIRST_DEFENCE), None)
    assert "Round 2: **Team olz** completed in **6:30** and wins." in (beat.description or "")
    draw = map_summary_embed(a_map_summary(match, match.maps[0], "draw", None), None)
    assert "Both defences held the full 12:00: a draw." in (draw.description or "")


# --------------------------------------------------------------------------- presence


def test_presence_texts() -> None:
    match = match_of(scored(0, "A", 1, 0), scored(1, "B", 1, 1), scored(2, "A", 2, 1))
    live = PresenceState("live", "supply", 2, match, 3, 6)
    assert presence_text(live, BERLIN) == "supply · round 2 · Team vid leads 2–1"
    between = PresenceState("live", "supply", 1, match, 3, 6)
    assert presence_text(between, BERLIN) == "after supply · Team vid leads 2–1"
    assert presence_text(PresenceState("live", "supply", 2), BERLIN) == "supply · round 2"
    after = PresenceState("after", "supply", None, match, 3, 6)
    assert presence_text(after, BERLIN) == "last session: Team vid won 2–1"
    drawn = PresenceState("after", "x", None, match_of(scored(0, "B", 0, 1), scored(1, "A", 1, 1)))
    assert presence_text(drawn, BERLIN) == "last session: Team vid and Team olz drew 1–1"
    no_maps = PresenceState("after", "supply", None, None, 0, 3)
    assert presence_text(no_maps, BERLIN) == "last session: 3 rounds"
    start = datetime(2025, 10, 29, 20, 30, tzinfo=UTC)
    nxt = PresenceState("next", next_start=start)
    assert presence_text(nxt, BERLIN) == "next session Wed 29 Oct 21:30 CET"
    assert presence_text(PresenceState("idle"), BERLIN) is None
    long = match_of(scored(0, "A", 1, 0))
    long = Match(team("A", "Team " + "x" * 200, "x"), long.team_b, long.maps)
    text = presence_text(PresenceState("live", "supply", 2, long), BERLIN)
    assert text is not None
    assert len(text) <= 128


async def test_presence_is_sent_only_when_it_changes(
    bot: EtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[Any] = []

    async def change_presence(*, activity: Any = None, **kwargs: Any) -> None:
        sent.append(activity)

    monkeypatch.setattr(bot, "change_presence", change_presence)
    night = cog(bot)
    session = GamingSession.select().order_by(GamingSession.ended_at.desc()).first()
    last = Round.select().where(Round.session == session.id).order_by(Round.ended_at.desc()).first()
    during = (last.ended_at + timedelta(minutes=2)).replace(tzinfo=BERLIN)
    assert await night.refresh_presence(during)
    assert not await night.refresh_presence(during + timedelta(minutes=1))  # same text
    assert await night.refresh_presence(during + timedelta(hours=2))  # after the session
    [first, second] = sent
    assert isinstance(first, disnake.CustomActivity)
    assert first.to_dict()["type"] == 4
    # The last round of the session: a round 2 ("after <map>") or a round 1 ("<map> · round 2").
    expected = f"after {last.map}" if last.round_no == 2 else f"{last.map} · round 2"
    assert str(first.name).startswith(expected)
    assert second.name == night.presence
    assert str(second.name).startswith("last session:")


async def test_the_presence_asks_the_forecast_once_a_minute_from_the_cache(
    bot: EtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The presence loop asks every minute: between imports the forecast is fitted once
    per minute (as for /sessions), not at every refresh."""
    from etbot import forecast

    fitted: list[datetime] = []
    real = forecast.next_session

    def counting(now: datetime, *args: Any, **kwargs: Any) -> datetime | None:
        fitted.append(now)
        return real(now, *args, **kwargs)

    monkeypatch.setattr(forecast, "next_session", counting)
    monkeypatch.setattr(bot, "change_presence", lambda **kwargs: _done())
    night = cog(bot)
    last = Round.select().order_by(Round.ended_at.desc()).first()
    later = (last.ended_at + timedelta(days=3)).replace(tzinfo=BERLIN, second=5)
    await night.refresh_presence(later)
    await night.refresh_presence(later + timedelta(seconds=30))  # the same minute
    assert len(fitted) == 1
    await night.refresh_presence(later + timedelta(minutes=1))
    assert len(fitted) == 2


async def _done() -> None:
    return None
