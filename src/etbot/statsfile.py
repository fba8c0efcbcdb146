"""Pure parser for ET:Legacy round stats files (the c0rnp0rn Lua script family).

``parse_round(data, file_name)`` turns the bytes of one file into a :class:`ParsedRound`
or raises :class:`ParseError` naming the file and the reason. It does no I/O and keeps
no state, so it is safe to call from any thread and easy to test on the real corpus.

The format is described in ``../shared/FORMAT.md`` (beside the repository); the short
version:

* line 1 is a ``\\``-separated header (server, map, config, round, defender, winner,
  time limit, actual time[, play time ms]);
* every other line is one player:
  ``GUID8\\name\\rounds\\team\\<weaponmask> <5 ints per weapon bit>`` then TAB-separated
  extra fields whose count (38/37/36/33) tells the script version ("layout").

Values are returned exactly as the file holds them: round 2 files are partly cumulative
and the differential is computed by :mod:`etbot.ingest.differential` once the importer
knows the paired round 1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "FILE_NAME_RE",
    "LAYOUTS",
    "TAB_FIELDS",
    "WEAPON_NAMES",
    "ParseError",
    "ParsedPlayer",
    "ParsedRound",
    "WeaponStat",
    "clean_name",
    "parse_file_name",
    "parse_round",
]

#: Weapon names by weaponmask bit (FORMAT.md). Unknown higher bits get a generic name.
WEAPON_NAMES: tuple[str, ...] = (
    "KNIFE",
    "KNIFE_KBAR",
    "LUGER",
    "COLT",
    "MP40",
    "THOMPSON",
    "STEN",
    "FG42",
    "PANZERFAUST",
    "BAZOOKA",
    "FLAMETHROWER",
    "GRENADE",
    "MORTAR",
    "MORTAR2",
    "DYNAMITE",
    "AIRSTRIKE",
    "ARTILLERY",
    "SATCHEL",
    "GRENADELAUNCHER",
    "LANDMINE",
    "MG42",
    "BROWNING",
    "CARBINE",
    "KAR98",
    "GARAND",
    "K43",
    "MP34",
    "SYRINGE",
)
MAX_WEAPON_BITS = 32

#: Names of the TAB fields of the current (38-field) script, by index.
TAB_FIELDS: tuple[str, ...] = (
    "damage_given",
    "damage_received",
    "team_damage_given",
    "team_damage_received",
    "gibs",
    "self_kills",
    "team_kills",
    "team_gibs",
    "time_played_pct",
    "xp",
    "killing_spree",
    "death_spree",
    "kill_assists",
    "kill_steals",
    "headshot_kills",
    "objectives_stolen",
    "objectives_returned",
    "dynamites_planted",
    "dynamites_defused",
    "times_revived",
    "bullets_fired",
    "dpm",
    "time_played_min",
    "tank_meatshield",
    "time_dead_ratio",
    "time_dead_min",
    "kd_ratio",
    "useful_kills",
    "denied_playtime",
    "multikill_2",
    "multikill_3",
    "multikill_4",
    "multikill_5",
    "multikill_6",
    "useless_kills",
    "full_selfkills",
    "repairs",
    "revives_given",
)

#: Fields written with a decimal point; all others are integers.
FLOAT_FIELDS = frozenset(
    {
        "time_played_pct",
        "dpm",
        "time_played_min",
        "tank_meatshield",
        "time_dead_ratio",
        "time_dead_min",
        "kd_ratio",
    }
)

#: Converter per TAB field (int() and float() both accept surrounding whitespace).
_CONVERT: dict[str, type[int] | type[float]] = {
    name: float if name in FLOAT_FIELDS else int for name in TAB_FIELDS
}

#: Multikill counters (2 to 6 kills), TAB 29–33 in the current layout, 28–32 in the 33 one.
MULTIKILLS = TAB_FIELDS[29:34]

#: TAB field names in file order, per layout (= number of TAB fields).
LAYOUTS: dict[int, tuple[str, ...]] = {
    38: TAB_FIELDS,
    37: TAB_FIELDS[:37],
    36: TAB_FIELDS[:36],
    33: TAB_FIELDS[:28] + MULTIKILLS,
}

_LAYOUT_CONVERT = {n: tuple(_CONVERT[name] for name in names) for n, names in LAYOUTS.items()}

# --------------------------------------------------------------------------- sane bounds
# A file outside these bounds did not come from a game server (or the script broke): it is
# rejected at parse time with the reason, so a crafted number never reaches the database,
# whose integer columns are 32-bit on PostgreSQL, and SQLite and PostgreSQL decide alike.

#: Player lines per file. ET:Legacy serves at most 64 clients; twice that is absurd.
MAX_PLAYERS = 128
#: Each of a weapon's five counters in one file (a round 2 file covers both rounds). The
#: fastest weapons fire about 20 times a second: 200,000 is over 2¾ hours of fire.
MAX_WEAPON_VALUE = 200_000
#: Every other number of a player line (damage, XP, sprees, the rounds counter…).
MAX_COUNTER = 10_000_000
#: Time played / time dead, in minutes (a day; a round 2 file covers two rounds).
MAX_MINUTES = 24 * 60
#: Header times (time limit, play time): a day.
MAX_ROUND_SECONDS = 24 * 3600
#: Years a file name may carry (a server whose clock was never set says 1970).
YEARS = (1970, 2999)
#: Text sizes, as the database columns hold them. Longer player names are cut (a name is
#: not worth losing the round for: the clean name to MAX_NAME characters, the raw one to
#: MAX_RAW_NAME); a longer file name or header field is a reason to reject the file.
MAX_NAME = 128
MAX_RAW_NAME = 255
MAX_FILE_NAME = 255
MAX_SERVER_NAME = 255
MAX_MAP_NAME = 128
MAX_CONFIG = 128


def _out_of_range(what: str, value: float, high: float) -> ValueError:
    if value < 0:
        return ValueError(f"{what} is negative ({value})")
    return ValueError(f"{what} is {value}, out of range (0 to {high:,})")


FILE_NAME_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})-(?P<time>\d{6})-(?P<map>.+)-round-(?P<round>[12])\.txt$"
)

TEAM_NAMES = {1: "axis", 2: "allies", 3: "spectator"}


class ParseError(ValueError):
    """A stats file that cannot be read; ``str()`` names the file and the reason."""

    def __init__(self, file_name: str, reason: str, line: int | None = None) -> None:
        self.file_name = file_name
        self.reason = reason
        self.line = line
        where = f" (line {line})" if line is not None else ""
        super().__init__(f"{file_name}{where}: {reason}")

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, str, int | None]]:
        # Picklable (a bulk import parses in worker processes and sends the error back).
        return (ParseError, (self.file_name, self.reason, self.line))


@dataclass(frozen=True, slots=True)
class WeaponStat:
    """One weapon's counters for one player in one file."""

    weapon: int
    hits: int
    shots: int
    kills: int
    deaths: int
    headshots: int

    @property
    def name(self) -> str:
        return weapon_name(self.weapon)


