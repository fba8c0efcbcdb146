"""Transport-free model of the Discord REST API, shared by the fake server and the recorder.

:class:`FakeDiscordApi` answers ``(method, path, json, attachments)`` with ``(status, body)``
and records every call as a :class:`RecordedRequest`. The aiohttp server in
:mod:`discordkit.fake_server` and the fake session in :mod:`discordkit.recording` both feed it,
so the assertions are the same in unit and end-to-end tests::

    req = await api.wait_for(lambda r: r.route == INTERACTION_CALLBACK, timeout=5)
    assert req.callback_type == 4
    assert req.embeds[0]["title"] == "Stats"
    assert req.ephemeral  # flags & 64

``path`` is relative to the API base (``/interactions/1/tok/callback``, no ``/api/v10``).
``route`` is the matched template (``"POST /interactions/{interaction_id}/{token}/callback"``;
the module-level constants name the common ones) and ``params`` its placeholders. Unknown routes
are recorded with ``route is None`` and answered 404 with a JSON error body.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .world import FakeGuild, FakeWorld, iso_now, snowflake

__all__ = [
    "CHANNEL_MESSAGE",
    "FOLLOWUP",
    "FOLLOWUP_EDIT",
    "GLOBAL_COMMANDS_PUT",
    "GUILD_COMMANDS_PUT",
    "INTERACTION_CALLBACK",
    "ORIGINAL_DELETE",
    "ORIGINAL_EDIT",
    "ORIGINAL_GET",
    "FakeDiscordApi",
    "RecordedRequest",
]

INTERACTION_CALLBACK = "POST /interactions/{interaction_id}/{token}/callback"
ORIGINAL_GET = "GET /webhooks/{application_id}/{token}/messages/@original"
ORIGINAL_EDIT = "PATCH /webhooks/{application_id}/{token}/messages/@original"
ORIGINAL_DELETE = "DELETE /webhooks/{application_id}/{token}/messages/@original"
FOLLOWUP = "POST /webhooks/{application_id}/{token}"
FOLLOWUP_EDIT = "PATCH /webhooks/{application_id}/{token}/messages/{message_id}"
CHANNEL_MESSAGE = "POST /channels/{channel_id}/messages"
GLOBAL_COMMANDS_PUT = "PUT /applications/{application_id}/commands"
GUILD_COMMANDS_PUT = "PUT /applications/{application_id}/guilds/{guild_id}/commands"

EPHEMERAL = 1 << 6


@dataclass
class RecordedRequest:
    """One REST call the bot made, with the answer it got."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    route: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    status: int = 0
    response: Any = None

    @property
    def message(self) -> dict[str, Any]:
        """The message-like part of the body: ``json["data"]`` of an interaction callback,
        otherwise the JSON body itself (webhook / channel messages)."""
        body = self.json if isinstance(self.json, dict) else {}
        if self.route == INTERACTION_CALLBACK:
            return body.get("data") or {}
        return body

    @property
    def callback_type(self) -> int | None:
        """Interaction callback type (4 message, 5 deferred, 6 deferred update, 7 update,
        8 autocomplete result, 9 modal), ``None`` for other requests."""
        if self.route == INTERACTION_CALLBACK and isinstance(self.json, dict):
            return self.json.get("type")
        return None

    @property
    def content(self) -> str | None:
        return self.message.get("content")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.message.get("embeds") or []

    @property
    def components(self) -> list[dict[str, Any]]:
        return self.message.get("components") or []

    @property
    def flags(self) -> int:
        return int(self.message.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Autocomplete choices of a type 8 callback."""
        return self.message.get("choices") or []

    @property
    def token(self) -> str | None:
        return self.params.get("token")

    def __repr__(self) -> str:
        files = f" files={[name for name, _ in self.attachments]}" if self.attachments else ""
        return f"<{self.method} {self.path} -> {self.status}{files}>"


Predicate = Callable[[RecordedRequest], bool]
Handler = Callable[[RecordedRequest], tuple[int, Any]]


def _compile(template: str) -> tuple[str, re.Pattern[str]]:
    method, path = template.split(" ", 1)
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return method, re.compile(f"^{pattern}$")


class FakeDiscordApi:
    """In-memory Discord REST API: commands, messages and interaction responses."""

    def __init__(self, world: FakeWorld | None = None) -> None:
        self.world: FakeWorld = world or FakeWorld.default()
        self.gateway_url: str = "ws://127.0.0.1:1/ws"
        self.requests: list[RecordedRequest] = []
        #: application commands by guild id (``None`` = global), as the API returns them
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        #: Channels where the bot may not post (403 Missing Access), to test error paths.
        self.forbidden_channels: set[int] = set()
        #: interaction payloads by token (registered when dispatched / built)
        self.interactions: dict[str, dict[str, Any]] = {}
        self._originals: dict[str, dict[str, Any]] = {}
        self._waiters: list[tuple[Predicate, asyncio.Future[RecordedRequest]]] = []
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []
        self._install_routes()

    # ------------------------------------------------------------------ public helpers

    def register_interaction(self, payload: dict[str, Any]) -> None:
        """Remember an interaction so webhook/callback requests know its channel."""
        self.interactions[payload["token"]] = payload

    def command_id(self, name: str, guild_id: int | None = None) -> int:
        """The id the API gave to a synced command (``guild_id=None``: global)."""
        for command in self.commands.get(guild_id, []):
            if command["name"] == name:
                return int(command["id"])
        known = {g: [c["name"] for c in cmds] for g, cmds in self.commands.items()}
        raise LookupError(f"command {name!r} not synced for guild {guild_id}; known: {known}")

    def mark(self) -> int:
        """Current number of recorded requests; pass as ``start`` to :meth:`wait_for`."""
        return len(self.requests)

    def clear(self) -> None:
        self.requests.clear()

    def find(self, predicate: Predicate, start: int = 0) -> list[RecordedRequest]:
        return [r for r in self.requests[start:] if predicate(r)]

    def by_route(self, route: str) -> list[RecordedRequest]:
        """All recorded requests whose matched template is ``route``."""
        return [r for r in self.requests if r.route == route]

    def for_interaction(self, payload_or_token: dict[str, Any] | str) -> list[RecordedRequest]:
        """Callback, @original and followup requests belonging to one interaction."""
        if isinstance(payload_or_token, dict):
            token, iid = payload_or_token["token"], str(payload_or_token["id"])
        else:
            token, iid = payload_or_token, None
        return [
            r
            for r in self.requests
            if r.params.get("token") == token
            or (iid is not None and r.params.get("interaction_id") == iid)
        ]

    @property
    def unknown_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route is None]

    async def wait_for(
        self, predicate: Predicate, timeout: float = 5.0, *, start: int = 0
    ) -> RecordedRequest:
        """Return the first request (from index ``start`` on, including ones already
        recorded) that matches ``predicate``; raise ``TimeoutError`` after ``timeout`` s."""
        for request in self.requests[start:]:
            if predicate(request):
                return request
        future: asyncio.Future[RecordedRequest] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            seen = "\n  ".join(repr(r) for r in self.requests[start:]) or "(none)"
            raise TimeoutError(
                f"no matching request within {timeout}s; requests so far:\n  {seen}"
            ) from None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    async def wait_for_response(
        self, payload: dict[str, Any], timeout: float = 5.0
    ) -> RecordedRequest:
        """Wait for the interaction callback (initial response) of ``payload``."""
        iid = str(payload["id"])
        return await self.wait_for(
            lambda r: r.route == INTERACTION_CALLBACK and r.params["interaction_id"] == iid,
            timeout,
        )

    # ------------------------------------------------------------------ request handling

    def handle(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        json: Any = None,
        attachments: list[tuple[str, bytes]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> RecordedRequest:
        """Answer one request. The returned record has ``status`` and ``response`` (``None``
        means "204, no body")."""
        request = RecordedRequest(
            method=method.upper(),
            path=path,
            query=dict(query or {}),
            json=json,
            attachments=list(attachments or []),
            headers=dict(headers or {}),
        )
        for route_method, template, pattern, handler in self._routes:
            if route_method != request.method:
                continue
            match = pattern.match(path)
            if match is None:
                continue
            request.route = template
            request.params = match.groupdict()
            try:
                request.status, request.response = handler(request)
            except LookupError as exc:
                request.status, request.response = 404, _error(10_008, f"Unknown: {exc}")
            break
        else:
            request.status = 404
            request.response = _error(0, f"fake Discord has no route {method} {path}")
        self.requests.append(request)
        for predicate, future in list(self._waiters):
            if future.done():
                continue
            try:
                matched = predicate(request)
            except Exception as exc:  # noqa: BLE001 surface bugs in predicates in the waiting test
                future.set_exception(exc)
            else:
                if matched:
                    future.set_result(request)
        return request

    def _install_routes(self) -> None:
        table: list[tuple[str, Handler]] = [
            ("GET /gateway", self._gateway),
            ("GET /gateway/bot", self._gateway_bot),
            ("GET /users/@me", lambda r: (200, self.world.bot_user_payload())),
            ("GET /users/{user_id}", self._get_user),
            ("POST /users/@me/channels", self._create_dm),
            ("GET /oauth2/applications/@me", lambda r: (200, self.world.application_payload())),
            ("GET /applications/@me", lambda r: (200, self.world.application_payload())),
            ("GET /applications/{application_id}/commands", self._list_commands),
            (GLOBAL_COMMANDS_PUT, self._overwrite_commands),
            ("POST /applications/{application_id}/commands", self._upsert_command),
            (
                "GET /applications/{application_id}/guilds/{guild_id}/commands/permissions",
                lambda r: (200, []),
            ),
            ("GET /applications/{application_id}/guilds/{guild_id}/commands", self._list_commands),
            (GUILD_COMMANDS_PUT, self._overwrite_commands),
            (
                "POST /applications/{application_id}/guilds/{guild_id}/commands",
                self._upsert_command,
            ),
            (INTERACTION_CALLBACK, self._interaction_callback),
            (ORIGINAL_GET, self._get_original),
            (ORIGINAL_EDIT, self._edit_original),
            (ORIGINAL_DELETE, self._delete_original),
            (FOLLOWUP, self._followup),
            ("GET /webhooks/{application_id}/{token}/messages/{message_id}", self._get_message),
            (FOLLOWUP_EDIT, self._edit_message),
            ("DELETE /webhooks/{application_id}/{token}/messages/{message_id}", self._delete),
            (CHANNEL_MESSAGE, self._channel_message),
            ("GET /channels/{channel_id}/messages", self._channel_history),
            ("GET /channels/{channel_id}/messages/{message_id}", self._get_message),
            ("PATCH /channels/{channel_id}/messages/{message_id}", self._edit_message),
            ("DELETE /channels/{channel_id}/messages/{message_id}", self._delete),
            ("POST /channels/{channel_id}/typing", lambda r: (204, None)),
            (
                "PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                lambda r: (204, None),
            ),
            ("GET /channels/{channel_id}", self._get_channel),
            ("GET /guilds/{guild_id}", self._get_guild),
            ("GET /guilds/{guild_id}/channels", self._guild_channels),
            ("GET /guilds/{guild_id}/roles", self._guild_roles),
            ("GET /guilds/{guild_id}/members/{user_id}", self._guild_member),
        ]
        for template, handler in table:
            method, pattern = _compile(template)
            self._routes.append((method, template, pattern, handler))

    # ------------------------------------------------------------------ handlers

    def _gateway(self, request: RecordedRequest) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    def _gateway_bot(self, request: RecordedRequest) -> tuple[int, Any]:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}

    def _get_user(self, request: RecordedRequest) -> tuple[int, Any]:
        user = self.world.get_user(int(request.params["user_id"]))
        if user is None:
            return 404, _error(10_013, "Unknown User")
        return 200, user.to_payload()

    def _create_dm(self, request: RecordedRequest) -> tuple[int, Any]:
        recipient_id = int((request.json or {}).get("recipient_id", 0))
        user = self.world.get_user(recipient_id)
        if user is None:
            return 404, _error(10_013, "Unknown User")
        channel = {"id": str(snowflake()), "type": 1, "last_message_id": None}
        return 200, {**channel, "recipients": [user.to_payload()]}

    def _scope(self, request: RecordedRequest) -> int | None:
        guild_id = request.params.get("guild_id")
        return int(guild_id) if guild_id else None

    def _list_commands(self, request: RecordedRequest) -> tuple[int, Any]:
        return 200, copy.deepcopy(self.commands.get(self._scope(request), []))

    def _stored_command(self, data: dict[str, Any], scope: int | None) -> dict[str, Any]:
        old = {c["name"]: c for c in self.commands.get(scope, [])}
        stored = copy.deepcopy(data)
        stored.setdefault("type", 1)
        stored.setdefault("description", "")
        stored.setdefault("options", [])
        previous = old.get(stored["name"])
        stored["id"] = previous["id"] if previous else str(snowflake())
        stored["application_id"] = str(self.world.application_id)
        stored["version"] = str(snowflake())
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    def _overwrite_commands(self, request: RecordedRequest) -> tuple[int, Any]:
        scope = self._scope(request)
        stored = [self._stored_command(c, scope) for c in request.json or []]
        self.commands[scope] = stored
        return 200, copy.deepcopy(stored)

    def _upsert_command(self, request: RecordedRequest) -> tuple[int, Any]:
        scope = self._scope(request)
        stored = self._stored_command(request.json or {}, scope)
        others = [c for c in self.commands.get(scope, []) if c["name"] != stored["name"]]
        self.commands[scope] = [*others, stored]
        return 201, copy.deepcopy(stored)

    def _channel_for_token(self, token: str) -> int:
        payload = self.interactions.get(token)
        if payload and payload.get("channel_id"):
            return int(payload["channel_id"])
        return self.world.channel.id

    def _new_message(
        self, request: RecordedRequest, channel_id: int, *, webhook: bool
    ) -> dict[str, Any]:
        body = request.message
        attachments = [
            _attachment(name, data, body, index)
            for index, (name, data) in enumerate(request.attachments)
        ]
        guild, _ = self.world.find_channel(channel_id)
        message: dict[str, Any] = {
            "id": str(snowflake()),
            "channel_id": str(channel_id),
            "author": self.world.bot.to_payload(),
            "content": body.get("content") or "",
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0),
        }
        if guild is not None:
            message["guild_id"] = str(guild.id)
        if webhook:
            message["webhook_id"] = str(self.world.application_id)
            message["application_id"] = str(self.world.application_id)
        self.messages[int(message["id"])] = message
        return message

    def _interaction_callback(self, request: RecordedRequest) -> tuple[int, Any]:
        token = request.params["token"]
        kind = (request.json or {}).get("type")
        if kind in (4, 5):  # channel message / deferred channel message
            message = self._new_message(request, self._channel_for_token(token), webhook=True)
            self._originals[token] = message
        elif kind in (6, 7):  # (deferred) update of the component's message
            payload = self.interactions.get(token) or {}
            original = copy.deepcopy(payload.get("message")) or self._new_message(
                request, self._channel_for_token(token), webhook=True
            )
            if kind == 7:
                _apply_edit(original, request)
            self._originals[token] = original
            self.messages[int(original["id"])] = original
        return 204, None

    def _original(self, token: str) -> dict[str, Any]:
        try:
            return self._originals[token]
        except KeyError:
            raise LookupError("no original response for this interaction token") from None

    def _get_original(self, request: RecordedRequest) -> tuple[int, Any]:
        return 200, copy.deepcopy(self._original(request.params["token"]))

    def _edit_original(self, request: RecordedRequest) -> tuple[int, Any]:
        message = self._original(request.params["token"])
        _apply_edit(message, request)
        return 200, copy.deepcopy(message)

    def _delete_original(self, request: RecordedRequest) -> tuple[int, Any]:
        message = self._originals.pop(request.params["token"], None)
        if message is None:
            return 404, _error(10_008, "Unknown Message")
        self.messages.pop(int(message["id"]), None)
        return 204, None

    def _followup(self, request: RecordedRequest) -> tuple[int, Any]:
        channel_id = self._channel_for_token(request.params["token"])
        message = self._new_message(request, channel_id, webhook=True)
        return 200, copy.deepcopy(message)

    def _channel_message(self, request: RecordedRequest) -> tuple[int, Any]:
        channel_id = int(request.params["channel_id"])
        _, channel = self.world.find_channel(channel_id)
        if channel is None:
            return 404, _error(10_003, "Unknown Channel")
        if channel_id in self.forbidden_channels:
            return 403, _error(50_001, "Missing Access")
        return 200, copy.deepcopy(self._new_message(request, channel_id, webhook=False))

    def _channel_history(self, request: RecordedRequest) -> tuple[int, Any]:
        channel_id = request.params["channel_id"]
        found = [m for m in self.messages.values() if m["channel_id"] == channel_id]
        limit = int(request.query.get("limit", 50))
        return 200, copy.deepcopy(list(reversed(found))[:limit])

    def _get_message(self, request: RecordedRequest) -> tuple[int, Any]:
        message = self.messages.get(int(request.params["message_id"]))
        if message is None:
            return 404, _error(10_008, "Unknown Message")
        return 200, copy.deepcopy(message)

    def _edit_message(self, request: RecordedRequest) -> tuple[int, Any]:
        message = self.messages.get(int(request.params["message_id"]))
        if message is None:
            return 404, _error(10_008, "Unknown Message")
        _apply_edit(message, request)
        return 200, copy.deepcopy(message)

    def _delete(self, request: RecordedRequest) -> tuple[int, Any]:
        if self.messages.pop(int(request.params["message_id"]), None) is None:
            return 404, _error(10_008, "Unknown Message")
        return 204, None

    def _get_channel(self, request: RecordedRequest) -> tuple[int, Any]:
        guild, channel = self.world.find_channel(int(request.params["channel_id"]))
        if channel is None or guild is None:
            return 404, _error(10_003, "Unknown Channel")
        return 200, channel.to_payload(guild.id)

    def _guild(self, request: RecordedRequest) -> FakeGuild:
        guild = self.world.get_guild(int(request.params["guild_id"]))
        if guild is None:
            raise LookupError("Unknown Guild")
        return guild

    def _get_guild(self, request: RecordedRequest) -> tuple[int, Any]:
        data = self._guild(request).to_payload()
        for key in ("members", "channels", "threads", "presences", "voice_states"):
            data.pop(key, None)
        return 200, data

    def _guild_channels(self, request: RecordedRequest) -> tuple[int, Any]:
        guild = self._guild(request)
        return 200, [c.to_payload(guild.id) for c in guild.channels]

    def _guild_roles(self, request: RecordedRequest) -> tuple[int, Any]:
        return 200, [r.to_payload() for r in self._guild(request).roles]

    def _guild_member(self, request: RecordedRequest) -> tuple[int, Any]:
        member = self._guild(request).member(int(request.params["user_id"]))
        if member is None:
            return 404, _error(10_007, "Unknown Member")
        return 200, member.to_payload()


def _error(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _attachment(name: str, data: bytes, body: dict[str, Any], index: int) -> dict[str, Any]:
    described = {str(a.get("id")): a for a in body.get("attachments") or []}
    attachment_id = str(snowflake())
    return {
        "id": attachment_id,
        "filename": name,
        "description": (described.get(str(index)) or {}).get("description"),
        "size": len(data),
        "url": f"https://cdn.discordapp.com/attachments/0/{attachment_id}/{name}",
        "proxy_url": f"https://media.discordapp.net/attachments/0/{attachment_id}/{name}",
        "content_type": _guess_type(name),
    }


def _guess_type(name: str) -> str:
    lower = name.lower()
    for suffix, kind in ((".png", "image/png"), (".csv", "text/csv"), (".txt", "text/plain")):
        if lower.endswith(suffix):
            return kind
    return "application/octet-stream"


def _apply_edit(message: dict[str, Any], request: RecordedRequest) -> None:
    """Apply a PATCH body (or an update callback's data) to a stored message."""
    body = request.message
    for key in ("content", "embeds", "components", "flags"):
        if key in body:
            message[key] = body[key] if body[key] is not None else message.get(key)
    if "attachments" in body or request.attachments:
        keep_ids = {str(a.get("id")) for a in body.get("attachments") or []}
        kept = [a for a in message.get("attachments", []) if a["id"] in keep_ids]
        added = [
            _attachment(name, data, body, index)
            for index, (name, data) in enumerate(request.attachments)
        ]
        message["attachments"] = kept + added
    message["edited_timestamp"] = iso_now()
