"""Players: autocomplete, resolution and Discord links, on the real corpus.

Autocomplete is checked as users see it: the domain's matches turned into the player
option's choices (:func:`etbot.commands.formatting.player_choice`).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peewee import Database, fn

from etbot import players
from etbot.commands.formatting import error_text, player_choice
from etbot.errors import AlreadyLinked, AmbiguousPlayer, BadOption, UnknownPlayer, UserError
from etbot.ingest import Importer
from etbot.models import Alias, Player
from etbot.players import autocomplete_players, link_discord, player_for_discord, resolve_player
from etbot.statsfile import parse_round
from raw_truth import same_name_file


class Offered(NamedTuple):
    """One choice a player option offers: its label and its (string) value."""

    name: str
    value: str


def offered(text: str, limit: int = 25) -> list[Offered]:
    """The choices a player option offers for ``text``."""
    out = []
    for match in autocomplete_players(text, limit):
        choice = player_choice(match)
        assert isinstance(choice.value, str)
        out.append(Offered(choice.name, choice.value))
    return out


def test_autocomplete_prefix_then_substring_case_insensitive(full: object) -> None:
    aliases = list(Alias.select().order_by(Alias.rounds.desc()))
    target = next(a for a in aliases if len(a.name_lower) >= 5 and a.name_lower.isascii())
    guid = Player.get_by_id(target.player_id).guid
    prefix = target.name[:3].swapcase()
    choices = offered(prefix)
    assert 0 < len(choices) <= 25
    assert f"guid:{guid}" in [c.value for c in choices]
    needle = prefix.lower()
    starts = [c.name.lower().startswith(needle) for c in choices]
    # Prefix matches first: once a substring-only entry appears no prefix match follows.
    assert starts == sorted(starts, reverse=True)
    for c in choices:
        assert needle in c.name.lower()
        assert len(c.name) <= 100
        assert len(c.value) <= 100
        assert resolve_player(c.value).guid == c.value[5:]
    middle = target.name_lower[1:4].upper()
    assert f"guid:{guid}" in [c.value for c in offered(middle)]


def test_autocomplete_lists_every_alias_of_a_player(full: object) -> None:
    pid, n = (
        Alias.select(Alias.player, fn.COUNT(Alias.id))
        .group_by(Alias.player)
        .order_by(fn.COUNT(Alias.id).desc())
        .tuples()
        .first()
    )
    assert n >= 3
    player = Player.get_by_id(pid)
    for alias in Alias.select().where(Alias.player == pid):
        labels = [c.name for c in offered(alias.name) if c.value.endswith(player.guid)]
        assert any(label.split(" (aka ")[0] == alias.name for label in labels), alias.name
        if alias.name_lower != player.name.lower():
            assert f"{alias.name} (aka {player.name})" in labels


def test_autocomplete_limits_and_empty_text(full: object) -> None:
    assert len(offered("")) == 25
    # Empty text: most active players first, one entry each.
    values = [c.value for c in offered("")]
    assert len(set(values)) == len(values)
    top = Alias.select().order_by(Alias.rounds.desc(), Alias.name_lower, Alias.player).first()
    assert values[0] == f"guid:{Player.get_by_id(top.player_id).guid}"
    with_e = {(a.player_id, a.name_lower) for a in Alias.select() if "e" in a.name_lower}
    assert len(with_e) > 5
    assert len(offered("e")) == min(25, len(with_e))
    assert len(offered("a")) <= 25
    assert offered("zzzzqqq") == []
    assert len(offered("e", limit=5)) == 5
    # Wildcards are literal text, not patterns.
    assert offered("%") == offered("%%%") == []
    assert offered("_") == [c for c in offered("_") if "_" in c.name]


def test_resolve_player_by_guid_and_name(full: object) -> None:
    player = Player.select().order_by(Player.id).first()
    assert resolve_player(f"guid:{player.guid}").id == player.id
    assert resolve_player(player.guid.lower()).id == player.id
    alias = Alias.select().where(Alias.player == player.id).first()
    assert resolve_player(alias.name.upper()).id == player.id
    assert resolve_player(f"  {alias.name}  ").id == player.id
    with pytest.raises(UnknownPlayer, match="pick one from the list"):
        resolve_player("nobody-has-this-name")
    with pytest.raises(UnknownPlayer):
        resolve_player("guid:DEADBEEF")
    for bad in ("", "   ", "x" * 101, "a\x00b", "a\ud800b", "guid:not-hex!"):
        with pytest.raises(BadOption):
            resolve_player(bad)


def test_user_text_in_messages_is_defused(full: object) -> None:
    with pytest.raises(UnknownPlayer) as err:
        resolve_player("@everyone `x`")
    # The error keeps the raw text; the Discord layer defuses it when it shows the message.
    assert err.value.fields["name"] == "@everyone `x`"
    shown = error_text(err.value)
    assert "@everyone" not in shown
    assert "`" not in shown


def test_shared_name_is_ambiguous(db: Database, tmp_path: Path) -> None:
    report = Importer().import_paths([same_name_file(tmp_path)])
    assert report.imported == 1
    parsed = parse_round(same_name_file(tmp_path).read_bytes(), "2030-01-01-200000-x-round-1.txt")
    shared = parsed.players[0].name
    with pytest.raises(AmbiguousPlayer) as err:
        resolve_player(shared.swapcase())
    guids = {c.guid for c in err.value.candidates}
    assert guids == {parsed.players[0].guid, parsed.players[1].guid}
    # Autocomplete offers both, each resolving to its own player.
    values = {c.value for c in offered(shared)}
    assert {f"guid:{g}" for g in guids} <= values
    assert {resolve_player(v).guid for v in values} >= guids


def test_link_discord(db: Database, tmp_path: Path) -> None:
    Importer().import_paths([same_name_file(tmp_path)])
    a, b = [p.id for p in Player.select().order_by(Player.id)][:2]
    assert player_for_discord(111) is None
    link_discord(111, a)
    assert player_for_discord(111).id == a  # type: ignore[union-attr]
    link_discord(111, b)  # relinking moves the member's link
    assert player_for_discord(111).id == b  # type: ignore[union-attr]
    assert Player.get_by_id(a).discord_id is None
    with pytest.raises(AlreadyLinked):
        link_discord(222, b)
    assert player_for_discord(111).id == b  # type: ignore[union-attr]
    link_discord(222, b, force=True)
    assert player_for_discord(222).id == b  # type: ignore[union-attr]
    assert player_for_discord(111) is None
    with pytest.raises(UnknownPlayer):
        link_discord(333, 10_000_000)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(st.characters(exclude_categories=[]), max_size=120))
def test_any_typed_text_is_handled(full: object, text: str) -> None:
    """Autocomplete never fails on user input; resolving gives a player or a UserError."""
    choices = offered(text)
    assert len(choices) <= 25
    assert all(len(c.name) <= 100 and len(c.value) <= 100 for c in choices)
    try:
        ref = resolve_player(text)
    except UserError as exc:
        # Either outcome is right here, which pytest.raises cannot express.
        assert str(exc)  # noqa: PT017
    else:
        assert Player.get_by_id(ref.id).guid == ref.guid


def test_autocomplete_empty_text_offers_recent_regulars(
    full: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(players, "RECENT_PLAYERS", 5)
    recent = list(Player.select().order_by(Player.last_seen.desc(), Player.id.desc()).limit(5))
    choices = offered("")
    assert {c.value for c in choices} <= {f"guid:{p.guid}" for p in recent}
    assert 1 <= len(choices) <= 5