@dataclass(frozen=True, slots=True)
class ParsedPlayer:
    """One player line, values exactly as written in the file."""

    guid: str
    raw_name: str
    name: str
    rounds: int
    team: int
    weapons: tuple[WeaponStat, ...]
    #: Every TAB field by name; fields the layout lacks are ``None`` (unknown, never 0).
    tab: dict[str, int | float | None]
    line_no: int
    # Totals over all weapons (FORMAT.md: a player's kills = sum of weapon kills, …).
    kills: int = 0
    deaths: int = 0
    hits: int = 0
    shots: int = 0
    headshots: int = 0

    @property
    def team_name(self) -> str:
        return TEAM_NAMES[self.team]

    @property
    def is_bot(self) -> bool:
        """Omni-bots share ``OMNIBOT…`` GUIDs; never treat them as one human."""
        return self.guid.startswith("OMNIBOT")


@dataclass(frozen=True, slots=True)
class ParsedRound:
    """One stats file."""

    file_name: str
    ended_at: datetime  # server local time, from the file name
    server_name: str  # raw, may contain colour codes
    map: str
    config: str
    round_no: int
    defender: int  # 1 axis, 2 allies
    winner: int  # 1 axis, 2 allies
    time_limit_s: int
    #: Actual round time in seconds; ``None`` when the file holds garbage (longer than the
    #: time limit, as a known script bug writes) or ``0:00`` (old round 2 files).
    round_time_s: int | None
    round_time_raw: str
    play_time_ms: int | None  # header field 8, some script versions only
    layout: int
    players: tuple[ParsedPlayer, ...] = field(default_factory=tuple)

    @property
    def server_clean_name(self) -> str:
        return clean_name(self.server_name)


