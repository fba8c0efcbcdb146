"""Resources: the windows of "last N days" commands and the autocomplete cache."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine

from discordkit import DiscordRecorder
from discordkit import payloads as p
from etbot.bot import EtBot

BERLIN = ZoneInfo("Europe/Berlin")


def test_windows_end_at_the_next_whole_minute(bot: EtBot) -> None:
    with time_machine.travel(datetime(2025, 3, 4, 20, 15, 30, 500, tzinfo=BERLIN), tick=False):
        assert bot.resources.window_end() == datetime(2025, 3, 4, 20, 16, tzinfo=BERLIN)
    with time_machine.travel(datetime(2025, 3, 4, 20, 15, tzinfo=BERLIN), tick=False):
        assert bot.resources.window_end() == datetime(2025, 3, 4, 20, 15, tzinfo=BERLIN)


async def test_autocomplete_is_cached_per_text(rec: DiscordRecorder, bot: EtBot) -> None:
    cache = bot.resources.cache
    for text in ("ab", "ab", "abc"):
        await rec.invoke_autocomplete(
            p.autocomplete("stats", [p.option("player", text, focused=True)])
        )
    assert (cache.hits, cache.misses, len(cache)) == (1, 2, 2)
