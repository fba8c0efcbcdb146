"""Discord text: stat formats, echoing typed text, escaping names, choice labels."""

from __future__ import annotations

import disnake
from hypothesis import given
from hypothesis import strategies as st

from etbot.commands.formatting import (
    MAX_CHOICE_LENGTH,
    STAT_FORMATS,
    echo,
    error_text,
    fmt_stat,
    player_choice,
)
from etbot.errors import AmbiguousPlayer, NoData, Typed, UnknownPlayer
from etbot.players import PlayerMatch, PlayerRef
from etbot.statdefs import STATS

GUID = "0123456789ABCDEF0123456789ABCDEF"


def test_every_stat_has_a_format() -> None:
    assert set(STAT_FORMATS) == set(STATS)


def test_stat_formats() -> None:
    assert fmt_stat("kd", 1.234) == "1.23"
    assert fmt_stat("dpm", 245.06) == "245.1"
    assert fmt_stat("kills", 12345) == "12,345"
    assert fmt_stat("accuracy", 31.26) == "31.3%"
    assert fmt_stat("time_played", 3900) == "1h 05m"
    assert fmt_stat("time_played", 420) == "7m"
    assert fmt_stat("time_played", -30) == "0m"
    assert fmt_stat("kd", None) == "–"
    assert fmt_stat("not-a-stat", 2.5) == "2.50"


def test_typed_text_is_echoed_quoted_and_defused() -> None:
    assert echo("@everyone **hi** `x`|>~_\\") == "“@\u200beveryone hi x”"
    assert echo("a\x00b\u200e") == "“ab”"
    assert echo("x" * 41) == "“" + "x" * 39 + "…”"
    assert echo("x" * 40) == "“" + "x" * 40 + "”"
    assert echo("[click](https://evil.example)") == "“\\[click\\](https://evil.example)”"


def test_error_text_escapes_every_field_for_discord() -> None:
    error = NoData("{player} has no rounds in this period ({period}).", player="a_b_c", period="x")
    assert str(error) == "a_b_c has no rounds in this period (x)."  # plain, for logs
    assert error_text(error) == "a\\_b\\_c has no rounds in this period (x)."
    typed = UnknownPlayer("No player called {name}.", name=Typed("@here *x*"))
    assert str(typed) == "No player called “@here *x*”."
    assert error_text(typed) == "No player called “@\u200bhere x”."


def test_ambiguous_player_lists_five_candidates_escaped() -> None:
    refs = [PlayerRef(i, f"{i:08X}", f"*p{i}*") for i in range(7)]
    error = AmbiguousPlayer("P", refs)
    assert error.candidates == refs
    assert error_text(error) == (
        "7 players have used the name “P”: "
        + ", ".join(f"\\*p{i}\\* ({i:08X})" for i in range(5))
        + " and 2 more. Pick one from the list."
    )


def test_choice_label_names_the_alias_and_the_current_name() -> None:
    same = player_choice(PlayerMatch(1, "Foo", "foo", GUID))
    assert (same.name, same.value) == ("Foo", f"guid:{GUID}")
    other = player_choice(PlayerMatch(1, "Foo", "Bar", GUID))
    assert other.name == "Foo (aka Bar)"
    long_alias = player_choice(PlayerMatch(1, "a" * 120, "Bar", GUID))
    assert long_alias.name == "a" * (MAX_CHOICE_LENGTH - 11) + "… (aka Bar)"
    long_name = player_choice(PlayerMatch(1, "Foo", "b" * 80, GUID))
    assert long_name.name.startswith("Foo (aka bbb")
    assert long_name.name.endswith("…)")
    assert len(long_name.name) == 3 + MAX_CHOICE_LENGTH // 2
    assert player_choice(PlayerMatch(1, "   ", "   ", GUID)).name == GUID


@given(alias=st.text(max_size=150), name=st.text(max_size=150))
def test_choices_fit_discord_limits(alias: str, name: str) -> None:
    choice = player_choice(PlayerMatch(7, alias, name, GUID))
    assert isinstance(choice, disnake.OptionChoice)
    assert 0 < len(choice.name) <= MAX_CHOICE_LENGTH
    assert choice.value == f"guid:{GUID}"


def test_clip_markdown_never_leaves_half_an_escape() -> None:
    from etbot.commands.formatting import TITLE_MAX, clip_markdown, escape, escaped_title

    assert clip_markdown("abc", 3) == "abc"
    assert clip_markdown("abcd", 3) == "ab…"
    assert clip_markdown(escape("a_b"), 3) == "a…"  # not "a\\…", which escapes the ellipsis
    # four backslashes = two escaped ones: the cut keeps one whole escape, not a half
    assert clip_markdown("\\\\\\\\x", 4) == "\\\\…"
    title = escaped_title("_" * 200, " · K/D trend")
    assert len(title) <= TITLE_MAX
    assert title.endswith("… · K/D trend")
    assert not title.removesuffix("… · K/D trend").endswith("\\_\\")
