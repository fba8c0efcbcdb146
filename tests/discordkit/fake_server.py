"""A small fake Discord (REST + gateway websocket) on 127.0.0.1 for end-to-end tests.

An unmodified disnake bot talks to it once ``disnake.http.Route.BASE`` points at
:attr:`FakeDiscord.base_url` (use :func:`discordkit.harness.use_api_base` or
:func:`discordkit.harness.running_bot`, which restore it)::

    async with FakeDiscord() as server, running_bot(make_bot(), server):
        payload = server.slash_command("ping")
        await server.dispatch_interaction(payload)
        reply = await server.wait_for_response(payload)
        assert reply.content == "pong"

REST is served by :class:`discordkit.api.FakeDiscordApi` (``server.api``): every request is
recorded (``server.requests``), unknown routes get a 404 JSON error (``server.unknown_requests``),
JSON answers carry exactly ``Content-Type: application/json`` and multipart bodies are split into
``payload_json`` and ``attachments`` ``[(filename, bytes)]``.

The gateway (``/ws``) sends HELLO, answers IDENTIFY with READY (guilds unavailable) followed by a
GUILD_CREATE per guild of the world, RESUME with RESUMED, heartbeats with ACKs and member requests
(op 8) with one GUILD_MEMBERS_CHUNK; it records everything the bot sends (``gateway_received``,
``presence_updates``, ``identify_payloads``). ``await server.dispatch(name, data)`` sends any
dispatch event; ``zlib-stream`` compression is honoured when the bot asks for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import zlib
from collections.abc import Sequence
from typing import Any, Self, Unpack

from aiohttp import BodyPartReader, WSMsgType, web

from . import payloads
from .api import FakeDiscordApi, Predicate, RecordedRequest
from .world import FakeWorld

__all__ = ["FakeDiscord"]

API_PREFIX = "/api/v10"


class _GatewayConnection:
    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self.identified = False
        self._zlib = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        async with self._lock:
            if self._zlib is None:
                await self.ws.send_str(text)
            else:
                data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(data)


class FakeDiscord:
    """The fake Discord server. Use as ``async with FakeDiscord() as server``."""

    def __init__(
        self,
        world: FakeWorld | None = None,
        *,
        heartbeat_interval_ms: int = 41_250,
        token: str | None = None,
    ) -> None:
        """``token``: if given, REST calls with another bot token get 401."""
        self.api = FakeDiscordApi(world)
        self.world = self.api.world
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.token = token
        self.port: int = 0
        self.gateway_received: list[dict[str, Any]] = []
        self.gateway_sent: list[dict[str, Any]] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.presence_updates: list[dict[str, Any]] = []
        #: exceptions raised while handling requests (answered with 400)
        self.errors: list[Exception] = []
        self.session_id = secrets.token_hex(16)
        self._sequence = 0
        self._connections: list[_GatewayConnection] = []
        self._connection: _GatewayConnection | None = None
        self._identified = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._gateway)
        app.router.add_route("*", "/api/{version}/{tail:.*}", self._rest)
        app.router.add_route("*", "/{tail:.*}", self._not_api)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.api.gateway_url = f"ws://127.0.0.1:{self.port}/ws"

    async def stop(self) -> None:
        for connection in list(self._connections):
            with contextlib.suppress(Exception):
                await connection.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """Value for ``disnake.http.Route.BASE``."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return self.api.gateway_url

    # ------------------------------------------------------------------ REST shortcuts

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.api.requests

    @property
    def unknown_requests(self) -> list[RecordedRequest]:
        return self.api.unknown_requests

    async def wait_for(
        self, predicate: Predicate, timeout: float = 5.0, *, start: int = 0
    ) -> RecordedRequest:
        """See :meth:`FakeDiscordApi.wait_for`."""
        return await self.api.wait_for(predicate, timeout, start=start)

    async def wait_for_response(
        self, payload: dict[str, Any], timeout: float = 5.0
    ) -> RecordedRequest:
        """Wait for the initial interaction response (callback) to ``payload``."""
        return await self.api.wait_for_response(payload, timeout)

    def for_interaction(self, payload: dict[str, Any]) -> list[RecordedRequest]:
        return self.api.for_interaction(payload)

    def command_id(self, name: str, guild_id: int | None = None) -> int:
        return self.api.command_id(name, guild_id)

    def _command_scope(self, name: str) -> tuple[int, int | None]:
        """(command id, guild id) of a synced command, guild commands first."""
        for guild in self.world.guilds:
            with contextlib.suppress(LookupError):
                return self.api.command_id(name, guild.id), guild.id
        return self.api.command_id(name, None), None

    def slash_command(
        self,
        name: str,
        options: Sequence[dict[str, Any]] = (),
        **context: Unpack[payloads.InteractionContext],
    ) -> dict[str, Any]:
        """:func:`payloads.slash_command` with the synced command's id and guild filled in."""
        command_id, guild_id = self._command_scope(name)
        context.setdefault("world", self.world)
        return payloads.slash_command(
            name, options, command_id=command_id, command_guild_id=guild_id, **context
        )

    def autocomplete(
        self,
        name: str,
        options: Sequence[dict[str, Any]],
        **context: Unpack[payloads.InteractionContext],
    ) -> dict[str, Any]:
        """:func:`payloads.autocomplete` with the synced command's id and guild filled in."""
        command_id, guild_id = self._command_scope(name)
        context.setdefault("world", self.world)
        return payloads.autocomplete(
            name, options, command_id=command_id, command_guild_id=guild_id, **context
        )

    # ------------------------------------------------------------------ gateway API

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.ws.closed

    async def wait_until_identified(self, timeout: float = 5.0) -> None:
        await asyncio.wait_for(self._identified.wait(), timeout)

    async def dispatch(self, event: str, data: Any) -> int:
        """Send a DISPATCH (op 0) event to the connected bot; returns its sequence number."""
        connection = self._connection
        if connection is None or connection.ws.closed:
            raise RuntimeError("no bot is connected to the fake gateway")
        self._sequence += 1
        payload = {"op": 0, "t": event, "s": self._sequence, "d": data}
        self.gateway_sent.append(payload)
        await connection.send(payload)
        return self._sequence

    async def dispatch_interaction(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Register the interaction (so webhook calls know its channel) and send
        INTERACTION_CREATE. Returns ``payload``."""
        self.api.register_interaction(payload)
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def send_op(self, op: int, data: Any = None) -> None:
        """Send a raw non-dispatch opcode (e.g. 7 RECONNECT, 9 INVALID_SESSION)."""
        if self._connection is None:
            raise RuntimeError("no bot is connected to the fake gateway")
        payload = {"op": op, "d": data}
        self.gateway_sent.append(payload)
        await self._connection.send(payload)

    # ------------------------------------------------------------------ handlers

    async def _not_api(self, request: web.Request) -> web.Response:
        recorded = self.api.handle(request.method, request.path, query=dict(request.query))
        return _json_response(recorded.status, recorded.response)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle_rest(request)
        except Exception as exc:  # noqa: BLE001 a kit bug must fail the test fast, not make disnake retry
            self.errors.append(exc)
            body = {"code": 0, "message": f"fake Discord crashed: {exc!r}"}
            return _json_response(400, body)

    async def _handle_rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        attachments: list[tuple[str, bytes]] = []
        content_type = request.content_type
        if content_type == "multipart/form-data":
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                assert isinstance(part, BodyPartReader)  # no nested multiparts
                data = await part.read()
                if part.name == "payload_json":
                    body = json.loads(data)
                elif part.filename is not None:
                    attachments.append((part.filename, bytes(data)))
        elif request.can_read_body:
            raw = await request.read()
            if content_type == "application/json" and raw:
                body = json.loads(raw)
            elif raw:
                body = raw.decode("utf-8", "replace")

        expected = f"Bot {self.token}"
        authorization = request.headers.get("Authorization")
        if self.token is not None and authorization is not None and authorization != expected:
            recorded = RecordedRequest(request.method, path, json=body, status=401)
            self.api.requests.append(recorded)
            return _json_response(401, {"code": 0, "message": "401: Unauthorized"})

        recorded = self.api.handle(
            request.method,
            path,
            query=dict(request.query),
            json=body,
            attachments=attachments,
            headers=dict(request.headers),
        )
        return _json_response(recorded.status, recorded.response)

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        connection = _GatewayConnection(ws, request.query.get("compress") == "zlib-stream")
        self._connections.append(connection)
        try:
            await connection.send(
                {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
            )
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                self.gateway_received.append(data)
                await self._on_gateway_message(connection, data)
        finally:
            self._connections.remove(connection)
            if self._connection is connection:
                self._connection = None
                self._identified.clear()
        return ws

    async def _on_gateway_message(self, connection: _GatewayConnection, data: dict) -> None:
        op = data.get("op")
        if op == 1:  # heartbeat
            await connection.send({"op": 11})
        elif op == 2:  # identify
            self.identify_payloads.append(data["d"])
            self._connection = connection
            self._sequence = 0
            self.session_id = secrets.token_hex(16)
            await self.dispatch("READY", self._ready_payload(data["d"]))
            for guild in self.world.guilds:
                await self.dispatch("GUILD_CREATE", guild.to_payload())
            connection.identified = True
            self._identified.set()
        elif op == 6:  # resume
            self._connection = connection
            await self.dispatch("RESUMED", {"_trace": ["fake-discord"]})
            connection.identified = True
            self._identified.set()
        elif op == 3:  # presence update
            self.presence_updates.append(data["d"])
        elif op == 8:  # request guild members
            await self._members_chunk(data["d"])

    def _ready_payload(self, identify: dict[str, Any]) -> dict[str, Any]:
        ready: dict[str, Any] = {
            "v": 10,
            "user": self.world.bot_user_payload(),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in self.world.guilds],
            "session_id": self.session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        if "shard" in identify:
            ready["shard"] = identify["shard"]
        return ready

    async def _members_chunk(self, request: dict[str, Any]) -> None:
        guild = self.world.get_guild(int(request["guild_id"]))
        if guild is None:
            return
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.to_payload() for m in guild.members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if request.get("nonce"):
            chunk["nonce"] = request["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)


def _json_response(status: int, body: Any) -> web.Response:
    if body is None:
        return web.Response(status=204 if status < 300 else status)
    # web.json_response would say "application/json; charset=utf-8"; disnake compares the
    # header for equality with "application/json" and would hand us back a str otherwise.
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
