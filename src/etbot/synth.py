"""Deterministic generator of a large synthetic ET:Legacy stats history.

The files look like the ones the game server's Lua stats script writes (see FORMAT.md):
one ``YYYY-MM-DD-HHMMSS-<map>-round-<N>.txt`` file per finished round, a backslash
separated header, and one line per player with the weapon ints before a TAB and the
TAB fields after it.  Round 2 files are partly cumulative exactly like real ones.

Everything is driven by one ``random.Random(seed)``, so the same arguments always give
byte-identical files.  Only the standard library is used in the hot loops; strings are
built directly and written with one ``write_bytes`` per file.
"""

from __future__ import annotations

import heapq
import math
import random
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path

__all__ = [
    "DEFAULT_END",
    "TEST_CORPUS_SEED",
    "CorpusManifest",
    "HistorySummary",
    "generate_history",
    "generate_test_corpus",
]

#: End date used when ``end`` is None: fixed so that output never depends on "today".
DEFAULT_END = date(2025, 10, 31)

# --------------------------------------------------------------------------- constants

# Weapon bits (FORMAT.md).
KNIFE, KNIFE_KBAR, LUGER, COLT, MP40, THOMPSON, STEN, FG42 = range(8)
PANZERFAUST, BAZOOKA, FLAMETHROWER, GRENADE, MORTAR, MORTAR2, DYNAMITE = range(8, 15)
AIRSTRIKE, ARTILLERY, SATCHEL, GRENADELAUNCHER, LANDMINE, MG42, BROWNING = range(15, 22)
CARBINE, KAR98, GARAND, K43, MP34, SYRINGE = range(22, 28)

_EXPLOSIVE = frozenset(
    {
        PANZERFAUST,
        BAZOOKA,
        FLAMETHROWER,
        GRENADE,
        MORTAR,
        MORTAR2,
        DYNAMITE,
        AIRSTRIKE,
        ARTILLERY,
        SATCHEL,
        GRENADELAUNCHER,
        LANDMINE,
    }
)
_RIFLES = frozenset({CARBINE, KAR98, GARAND, K43})
_KNIVES = frozenset({KNIFE, KNIFE_KBAR})

# Classes: 0 medic, 1 engineer, 2 field ops, 3 covert ops, 4 soldier.
_CLASS_WEIGHTS = (0.40, 0.25, 0.15, 0.12, 0.08)
_CLASS_CUM = list(accumulate(_CLASS_WEIGHTS))
MEDIC, ENGINEER, FIELDOPS, COVERT, SOLDIER = range(5)

# (kind, weight) of kill weapons per class; kinds are resolved per team below.
_CLASS_KILLS: tuple[tuple[tuple[str, float], ...], ...] = (
    (("smg", 0.80), ("pistol", 0.06), ("nade", 0.10), ("knife", 0.02), ("scoped", 0.02)),
    (
        ("smg", 0.62),
        ("rifle", 0.12),
        ("riflenade", 0.06),
        ("pistol", 0.05),
        ("nade", 0.08),
        ("dyna", 0.02),
        ("mine", 0.04),
        ("knife", 0.01),
    ),
    (
        ("smg", 0.74),
        ("air", 0.08),
        ("arty", 0.08),
        ("pistol", 0.04),
        ("nade", 0.05),
        ("knife", 0.01),
    ),
    (
        ("sten", 0.35),
        ("fg42", 0.15),
        ("scoped", 0.25),
        ("pistol", 0.08),
        ("nade", 0.08),
        ("satchel", 0.05),
        ("knife", 0.04),
    ),
    (
        ("mg", 0.30),
        ("rocket", 0.25),
        ("smg", 0.25),
        ("mortar", 0.08),
        ("flamer", 0.04),
        ("nade", 0.06),
        ("pistol", 0.02),
    ),
)
_PRIMARY_KIND = ("smg", "smg", "smg", "sten", "mg")

# kind -> (axis bit, allies bit)
_KIND_BITS: dict[str, tuple[int, int]] = {
    "smg": (MP40, THOMPSON),
    "pistol": (LUGER, COLT),
    "knife": (KNIFE, KNIFE_KBAR),
    "rifle": (KAR98, CARBINE),
    "scoped": (K43, GARAND),
    "rocket": (PANZERFAUST, BAZOOKA),
    "mortar": (MORTAR, MORTAR2),
    "mg": (MG42, MG42),
    "nade": (GRENADE, GRENADE),
    "riflenade": (GRENADELAUNCHER, GRENADELAUNCHER),
    "dyna": (DYNAMITE, DYNAMITE),
    "mine": (LANDMINE, LANDMINE),
    "air": (AIRSTRIKE, AIRSTRIKE),
    "arty": (ARTILLERY, ARTILLERY),
    "satchel": (SATCHEL, SATCHEL),
    "sten": (STEN, STEN),
    "fg42": (FG42, FG42),
    "flamer": (FLAMETHROWER, FLAMETHROWER),
}


@dataclass(frozen=True)
class _WeaponTable:
    bits: tuple[int, ...]
    cum: tuple[float, ...]
    primary: int


def _build_tables() -> dict[tuple[int, int, bool], _WeaponTable]:
    """Kill-weapon tables per (team, class, uses MP34 instead of MP40)."""
    tables: dict[tuple[int, int, bool], _WeaponTable] = {}
    for team in (1, 2):
        for cls, kinds in enumerate(_CLASS_KILLS):
            for mp34 in (False, True):

                def bit(kind: str, team: int = team, mp34: bool = mp34) -> int:
                    b = _KIND_BITS[kind][team - 1]
                    return MP34 if (b == MP40 and mp34) else b

                bits = tuple(bit(k) for k, _ in kinds)
                cum = tuple(accumulate(w for _, w in kinds))
                tables[(team, cls, mp34)] = _WeaponTable(bits, cum, bit(_PRIMARY_KIND[cls]))
    return tables


_TABLES = _build_tables()

# Maps: (name, time limit seconds, defender team, popularity).
_MAPS: tuple[tuple[str, int, int, float], ...] = (
    ("supply", 720, 1, 10.0),
    ("etl_adlernest", 600, 1, 12.0),
    ("te_escape2", 720, 1, 11.0),
    ("etl_sp_delivery", 720, 1, 8.0),
    ("sw_goldrush_te", 720, 1, 8.0),
    ("erdenberg_t2", 720, 1, 5.0),
    ("et_brewdog", 600, 1, 6.0),
    ("etl_frostbite", 600, 1, 7.0),
    ("braundorf_b4", 600, 1, 4.0),
    ("bremen_b3", 720, 1, 3.0),
    ("etl_ice", 600, 2, 3.0),
    ("missile_b3", 900, 1, 2.0),
    ("radar", 900, 1, 4.0),
    ("reactor_final", 900, 1, 2.0),
    ("decay_sw", 600, 1, 2.5),
    ("et_beach", 900, 1, 2.0),
)
_MAP_CUM = list(accumulate(m[3] for m in _MAPS))

