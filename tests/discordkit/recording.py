"""Unit-test cogs without any server: real disnake interactions, recorded HTTP.

:class:`DiscordRecorder` swaps the aiohttp session of a bot's :class:`disnake.http.HTTPClient`
for an in-memory one that answers from :class:`discordkit.api.FakeDiscordApi`. Everything above
the socket is disnake's own code: ``HTTPClient.request`` *and* the webhook adapter that
interaction responses, ``edit_original_response`` and ``followup.send`` use (those never pass
through ``HTTPClient.request``), including JSON and multipart serialisation of files and embeds.
It also "logs in" the bot's :class:`~disnake.state.ConnectionState` offline: bot user,
application id and the world's guilds (with channels, roles and the bot's member)::

    bot = commands.InteractionBot(owner_id=OWNER_ID)
    bot.add_cog(StatsCog(bot))
    with DiscordRecorder(bot) as rec:
        inter = await rec.invoke_slash(payloads.slash_command("stats", [...]))
        [reply] = rec.by_route(INTERACTION_CALLBACK)
        assert reply.embeds[0]["title"] == "Stats"

        inter = rec.slash(payloads.slash_command("ping"))   # just build it
        await inter.response.defer(ephemeral=True)
        await inter.followup.send(file=disnake.File(io.BytesIO(png), "chart.png"))
        assert rec.requests[-1].attachments == [("chart.png", png)]

``invoke_slash`` / ``invoke_autocomplete`` run the command the way the bot would (checks,
converters, autocompleters) and by default re-raise the command's exception;
``await rec.dispatch(payload)`` feeds the payload to the gateway parser instead, so views,
listeners (``on_button_click``, ``on_dropdown``, ``on_modal_submit``) and error handlers run
in background tasks; wait for their requests with ``await rec.wait_for(...)``.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import aiohttp
import disnake
import yarl
from disnake.ext import commands
from disnake.ext.commands.interaction_bot_base import InteractionBotBase
from disnake.interactions import (
    ApplicationCommandInteraction,
    Interaction,
    MessageInteraction,
    ModalInteraction,
)
from multidict import CIMultiDict

from .api import FakeDiscordApi, Predicate, RecordedRequest
from .world import FakeWorld

__all__ = ["DiscordRecorder", "RecordingSession", "parse_multipart"]

_API_PATH = re.compile(r"^/api(?:/v\d+)?(/.*)$")


class _Response:
    """The part of ``aiohttp.ClientResponse`` disnake reads."""

    def __init__(self, method: str, url: str, status: int, body: Any) -> None:
        self.method = method
        self.url = yarl.URL(url)
        self.status = status
        self.reason = HTTPStatus(status).phrase
        self.headers: CIMultiDict[str] = CIMultiDict()
        if body is None:
            self._body = b""
        else:
            self._body = json.dumps(body).encode()
            self.headers["Content-Type"] = "application/json"

    async def text(self, encoding: str = "utf-8") -> str:
        return self._body.decode(encoding)

    async def read(self) -> bytes:
        return self._body

    async def json(self) -> Any:
        return json.loads(self._body) if self._body else None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class _RequestContext:
    def __init__(self, session: RecordingSession, method: str, url: str, kwargs: Any) -> None:
        self._session, self._method, self._url, self._kwargs = session, method, url, kwargs

    async def __aenter__(self) -> _Response:
        return await self._session._perform(self._method, self._url, **self._kwargs)

    async def __aexit__(self, *exc: object) -> None:
        return None


class _Collector:
    """Minimal ``AbstractStreamWriter`` for aiohttp versions without ``as_bytes``."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    async def write(self, chunk: bytes) -> None:
        self.buffer.extend(chunk)

    async def write_eof(self, chunk: bytes = b"") -> None:
        self.buffer.extend(chunk)

    async def drain(self) -> None:
        return None


