"""Typed settings from the environment and an optional ``.env`` file.

The names are a contract with users' deployment scripts (and the tests): keep them. The
README's configuration table lists them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConfigError(Exception):
    """A setting is missing or invalid; the message says which and how to fix it."""


def _split_ids(value: object) -> list[int]:
    if value is None or value == "":
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
    else:
        parts = list(value)  # type: ignore[call-overload]
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"expected comma-separated numeric ids, got {value!r}") from None


IdList = Annotated[list[int], NoDecode]

#: Settings the SSH/SFTP source needs, all or none (``SSH_PORT`` and ``SSH_POLL_SECONDS``
#: have defaults).
SSH_REQUIRED = ("ssh_host", "ssh_user", "ssh_key_file", "ssh_remote_dir", "ssh_known_hosts")


class Settings(BaseSettings):
    """All runtime settings. Only ``DISCORD_TOKEN`` is required, and only by ``etbot run``."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    discord_token: str | None = None
    discord_api_base: str = "https://discord.com/api/v10"
    database_url: str = "sqlite:///etbot.db"
    guild_ids: IdList = Field(default_factory=list)
    stats_dir: Path | None = None
    server_timezone: str = "UTC"
    #: Channel for automatic round/map summaries and milestone announcements.
    announce_channel_id: int | None = None
    #: Discord user id of the bot owner (always allowed to use admin commands).
    owner_id: int | None = None
    cache_ttl_seconds: int = 300
    render_timeout_seconds: float = 15.0
    log_level: str = "INFO"
    # SSH/SFTP source (sources/ssh.py): fetch stats files from the game server's machine.
    ssh_host: str | None = None
    ssh_port: int = Field(default=22, ge=1, le=65535)
    ssh_user: str | None = None
    #: Private key file (OpenSSH format, not passphrase-protected).
    ssh_key_file: Path | None = None
    #: The game server's stats folder on that machine (absolute, or relative to the home).
    ssh_remote_dir: str | None = None
    #: known_hosts file holding the server's host key; checking it is never switched off.
    ssh_known_hosts: Path | None = None
    ssh_poll_seconds: float = Field(default=5.0, gt=0)
    # Betting pools (etbot.betting): points a member starts with in each server, and the
    # daily top-up a member at 0 may claim.
    betting_start_points: int = Field(default=100, ge=1, le=1_000_000)
    betting_topup_points: int = Field(default=10, ge=0, le=1_000_000)

    @field_validator("guild_ids", mode="before")
    @classmethod
    def _parse_guild_ids(cls, value: object) -> list[int]:
        return _split_ids(value)

    @field_validator("server_timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. Europe/Berlin)") from None
        return value

    @field_validator("discord_api_base")
    @classmethod
    def _valid_api_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://discord.com/api/v10")
        return value.rstrip("/")

    @field_validator(*SSH_REQUIRED, mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _ssh_all_or_nothing(self) -> Settings:
        given = [name for name in SSH_REQUIRED if getattr(self, name) is not None]
        if not given:
            return self
        missing = [name.upper() for name in SSH_REQUIRED if name not in given]
        if missing or self.ssh_key_file is None or self.ssh_known_hosts is None:
            raise ValueError(
                f"the SSH source needs {', '.join(n.upper() for n in SSH_REQUIRED)}; "
                f"{', '.join(n.upper() for n in given)} set but {', '.join(missing)} missing"
            )
        if not self.ssh_key_file.is_file():
            raise ValueError(f"SSH_KEY_FILE {self.ssh_key_file}: no such file")
        if not self.ssh_known_hosts.is_file():
            raise ValueError(
                f"SSH_KNOWN_HOSTS {self.ssh_known_hosts}: no such file (write the server's "
                "verified host key into it, see the README's SSH section)"
            )
        return self

    @property
    def ssh_enabled(self) -> bool:
        """All SSH settings are present (the validator refuses a partial set)."""
        return self.ssh_host is not None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.server_timezone)


def load_settings(**overrides: object) -> Settings:
    """Load settings, turning validation errors into one readable :class:`ConfigError`."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]).upper()
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"{name}: {message}" if name else message)
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
