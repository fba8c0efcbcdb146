"""The optional Docker deployment (docker-compose.yml + Dockerfile), checked without Docker.

Docker is not run here. What can be checked is what goes wrong when files like these drift
from the code: the compose file must parse, the bot may only be given settings etbot
really has (a misspelt name is silently ignored by pydantic-settings), DATABASE_URL must
point at the compose PostgreSQL service with its user, password and database, STATS_DIR
must be the read-only mount, the bot must wait for a healthy database, the database must
live in a named volume, and the command must be a real ``etbot`` command.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from peewee import PostgresqlDatabase

from conftest import REPO
from etbot.cli import build_parser
from etbot.config import Settings, load_settings
from etbot.db import connect

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read docker-compose.yml")

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
#: What a user's .env would give compose for ${…} interpolation.
DOT_ENV = {
    "DISCORD_TOKEN": "token-from-dot-env",
    "STATS_DIR": "/srv/et/legacy/stats",
    "POSTGRES_PASSWORD": "s3cretPassw0rd",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}`` substitution."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        given = env.get(name, "")
        if op in (":?", "?") and not given:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and not given:
            return arg
        return given

    return _VARIABLE.sub(substitute, value)


def interpolate_all(data: Any, env: dict[str, str]) -> Any:
    """The whole compose file interpolated, as compose reads it."""
    if isinstance(data, str):
        return interpolate(data, env)
    if isinstance(data, list):
        return [interpolate_all(v, env) for v in data]
    if isinstance(data, dict):
        return {k: interpolate_all(v, env) for k, v in data.items()}
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def environment(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    """A service's ``environment`` (mapping or list form), interpolated."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): interpolate(str(v), env) for k, v in raw.items()}


def test_the_bot_waits_for_a_healthy_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"bot", "postgres"}
    check = services["postgres"]["healthcheck"]["test"]
    assert "pg_isready" in (check if isinstance(check, str) else " ".join(check))
    assert services["bot"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # Unpublished: only the bot reaches the database, over compose's own network.
    assert "ports" not in services["postgres"]


def test_the_database_lives_in_a_named_volume(compose: dict[str, Any]) -> None:
    mounts = [str(v).split(":") for v in compose["services"]["postgres"]["volumes"]]
    [(volume, _)] = [(m[0], m[1]) for m in mounts if m[1] == "/var/lib/postgresql/data"]
    assert volume in compose["volumes"]  # declared: a name, not a host folder


def test_the_bot_gets_only_real_settings_and_they_validate(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = environment(compose["services"]["bot"], DOT_ENV)
    known = {name.upper() for name in Settings.model_fields}
    assert set(env) <= known, set(env) - known
    assert {"DISCORD_TOKEN", "DATABASE_URL", "STATS_DIR"} <= set(env)
    assert env["DISCORD_TOKEN"] == DOT_ENV["DISCORD_TOKEN"]
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in known:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()  # raises ConfigError on a bad value
    assert settings.discord_token == DOT_ENV["DISCORD_TOKEN"]


def test_database_url_points_at_the_postgres_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    url = environment(services["bot"], DOT_ENV)["DATABASE_URL"]
    database = connect(url)  # etbot's own URL parser
    assert isinstance(database, PostgresqlDatabase)
    params = database.connect_params
    postgres = environment(services["postgres"], DOT_ENV)
    assert params["host"] == "postgres"  # the service name is its host name
    assert int(params.get("port", 5432)) == 5432
    assert params["user"] == postgres["POSTGRES_USER"]
    assert params["password"] == postgres["POSTGRES_PASSWORD"] == DOT_ENV["POSTGRES_PASSWORD"]
    assert database.database == postgres["POSTGRES_DB"]


def test_stats_dir_is_the_host_folder_mounted_read_only(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    inside = environment(bot, DOT_ENV)["STATS_DIR"]
    mounts = [interpolate(str(v), DOT_ENV).split(":") for v in bot["volumes"]]
    [mount] = [m for m in mounts if m[1] == inside]
    assert mount[0] == DOT_ENV["STATS_DIR"]  # the user's folder…
    assert mount[2:] == ["ro"]  # …which the bot cannot change
    # Without STATS_DIR or the token compose stops with a message instead of starting.
    for missing in ("STATS_DIR", "DISCORD_TOKEN", "POSTGRES_PASSWORD"):
        partial = {k: v for k, v in DOT_ENV.items() if k != missing}
        with pytest.raises(KeyError, match=missing):
            interpolate_all(compose, partial)
    interpolate_all(compose, DOT_ENV)  # …and with all three it does


def _dockerfile_cmd() -> list[str]:
    [line] = [ln for ln in DOCKERFILE.read_text().splitlines() if ln.startswith("CMD ")]
    cmd = json.loads(line.removeprefix("CMD "))
    assert isinstance(cmd, list)
    return [str(c) for c in cmd]


def test_the_command_is_a_real_etbot_command(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    command = bot.get("command", _dockerfile_cmd())
    if isinstance(command, str):
        command = shlex.split(command)
    for cmd in (command, _dockerfile_cmd()):
        assert cmd[0] == "etbot"
        args = build_parser().parse_args(cmd[1:])  # exits on an unknown command
        assert args.command == "run"
    assert bot["build"] in (".", "./")
    # The image installs etbot with the PostgreSQL driver, and Chromium for the charts.
    dockerfile = DOCKERFILE.read_text()
    assert re.search(r"pip install [^\n]*\.\[postgres\]", dockerfile)
    assert "chromium" in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
