"""Game servers: the servers that feed the community, for the optional ``server`` option.

Every round records its server (the name in the stats file header, with ET colour codes;
:class:`~etbot.models.Server`). Questions about the community (``/stats``,
``/leaderboard``, ``/sessions``, ``/activity``, ``/season``) count every server unless
one is chosen; this module lists the servers with rounds for autocomplete and turns what
a user typed into one of them, the way :mod:`etbot.players` does for players: an
autocomplete value (``server:<id>``) or a name, colour codes and case ignored.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from peewee import fn

from etbot.cache import cached_query
from etbot.db import as_datetime
from etbot.errors import BadOption, Typed, UserError
from etbot.models import GamingSession, Server
from etbot.statsfile import clean_name

log = logging.getLogger(__name__)

#: Prefix of the option values that name a server by id (``server:3``).
SERVER_PREFIX = "server:"
#: At most this many autocomplete matches (Discord's limit).
AUTOCOMPLETE_LIMIT = 25
#: Longest text accepted as a server option (header names are at most 255 characters).
MAX_SERVER_TEXT = 100
#: Unicode categories that cannot be part of a name: controls, lone surrogates.
_BAD = ("Cc", "Cs")


class UnknownServer(UserError):
    """No game server with rounds matches what was typed."""


@dataclass(frozen=True)
class ServerRef:
    """A resolved game server: its id and its name without colour codes."""

    id: int
    name: str


@dataclass(frozen=True)
class ServerInfo:
    """A game server with rounds, for autocomplete."""

    id: int
    #: The name without colour codes.
    name: str
    #: The name as the header writes it (with colour codes).
    raw_name: str
    #: End of its newest session (server-local time).
    last_active: datetime


@cached_query
def active_servers() -> list[ServerInfo]:
    """Every game server with at least one round, most recently active first (then by
    name and id, so the order never depends on the database)."""
    # Every stored round belongs to a session of its server; the newest session end per
    # server is one lookup in the (server, ended_at) index, however long the history.
    newest = GamingSession.select(fn.MAX(GamingSession.ended_at)).where(
        GamingSession.server == Server.id
    )
    rows = Server.select(Server.id, Server.clean_name, Server.name, newest.alias("last")).tuples()
    found = [
        ServerInfo(sid, clean or raw, raw, as_datetime(last))
        for sid, clean, raw, last in rows
        if last is not None
    ]
    return sorted(found, key=lambda s: (-s.last_active.timestamp(), s.name.lower(), s.id))


def _needle(text: str) -> str:
    """What was typed, as compared with server names: printable, no colour codes,
    lower case."""
    printable = "".join(ch for ch in (text or "") if unicodedata.category(ch) not in _BAD)
    return clean_name(printable).strip().lower()[:MAX_SERVER_TEXT]


@cached_query
def autocomplete_servers(text: str, limit: int = AUTOCOMPLETE_LIMIT) -> list[ServerInfo]:
    """Servers whose name (colour codes ignored) starts with, then contains, what was
    typed; each group most recently active first. Empty text lists every server."""
    limit = max(0, min(limit, AUTOCOMPLETE_LIMIT))
    needle = _needle(text)
    servers = active_servers()
    starts = [s for s in servers if s.name.lower().startswith(needle)]
    contains = [s for s in servers if needle in s.name.lower() and s not in starts]
    return (starts + contains)[:limit]


def get_server(server_id: int) -> ServerRef:
    """The server with this id.

    Raises:
        UnknownServer: no server with this id has rounds.
    """
    for server in active_servers():
        if server.id == server_id:
            return ServerRef(server.id, server.name)
    raise UnknownServer("That game server is not in the database (any more).")


def resolve_server(value: str) -> ServerRef:
    """Turn a ``server`` option value into a game server.

    Accepts an autocomplete value (``server:<id>``) or a typed name, which must be the
    name of one server with rounds (case-insensitively, colour codes ignored).

    Raises:
        BadOption: empty, too long or unprintable text.
        UnknownServer: no server with rounds has that name (or id).
    """
    text = (value or "").strip()
    if not text:
        raise BadOption("Type a game server name and pick one from the list.")
    if len(text) > MAX_SERVER_TEXT or any(unicodedata.category(c) in _BAD for c in text):
        raise BadOption("That is not a valid game server name; pick one from the list.")
    if text[: len(SERVER_PREFIX)].lower() == SERVER_PREFIX:
        number = text[len(SERVER_PREFIX) :].strip()
        if not number.isdecimal() or len(number) > 18:
            raise BadOption("That is not a valid game server; pick one from the list.")
        return get_server(int(number))
    needle = _needle(text)
    matches = [s for s in active_servers() if s.name.lower() == needle]
    if not matches:
        raise UnknownServer(
            "No game server called {name} has any rounds; pick one from the list.",
            name=Typed(text),
        )
    if len(matches) > 1:
        # Two header names that differ only in colour codes: the list tells them apart
        # by recency; take the most recently active, which is what the list shows first.
        log.info("server name %r matches %d servers; taking the newest", text, len(matches))
    return ServerRef(matches[0].id, matches[0].name)