def weapon_name(bit: int) -> str:
    return WEAPON_NAMES[bit] if bit < len(WEAPON_NAMES) else f"WEAPON_{bit}"


def clean_name(raw: str) -> str:
    """Strip ET colour codes: ``^`` followed by any character other than ``^``."""
    if "^" not in raw:
        return raw.strip()
    out: list[str] = []
    i = 0
    n = len(raw)
    while i < n:
        ch = raw[i]
        if ch == "^" and i + 1 < n and raw[i + 1] != "^":
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out).strip()


def parse_file_name(file_name: str) -> tuple[datetime, str, int]:
    """``YYYY-MM-DD-HHMMSS-<map>-round-<N>.txt`` → (end time, map, round)."""
    m = FILE_NAME_RE.match(file_name)
    if m is None:
        raise ParseError(file_name, "file name is not YYYY-MM-DD-HHMMSS-<map>-round-<1|2>.txt")
    if len(file_name) > MAX_FILE_NAME:
        raise ParseError(file_name, f"file name is longer than {MAX_FILE_NAME} characters")
    try:
        ended_at = datetime.strptime(m["date"] + m["time"], "%Y-%m-%d%H%M%S")
    except ValueError:
        raise ParseError(file_name, "file name holds an impossible date or time") from None
    if not YEARS[0] <= ended_at.year <= YEARS[1]:
        raise ParseError(
            file_name, f"file name date {m['date']} is out of range (years {YEARS[0]}-{YEARS[1]})"
        )
    return ended_at, m["map"], int(m["round"])


def _mmss(value: str) -> int:
    minutes, sep, seconds = value.partition(":")
    if not sep or not minutes.isdigit() or len(seconds) != 2 or not seconds.isdigit():
        raise ValueError(value)
    secs = int(seconds)
    if secs >= 60:
        raise ValueError(value)
    return int(minutes) * 60 + secs


def _decode_lines(data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Names are not always valid UTF-8: decode line by line, falling back to
        # latin-1 (which never fails) so no line is ever dropped.
        lines = []
        for raw in data.split(b"\n"):
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(raw.decode("latin-1"))
        text = "\n".join(lines)
    if "\x00" in text:
        raise ValueError("file contains NUL bytes (binary data)")
    return text.replace("\r\n", "\n").split("\n")


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _parse_int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what} is not an integer: {value[:20]!r}") from None


def _parse_header(fields: list[str], file_name: str) -> dict[str, object]:
    if len(fields) not in (8, 9):
        raise ParseError(file_name, f"header has {len(fields)} fields, expected 8 or 9", line=1)
    server_name, raw_map, config, raw_round, raw_defender, raw_winner, raw_limit, raw_time = fields[
        :8
    ]
    raw_play_time = fields[8].strip() if len(fields) == 9 else ""
    try:
        round_no = _parse_int(raw_round, "round")
        defender = _parse_int(raw_defender, "defender team")
        winner = _parse_int(raw_winner, "winner team")
    except ValueError as exc:
        raise ParseError(file_name, f"header: {exc}", line=1) from None
    if round_no not in (1, 2):
        raise ParseError(file_name, f"header round is {round_no}, expected 1 or 2", line=1)
    if defender not in (1, 2) or winner not in (1, 2):
        raise ParseError(file_name, "header defender/winner team must be 1 or 2", line=1)
    try:
        time_limit = _mmss(raw_limit.strip())
    except ValueError:
        raise ParseError(
            file_name, f"header time limit {raw_limit[:20]!r} is not M:SS", line=1
        ) from None
    try:
        round_time: int | None = _mmss(raw_time.strip())
    except ValueError:
        raise ParseError(
            file_name, f"header round time {raw_time[:20]!r} is not M:SS", line=1
        ) from None
    if time_limit > MAX_ROUND_SECONDS:
        raise ParseError(
            file_name,
            f"header time limit {raw_limit.strip()[:20]!r} is out of range "
            f"(at most {MAX_ROUND_SECONDS // 60}:00)",
            line=1,
        )
    if round_time == 0 or (round_time is not None and round_time > time_limit):
        round_time = None  # known script bug (e.g. 71:05) or old round 2 files (0:00)
    play_time_ms: int | None = None
    if raw_play_time:
        try:
            play_time_ms = _parse_int(raw_play_time, "play time")
            if not 0 <= play_time_ms <= MAX_ROUND_SECONDS * 1000:
                raise _out_of_range("play time (ms)", play_time_ms, MAX_ROUND_SECONDS * 1000)
        except ValueError as exc:
            raise ParseError(file_name, f"header: {exc}", line=1) from None
    mapname = raw_map.strip()
    if not mapname:
        raise ParseError(file_name, "header has an empty map name", line=1)
    for what, text, limit in (
        ("server name", server_name, MAX_SERVER_NAME),
        ("map name", mapname, MAX_MAP_NAME),
        ("config", config, MAX_CONFIG),
    ):
        if len(text) > limit:
            raise ParseError(file_name, f"header {what} is longer than {limit} characters", line=1)
    return {
        "server_name": server_name,
        "map": mapname,
        "config": config,
        "round_no": round_no,
        "defender": defender,
        "winner": winner,
        "time_limit_s": time_limit,
        "round_time_s": round_time,
        "round_time_raw": raw_time.strip(),
        "play_time_ms": play_time_ms,
    }


