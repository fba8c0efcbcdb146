"""The domain's user errors: problems the user can fix, shown by the bot's one error path.

An error holds a friendly message with ``{named}`` fields and the raw values of those
fields (what the user typed, player names…). It does not escape anything: ``str(error)``
is plain text for logs and the command line, and the Discord layer renders the same
message with every field escaped for Discord (:func:`etbot.commands.formatting.error_text`).
Values that must never go directly into the message are the point of the fields: text
chosen by users (typed options, player names) always goes in a field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from etbot.players import PlayerRef


class Typed(str):
    """Text a user typed, echoed back inside an error message (shown quoted)."""


def plain(value: object) -> str:
    """A field as plain text: typed text in quotes, sequences joined with commas."""
    if isinstance(value, Typed):
        return f"“{value}”"
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return str(value)


class UserError(Exception):
    """A problem the user can fix; the message is friendly, its fields hold raw values.

    Args:
        message: The text, with ``{name}`` placeholders for the fields (and no other braces
            when there are fields).
        **fields: The raw values: :class:`Typed` for echoed user input, ``str`` for names
            from the data, lists of those, or numbers.
    """

    def __init__(self, message: str, /, **fields: object) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def render(self, show: Callable[[object], str]) -> str:
        """The message with every field passed through ``show`` (quoting, escaping…)."""
        if not self.fields:
            return self.message
        return self.message.format_map({k: show(v) for k, v in self.fields.items()})

    def __str__(self) -> str:
        return self.render(plain)


class UnknownPlayer(UserError):
    """No player matches what was typed."""


class AmbiguousPlayer(UserError):
    """Several players have used the typed name; ``candidates`` lists them."""

    #: Candidates named in the message (the rest are counted).
    LISTED = 5

    def __init__(self, typed: str, candidates: Sequence[PlayerRef]) -> None:
        more = len(candidates) - self.LISTED
        tail = f" and {more} more" if more > 0 else ""
        super().__init__(
            f"{len(candidates)} players have used the name {{name}}: {{listed}}{tail}. "
            "Pick one from the list.",
            name=Typed(typed),
            listed=[f"{c.name} ({c.guid})" for c in candidates[: self.LISTED]],
        )
        self.candidates = list(candidates)


class NoData(UserError):
    """The query is valid but there is nothing to show (e.g. no rounds in the period)."""


class BadOption(UserError):
    """An option value is not one of the allowed ones."""


class AlreadyLinked(UserError):
    """The GUID is linked to another Discord member."""
