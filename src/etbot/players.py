"""Players: resolving what users type, autocomplete matches, and Discord links.

A player is a GUID; every name it used is an :class:`~etbot.models.Alias`. Users pick
players by autocomplete (whose values are :data:`GUID_PREFIX` + GUID and resolve
unambiguously), by a raw GUID, or by typing a name one player used.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from peewee import SQL, ColumnBase, NodeList, fn

from etbot.cache import cached_query
from etbot.db import is_postgres
from etbot.errors import AlreadyLinked, AmbiguousPlayer, BadOption, Typed, UnknownPlayer
from etbot.models import Alias, Player, database_proxy
from etbot.statsfile import clean_name

log = logging.getLogger(__name__)

#: At most this many autocomplete matches per query.
AUTOCOMPLETE_LIMIT = 25
#: Empty autocomplete text offers the most active of this many most recently seen players.
RECENT_PLAYERS = 200
#: Longest text accepted as a player name or option value (names are far shorter).
MAX_PLAYER_TEXT = 100
#: Prefix of the option values that name a player by GUID (``guid:ABCDEF01``).
GUID_PREFIX = "guid:"

_HEX = re.compile(r"[0-9A-Fa-f]{8,32}")
#: Unicode categories that cannot be part of a player name: controls, lone surrogates.
_BAD = ("Cc", "Cs")


@dataclass(frozen=True)
class PlayerRef:
    """A resolved player."""

    id: int
    guid: str
    name: str


@dataclass(frozen=True)
class PlayerMatch:
    """One autocomplete match: a player and the alias that matched what was typed."""

    player_id: int
    #: The alias as the player wrote it (colour codes stripped).
    alias: str
    #: The player's current name.
    name: str
    guid: str


def _ref(player: Player) -> PlayerRef:
    return PlayerRef(player.id, player.guid, player.name)


def _gone() -> UnknownPlayer:
    return UnknownPlayer("That player is not in the database (any more).")


def player_row(player_id: int) -> Player:
    """The Player row with this id, or :class:`~etbot.errors.UnknownPlayer`."""
    player = Player.get_or_none(Player.id == player_id)
    if player is None:
        raise _gone()
    return player


def get_player(player_id: int) -> PlayerRef:
    """The player with this id, or :class:`~etbot.errors.UnknownPlayer`."""
    return _ref(player_row(player_id))


# --------------------------------------------------------------------------- autocomplete


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(column: ColumnBase, pattern: str) -> ColumnBase:
    return NodeList((column, SQL("LIKE"), pattern, SQL("ESCAPE '\\'")))


def _prefix_condition(text: str) -> ColumnBase:
    """Index-friendly ``name_lower`` starts with ``text``."""
    if is_postgres():
        # Uses the text_pattern_ops index of migration 0002 whatever the collation.
        return _like(Alias.name_lower, _like_escape(text) + "%")
    # SQLite compares text bytewise (BINARY): a range on the plain index, exact for UTF-8.
    return (Alias.name_lower >= text) & (Alias.name_lower < text + "\U0010ffff")


@cached_query
def autocomplete_players(text: str, limit: int = AUTOCOMPLETE_LIMIT) -> list[PlayerMatch]:
    """Players matching what was typed so far (at most 25).

    Every alias counts: case-insensitive prefix matches first, then substring matches,
    each most-used alias first; one entry per player and alias. Empty text gives the
    most active of the recently seen players (one entry each).
    """
    limit = max(0, min(limit, AUTOCOMPLETE_LIMIT))
    # Control characters and lone surrogates are never in a name (PostgreSQL rejects NUL).
    printable = "".join(ch for ch in (text or "") if unicodedata.category(ch) not in _BAD)
    needle = clean_name(printable).strip().lower()[:MAX_PLAYER_TEXT]
    if limit == 0:
        return []
    base = Alias.select(
        Alias.player.alias("player_id"),
        Alias.name.alias("alias"),
        Alias.name_lower.alias("alias_lower"),
        Player.name.alias("name"),
        Player.guid.alias("guid"),
    ).join(Player)
    order = (Alias.rounds.desc(), Alias.name_lower, Alias.player)
    if not needle:
        # Most active among the recently seen players: both steps use an index
        # (player.last_seen, alias (player, name)) instead of sorting every alias.
        recent = (
            Player.select(Player.id)
            .order_by(Player.last_seen.desc(), Player.id.desc())
            .limit(RECENT_PLAYERS)
        )
        query = base.where(Alias.player.in_(recent)).order_by(*order).limit(limit * 8)
        seen_players: set[int] = set()
        rows = []
        for row in query.namedtuples():
            if row.player_id not in seen_players:
                seen_players.add(row.player_id)
                rows.append(row)
    else:
        prefix = _prefix_condition(needle)
        # Fetch a few extra: "Foo" and "foo" of one player collapse into one entry.
        rows = list(base.where(prefix).order_by(*order).limit(limit * 2).namedtuples())
        if len(rows) < limit * 2:
            contains = _like(Alias.name_lower, "%" + _like_escape(needle) + "%")
            more = base.where(contains & ~prefix).order_by(*order).limit(limit * 2)
            rows += list(more.namedtuples())
    matches: list[PlayerMatch] = []
    seen: set[tuple[int, str]] = set()
    for row in rows:
        if (row.player_id, row.alias_lower) in seen:
            continue
        seen.add((row.player_id, row.alias_lower))
        matches.append(PlayerMatch(row.player_id, row.alias, row.name, row.guid))
        if len(matches) >= limit:
            break
    return matches


# --------------------------------------------------------------------------- resolution


def resolve_player(value: str) -> PlayerRef:
    """Turn an option value into a player.

    Accepts an autocomplete value (``guid:XXXXXXXX``), a raw GUID, or a typed name, which
    must be exactly (case-insensitively, colour codes ignored) a name one player used.
    """
    text = (value or "").strip()
    if not text:
        raise BadOption("Type a player name and pick one from the list.")
    if len(text) > MAX_PLAYER_TEXT or any(unicodedata.category(c) in _BAD for c in text):
        raise BadOption("That is not a valid player name; pick one from the list.")
    if text[: len(GUID_PREFIX)].lower() == GUID_PREFIX:
        guid = text[len(GUID_PREFIX) :].strip()
        if not _HEX.fullmatch(guid):
            raise BadOption("That is not a valid player GUID; pick a player from the list.")
        player = Player.get_or_none(Player.guid == guid.upper())
        if player is None:
            raise UnknownPlayer(
                "No player with GUID {guid}; pick one from the list.", guid=Typed(guid)
            )
        return _ref(player)
    if _HEX.fullmatch(text):
        player = Player.get_or_none(Player.guid == text.upper())
        if player is not None:
            return _ref(player)
    name = clean_name(text).strip().lower()
    most_rounds = fn.MAX(Alias.rounds)
    ids = [
        player_id
        for player_id, _rounds in Alias.select(Alias.player, most_rounds)
        .where(Alias.name_lower == name)
        .group_by(Alias.player)
        .order_by(most_rounds.desc(), Alias.player)
        .tuples()
    ]
    if not ids:
        raise UnknownPlayer("No player called {name}; pick one from the list.", name=Typed(text))
    if len(ids) == 1:
        return get_player(ids[0])
    players = {p.id: p for p in Player.select().where(Player.id.in_(ids))}
    raise AmbiguousPlayer(text, [_ref(players[pid]) for pid in ids if pid in players])


# --------------------------------------------------------------------------- Discord links


def player_for_discord(discord_id: int) -> PlayerRef | None:
    """The player linked to this Discord member, if any."""
    player = Player.get_or_none(Player.discord_id == discord_id)
    return _ref(player) if player is not None else None


def link_discord(discord_id: int, player_id: int, *, force: bool = False) -> None:
    """Link a Discord member to one player (GUID).

    A member has at most one link: linking again moves it. A GUID already linked to
    another member raises :class:`~etbot.errors.AlreadyLinked` unless ``force`` (admins),
    which moves the GUID to this member.
    """
    with database_proxy.atomic():
        player = Player.get_or_none(Player.id == player_id)
        if player is None:
            raise _gone()
        if player.discord_id == discord_id:
            return
        if player.discord_id is not None and not force:
            raise AlreadyLinked(
                "{player} is already linked to another Discord member; "
                "ask an admin if that is wrong.",
                player=player.name,
            )
        # Clear the member's old link first: discord_id is unique.
        Player.update(discord_id=None).where(Player.discord_id == discord_id).execute()
        Player.update(discord_id=discord_id).where(Player.id == player_id).execute()
    log.info("linked discord member %s to player %s (force=%s)", discord_id, player_id, force)


def unlink_discord(discord_id: int) -> bool:
    """Remove a member's link; True if there was one."""
    return bool(Player.update(discord_id=None).where(Player.discord_id == discord_id).execute())
