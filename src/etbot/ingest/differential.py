"""Round-2-only values from a cumulative round 2 and its round 1 (pure: no database).

A round 2 file is partly cumulative (../shared/FORMAT.md, "Round 2 is partly
cumulative"): TAB fields 0–7, time played, bullets fired (38-field layout) and every
weapon int include round 1. For each player of a paired round 2:

* absent from round 1 → taken as written (``only_round2``);
* counters went down, or the ``rounds`` counter did not go up → a reconnect reset,
  taken as written (``reset``);
* otherwise round 1 is subtracted; per-weapon differences are floored at 0 because the
  game can decrement shots (hits on a corpse).

Everything is keyed by :class:`~etbot.models.PlayerRound` field names, so the importer
writes the result as it is. Round 1 is stored as written, so what a round 2 needs of it
(:data:`ROUND1_FIELDS`) is read back from the database by the importer; here it is just
a :class:`Round1Player`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from etbot.statsfile import MULTIKILLS, TAB_FIELDS, ParsedPlayer, ParsedRound

#: TAB fields 0–7: cumulative in round 2 (besides time played and bullets fired).
CUMULATIVE_TAB = TAB_FIELDS[0:8]
#: TAB fields already round-2-only in round 2 files, stored as written: 9–19, useful kills
#: and the multikills (FORMAT.md: "fields 9–19, 25 and 27+ already cover round 2 only";
#: 25, time dead, and the layout-dependent fields below are handled apart).
PLAIN_TAB = (
    *TAB_FIELDS[9:20],
    "useful_kills",
    *MULTIKILLS,
)
#: Layout-dependent fields: NULL (unknown) where the file's layout lacks them.
OPTIONAL_TAB = ("denied_playtime", "useless_kills", "full_selfkills", "repairs", "revives_given")
#: The five ints per weapon, in file order (also the order of a :data:`WeaponCounts`).
WEAPON_COUNTERS = ("hits", "shots", "kills", "deaths", "headshots")
#: Player totals that reveal a reset when they go down; never shots (the game decrements them).
WEAPON_TOTALS = ("hits", "kills", "deaths", "headshots")
#: The PlayerRound fields a round 2 reads from its round 1 (besides weapons and the counter).
ROUND1_FIELDS = (*WEAPON_TOTALS, "time_played_s", "bullets_fired", *CUMULATIVE_TAB)

#: The per-round values of a player, in the order :func:`player_values` returns them.
VALUE_FIELDS = (
    "kills",
    "deaths",
    "hits",
    "shots",
    "headshots",
    "time_played_s",
    "time_dead_s",
    "tank_meatshield",
    "bullets_fired",
    *CUMULATIVE_TAB,
    *PLAIN_TAB,
    *OPTIONAL_TAB,
)

#: One weapon's counters, in :data:`WEAPON_COUNTERS` order.
WeaponCounts = tuple[int, int, int, int, int]
#: One weapon row of a player: (weapon bit, hits, shots, kills, deaths, headshots).
WeaponRow = tuple[int, int, int, int, int, int]
_NO_WEAPON: WeaponCounts = (0, 0, 0, 0, 0)


class Round1Player(NamedTuple):
    """What a round 2 needs of one player's round 1 (as stored: round 1 is kept as written)."""

    #: The stored values in :data:`VALUE_FIELDS` order (a round 2 reads
    #: :data:`ROUND1_FIELDS` of them).
    values: tuple[Any, ...]
    weapons: dict[int, WeaponCounts]
    rounds_counter: int


class StoredRow(NamedTuple):
    """One player's values as the importer stores them (for a round 1: as written)."""

    #: The per-round columns in :data:`VALUE_FIELDS` order.
    values: tuple[Any, ...]
    #: Every weapon of the line, round 1 subtracted for a paired round 2 (zero rows too).
    weapons: tuple[WeaponRow, ...]
    #: Round 2 taken as written because the player's counters restarted (reconnect).
    reset: bool
    #: Round 2 taken as written because the player was not in round 1 (substitute).
    only_round2: bool