_SERVER_NAMES = (
    "^1ET^7:^3Legacy ^7Stopwatch ^1#1",
    "^4Nordic^7.^4Frag^7Zone ^3| ^7SW",
    "^2Green^7Lantern ^2Public",
    "^5Old^7School ^5Stopwatch",
    "^6Night^7Owls ^6#2",
    "^3Sunday^7League",
)
# Fixed session weekdays (Mon=0) of the first servers; more servers draw theirs.
_SERVER_DAYS = ((1, 2, 3, 6), (0, 1, 3, 4), (2, 4, 5, 6))

_SHARED_NAMES = (
    "^7ETPlayer",
    "Player",
    "noob",
    "^1Rambo",
    "Sniper",
    "newbie",
    "^2Medic",
    "UnnamedPlayer",
    "^4Allies",
    "Nameless",
    "^3Ghost",
    "^7aimbot",
)
_SYL = [
    "ka",
    "ro",
    "mi",
    "zu",
    "ne",
    "xa",
    "tor",
    "vik",
    "sn",
    "ip",
    "lu",
    "dr",
    "ag",
    "on",
    "fi",
    "sh",
    "el",
    "ba",
    "ze",
    "qu",
    "ok",
    "rin",
    "tam",
    "dex",
    "mo",
    "ly",
    "gr",
    "im",
    "py",
    "so",
    "ul",
    "ex",
    "ar",
    "th",
    "ki",
    "wo",
    "ta",
    "ve",
    "na",
    "ry",
    "jo",
    "pe",
    "hu",
    "nix",
    "zor",
    "kel",
    "vin",
    "ash",
]
_PREFIX = ("", "", "", "", "", "", "mr", "xX", "the", "lil", "big", "dr", "sir", ".", "-", "oo")
_SUFFIX = ("", "", "", "", "", "", "x", "Xx", "99", "1337", "_", "!", "o", "z", "2k", "88", "^")
_COLOURS = "0123456789012345677777aabbcdefghjkmnopqrstuvwxyz:;<=>?@"
_EXTRA_CHARS = ("ä", "ø", "é", "™", "\udce9", "\udcf6", "\udcdf")  # surrogates = raw bytes

_CUM_IDX = (0, 1, 2, 3, 4, 5, 6, 7, 20, 22)  # TAB fields that are cumulative in round 2
_LAYOUT_ERAS = ((0.08, 33), (0.16, 36), (0.24, 37))  # fraction of history -> layout


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class HistorySummary:
    """What :func:`generate_history` wrote.

    ``files`` == ``rounds`` (one file per round, orphan round 2s included); ``maps`` counts
    stopwatch pairs started, ``player_rounds`` the player lines written, ``players`` the
    distinct GUIDs that appear in at least one file.  ``weekdays`` maps each server folder
    ("" when there is one server) to its fixed session weekdays (Monday = 0).
    """

    files: int
    rounds: int
    player_rounds: int
    players: int
    first: datetime | None
    last: datetime | None
    sessions: int = 0
    maps: int = 0
    orphans: int = 0
    resets: int = 0
    substitutes: int = 0
    weekdays: dict[str, tuple[int, ...]] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _tenths(x: int) -> str:
    return f"{x // 10}.{x % 10}"


def _mss(secs: int) -> str:
    return f"{secs // 60}:{secs % 60:02d}"


class _Stats:
    """One player's values for one round: weapon groups and 38 TAB values.

    TAB values 8, 22, 23 and 25 are held in tenths; 21, 24 and 26 are computed when the
    line is written.
    """

    __slots__ = ("tab", "w")

    def __init__(self, w: dict[int, list[int]], tab: list[int]) -> None:
        self.w = w
        self.tab = tab

    def merged(self, later: _Stats) -> _Stats:
        """Round 2 as the script writes it: ``later`` plus this round for cumulative values."""
        w = {b: g[:] for b, g in self.w.items()}
        for b, g in later.w.items():
            if b in w:
                h = w[b]
                h[0] += g[0]
                h[1] += g[1]
                h[2] += g[2]
                h[3] += g[3]
                h[4] += g[4]
            else:
                w[b] = g[:]
        tab = later.tab[:]
        t1 = self.tab
        for i in _CUM_IDX:
            tab[i] += t1[i]
        return _Stats(w, tab)

    def spectator(self) -> _Stats:
        """Round 2 line of a player who watched round 2: round 1 totals, nothing new."""
        tab = [0] * 38
        for i in _CUM_IDX:
            tab[i] = self.tab[i]
        tab[8] = 0
        return _Stats({b: g[:] for b, g in self.w.items()}, tab)

    def totals(self) -> tuple[int, ...]:
        """(hits, kills, deaths, headshots) summed over weapons."""
        h = k = d = s = 0
        for g in self.w.values():
            h += g[0]
            k += g[2]
            d += g[3]
            s += g[4]
        return h, k, d, s


def _format_line(guid: str, name: str, rounds: int, team: int, st: _Stats, layout: int) -> str:
    """One player line exactly like the script writes it."""
    w = st.w
    mask = 0
    parts: list[str] = []
    kills = deaths = 0
    for b in sorted(w):
        g = w[b]
        if not (g[0] or g[1] or g[2] or g[3] or g[4]):
            continue
        mask |= 1 << b
        kills += g[2]
        deaths += g[3]
        parts.append(f"{g[0]} {g[1]} {g[2]} {g[3]} {g[4]}")
    t = st.tab
    f = [str(x) for x in t]
    tp = t[22]
    f[8] = _tenths(t[8])
    f[21] = "0.0"
    f[22] = _tenths(tp)
    f[23] = _tenths(t[23])
    f[24] = f"{100.0 * t[25] / tp:.1f}" if tp else "0.0"
    f[25] = _tenths(t[25])
    f[26] = f"{kills / deaths if deaths else float(kills):.1f}"
    if layout == 38:
        tabs = "\t".join(f)
    elif layout == 33:
        tabs = "\t".join(f[:28] + f[29:34])
    else:
        tabs = "\t".join(f[:layout])
    weap = " ".join(parts)
    return f"{guid}\\{name}\\{rounds}\\{team}\\{mask} {weap} \t{tabs}\n"


# --------------------------------------------------------------------------- generator