def parse_multipart(body: bytes, content_type: str) -> tuple[Any, list[tuple[str, bytes]]]:
    """Split a ``multipart/form-data`` body into (``payload_json`` decoded, files)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise ValueError(f"no boundary in {content_type!r}")
    delimiter = b"--" + match.group(1).encode()
    payload: Any = None
    files: list[tuple[str, bytes]] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break  # closing delimiter
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        disposition = next(
            (
                line.decode("utf-8", "replace")
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-disposition:")
            ),
            "",
        )
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if name and name.group(1) == "payload_json":
            payload = json.loads(content)
        elif filename:
            files.append((filename.group(1), content))
    return payload, files


class RecordingSession:
    """Stands in for the bot's ``aiohttp.ClientSession``; answers from a FakeDiscordApi."""

    def __init__(self, api: FakeDiscordApi) -> None:
        self.api = api
        self.closed = False

    def request(self, method: str, url: str | yarl.URL, **kwargs: Any) -> _RequestContext:
        return _RequestContext(self, method, str(url), kwargs)

    def get(self, url: str | yarl.URL, **kwargs: Any) -> _RequestContext:
        return self.request("GET", url, **kwargs)

    async def ws_connect(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the recording session has no gateway; use FakeDiscord for that")

    async def close(self) -> None:
        self.closed = True

    async def _perform(
        self,
        method: str,
        url: str,
        *,
        data: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        **_ignored: Any,
    ) -> _Response:
        headers = dict(headers or {})
        parsed = yarl.URL(url)
        query = {k: v for k, v in parsed.query.items()}
        query.update({k: str(v) for k, v in (params or {}).items()})
        match = _API_PATH.match(parsed.path)
        path = match.group(1) if match else parsed.path

        body: Any = None
        files: list[tuple[str, bytes]] = []
        if isinstance(data, aiohttp.FormData):
            form = data()
            if hasattr(form, "as_bytes"):
                raw = await form.as_bytes()
            else:  # aiohttp < 3.12
                collector = _Collector()
                await form.write(collector)  # type: ignore[arg-type]
                raw = bytes(collector.buffer)
            body, files = parse_multipart(raw, form.headers["Content-Type"])
        elif isinstance(data, str | bytes) and data:
            text = data.decode() if isinstance(data, bytes) else data
            is_json = headers.get("Content-Type", "").startswith("application/json")
            body = json.loads(text) if is_json else text

        recorded = self.api.handle(
            method, path, query=query, json=body, attachments=files, headers=headers
        )
        return _Response(method, url, recorded.status, recorded.response)


BotT = TypeVar("BotT", bound=disnake.Client)


class DiscordRecorder(Generic[BotT]):
    """Record a bot's HTTP traffic and build real interactions for it (module docstring).

    Generic in the bot's class, so ``rec.bot`` keeps its type (e.g. ``EtBot``)."""

    def __init__(self, bot: BotT, world: FakeWorld | None = None, *, login: bool = True) -> None:
        self.bot = bot
        self.api = FakeDiscordApi(world)
        self.world = self.api.world
        self.session = RecordingSession(self.api)
        self._login = login
        self._previous_session: Any = None
        self._previous_token: str | None = None
        self._installed = False

    # ------------------------------------------------------------------ install

    def install(self) -> Self:
        """Replace the bot's HTTP session; with ``login=True`` also fill the state offline."""
        http = self.bot.http
        self._previous_session = getattr(http, "_HTTPClient__session", None)
        self._previous_token = http.token
        http._HTTPClient__session = self.session  # type: ignore[attr-defined]
        if http.token is None:
            http.token = "fake-bot-token"
        if self._login:
            self._login_offline()
        self._installed = True
        return self

    def uninstall(self) -> None:
        if not self._installed:
            return
        http = self.bot.http
        http._HTTPClient__session = self._previous_session  # type: ignore[attr-defined]
        http.token = self._previous_token
        self._installed = False

    def __enter__(self) -> Self:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    def _login_offline(self) -> None:
        state = self.bot._connection
        if state.user is None:
            state.user = disnake.ClientUser(state=state, data=self.world.bot_user_payload())
        if state.application_id is None:
            state.application_id = self.world.application_id
        for guild in self.world.guilds:
            if state._get_guild(guild.id) is None:
                state._add_guild_from_data(guild.to_payload())  # type: ignore[arg-type]

    # ------------------------------------------------------------------ records

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.api.requests

    def by_route(self, route: str) -> list[RecordedRequest]:
        return self.api.by_route(route)

    def for_interaction(self, payload: dict[str, Any]) -> list[RecordedRequest]:
        return self.api.for_interaction(payload)

    async def wait_for(
        self, predicate: Predicate, timeout: float = 5.0, *, start: int = 0
    ) -> RecordedRequest:
        return await self.api.wait_for(predicate, timeout, start=start)

    async def wait_for_response(
        self, payload: dict[str, Any], timeout: float = 5.0
    ) -> RecordedRequest:
        return await self.api.wait_for_response(payload, timeout)

    def clear(self) -> None:
        self.api.clear()

    # ------------------------------------------------------------------ interactions

    def _check_installed(self) -> None:
        if not self._installed:
            raise RuntimeError("install the recorder first (with DiscordRecorder(bot) as rec)")

    def build(self, payload: dict[str, Any]) -> Interaction:
        """A real interaction of the matching class for ``payload`` (types 2, 3, 4, 5)."""
        self._check_installed()
        self.api.register_interaction(payload)
        state = self.bot._connection
        kind = payload["type"]
        if kind in (2, 4):
            return ApplicationCommandInteraction(data=payload, state=state)  # type: ignore[arg-type]
        if kind == 3:
            return MessageInteraction(data=payload, state=state)  # type: ignore[arg-type]
        if kind == 5:
            return ModalInteraction(data=payload, state=state)  # type: ignore[arg-type]
        raise ValueError(f"unsupported interaction type {kind}")

    def slash(self, payload: dict[str, Any]) -> ApplicationCommandInteraction:
        """Build an application command (or autocomplete) interaction."""
        inter = self.build(payload)
        assert isinstance(inter, ApplicationCommandInteraction)
        return inter

    def message_interaction(self, payload: dict[str, Any]) -> MessageInteraction:
        """Build a component (button / select) interaction."""
        inter = self.build(payload)
        assert isinstance(inter, MessageInteraction)
        return inter

    def modal_interaction(self, payload: dict[str, Any]) -> ModalInteraction:
        inter = self.build(payload)
        assert isinstance(inter, ModalInteraction)
        return inter

    async def invoke_slash(
        self, payload: dict[str, Any], *, raise_errors: bool = True
    ) -> ApplicationCommandInteraction:
        """Run the slash command named in ``payload`` (global checks, command checks,
        converters). ``raise_errors=False`` uses ``bot.process_application_commands`` so the
        bot's error handlers run instead of raising; disnake runs those in a task, so wait for
        their answer with ``await rec.wait_for_response(payload)``."""
        inter = self.slash(payload)
        bot = self.bot
        if not isinstance(bot, InteractionBotBase):
            raise TypeError("invoke_slash needs a disnake.ext.commands bot")
        if not raise_errors:
            await bot.process_application_commands(inter)
            return inter
        command = bot.all_slash_commands.get(inter.data.name)
        if command is None:
            raise LookupError(f"bot has no slash command {inter.data.name!r}")
        if not await bot.application_command_can_run(inter, call_once=True):
            raise commands.CheckFailure("The global check_once functions failed.")
        try:
            await command.invoke(inter)
        except commands.CommandInvokeError as exc:
            raise exc.original from exc
        return inter

    async def invoke_autocomplete(self, payload: dict[str, Any]) -> ApplicationCommandInteraction:
        """Run the autocompleter for the focused option; the answer is the type 8 callback
        (``rec.requests[-1].choices``)."""
        inter = self.slash(payload)
        bot = self.bot
        if not isinstance(bot, InteractionBotBase):
            raise TypeError("invoke_autocomplete needs a disnake.ext.commands bot")
        await bot.process_app_command_autocompletion(inter)
        return inter

    async def dispatch(self, payload: dict[str, Any]) -> None:
        """Hand ``payload`` to the gateway parser as an INTERACTION_CREATE event."""
        self._check_installed()
        self.api.register_interaction(payload)
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