class PlayerRound2(NamedTuple):
    """:class:`StoredRow` by name (what tests and readers of one player compare)."""

    #: PlayerRound field names → values (the per-round columns; not round, player, name…).
    values: dict[str, Any]
    weapons: dict[int, WeaponCounts]
    reset: bool
    only_round2: bool


#: VALUE_FIELDS read as integers from the TAB fields (absent in an older layout: 0).
_INT_TAB = (*CUMULATIVE_TAB, *PLAIN_TAB)
_KILLS, _DEATHS, _HITS, _SHOTS, _HEADSHOTS = (
    VALUE_FIELDS.index(name) for name in ("kills", "deaths", "hits", "shots", "headshots")
)
_PLAYED = VALUE_FIELDS.index("time_played_s")
_DEAD = VALUE_FIELDS.index("time_dead_s")
_BULLETS = VALUE_FIELDS.index("bullets_fired")
_CUMULATIVE = tuple(VALUE_FIELDS.index(name) for name in CUMULATIVE_TAB)
#: What reveals a reset when it goes down (see :func:`is_reset`).
_RESET_SIGNS = tuple(
    VALUE_FIELDS.index(name) for name in (*CUMULATIVE_TAB, "time_played_s", *WEAPON_TOTALS)
)


def written_values(p: ParsedPlayer, layout: int) -> tuple[Any, ...]:
    """A player's values as written in the file, in :data:`VALUE_FIELDS` order."""
    tab = p.tab
    return (
        p.kills,
        p.deaths,
        p.hits,
        p.shots,
        p.headshots,
        round(float(tab["time_played_min"] or 0.0) * 60),
        round(float(tab["time_dead_min"] or 0.0) * 60),
        float(tab["tank_meatshield"] or 0.0),
        # Bullets fired is only meaningful in the current layout (FORMAT.md).
        tab["bullets_fired"] if layout == 38 else None,
        *[int(tab[name] or 0) for name in _INT_TAB],
        *[tab[name] for name in OPTIONAL_TAB],
    )


def stored_values(p: ParsedPlayer, layout: int) -> tuple[Any, ...]:
    """What is stored for a player of a round 1 or an orphan round 2 (what
    :func:`derive_row` gives without a pairing), in :data:`VALUE_FIELDS` order: the
    values as written, time dead capped at time played."""
    return _capped(written_values(p, layout))


