"""Typed settings from the environment and an optional ``.env`` file.

The names are a contract with users' deployment scripts (and the tests): keep them. The
README's configuration table lists them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
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
            name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
            lines.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
