"""Slow writers: is a round file the partial file imported before, written further?

The game server writes a round file in one go, but a writer can pause (a busy disk, a
network file system, a copy in progress) for longer than a source waits for the file to
settle, and the first player lines alone parse as a complete round. When the same file
then arrives complete, the importer replaces the partial round if — and only if — the
new content is the old one grown (:func:`grew_from`); any other file with an imported
name is still refused, so data is never silently replaced by different data.

Pure: the importer parses both contents and calls :func:`grew_from`.
"""

from __future__ import annotations

from etbot.statsfile import FLOAT_FIELDS, ParsedPlayer, ParsedRound

#: TAB fields that only grow while a round goes on: every integer field and time played
#: (ratios and scores such as K/D or time-dead ratio can go either way).
GROWING_TAB = ("time_played_min",)


def grew_from(old: ParsedRound, new: ParsedRound) -> str | None:
    """Why ``new`` is NOT ``old`` written further, or None when it is.

    ``new`` grew from ``old`` when both are the same round (file name, server, map,
    round number) and every human player line of ``old`` is in ``new`` with the same
    name and team and no counter smaller: the rounds counter, each weapon's five
    values, every integer TAB field and the time played. ``new`` may hold more players
    (the lines the writer had not written yet) and larger counters.
    """
    for what, a, b in (
        ("file name", old.file_name, new.file_name),
        ("server", old.server_name, new.server_name),
        ("map", old.map, new.map),
        ("round", old.round_no, new.round_no),
    ):
        if a != b:
            return f"another {what}"
    players = {p.guid: p for p in new.players if not p.is_bot}
    for before in old.players:
        if before.is_bot:
            continue
        after = players.get(before.guid)
        if after is None:
            return f"player {before.guid} is missing"
        problem = _player_grew(before, after)
        if problem is not None:
            return f"player {before.guid}: {problem}"
    return None


def _player_grew(before: ParsedPlayer, after: ParsedPlayer) -> str | None:
    if (before.raw_name, before.team) != (after.raw_name, after.team):
        return "another name or team"
    if after.rounds < before.rounds:
        return "the rounds counter went down"
    weapons = {w.weapon: w for w in after.weapons}
    for w in before.weapons:
        now = weapons.get(w.weapon)
        old_values = (w.hits, w.shots, w.kills, w.deaths, w.headshots)
        new_values = (
            (0, 0, 0, 0, 0)
            if now is None
            else (now.hits, now.shots, now.kills, now.deaths, now.headshots)
        )
        if any(n < o for o, n in zip(old_values, new_values, strict=True)):
            return f"{w.name} counters went down"
    for name, value in before.tab.items():
        if value is None or (name in FLOAT_FIELDS and name not in GROWING_TAB):
            continue
        now_value = after.tab.get(name)
        if now_value is None or now_value < value:
            return f"{name} went down"
    return None