def _capped(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Time dead capped at time played."""
    if values[_DEAD] > values[_PLAYED]:
        return (*values[:_DEAD], values[_PLAYED], *values[_DEAD + 1 :])
    return values


def stored_weapons(rows: Iterable[WeaponRow]) -> tuple[WeaponRow, ...]:
    """The weapon rows that are stored: those with a counter that is not zero."""
    return tuple([w for w in rows if w[1] or w[2] or w[3] or w[4] or w[5]])


def player_values(p: ParsedPlayer, layout: int) -> dict[str, Any]:
    """A player's values as written in the file, in PlayerRound field names."""
    return dict(zip(VALUE_FIELDS, written_values(p, layout), strict=True))


def weapon_values(p: ParsedPlayer) -> dict[int, WeaponCounts]:
    """A player's weapon counters as written, by weapon bit."""
    return {w.weapon: (w.hits, w.shots, w.kills, w.deaths, w.headshots) for w in p.weapons}


def is_reset(values: tuple[Any, ...], rounds: int, round1: Round1Player) -> bool:
    """Did this player's counters restart between round 1 and round 2 (reconnect)?

    ``values`` is round 2 as written (:data:`VALUE_FIELDS` order). Any cumulative TAB
    field, time played or weapon total (hits, kills, deaths, headshots — never shots,
    which the game can decrement) smaller in round 2, or a ``rounds`` counter that did
    not go up.
    """
    before = round1.values
    for i in _RESET_SIGNS:
        if values[i] < before[i]:
            return True
    return rounds <= round1.rounds_counter


def round2_only(
    values: tuple[Any, ...], weapons: Iterable[WeaponRow], round1: Round1Player
) -> tuple[tuple[Any, ...], tuple[WeaponRow, ...]]:
    """Subtract round 1 from a cumulative round 2 (weapons per weapon, floored at 0).

    The player's hits, shots, kills, deaths and headshots are the sums of the floored
    weapon differences, so they always agree with the weapon rows.
    """
    before_weapons = round1.weapons
    rows: list[WeaponRow] = []
    hits = shots = kills = deaths = headshots = 0
    for weapon, h, s, k, d, hs in weapons:
        bh, bs, bk, bd, bhs = before_weapons.get(weapon, _NO_WEAPON)
        # Floored at 0 (written out: max() was a tenth of an import's differential).
        dh = h - bh if h > bh else 0
        ds = s - bs if s > bs else 0
        dk = k - bk if k > bk else 0
        dd = d - bd if d > bd else 0
        dhs = hs - bhs if hs > bhs else 0
        rows.append((weapon, dh, ds, dk, dd, dhs))
        hits += dh
        shots += ds
        kills += dk
        deaths += dd
        headshots += dhs
    before = round1.values
    out = list(values)
    out[_KILLS] = kills
    out[_DEATHS] = deaths
    out[_HITS] = hits
    out[_SHOTS] = shots
    out[_HEADSHOTS] = headshots
    for i in _CUMULATIVE:
        out[i] = values[i] - before[i]
    out[_PLAYED] = values[_PLAYED] - before[_PLAYED]
    bullets, bullets_before = values[_BULLETS], before[_BULLETS]
    if bullets is not None and bullets_before is not None:
        out[_BULLETS] = bullets - bullets_before if bullets > bullets_before else 0
    else:
        out[_BULLETS] = None
    return tuple(out), tuple(rows)


def derive_row(
    values: tuple[Any, ...],
    weapons: Iterable[WeaponRow],
    rounds: int,
    *,
    paired: bool,
    round1: Round1Player | None,
) -> StoredRow:
    """The values to store for one player of a round, from the line as written
    (``values`` in :data:`VALUE_FIELDS` order, ``weapons`` rows, the ``rounds`` counter).

    ``paired`` is true for a round 2 with a round 1; ``round1`` is then this player's
    round 1 (None when the player was not in it). Round 1s and orphan round 2s
    (``paired=False``) are stored as written. Time dead is capped at time played.
    """
    reset = only_round2 = False
    rows = tuple(weapons)
    if paired:
        if round1 is None:
            only_round2 = True
        elif is_reset(values, rounds, round1):
            reset = True
        else:
            values, rows = round2_only(values, rows, round1)
    return StoredRow(_capped(values), rows, reset, only_round2)


def derive_player(
    p: ParsedPlayer, layout: int, *, paired: bool, round1: Round1Player | None
) -> PlayerRound2:
    """:func:`derive_row` for a parsed player, by name."""
    row = derive_row(
        written_values(p, layout),
        [(w.weapon, w.hits, w.shots, w.kills, w.deaths, w.headshots) for w in p.weapons],
        p.rounds,
        paired=paired,
        round1=round1,
    )
    return PlayerRound2(
        dict(zip(VALUE_FIELDS, row.values, strict=True)),
        {bit: tuple(counts) for bit, *counts in row.weapons},  # type: ignore[misc]
        row.reset,
        row.only_round2,
    )


def round1_player(p: ParsedPlayer, layout: int) -> Round1Player:
    """What a round 2 needs of a parsed round 1 player (what the importer stores and reads)."""
    return Round1Player(stored_values(p, layout), weapon_values(p), p.rounds)


def differential(round2: ParsedRound, round1: ParsedRound | None) -> dict[str, PlayerRound2]:
    """Every human player's stored values for ``round2`` paired with ``round1``, by GUID.

    ``round1=None`` is an orphan round 2 (stored as written). This is what the importer
    stores for a paired round 2; it reads round 1 back from the database instead of
    parsing it again, which gives the same values because round 1 is stored as written.
    """
    before: dict[str, Round1Player] = {}
    if round1 is not None:
        before = {p.guid: round1_player(p, round1.layout) for p in round1.players if not p.is_bot}
    return {
        p.guid: derive_player(
            p, round2.layout, paired=round1 is not None, round1=before.get(p.guid)
        )
        for p in round2.players
        if not p.is_bot
    }