def _parse_player(line: str) -> tuple[ParsedPlayer, int]:
    # A minus sign anywhere: check every number's lower bound (rare, so only then).
    signed = "-" in line
    head, *tabs = line.split("\t")
    parts = head.split("\\")
    if len(parts) < 5:
        if len(tabs) > 5:
            raise ValueError(
                "player line is TAB-separated throughout (another stats script's format), "
                "expected GUID\\name\\rounds\\team\\weapons"
            )
        raise ValueError(f"player line has {len(parts)} backslash fields, expected 5")
    if not tabs:
        raise ValueError("player line has no TAB-separated extra fields")
    guid = parts[0].strip()
    if len(guid) != 8 and not guid.startswith("OMNIBOT"):
        raise ValueError(f"GUID {guid[:20]!r} is not 8 characters")
    raw_name = "\\".join(parts[1:-3])
    rounds = _parse_int(parts[-3], "rounds counter")
    if not 0 <= rounds <= MAX_COUNTER:
        raise _out_of_range("rounds counter", rounds, MAX_COUNTER)
    team = _parse_int(parts[-2], "team")
    if team not in TEAM_NAMES:
        raise ValueError(f"team {team} is not 1, 2 or 3")
    ints = parts[-1].split()
    if not ints:
        raise ValueError("player line has no weapon mask")
    mask = _parse_int(ints[0], "weapon mask")
    if mask < 0 or mask >= 1 << MAX_WEAPON_BITS:
        raise ValueError(f"weapon mask {mask} out of range")
    try:
        values = list(map(int, ints[1:]))
    except ValueError:
        bad = next(v for v in ints[1:] if not _is_int(v))
        raise ValueError(f"weapon value is not an integer: {bad[:20]!r}") from None
    weapons: list[WeaponStat] = []
    hits = shots = kills = deaths = headshots = 0
    pos = 0
    bit = 0
    m = mask
    while m:
        if m & 1:
            if pos + 5 > len(values):
                raise ValueError(
                    f"weapon mask announces {mask.bit_count()} weapons "
                    f"({mask.bit_count() * 5} values) but the line has {len(values)}"
                )
            h, s, k, d, hs = values[pos : pos + 5]
            weapons.append(WeaponStat(bit, h, s, k, d, hs))
            hits += h
            shots += s
            kills += k
            deaths += d
            headshots += hs
            pos += 5
        m >>= 1
        bit += 1
    if pos != len(values):
        raise ValueError(
            f"weapon mask announces {mask.bit_count()} weapons ({pos} values) "
            f"but the line has {len(values)}"
        )
    if values and (signed or max(values) > MAX_WEAPON_VALUE):
        _check_weapons(weapons)
    # A trailing TAB before the newline would leave an empty last field.
    if tabs and tabs[-1].strip() == "" and len(tabs) - 1 in LAYOUTS:
        tabs = tabs[:-1]
    layout = len(tabs)
    names = LAYOUTS.get(layout)
    if names is None:
        raise ValueError(
            f"player line has {layout} TAB fields; known layouts have 38, 37, 36 or 33"
        )
    tab: dict[str, int | float | None] = dict.fromkeys(TAB_FIELDS)
    try:
        converted = [conv(v) for conv, v in zip(_LAYOUT_CONVERT[layout], tabs, strict=True)]
        tab.update(zip(names, converted, strict=True))
    except ValueError:
        for name, raw in zip(names, tabs, strict=True):
            try:
                _CONVERT[name](raw)
            except ValueError:
                what = "a number" if name in FLOAT_FIELDS else "an integer"
                raise ValueError(f"{name} is not {what}: {raw.strip()[:20]!r}") from None
    for name in FLOAT_FIELDS:
        value = tab[name]
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{name} is not a finite number: {value!r}")
    if signed or max(converted) > MAX_COUNTER:
        for name, value in zip(names, converted, strict=True):
            if not 0 <= value <= MAX_COUNTER:
                raise _out_of_range(name, value, MAX_COUNTER)
    for name in ("time_played_min", "time_dead_min"):
        value = tab[name]
        if value is not None and value > MAX_MINUTES:
            raise _out_of_range(name, value, MAX_MINUTES)
    player = ParsedPlayer(
        guid=guid.upper(),
        raw_name=raw_name[:MAX_RAW_NAME],
        name=clean_name(raw_name)[:MAX_NAME].rstrip() or guid.upper(),
        rounds=rounds,
        team=team,
        weapons=tuple(weapons),
        tab=tab,
        line_no=0,
        kills=kills,
        deaths=deaths,
        hits=hits,
        shots=shots,
        headshots=headshots,
    )
    return player, layout