class _Generator:
    """Holds the population and the running counters of one generation run."""

    def __init__(
        self, out_dir: Path, players: int, start: date, end: date, servers: int, seed: int
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 seeded test data, not a secret
        self.r = self.rng.random
        self.out_dir = out_dir
        self.start = start
        self.end = end
        self.span = max(1, (end - start).days)
        self.servers = servers
        self.files = 0
        self.player_rounds = 0
        self.sessions = 0
        self.maps = 0
        self.orphans = 0
        self.resets = 0
        self.subs = 0
        self._sub_taken = False
        # Knobs the small test corpus changes (defaults: the long benchmark history).
        self.side_sizes: tuple[int, ...] = (7, 8, 8, 9, 9, 10, 10, 10, 11, 11, 12, 12)
        self.min_roster = 6
        # Features to produce at the next map where they fit (test corpus only; empty for
        # generate_history, whose output must not change). Checking this set draws no
        # random numbers, so a run without forced features is byte-identical to before.
        self.force: set[str] = set()
        # Where the special cases ended up, as (file name, GUID) or file names; recorded
        # only where a reader can see them (not in a map whose round 1 is missing).
        self.events: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        self.first: datetime | None = None
        self.last: datetime | None = None
        self._make_servers()
        self._make_players(players)

    # ------------------------------------------------------------------ setup

    def _make_servers(self) -> None:
        rng = self.rng
        self.server_names: list[str] = []
        self.server_dirs: list[Path] = []
        self.server_keys: list[str] = []
        self.server_days: list[tuple[int, ...]] = []
        self.server_shift: list[float] = []
        for i in range(self.servers):
            name = _SERVER_NAMES[i % len(_SERVER_NAMES)]
            if i >= len(_SERVER_NAMES):
                name += f" ^7#{i + 1}"
            key = "" if self.servers == 1 else f"server-{i + 1}"
            days = (
                _SERVER_DAYS[i]
                if i < len(_SERVER_DAYS)
                else tuple(sorted(rng.sample(range(7), rng.choice((3, 4)))))
            )
            self.server_names.append(name)
            self.server_keys.append(key)
            self.server_dirs.append(self.out_dir / key if key else self.out_dir)
            self.server_days.append(tuple(sorted(days)))
            self.server_shift.append((rng.random() - 0.5) * 0.04)

    def _make_name(self) -> str:
        """A fresh base name (no colours)."""
        r = self.r
        rng = self.rng
        core = "".join(rng.choice(_SYL) for _ in range(1 + int(r() * 3)))
        if r() < 0.5:
            core = core.capitalize()
        elif r() < 0.15:
            core = core.upper()
        name = rng.choice(_PREFIX) + core + rng.choice(_SUFFIX)
        if r() < 0.04:
            name = name + " " + rng.choice(_SYL)
        if r() < 0.03:
            i = int(r() * len(name))
            name = name[:i] + rng.choice(_EXTRA_CHARS) + name[i:]
        if name.endswith("^"):
            name = name[:-1] + "x"
        return name

    def _colourize(self, base: str) -> str:
        """Add colour codes the way players do."""
        r = self.r
        rng = self.rng
        x = r()
        if x < 0.30 or not base:
            return base
        if x < 0.55:
            return "^" + rng.choice(_COLOURS) + base
        if x < 0.75:
            c1, c2 = rng.choice(_COLOURS), rng.choice(_COLOURS)
            out = []
            for i, ch in enumerate(base):
                if i % 2 == 0 or r() < 0.3:
                    out.append("^" + (c1 if (i // 2) % 2 == 0 else c2))
                out.append(ch)
            return "".join(out)
        cut = 1 + int(r() * max(1, len(base) - 1))
        return "^" + rng.choice(_COLOURS) + base[:cut] + "^7" + base[cut:]

    def _make_players(self, n: int) -> None:
        rng = self.rng
        r = self.r
        span = self.span
        start_ord = self.start.toordinal()
        end_ord = self.end.toordinal()
        clans = []
        for _ in range(max(4, n // 60)):
            tag = "".join(
                rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefxyz") for _ in range(2 + int(r() * 3))
            )
            o, c = rng.choice(
                (("[", "]"), ("=", "="), ("|", "|"), ("<", ">"), ("", "."), ("{", "}"))
            )
            col = rng.choice(_COLOURS)
            clans.append(f"^{col}{o}^7{tag}^{col}{c}^7")
        seen: set[str] = set()
        self.guid: list[str] = []
        self.skill: list[float] = []
        self.weight: list[float] = []
        self.pref: list[int] = []
        self.mp34: list[bool] = []
        self.home: list[int] = []
        self.join: list[int] = []
        self.leave: list[int] = []
        self.alias_days: list[list[int]] = []
        self.alias_names: list[list[str]] = []
        for _ in range(n):
            while True:
                g = f"{rng.getrandbits(32):08X}"
                if g not in seen and not g.startswith("0MN"):
                    seen.add(g)
                    break
            self.guid.append(g)
            self.skill.append(math.exp(rng.gauss(0.0, 0.33)))
            w = min(60.0, rng.paretovariate(1.15))
            self.weight.append(w)
            self.pref.append(bisect_right(_CLASS_CUM, r() * _CLASS_CUM[-1]))
            self.mp34.append(r() < 0.1)
            self.home.append(-1 if (self.servers > 1 and r() < 0.15) else int(r() * self.servers))
            # Active window: log-uniform life span, longer for regulars.
            life = math.exp(rng.uniform(math.log(14), math.log(5 * 365.25)))
            life *= 1.0 + math.log(w)
            j = start_ord + int((r() * 1.25 - 0.25) * span)
            j = max(start_ord, min(j, end_ord - 7))
            lv = min(end_ord, j + int(life))
            self.join.append(j)
            self.leave.append(lv)
            # Names over time.
            base = self._make_name() if r() > 0.02 else rng.choice(_SHARED_NAMES)
            clan = rng.choice(clans) if r() < 0.25 else ""
            days = [j]
            names = [clan + self._colourize(base)]
            changes = int(rng.expovariate(1.0) * (lv - j) / 100.0 * (0.3 + r() * 1.7) + r() * 0.7)
            for d in sorted(j + 1 + int(r() * max(1, lv - j)) for _ in range(changes)):
                x = r()
                if x < 0.40:
                    pass  # recolour only
                elif x < 0.62:
                    clan = "" if clan and r() < 0.5 else rng.choice(clans)
                elif x < 0.90:
                    base = self._make_name()
                else:
                    base = rng.choice(_SHARED_NAMES)
                nm = clan + self._colourize(base)
                if nm != names[-1]:
                    days.append(d)
                    names.append(nm)
            self.alias_days.append(days)
            self.alias_names.append(names)
        self.appeared = [False] * n
        order = sorted(range(n), key=lambda p: (self.join[p], p))
        self.pending: list[int] = order
        self._elig_cache: dict[tuple[int, int], list[int]] = {}

    # ------------------------------------------------------------------ lookups

    def name_of(self, p: int, day: int) -> str:
        i = bisect_right(self.alias_days[p], day) - 1
        return self.alias_names[p][max(0, i)]

    def eligible(self, server: int, day: int) -> list[int]:
        """Players active on ``day`` (cached per week) who play on ``server``."""
        key = (server, day // 7)
        lst = self._elig_cache.get(key)
        if lst is None:
            d0 = (day // 7) * 7
            lst = [
                p
                for p in range(len(self.guid))
                if self.join[p] <= d0 + 6
                and self.leave[p] >= d0
                and (self.home[p] == server or self.home[p] == -1)
            ]
            if len(self._elig_cache) > 64:
                self._elig_cache.clear()
            self._elig_cache[key] = lst
        return lst

    def layout_for(self, server: int, when: datetime) -> int:
        pos = (when.date() - self.start).days / self.span - self.server_shift[server]
        for limit, layout in _LAYOUT_ERAS:
            if pos < limit:
                return layout
        return 38

    # ------------------------------------------------------------------ simulation

    def _pois(self, lam: float) -> int:
        if lam <= 0.0:
            return 0
        if lam < 15.0:
            limit = math.exp(-lam)
            k = 0
            prod = self.r()
            while prod > limit:
                k += 1
                prod *= self.r()
            return k
        return max(0, int(self.rng.gauss(lam, math.sqrt(lam)) + 0.5))

    def simulate(
        self,
        sides: tuple[list[int], list[int]],
        t10: dict[int, int],
        cls: dict[int, int],
        layout: int,
    ) -> dict[int, _Stats]:
        """Play one round: ``sides[0]`` is team 1 (Axis), ``sides[1]`` team 2 (Allies)."""
        r = self.r
        choices = self.rng.choices
        skill = self.skill
        weapons: dict[int, dict[int, list[int]]] = {}
        kills_of: dict[int, int] = {}
        for p in sides[0] + sides[1]:
            weapons[p] = {}
        for ti in (0, 1):
            team = ti + 1
            own = sides[ti]
            enemies = sides[1 - ti]
            vcum = list(accumulate(t10[e] / skill[e] + 0.01 for e in enemies))
            enemy_skill = sum(skill[e] for e in enemies) / len(enemies)
            for p in own:
                lam = 0.12 * t10[p] * skill[p] / math.sqrt(enemy_skill) * (0.7 + 0.6 * r())
                k = self._pois(lam)
                kills_of[p] = k
                table = _TABLES[(team, cls[p], self.mp34[p])]
                wp = weapons[p]
                if k:
                    for b, v in zip(
                        choices(table.bits, cum_weights=table.cum, k=k),
                        choices(enemies, cum_weights=vcum, k=k),
                        strict=True,
                    ):
                        g = wp.get(b)
                        if g is None:
                            wp[b] = g = [0, 0, 0, 0, 0]
                        g[2] += 1
                        wv = weapons[v]
                        h = wv.get(b)
                        if h is None:
                            wv[b] = h = [0, 0, 0, 0, 0]
                        h[3] += 1
                prim = table.primary
                if prim not in wp:
                    wp[prim] = [0, 0, 0, 0, 0]
        out: dict[int, _Stats] = {}
        for ti in (0, 1):
            team = ti + 1
            for p in sides[ti]:
                out[p] = self._fill(p, team, cls[p], t10[p], weapons[p], layout)
        return out

    def _fill(
        self, p: int, team: int, c: int, tp: int, wp: dict[int, list[int]], layout: int
    ) -> _Stats:
        """Turn kills/deaths into hits, shots, head hits and the TAB fields."""
        r = self.r
        sk = self.skill[p]
        tm = tp / 10.0
        acc = min(0.62, max(0.12, 0.30 * math.sqrt(sk) * (0.85 + 0.3 * r())))
        hsr = min(0.40, max(0.02, 0.11 * sk**0.7 * (0.7 + 0.6 * r())))
        kills = deaths = hits = head = shots = 0
        expl_kills = 0
        for b, g in wp.items():
            k = g[2]
            kills += k
            deaths += g[3]
            if k == 0 and g[1] == 0 and b != _TABLES[(team, c, self.mp34[p])].primary:
                continue  # only a weapon this player died to
            if b in _EXPLOSIVE:
                g[0] = int(k * (1.0 + 2.0 * r()) + r() * 1.5)
                g[1] = max(1, int(k * (1.0 + 1.5 * r()) + tm * 0.15 * r()))
                expl_kills += k
            elif b in _KNIVES:
                g[0] = k + int(r() * 2.0)
                g[1] = g[0] + int(r() * 4.0)
            elif b in _RIFLES:
                g[0] = int(k * (1.4 + 1.4 * r()) + tm * 0.3 * r())
                g[1] = max(g[0], int(g[0] / min(0.8, acc * 1.5)))
                g[4] = int(g[0] * hsr * 1.8)
            else:
                g[0] = int(k * (6.0 + 4.0 * r()) + tm * (0.5 + 2.5 * r()))
                g[1] = max(g[0], 1, int(g[0] / acc + r() * 3.0))
                g[4] = int(g[0] * hsr)
            hits += g[0]
            head += g[4]
            shots += g[1]
        # Grenades: most players throw some.
        if r() < 0.85:
            g = wp.setdefault(GRENADE, [0, 0, 0, 0, 0])
            extra = int(tm * 0.4 * r())
            g[1] += extra
            g[0] += int(extra * 0.6 * r())
            shots += extra
        revives = 0
        if c == MEDIC:
            revives = int(tm * (0.1 + 0.8 * r()))
            if revives or r() < 0.5:
                g = wp.setdefault(SYRINGE, [0, 0, 0, 0, 0])
                g[0] += revives
                g[1] += revives + int(r() * 2.0)
                shots += g[1]
        elif r() < 0.04:
            revives = 1
            g = wp.setdefault(SYRINGE, [0, 0, 0, 0, 0])
            g[0] += 1
            g[1] += 1
            shots += 1
        planted = defused = repairs = 0
        if c == ENGINEER:
            planted = int(r() * 2.3)
            defused = 1 if r() < 0.12 else 0
            repairs = int(r() * 4.0)
            if planted:
                g = wp.setdefault(DYNAMITE, [0, 0, 0, 0, 0])
                g[1] += planted
                shots += planted
        elif r() < 0.03:
            repairs = 1
        dead10 = int(deaths * (1.5 + 3.0 * r()))
        if dead10 > tp and r() < 0.9:
            dead10 = tp
        tab = [0] * 38
        tab[0] = int(hits * (16.0 + 7.0 * r()) + expl_kills * (60 + 60 * r()) + tm * 20 * r())
        tab[1] = int(deaths * (120 + 70 * r()) + tm * (10 + 50 * r()))
        if r() > 0.35:
            tab[2] = int(tm * 25 * r() + 6)
        if r() > 0.35:
            tab[3] = int(tm * 25 * r() + 6)
        tab[4] = int(kills * (0.1 + 0.4 * r()) + r())
        tab[5] = int(tm * 0.45 * r() + r() * 0.9)
        tab[6] = 1 if r() < 0.15 + tm * 0.01 else 0
        tab[7] = 1 if (tab[6] and r() < 0.4) else 0
        ratio = 100.0 * dead10 / tp if tp else 0.0
        tab[8] = max(400, min(999, int((100.0 - 0.45 * ratio + 6.0 * (r() - 0.5)) * 10)))
        tab[9] = int(kills * (2 + 2 * r()) + revives * 4 + planted * 10 + tm * (1 + 4 * r()))
        tab[10] = int(kills * (0.15 + 0.35 * r())) if (kills >= 3 and r() < 0.6) else 0
        tab[11] = int(deaths * (0.15 + 0.35 * r())) if r() < 0.8 else 0
        tab[12] = int(kills * (0.1 + 0.5 * r()) + r())
        tab[13] = int(kills * 0.25 * r() + r() * 0.6)
        tab[14] = min(kills, head, int(kills * (0.1 + 0.3 * r()) * hsr / 0.11 + r()))
        tab[17] = planted
        tab[18] = defused
        tab[19] = min(deaths, int(deaths * 0.5 * r() + r() * 0.5))
        tab[20] = shots if layout == 38 else int(tp * (90 + 210 * r()))
        tab[22] = tp
        tab[23] = int(5 + 48 * r()) if r() < 0.08 else 0
        tab[25] = dead10
        tab[27] = min(kills, int(kills * (0.2 + 0.4 * r()) + r()))
        tab[28] = int(kills * (4 + 10 * r()))
        tab[29] = int(kills * 0.15 * r() + r() * 0.5)
        tab[30] = 1 if (kills >= 6 and r() < 0.05) else 0
        tab[31] = 1 if (kills >= 10 and r() < 0.01) else 0
        tab[34] = int(kills * (0.05 + 0.4 * r()))
        tab[35] = 1 if r() < 0.06 else 0
        tab[36] = repairs
        tab[37] = revives
        return _Stats(wp, tab)

    # ------------------------------------------------------------------ forced cases

    def _take(self, feature: str) -> bool:
        """Consume a forced ``feature`` (True when it was pending)."""
        if feature in self.force:
            self.force.discard(feature)
            return True
        return False

    def _wants(self, feature: str, orphan: bool) -> bool:
        """Whether a forced ``feature`` should be tried in this map (consumed on success)."""
        return not orphan and feature in self.force

    def _record(
        self, r2_name: str, r1_name: str, midnight: bool, sub_in: int, spectator: int, reset: int
    ) -> None:
        """Note where this map's special cases are (and consume the forced ones placed)."""
        events = self.events
        if not r1_name:
            events["orphan"].append((r2_name,))
            return
        events["pair"].append((r1_name, r2_name))
        if midnight:
            events["midnight"].append((r1_name, r2_name))
        for feature, p in (("substitute", sub_in), ("spectator", spectator), ("reset", reset)):
            if p >= 0:
                events[feature].append((r2_name, self.guid[p]))
                self.force.discard(feature)

    # ------------------------------------------------------------------ output

    def _write(self, server: int, when: datetime, mapname: str, n: int, text: str) -> str:
        """Write one round file; return its name."""
        name = f"{when:%Y-%m-%d-%H%M%S}-{mapname}-round-{n}.txt"
        path = self.server_dirs[server] / name
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        self.files += 1
        if self.first is None or when < self.first:
            self.first = when
        if self.last is None or when > self.last:
            self.last = when
        return name

    # ------------------------------------------------------------------ sessions

    def run(self, progress: Callable[[int], None] | None) -> None:
        for d in self.server_dirs:
            d.mkdir(parents=True, exist_ok=True)
        r = self.r
        day = self.start
        while day <= self.end:
            used: set[int] = set()
            for s in range(self.servers):
                fixed = day.weekday() in self.server_days[s]
                if fixed:
                    if r() > 0.95:
                        continue
                    start = datetime(day.year, day.month, day.day, 20) + timedelta(
                        seconds=int(r() * 5400)
                    )
                    n_maps = max(4, min(18, int(self.rng.gauss(12.0, 2.5) + 0.5)))
                else:
                    if r() > 0.2:
                        continue
                    start = datetime(day.year, day.month, day.day, 15) + timedelta(
                        seconds=int(r() * 6.5 * 3600)
                    )
                    n_maps = max(2, min(10, int(self.rng.gauss(5.5, 2.0) + 0.5)))
                if self._session(s, start, n_maps, fixed, used):
                    self.sessions += 1
                    if progress is not None:
                        progress(self.files)
            day += timedelta(days=1)

    def _pick_roster(self, s: int, today: int, used: set[int]) -> list[int]:
        """Order of arrival for a session: forced newcomers first, then weighted sampling."""
        r = self.r
        forced: list[int] = []
        keep: list[int] = []
        pending = self.pending
        i = 0
        while i < len(pending) and i < 80 and self.join[pending[i]] <= today:
            p = pending[i]
            i += 1
            if self.appeared[p]:
                continue
            if len(forced) < 4 and p not in used and (self.home[p] == s or self.home[p] == -1):
                forced.append(p)
            else:
                keep.append(p)
        self.pending = keep + pending[i:]
        weight = self.weight
        cand = [p for p in self.eligible(s, today) if p not in used]
        keyed = heapq.nlargest(90, ((r() ** (1.0 / weight[p]), p) for p in cand))
        order = forced + [p for _, p in keyed if p not in forced]
        return order

    def _session(self, s: int, start: datetime, n_maps: int, fixed: bool, used: set[int]) -> bool:
        rng = self.rng
        r = self.r
        today = start.toordinal()
        queue = self._pick_roster(s, today, used)
        n_side = rng.choice(self.side_sizes)
        if len(queue) < self.min_roster:
            return False
        n_side = min(n_side, len(queue) // 2)
        qi = 2 * n_side
        roster = queue[:qi]
        config = "legacy3" if (fixed or r() < 0.7) else "defaultpublic"
        t = start
        prev_map = -1
        played: list[int] = []
        for _ in range(n_maps):
            # Roster churn between maps.
            roster = [p for p in roster if r() > 0.07]
            target = 2 * n_side + rng.choice((-1, 0, 0, 0, 1))
            while len(roster) < target and qi < len(queue):
                roster.append(queue[qi])
                qi += 1
            if len(roster) < self.min_roster:
                break
            # Map choice: a rare immediate replay, else a map not yet played tonight.
            replay = prev_map >= 0 and r() < 0.04
            if not replay:
                for _tries in range(20):
                    m = bisect_right(_MAP_CUM, r() * _MAP_CUM[-1])
                    if m not in played:
                        break
                played.append(m)
                prev_map = m
            mapname, limit, defender, _pop = _MAPS[prev_map]
            base_counter = 1 if replay else 0
            t = self._play_map(
                s, t, roster, mapname, limit, defender, config, base_counter, queue, qi
            )
            if self._sub_taken:
                qi += 1
            used.update(roster)
            t += timedelta(seconds=15 + int(r() * 45))
            if r() < 0.03:
                t += timedelta(seconds=180 + int(r() * 540))
        return True

    def _play_map(
        self,
        s: int,
        t: datetime,
        roster: list[int],
        mapname: str,
        limit: int,
        defender: int,
        config: str,
        counter: int,
        queue: list[int],
        qi: int,
    ) -> datetime:
        """Play a stopwatch pair, write its files and return the round 2 end time."""
        rng = self.rng
        r = self.r
        skill = self.skill
        self.maps += 1
        self._sub_taken = False
        order = roster[:]
        rng.shuffle(order)
        half = (len(order) + 1) // 2
        group_a, group_b = order[:half], order[half:]
        cls: dict[int, int] = {}
        pref = self.pref
        for p in order:
            cls[p] = pref[p] if r() < 0.75 else bisect_right(_CLASS_CUM, r() * _CLASS_CUM[-1])
        attacker = 3 - defender
        day_ord = t.toordinal()
        names = {p: self.name_of(p, day_ord) for p in order}

        # ---- round 1: group A is Axis (team 1), group B Allies (team 2).
        t += timedelta(seconds=10 + int(r() * 30))
        layout = self.layout_for(s, t)
        att_grp = group_a if attacker == 1 else group_b
        def_grp = group_b if attacker == 1 else group_a
        edge = sum(skill[p] for p in att_grp) / len(att_grp) - sum(skill[p] for p in def_grp) / len(
            def_grp
        )
        # A forced draw: both defences hold the full time (only ever forced in test corpora,
        # so the random sequence of a plain history is unchanged).
        draw = "draw" in self.force
        if not draw and r() < min(0.97, max(0.3, 0.8 + 0.8 * edge)):
            secs1 = int(limit * (0.2 + 0.6 * r()))
            winner1 = attacker
        else:
            secs1 = limit
            winner1 = defender
        t1_end = t + timedelta(seconds=secs1)
        full1 = secs1 // 6
        t10 = {p: (full1 if r() > 0.08 else max(1, int(full1 * (0.3 + 0.65 * r())))) for p in order}
        st1 = self.simulate((group_a, group_b), t10, cls, layout)
        orphan = r() < 0.004 or self._take("orphan")
        r1_name = ""
        if not orphan:
            lines = [
                f"{self.server_names[s]}\\{mapname}\\{config}\\1\\{defender}\\{winner1}"
                f"\\{_mss(limit)}\\{_mss(secs1)}\n"
            ]
            lines += [
                _format_line(self.guid[p], names[p], counter, 1 if i < half else 2, st1[p], layout)
                for i, p in enumerate(order)
            ]
            body = lines[1:]
            rng.shuffle(body)
            r1_name = self._write(s, t1_end, mapname, 1, lines[0] + "".join(body))
            self.player_rounds += len(body)
            for p in order:
                self.appeared[p] = True
        else:
            self.orphans += 1

        # ---- round 2: sides swap; group A is now Allies (team 2).
        a2 = group_a[:]
        b2 = group_b[:]
        # Forced special cases wait for a map with a round 1 file: in an orphan round 2
        # nobody can tell a substitute, a spectator or a reset from the others.
        sub_in = -1
        if (r() < 0.04 or self._wants("substitute", orphan)) and qi < len(queue):
            newcomer = queue[qi]
            if newcomer not in names:
                self._sub_taken = True
                self.subs += 1
                grp = a2 if r() < 0.5 else b2
                leaver = grp[int(r() * len(grp))]
                grp[grp.index(leaver)] = newcomer
                roster.remove(leaver)
                roster.append(newcomer)
                sub_in = newcomer
                names[newcomer] = self.name_of(newcomer, day_ord)
                cls[newcomer] = pref[newcomer]
        spectator = -1
        if r() < 0.004 or self._wants("spectator", orphan):
            grp = a2 if len(a2) >= len(b2) else b2
            if len(grp) > 3:
                spectator = grp.pop(int(r() * len(grp)))
                if spectator == sub_in:
                    grp.append(spectator)
                    spectator = -1
        reset = -1
        if r() < 0.012 or self._wants("reset", orphan):
            cand = [p for p in a2 + b2 if p != sub_in and t10.get(p, 0) == full1 and full1 >= 12]
            if cand:
                reset = cand[int(r() * len(cand))]
        t2_start = t1_end + timedelta(seconds=30 + int(r() * 40))
        layout2 = self.layout_for(s, t2_start)
        att2 = b2 if attacker == 1 else a2  # group playing team `attacker` in round 2
        def2 = a2 if attacker == 1 else b2
        edge2 = sum(skill[p] for p in att2) / len(att2) - sum(skill[p] for p in def2) / len(def2)
        want = int(limit * (0.22 + 0.75 * r()) * (1.0 - 0.6 * edge2))
        if draw:
            want = limit
        if want < secs1:
            secs2 = max(30, want)
            winner2 = attacker
        else:
            secs2 = secs1
            winner2 = defender
        t2_end = t2_start + timedelta(seconds=secs2)
        full2 = secs2 // 6
        t10b: dict[int, int] = {}
        for p in a2 + b2:
            if p == sub_in:
                t10b[p] = max(1, int(full2 * (0.4 + 0.6 * r())))
            elif p == reset:
                t10b[p] = max(1, int(full2 * (0.2 + 0.4 * r())))
            else:
                t10b[p] = full2 if r() > 0.04 else max(1, int(full2 * (0.5 + 0.5 * r())))
        # Team 1 (Axis) in round 2 is group B.
        st2 = self.simulate((b2, a2), t10b, cls, layout2)
        if reset >= 0:
            a = st1[reset]
            b = st2[reset]
            ta, tb = a.totals(), b.totals()
            if any(b.tab[i] < a.tab[i] for i in (0, 1, 2, 3, 4, 5, 6, 7, 22)) or any(
                y < x for x, y in zip(ta, tb, strict=True)
            ):
                self.resets += 1
            else:
                reset = -1
        r2_time = _mss(secs2)
        if layout2 == 33 and winner2 == defender and r() < 0.5:
            r2_time = "0:00"  # old script versions wrote 0:00 here
        body = []
        for team, grp in ((1, b2), (2, a2)):
            for p in grp:
                st = st2[p] if p in (sub_in, reset) else st1[p].merged(st2[p])
                rounds = counter if p == reset else counter + 1
                body.append(_format_line(self.guid[p], names[p], rounds, team, st, layout2))
        if spectator >= 0:
            body.append(
                _format_line(
                    self.guid[spectator],
                    names[spectator],
                    counter + 1,
                    3,
                    st1[spectator].spectator(),
                    layout2,
                )
            )
        rng.shuffle(body)
        header = (
            f"{self.server_names[s]}\\{mapname}\\{config}\\2\\{defender}\\{winner2}"
            f"\\{_mss(secs1)}\\{r2_time}\n"
        )
        midnight = t1_end.date() != t2_end.date()
        if (
            "header_only" in self.force
            and not orphan
            and not midnight
            and sub_in < 0
            and spectator < 0
            and reset < 0
        ):
            # The script died after the header: a file the importer must reject. Only in
            # a map with nothing else to show, so no forced case disappears with it.
            self.force.discard("header_only")
            body = []
            name = self._write(s, t2_end, mapname, 2, header)
            self.events["header_only"].append((name,))
        else:
            name = self._write(s, t2_end, mapname, 2, header + "".join(body))
            self._record(name, r1_name, midnight, sub_in, spectator, reset)
            if draw and r1_name and winner1 == defender and winner2 == defender:
                self.events["draw"].append((r1_name, name))
                self.force.discard("draw")
        self.player_rounds += len(body)
        for p in a2 + b2:
            self.appeared[p] = True
        return t2_end


# --------------------------------------------------------------------------- API


def generate_history(
    out_dir: Path,
    *,
    players: int = 3000,
    years: float = 5.0,
    servers: int = 2,
    seed: int = 1,
    end: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> HistorySummary:
    """Write a synthetic multi-year stats history into ``out_dir`` and summarise it.

    Shape of the history (defaults):

    * ``servers`` servers, each with four fixed session weekdays (server 1: Tue, Wed, Thu,
      Sun; server 2: Mon, Tue, Thu, Fri), attended 95 % of the time, plus a 20 % chance of
      an extra (shorter, 15:00-21:30) session on each other day: about
      4 x 0.95 + 3 x 0.2 = 4.4 sessions per server per week.  Fixed-day sessions start
      between 20:00 and 21:30 server time and play ~12 maps (stopwatch pairs, ~2.6 h),
      so roughly a quarter of them run past midnight; extra sessions play ~5.5 maps.
    * Teams of 7-12 a side (mean 9.75); players leave/join between maps, so a round
      file holds ~19.5 player lines on average.
    * Arithmetic: 5 years = 261 weeks x 2 servers x 4.4 = ~2,300 sessions (~2,270 are
      actually played); x ~11.1 maps = ~25,200 maps = ~50,300 round files;
      x ~19.5 lines = ~980,000 player-rounds (seed 1: 50,288 files, 980,703 lines,
      2,971 of 3,000 GUIDs seen).
    * ``players`` GUIDs, each with a Pareto(1.15) activity weight (a few regulars play
      most evenings, most are occasionals), a log-uniform active life span of two weeks
      to five years, a home server (15 % play on both), a skill level (log-normal) and a
      preferred class.  Newcomers are seated in their first session after joining, so
      practically every GUID appears.
    * Names change over time (recolours, clan tags, new names, a pool of shared names),
      with colour codes and occasionally non-ASCII or non-UTF-8 bytes.
    * Round 2 is cumulative (TAB 0-7, 20, 22 and all weapon ints) except for a
      substitute who played only round 2 (~4 % of maps) and a reconnect reset (~1 %);
      ~0.4 % of maps lose their round 1 file (orphan round 2); rare spectators in round 2.
    * TAB layout: 33 fields for the first 8 % of the history, 36 up to 16 %, 37 up to
      24 %, then 38 (shifted slightly per server).  Field 20 equals the weapon shots sum
      in the 38 layout and is a large unreliable number in the older ones; some old
      round 2 headers hold ``0:00`` as actual time.
    * Kills are simulated as a kill matrix: a weapon's deaths count how often the player
      was killed by that (enemy) weapon, as in real files.  The ``rounds`` counter is 0
      in round 1 and 1 in round 2 (1 and 2 when a map is replayed at once), and stays
      put in round 2 after a reconnect reset.

    ``end`` defaults to :data:`DEFAULT_END` (not today) so output is reproducible; the
    history covers the ``years`` before it.  ``progress`` is called after each session
    with the number of files written so far.
    """
    end_date = end or DEFAULT_END
    start_date = end_date - timedelta(days=max(1, round(years * 365.25)))
    gen = _Generator(Path(out_dir), players, start_date, end_date, max(1, servers), seed)
    gen.run(progress)
    return HistorySummary(
        files=gen.files,
        rounds=gen.files,
        player_rounds=gen.player_rounds,
        players=sum(gen.appeared),
        first=gen.first,
        last=gen.last,
        sessions=gen.sessions,
        maps=gen.maps,
        orphans=gen.orphans,
        resets=gen.resets,
        substitutes=gen.subs,
        weekdays={k: d for k, d in zip(gen.server_keys, gen.server_days, strict=True)},
    )


# --------------------------------------------------------------------------- test corpus

#: Seed of the small corpus the test suite uses when the real one is missing.
TEST_CORPUS_SEED = 20240416
_TEST_START = date(2024, 4, 16)
_TEST_END = date(2025, 10, 20)
_COLOUR_CODE = re.compile(r"\^[^^]")

# Where in the session plan (fraction of its sessions) each special case is forced;
# the generator places it at the first map from there on where it fits.
_FORCED_AT = (
    (0.30, "header_only"),
    (0.40, "orphan"),
    (0.50, "reset"),
    (0.60, "substitute"),
    (0.70, "spectator"),
    (0.80, "draw"),
    (0.85, "orphan"),
)
_MIDNIGHT_FROM = 0.70  # sessions start at 23:40 from here until a pair crosses midnight


@dataclass(frozen=True)
class CorpusManifest:
    """What :func:`generate_test_corpus` wrote and where its special cases are.

    File names are relative to the output folder (one server, no subfolders); pairs are
    ``(round 1 file, round 2 file)``, players ``(round 2 file, GUID)``. ``renamed`` maps
    each GUID seen under several names (colour codes stripped) to them, ``shared_names``
    each lower-case name used by several GUIDs to those GUIDs; a non-UTF-8 name is listed
    as ``(file, GUID)`` of every line holding it.
    """

    files: int
    player_rounds: int
    players: int
    first: datetime
    last: datetime
    layouts: dict[int, int]
    pairs: tuple[tuple[str, str], ...]
    midnight_pairs: tuple[tuple[str, str], ...]
    orphans: tuple[str, ...]
    header_only: tuple[str, ...]
    resets: tuple[tuple[str, str], ...]
    substitutes: tuple[tuple[str, str], ...]
    spectators: tuple[tuple[str, str], ...]
    #: Maps where both defences held the full time (round 1 file, round 2 file).
    draws: tuple[tuple[str, str], ...]
    non_utf8: tuple[tuple[str, str], ...]
    renamed: dict[str, tuple[str, ...]]
    shared_names: dict[str, tuple[str, ...]]
    coloured_names: int


def _shape_test_population(gen: _Generator) -> None:
    """Make the small population show every case the test corpus promises.

    The eight most active players play from the first day to the last, so that every
    planned session has a roster and each layout era (by date) gets its files. Two
    occasional players share one name in different colours: not regulars, and not in the
    first files, so the most active players and the first ones keep a name of their own
    (tests look players up by name). A regular plays under names that are not valid UTF-8
    (a latin-1 byte) before settling on a plain one.
    """
    n = len(gen.guid)
    start_ord = gen.start.toordinal()
    by_weight = sorted(range(n), key=lambda p: (-gen.weight[p], p))
    for p in by_weight[:8]:
        gen.join[p] = gen.alias_days[p][0] = start_ord
        gen.leave[p] = gen.end.toordinal()
    gen.pending = sorted(range(n), key=lambda p: (gen.join[p], p))
    # Non-regulars who joined nearest to 3/8 of the history and stayed a while.
    mid = start_ord + gen.span * 3 // 8
    joined_later = sorted(
        (p for p in by_weight[8:] if gen.leave[p] - gen.join[p] >= 120),
        key=lambda p: (abs(gen.join[p] - mid), p),
    )
    if len(joined_later) < 2:
        raise RuntimeError("test corpus population too small for a shared name")
    for p, colour in zip(joined_later[:2], ("^3", "^1"), strict=True):
        gen.alias_days[p] = [gen.join[p]]
        gen.alias_names[p] = [f"{colour}Ghost"]
    p = by_weight[4]
    late = start_ord + gen.span * 4 // 5
    days = [d for d in gen.alias_days[p] if d < late]
    names = [name + "\udce9" for name in gen.alias_names[p][: len(days)]]
    gen.alias_days[p] = [*days, late]
    gen.alias_names[p] = [*names, "^7Renard"]


def _scan(folder: Path) -> tuple[dict[int, int], dict[str, set[str]], list[tuple[str, str]], int]:
    """Layouts per file, raw names per GUID, non-UTF-8 lines and the line count."""
    layouts: dict[int, int] = defaultdict(int)
    names: dict[str, set[str]] = defaultdict(set)
    non_utf8: list[tuple[str, str]] = []
    lines = 0
    for path in sorted(folder.glob("*.txt")):
        rows = path.read_bytes().split(b"\n")[1:-1]
        if rows:
            layouts[rows[0].count(b"\t")] += 1
        for row in rows:
            lines += 1
            guid, raw = row.split(b"\\", 2)[:2]
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                non_utf8.append((path.name, guid.decode()))
            names[guid.decode()].add(raw.decode("utf-8", "surrogateescape"))
    return dict(layouts), names, non_utf8, lines


def generate_test_corpus(out_dir: Path, seed: int = TEST_CORPUS_SEED) -> CorpusManifest:
    """Write the small corpus the tests use when the real one is missing (~300 files).

    One server, 32 players, teams of 3-5, a session of 2-5 maps every two weeks or so
    from April 2024 to October 2025 (ending, like the real corpus, long before "now").
    Guaranteed, whatever the seed (a seed that cannot place one raises ``RuntimeError``):
    all four TAB layouts, round 1/round 2 pairs, a pair crossing midnight, orphan round 2s,
    a reconnect reset, a substitute who played only round 2, a spectator, a draw, a header-only
    file, colour codes, GUIDs with several names, one name used by two GUIDs and names
    that are not valid UTF-8. The manifest says where each case is.
    """
    out = Path(out_dir)
    gen = _Generator(out, 32, _TEST_START, _TEST_END, 1, seed)
    gen.side_sizes = (3, 4, 4, 5)
    _shape_test_population(gen)
    out.mkdir(parents=True, exist_ok=True)
    rng = gen.rng
    days = []
    day = _TEST_START + timedelta(days=1)
    while day <= _TEST_END - timedelta(days=7):
        days.append(day)
        day += timedelta(days=12 + int(rng.random() * 7))
    forced = sorted((int(at * len(days)), feature) for at, feature in _FORCED_AT)
    for i, day in enumerate(days):
        while forced and forced[0][0] <= i:
            gen.force.add(forced.pop(0)[1])
        if i >= _MIDNIGHT_FROM * len(days) and not gen.events["midnight"]:
            start = datetime(day.year, day.month, day.day, 23, 40)
        else:
            start = datetime(day.year, day.month, day.day, 20) + timedelta(
                seconds=int(rng.random() * 5400)
            )
        if gen._session(0, start, 2 + int(rng.random() * 4), True, set()):
            gen.sessions += 1
    layouts, names, non_utf8, lines = _scan(out)
    clean = {g: {_COLOUR_CODE.sub("", raw).strip() for raw in raws} for g, raws in names.items()}
    shared: dict[str, set[str]] = defaultdict(set)
    for guid, cleaned in clean.items():
        for name in cleaned:
            shared[name.lower()].add(guid)
    ev = gen.events
    manifest = CorpusManifest(
        files=gen.files,
        player_rounds=lines,
        players=len(names),
        first=gen.first or datetime.min,
        last=gen.last or datetime.min,
        layouts=layouts,
        pairs=tuple((a, b) for a, b in ev["pair"]),
        midnight_pairs=tuple((a, b) for a, b in ev["midnight"]),
        orphans=tuple(a for (a,) in ev["orphan"]),
        header_only=tuple(a for (a,) in ev["header_only"]),
        resets=tuple((a, b) for a, b in ev["reset"]),
        substitutes=tuple((a, b) for a, b in ev["substitute"]),
        spectators=tuple((a, b) for a, b in ev["spectator"]),
        draws=tuple((a, b) for a, b in ev["draw"]),
        non_utf8=tuple(non_utf8),
        renamed={g: tuple(sorted(v)) for g, v in sorted(clean.items()) if len(v) > 1},
        shared_names={n: tuple(sorted(g)) for n, g in sorted(shared.items()) if len(g) > 1},
        coloured_names=sum(1 for v in names.values() for raw in v if _COLOUR_CODE.search(raw)),
    )
    missing = [
        what
        for what, ok in (
            ("all four layouts", set(layouts) == {33, 36, 37, 38}),
            ("a midnight pair", manifest.midnight_pairs),
            ("two orphans", len(manifest.orphans) >= 2),
            ("a header-only file", manifest.header_only),
            ("a reset", manifest.resets),
            ("a substitute", manifest.substitutes),
            ("a spectator", manifest.spectators),
            ("a draw", manifest.draws),
            ("a non-UTF-8 name", manifest.non_utf8),
            ("a renamed GUID", manifest.renamed),
            ("a shared name", manifest.shared_names),
            ("colour codes", manifest.coloured_names),
        )
        if not ok
    ]
    if missing:
        raise RuntimeError(f"seed {seed} gives a test corpus without {', '.join(missing)}")
    return manifest
