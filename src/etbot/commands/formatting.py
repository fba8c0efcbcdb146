"""Discord text: number formats, escaping, truncation and Discord's size limits.

The domain layer returns numbers and raw names; everything that turns them into the
text of an embed, a choice or an error message lives here, so the rules (what is
escaped, how long a label may be) are the same in every command.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import disnake

from etbot.errors import Typed, UserError
from etbot.players import GUID_PREFIX, PlayerMatch

#: Discord limits: choices per autocomplete answer, characters per choice name / value.
MAX_CHOICES = 25
MAX_CHOICE_LENGTH = 100
#: Characters of typed text echoed back in an error message.
ECHO_LIMIT = 40
#: Discord limits: characters of an embed title and of an embed field's name.
TITLE_MAX = 256
FIELD_NAME_MAX = 256


# --------------------------------------------------------------------------- numbers


def whole(x: float) -> str:
    """1,234"""
    return f"{x:,.0f}"


def two_decimals(x: float) -> str:
    return f"{x:.2f}"


def one_decimal(x: float) -> str:
    return f"{x:.1f}"


def percent(x: float) -> str:
    """12.3%"""
    return f"{x:.1f}%"


def duration(seconds: float) -> str:
    """1h 05m, or 7m under an hour (rounded to the minute; negative counts as 0)."""
    minutes = max(0, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


#: How each statistic of :data:`etbot.statdefs.STATS` is shown.
STAT_FORMATS: dict[str, Callable[[float], str]] = {
    "kd": two_decimals,
    "dpm": one_decimal,
    "kills": whole,
    "deaths": whole,
    "damage": whole,
    "accuracy": percent,
    "headshot_pct": percent,
    "revives": whole,
    "objectives": whole,
    "assists": whole,
    "gibs": whole,
    "xp": whole,
    "time_played": duration,
    "rounds": whole,
}


def fmt_stat(key: str, value: float | None) -> str:
    """``value`` formatted the way statistic ``key`` is shown ("–" for no value)."""
    if value is None:
        return "–"
    formatter = STAT_FORMATS.get(key)
    if formatter is None:
        return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
    return formatter(value)


# --------------------------------------------------------------------------- text


def clip(text: str, limit: int = MAX_CHOICE_LENGTH) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis when cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_markdown(text: str, limit: int) -> str:
    """Escaped markdown cut to ``limit`` characters (with an ellipsis when cut), never
    leaving half an escape (a lone backslash) at the cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    return cut + "…"


def escaped_title(name: str, suffix: str = "") -> str:
    """An embed title: ``name`` escaped, cut so that it and ``suffix`` fit Discord's limit."""
    return clip_markdown(escape(name), TITLE_MAX - len(suffix)) + suffix


def escape(text: str) -> str:
    """Text from the data (player names, aliases, maps, servers) shown literally in
    Discord markdown."""
    return disnake.utils.escape_markdown(text)


def echo(text: str, limit: int = ECHO_LIMIT) -> str:
    """What a user typed, made safe to echo in a message: quoted, shortened, and without
    mentions, markdown (masked links included) or control characters."""
    cleaned = "".join(
        ch for ch in text if unicodedata.category(ch)[0] != "C" and ch not in "`*_~|>\\"
    )
    cleaned = cleaned.replace("@", "@\u200b").strip()
    # An unescaped "[text](url)" would render as a masked link: escape the brackets (the
    # user's own backslashes are gone, so these are the only ones).
    shown = clip(cleaned, limit).replace("[", "\\[").replace("]", "\\]")
    return f"“{shown}”"


def show(value: object) -> str:
    """One field of an error message as Discord text (see :func:`error_text`)."""
    if isinstance(value, Typed):
        return echo(value)
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value)
    if isinstance(value, str):
        return escape(value)
    return str(value)


def error_text(error: UserError) -> str:
    """A domain error's message for Discord: typed text echoed safely, names escaped."""
    return error.render(show)


# --------------------------------------------------------------------------- choices


def player_choice(match: PlayerMatch) -> disnake.OptionChoice:
    """The autocomplete choice of a player match: the alias that matched, and the current
    name when it differs (``alias (aka name)``); the value names the GUID."""
    value = f"{GUID_PREFIX}{match.guid}"[:MAX_CHOICE_LENGTH]
    if match.alias.lower() == match.name.lower():
        label = match.alias
    else:
        suffix = f" (aka {match.name})"
        if len(suffix) > MAX_CHOICE_LENGTH // 2:
            suffix = suffix[: MAX_CHOICE_LENGTH // 2 - 2] + "…)"
        label = clip(match.alias, MAX_CHOICE_LENGTH - len(suffix)) + suffix
    label = label.strip() or match.guid
    return disnake.OptionChoice(label[:MAX_CHOICE_LENGTH], value)