def _check_weapons(weapons: Iterable[WeaponStat]) -> None:
    """Raise the reason for the first weapon counter out of bounds."""
    for w in weapons:
        for what in ("hits", "shots", "kills", "deaths", "headshots"):
            value = getattr(w, what)
            if not 0 <= value <= MAX_WEAPON_VALUE:
                raise _out_of_range(f"{w.name} {what}", value, MAX_WEAPON_VALUE)


def parse_round(data: bytes, file_name: str) -> ParsedRound:
    """Parse one stats file; raise :class:`ParseError` (file + reason) if it is not one."""
    ended_at, _name_map, name_round = parse_file_name(file_name)
    try:
        lines = _decode_lines(data)
    except ValueError as exc:
        raise ParseError(file_name, str(exc)) from None
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ParseError(file_name, "file is empty")
    header = _parse_header(lines[0].rstrip("\n").split("\\"), file_name)
    if header["round_no"] != name_round:
        raise ParseError(
            file_name,
            f"header says round {header['round_no']} but the file name says round {name_round}",
            line=1,
        )
    count = len(lines) - 1
    if count > MAX_PLAYERS and (count := sum(1 for ln in lines[1:] if ln.strip())) > MAX_PLAYERS:
        raise ParseError(
            file_name,
            f"{count} player lines, more than a game server holds (at most {MAX_PLAYERS})",
        )
    players: list[ParsedPlayer] = []
    layout: int | None = None
    for idx, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            player, line_layout = _parse_player(line)
        except ValueError as exc:
            raise ParseError(file_name, str(exc), line=idx) from None
        if layout is None:
            layout = line_layout
        elif layout != line_layout:
            raise ParseError(
                file_name,
                f"mixed layouts: {line_layout} TAB fields here, {layout} on earlier lines",
                line=idx,
            )
        players.append(_with_line(player, idx))
    if not players or layout is None:
        raise ParseError(file_name, "header only: the file has no player lines")
    _check_unique_guids(players, file_name)
    return ParsedRound(
        file_name=file_name,
        ended_at=ended_at,
        layout=layout,
        players=tuple(players),
        **header,  # type: ignore[arg-type]
    )


def _with_line(player: ParsedPlayer, line_no: int) -> ParsedPlayer:
    object.__setattr__(player, "line_no", line_no)
    return player


def _check_unique_guids(players: Iterable[ParsedPlayer], file_name: str) -> None:
    seen: dict[str, int] = {}
    for p in players:
        if p.is_bot:
            continue
        if p.guid in seen:
            raise ParseError(
                file_name,
                f"GUID {p.guid} appears twice (lines {seen[p.guid]} and {p.line_no})",
                line=p.line_no,
            )
        seen[p.guid] = p.line_no
