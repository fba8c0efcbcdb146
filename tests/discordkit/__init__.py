"""discordkit: test Discord-facing code without Discord.

* :mod:`discordkit.world` - the pretend guild/users/IDs (:class:`FakeWorld`).
* :mod:`discordkit.payloads` - INTERACTION_CREATE payload builders.
* :mod:`discordkit.api` - in-memory REST API + :class:`RecordedRequest`.
* :mod:`discordkit.recording` - :class:`DiscordRecorder`: real interactions, recorded HTTP,
  no server (unit tests of cogs).
* :mod:`discordkit.fake_server` - :class:`FakeDiscord`: REST + gateway on 127.0.0.1 (e2e).
* :mod:`discordkit.harness` - :func:`running_bot`: start an unmodified bot against it.
"""

from . import payloads
from .api import (
    CHANNEL_MESSAGE,
    FOLLOWUP,
    FOLLOWUP_EDIT,
    GLOBAL_COMMANDS_PUT,
    GUILD_COMMANDS_PUT,
    INTERACTION_CALLBACK,
    ORIGINAL_DELETE,
    ORIGINAL_EDIT,
    ORIGINAL_GET,
    FakeDiscordApi,
    RecordedRequest,
)
from .fake_server import FakeDiscord
from .harness import running_bot, use_api_base, wait_for_command_sync
from .recording import DiscordRecorder, parse_multipart
from .world import (
    ADMIN_PERMISSIONS,
    ADMIN_ROLE_ID,
    APPLICATION_ID,
    BOT_PERMISSIONS,
    BOT_USER_ID,
    CHANNEL_ID,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    OWNER_ID,
    PLAYER_ID,
    SECOND_CHANNEL_ID,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    FakeWorld,
    snowflake,
)

__all__ = [
    "ADMIN_PERMISSIONS",
    "ADMIN_ROLE_ID",
    "APPLICATION_ID",
    "BOT_PERMISSIONS",
    "BOT_USER_ID",
    "CHANNEL_ID",
    "CHANNEL_MESSAGE",
    "FOLLOWUP",
    "FOLLOWUP_EDIT",
    "GLOBAL_COMMANDS_PUT",
    "GUILD_COMMANDS_PUT",
    "GUILD_ID",
    "INTERACTION_CALLBACK",
    "MEMBER_PERMISSIONS",
    "ORIGINAL_DELETE",
    "ORIGINAL_EDIT",
    "ORIGINAL_GET",
    "OWNER_ID",
    "PLAYER_ID",
    "SECOND_CHANNEL_ID",
    "DiscordRecorder",
    "FakeChannel",
    "FakeDiscord",
    "FakeDiscordApi",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "FakeWorld",
    "RecordedRequest",
    "parse_multipart",
    "payloads",
    "running_bot",
    "snowflake",
    "use_api_base",
    "wait_for_command_sync",
]
