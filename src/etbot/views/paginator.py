"""Previous / Next paging for long answers (leaderboards).

The view holds no rows, only the page number: each click asks the cog's ``fetch`` callback
for that page again (it goes through the query cache, so paging is cheap). Only the member
who ran the command can page; others get an ephemeral note. After ``timeout`` seconds without
a click the buttons are removed from the message (if it still exists).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import disnake
from disnake.interactions import ApplicationCommandInteraction, MessageInteraction

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 180.0


@dataclass(frozen=True)
class Page:
    """One rendered page: the embed and how many pages there are in total (at least 1)."""

    embed: disnake.Embed
    page_count: int


PageFetcher = Callable[[int], Awaitable[Page]]


class Paginator(disnake.ui.View):
    """Previous / page n of m / Next buttons over pages produced by ``fetch(page_index)``.

    Args:
        owner_id: Discord id of the member allowed to page.
        fetch: Coroutine returning :class:`Page` for a 0-based page index.
        page: The page currently shown.
        page_count: Pages in total (from the first :class:`Page`).
        timeout: Seconds of inactivity before the buttons are removed.
    """

    def __init__(
        self,
        owner_id: int,
        fetch: PageFetcher,
        *,
        page: int = 0,
        page_count: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.fetch = fetch
        self.page = page
        self.page_count = max(1, page_count)
        #: The message the view is attached to (set by the caller), edited on timeout.
        self.message: disnake.Message | None = None
        self._sync_buttons()

    @classmethod
    async def start(
        cls,
        inter: ApplicationCommandInteraction,
        fetch: PageFetcher,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 the view's idle timeout, not a deadline
    ) -> Paginator | None:
        """Show page 0 as the (deferred) response of ``inter``; buttons only if there is more
        than one page. Returns the view, or ``None`` when no buttons were needed.

        ``timeout`` defaults to :data:`DEFAULT_TIMEOUT` (read at call time).
        """
        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        first = await fetch(0)
        if first.page_count <= 1:
            await _respond(inter, first.embed, None)
            return None
        view = cls(inter.author.id, fetch, page_count=first.page_count, timeout=timeout)
        view.message = await _respond(inter, first.embed, view)
        return view

    def _sync_buttons(self) -> None:
        self.previous.disabled = self.page <= 0
        self.next.disabled = self.page >= self.page_count - 1
        self.position.label = f"{self.page + 1} / {self.page_count}"

    async def interaction_check(self, inter: MessageInteraction) -> bool:
        if inter.author.id == self.owner_id:
            return True
        await inter.response.send_message(
            "Only the person who ran the command can turn its pages. "
            "Run the command yourself to browse.",
            ephemeral=True,
        )
        return False

    async def show(self, inter: MessageInteraction, page: int) -> None:
        """Fetch ``page`` again and put it on the message."""
        result = await self.fetch(page)
        self.page_count = max(1, result.page_count)
        self.page = min(max(0, page), self.page_count - 1)
        self._sync_buttons()
        await inter.response.edit_message(embed=result.embed, view=self)

    @disnake.ui.button(label="◀ Previous", style=disnake.ButtonStyle.secondary)
    async def previous(self, button: disnake.ui.Button, inter: MessageInteraction) -> None:
        await self.show(inter, self.page - 1)

    @disnake.ui.button(label="1 / 1", style=disnake.ButtonStyle.secondary, disabled=True)
    async def position(self, button: disnake.ui.Button, inter: MessageInteraction) -> None:
        """Only a label (always disabled)."""

    @disnake.ui.button(label="Next ▶", style=disnake.ButtonStyle.primary)
    async def next(self, button: disnake.ui.Button, inter: MessageInteraction) -> None:
        await self.show(inter, self.page + 1)

    async def on_timeout(self) -> None:
        """Remove the buttons; a deleted message or an expired token is not an error."""
        if self.message is None:
            return
        try:
            await self.message.edit(view=None)
        except disnake.HTTPException as exc:
            log.debug("could not remove paginator buttons: %s", exc)

    async def on_error(
        self, error: Exception, item: disnake.ui.Item, inter: MessageInteraction
    ) -> None:
        from etbot.commands.errors import report_error

        await report_error(inter, error)


async def _respond(
    inter: ApplicationCommandInteraction,
    embed: disnake.Embed,
    view: disnake.ui.View | None,
) -> disnake.Message:
    """Answer ``inter`` with ``embed`` (+ ``view``), whether or not it was deferred."""
    kwargs: dict[str, object] = {"embed": embed}
    if view is not None:
        kwargs["view"] = view
    if inter.response.is_done():
        return await inter.edit_original_response(**kwargs)  # type: ignore[arg-type]
    await inter.response.send_message(**kwargs)  # type: ignore[arg-type]
    return await inter.original_response()
