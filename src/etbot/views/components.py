"""Persistent components: buttons, selects and modals that keep working after a restart.

A persistent component carries everything needed to handle it in its ``custom_id``,
namespaced as ``etbot:<feature>:<action>:<arg>:…`` (e.g. ``etbot:bet:side:42:1`` = betting
pool 42, side 1), and its state lives in the database. Instead of a ``disnake.ui.View``
object per message that would have to be re-created at every start, a cog handles all
components of its feature with one listener, which disnake calls for every interaction
whatever message it comes from:

.. code-block:: python

    class BettingCog(BaseCog):
        @component_listener("bet")
        async def on_bet_component(self, inter, action, args): ...

        @component_listener("bet", event="modal_submit")
        async def on_bet_modal(self, inter, action, args): ...

Errors raised by a handler go through the bot's one error path
(:func:`etbot.commands.errors.report_error`): a friendly ephemeral answer, never a traceback.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from disnake.ext import commands

log = logging.getLogger(__name__)

PREFIX = "etbot"
SEPARATOR = ":"
#: Discord's limit for a custom id.
MAX_CUSTOM_ID = 100

#: Events that carry a ``custom_id``: button clicks, select menus, modal submissions.
EVENTS = ("button_click", "dropdown", "modal_submit")

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[None]])


class CustomIdError(ValueError):
    """A custom id that cannot be built (too long, or a part contains the separator)."""


def custom_id(namespace: str, action: str, *args: int | str) -> str:
    """``etbot:<namespace>:<action>:<args…>``; raises :class:`CustomIdError` when invalid."""
    parts = [PREFIX, namespace, action, *(str(a) for a in args)]
    if any(not p or SEPARATOR in p for p in parts):
        raise CustomIdError(f"custom id parts must be non-empty and free of ':': {parts!r}")
    value = SEPARATOR.join(parts)
    if len(value) > MAX_CUSTOM_ID:
        raise CustomIdError(f"custom id longer than {MAX_CUSTOM_ID} characters: {value!r}")
    return value


def parse_custom_id(value: str | None, namespace: str) -> tuple[str, list[str]] | None:
    """``(action, args)`` of an etbot custom id of ``namespace``; ``None`` for any other id."""
    if not value:
        return None
    parts = value.split(SEPARATOR)
    if len(parts) < 3 or parts[0] != PREFIX or parts[1] != namespace or not parts[2]:
        return None
    return parts[2], parts[3:]


def int_arg(args: list[str], index: int) -> int:
    """Argument ``index`` of a parsed custom id as an int.

    Custom ids come back from Discord clients, so they are user input like any other: a
    malformed one raises :class:`CustomIdError`, which the error path shows as an outdated
    button.
    """
    try:
        return int(args[index])
    except (IndexError, ValueError):
        raise CustomIdError(f"malformed component id arguments {args!r}") from None


def component_listener(namespace: str, *, event: str = "button_click") -> Callable[[Handler], Any]:
    """Make a cog method the handler of every ``event`` whose custom id is in ``namespace``.

    The method is called as ``method(self, inter, action, args)``; interactions of other
    components are ignored. ``event`` is one of :data:`EVENTS`.
    """
    if event not in EVENTS:
        raise ValueError(f"event must be one of {EVENTS}, not {event!r}")

    def decorate(method: Handler) -> Any:
        @functools.wraps(method)
        async def listener(self: Any, inter: Any) -> None:
            parsed = parse_custom_id(_custom_id_of(inter), namespace)
            if parsed is None:
                return
            action, args = parsed
            try:
                await method(self, inter, action, args)
            except Exception as exc:  # noqa: BLE001 every error gets the friendly reply
                from etbot.commands.errors import report_error

                await report_error(inter, exc)

        return commands.Cog.listener(f"on_{event}")(listener)

    return decorate


def _custom_id_of(inter: Any) -> str | None:
    data = getattr(inter, "data", None)
    return getattr(data, "custom_id", None)
