"""The SSH/SFTP source against a real SSH server (asyncssh) on 127.0.0.1.

Every test starts its own server with a generated host key, one authorised client key and a
temporary folder as the SFTP root, and records what clients did on it (logins, SFTP
sessions, files opened), so "nothing was read" is checked on the server side.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from peewee import Database

from commands.conftest import FakeRenderer, make_settings
from conftest import corpus_files, evening, until
from discordkit import FakeDiscord
from etbot import cli
from etbot.bot import EtBot
from etbot.config import ConfigError, load_settings
from etbot.db import Db, open_database
from etbot.ingest import Importer, ImportReport
from etbot.models import FetchedFile, Round
from etbot.sources.ssh import HostKeyRefused, SftpPoller, SshConfig


@dataclass
class Activity:
    """What clients did on the test server."""

    logins: list[str] = field(default_factory=list)
    sftp_sessions: int = 0
    opened: list[str] = field(default_factory=list)


@dataclass
class SshServer:
    root: Path  # the remote stats folder (SFTP root)
    port: int
    host_key: asyncssh.SSHKey
    client_key_file: Path
    known_hosts: Path
    activity: Activity

    def trust(self, key: asyncssh.SSHKey | None = None, host: str = "127.0.0.1") -> None:
        """Write known_hosts with ``key`` (default: the server's real key) for ``host``."""
        public = (key or self.host_key).export_public_key("openssh").decode().strip()
        self.known_hosts.write_text(f"[{host}]:{self.port} {public}\n")

    def config(self, **overrides: Any) -> SshConfig:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": "et",
            "key_file": self.client_key_file,
            "remote_dir": "/",
            "known_hosts": self.known_hosts,
            "poll_seconds": 0.05,
        }
        values.update(overrides)
        return SshConfig(**values)

    def put(self, path: Path, data: bytes | None = None) -> Path:
        target = self.root / path.name
        target.write_bytes(path.read_bytes() if data is None else data)
        return target


@pytest.fixture
async def ssh_server(tmp_path: Path) -> AsyncIterator[SshServer]:
    root = tmp_path / "gamestats"
    root.mkdir()
    activity = Activity()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(client_key.export_private_key())
    key_file.chmod(0o600)
    authorized = tmp_path / "authorized_keys"
    authorized.write_bytes(client_key.export_public_key())

    class Recorder(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            activity.logins.append(username)
            return True  # authentication required: the authorised key

    class RecordingSFTP(asyncssh.SFTPServer):
        def __init__(self, chan: asyncssh.SSHServerChannel) -> None:
            activity.sftp_sessions += 1
            super().__init__(chan, chroot=os.fsencode(root))

        def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
            activity.opened.append(os.fsdecode(path).lstrip("/"))
            return super().open(path, pflags, attrs)

    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=str(authorized),
        server_factory=Recorder,
        sftp_factory=RecordingSFTP,
        allow_scp=False,
    )
    port = server.sockets[0].getsockname()[1]
    ssh = SshServer(root, port, host_key, key_file, tmp_path / "known_hosts", activity)
    ssh.trust()
    try:
        yield ssh
    finally:
        server.close()
        await server.wait_closed()


def importer_hook() -> tuple[Callable[[list[tuple[str, bytes]]], Any], list[ImportReport]]:
    """An ingest callback like the bot's ``ingest_files``: the real importer, in the loop."""
    reports: list[ImportReport] = []

    async def on_files(files: list[tuple[str, bytes]]) -> None:
        report = ImportReport()
        Importer().import_many(files, report)
        reports.append(report)

    return on_files, reports


def paired_rounds() -> list[Path]:
    """A round 1 + round 2 pair and a later round of one corpus evening (all import)."""
    files = sorted(evening(corpus_files()))
    assert len(files) >= 3
    return files[:3]


# --------------------------------------------------------------------------- fetching


async def test_new_files_are_fetched_once_stable_and_imported(
    db: Database, ssh_server: SshServer
) -> None:
    files = paired_rounds()
    for path in files:
        ssh_server.put(path)
    (ssh_server.root / "notes.log").write_text("not a stats file")
    on_files, reports = importer_hook()
    poller = SftpPoller(ssh_server.config(), on_files)
    async with poller.session() as sftp:
        assert await poller.poll(sftp) == []  # first look: nothing is known to be complete
        assert await poller.poll(sftp) == [p.name for p in files]
        assert await poller.poll(sftp) == []  # nothing new
    assert sum(r.imported for r in reports) == 3
    assert not any(r.rejected for r in reports)
    assert {r.file_name for r in Round.select()} == {p.name for p in files}
    rows = {row.name: row for row in FetchedFile.select()}
    assert set(rows) == {p.name for p in files}
    for path in files:
        assert rows[path.name].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert rows[path.name].size == path.stat().st_size
    assert sorted(ssh_server.activity.opened) == sorted(p.name for p in files)  # once each


async def test_a_file_still_being_written_is_not_fetched_until_stable(
    db: Database, ssh_server: SshServer
) -> None:
    path = paired_rounds()[0]
    data = path.read_bytes()
    on_files, reports = importer_hook()
    poller = SftpPoller(ssh_server.config(), on_files)
    async with poller.session() as sftp:
        remote = ssh_server.put(path, data[: len(data) // 3])
        assert await poller.poll(sftp) == []
        with remote.open("ab") as fh:  # the game server is still writing
            fh.write(data[len(data) // 3 : 2 * len(data) // 3])
        assert await poller.poll(sftp) == []
        with remote.open("ab") as fh:
            fh.write(data[2 * len(data) // 3 :])
        assert await poller.poll(sftp) == []  # changed since the last poll
        assert ssh_server.activity.opened == []  # never read half-way
        assert await poller.poll(sftp) == [path.name]  # the same twice: complete
    assert [r.imported for r in reports] == [1]
    assert Round.select().where(Round.file_name == path.name).count() == 1
    row = FetchedFile.get(FetchedFile.name == path.name)
    assert row.sha256 == hashlib.sha256(data).hexdigest()  # the whole file


async def test_a_restart_fetches_only_what_is_new(db: Database, ssh_server: SshServer) -> None:
    first, second, third = paired_rounds()
    ssh_server.put(first)
    ssh_server.put(second)
    on_files, reports = importer_hook()
    before = SftpPoller(ssh_server.config(), on_files)
    async with before.session() as sftp:
        await before.poll(sftp)
        assert await before.poll(sftp) == [first.name, second.name]
    # The bot stops; a round ends meanwhile; a new process starts over the same database.
    ssh_server.put(third)
    after = SftpPoller(ssh_server.config(), on_files)
    async with after.session() as sftp:
        await after.poll(sftp)
        assert await after.poll(sftp) == [third.name]
        assert await after.poll(sftp) == []
    assert sorted(ssh_server.activity.opened) == sorted([first.name, second.name, third.name])
    assert [r.imported for r in reports] == [2, 1]
    assert sum(r.duplicates for r in reports) == 0
    assert Round.select().count() == 3


async def test_two_processes_on_one_database_fetch_each_file_once(
    db: Database, ssh_server: SshServer
) -> None:
    files = paired_rounds()[:2]
    for path in files:
        ssh_server.put(path)
    on_files, reports = importer_hook()
    one = SftpPoller(ssh_server.config(), on_files)
    two = SftpPoller(ssh_server.config(), on_files)
    async with one.session() as sftp_one, two.session() as sftp_two:
        await one.poll(sftp_one)
        await two.poll(sftp_two)
        assert await one.poll(sftp_one) == [p.name for p in files]
        assert await two.poll(sftp_two) == []  # the database says: already fetched
    assert sorted(ssh_server.activity.opened) == sorted(p.name for p in files)
    assert [r.imported for r in reports] == [2]
    assert FetchedFile.select().count() == 2


async def test_empty_file_is_skipped_with_a_reason_and_fetched_once_written(
    db: Database, ssh_server: SshServer, caplog: pytest.LogCaptureFixture
) -> None:
    path = paired_rounds()[0]
    remote = ssh_server.put(path, b"")
    on_files, reports = importer_hook()
    poller = SftpPoller(ssh_server.config(), on_files)
    caplog.set_level(logging.WARNING, logger="etbot.sources")
    async with poller.session() as sftp:
        await poller.poll(sftp)
        assert await poller.poll(sftp) == []
        assert f"not importing {path.name}: empty file" in caplog.text
        remote.write_bytes(path.read_bytes())
        os.utime(remote, (1_800_000_000, 1_800_000_000))  # a new mtime whatever the clock
        await poller.poll(sftp)
        assert await poller.poll(sftp) == [path.name]
    assert [r.imported for r in reports] == [1]


# --------------------------------------------------------------------------- host keys


async def test_a_wrong_host_key_is_refused_and_nothing_is_read(
    ssh_server: SshServer, caplog: pytest.LogCaptureFixture
) -> None:
    ssh_server.put(paired_rounds()[0])
    impostor = asyncssh.generate_private_key("ssh-ed25519")
    ssh_server.trust(impostor)  # known_hosts holds another key for this host and port
    fetched: list[object] = []

    async def on_files(files: list[tuple[str, bytes]]) -> None:
        fetched.extend(files)

    poller = SftpPoller(ssh_server.config(), on_files)
    with caplog.at_level(logging.ERROR, logger="etbot.sources"), pytest.raises(HostKeyRefused):
        async with poller.session():
            raise AssertionError("connected despite a wrong host key")
    assert ssh_server.activity.logins == []  # refused before authenticating
    assert ssh_server.activity.sftp_sessions == 0
    assert ssh_server.activity.opened == []
    assert fetched == []
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "host key refused, nothing read" in line
    assert "differs from the one in known_hosts" in line
    assert ssh_server.host_key.get_fingerprint() in line  # what the server offered
    assert str(ssh_server.known_hosts) in line


async def test_an_unknown_host_is_refused(
    ssh_server: SshServer, caplog: pytest.LogCaptureFixture
) -> None:
    ssh_server.trust(host="stats.example.org")  # the right key, but for another host
    poller = SftpPoller(ssh_server.config(), importer_hook()[0])
    with caplog.at_level(logging.ERROR, logger="etbot.sources"), pytest.raises(HostKeyRefused):
        async with poller.session():
            raise AssertionError("connected to a host missing from known_hosts")
    assert ssh_server.activity.logins == []
    assert ssh_server.activity.sftp_sessions == 0
    assert "the host is not in known_hosts" in caplog.text


async def test_an_empty_known_hosts_file_trusts_nobody(ssh_server: SshServer) -> None:
    ssh_server.known_hosts.write_text("")
    poller = SftpPoller(ssh_server.config(), importer_hook()[0])
    with pytest.raises(HostKeyRefused):
        async with poller.session():
            raise AssertionError("connected without any trusted key")
    assert ssh_server.activity.logins == []


# --------------------------------------------------------------------------- running


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StopPolling(Exception):
    """Ends a poller's run loop from a test's fake sleep."""


def recording_sleep(delays: list[float], stop_after: int) -> Callable[[float], Any]:
    async def sleep(delay: float) -> None:
        delays.append(delay)
        if len(delays) >= stop_after:
            raise StopPolling
        await asyncio.sleep(0)

    return sleep


async def test_reconnects_with_exponential_backoff_capped(
    ssh_server: SshServer, caplog: pytest.LogCaptureFixture
) -> None:
    delays: list[float] = []
    poller = SftpPoller(
        ssh_server.config(port=_closed_port()),
        importer_hook()[0],
        sleep=recording_sleep(delays, stop_after=11),
        backoff_first=1,
        backoff_max=300,
    )
    with caplog.at_level(logging.WARNING, logger="etbot.sources"), pytest.raises(StopPolling):
        await poller.run()
    assert delays == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert "reconnecting in 1 s" in caplog.text


async def test_a_refused_host_key_is_retried_with_backoff_and_never_read(
    ssh_server: SshServer,
) -> None:
    ssh_server.put(paired_rounds()[0])
    ssh_server.trust(asyncssh.generate_private_key("ssh-ed25519"))
    delays: list[float] = []
    poller = SftpPoller(
        ssh_server.config(), importer_hook()[0], sleep=recording_sleep(delays, stop_after=3)
    )
    with pytest.raises(StopPolling):
        await poller.run()
    assert delays == [1, 2, 4]  # no tight loop against a suspicious server
    assert ssh_server.activity.logins == []
    assert ssh_server.activity.opened == []


async def test_run_fetches_new_rounds_as_they_end(db: Database, ssh_server: SshServer) -> None:
    first, second, third = paired_rounds()
    ssh_server.put(first)
    on_files, reports = importer_hook()
    poller = SftpPoller(ssh_server.config(poll_seconds=0.05), on_files)
    task = asyncio.create_task(poller.run())
    try:
        await until(lambda: sum(r.imported for r in reports) == 1, "the first round", timeout=WAIT)
        ssh_server.put(second)
        ssh_server.put(third)
        await until(
            lambda: sum(r.imported for r in reports) == 3, "the rounds after it", timeout=WAIT
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    r2 = Round.get(Round.file_name == second.name)
    assert r2.round1 is not None
    assert r2.round1.file_name == first.name  # paired


#: 60 s: a bound for a loaded machine, not a speed requirement.
WAIT = 60.0


# --------------------------------------------------------------------------- settings, bot


def test_ssh_settings_are_all_or_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None, ssh_host="stats.example.org", ssh_user="et")
    message = str(err.value)
    assert "SSH_KEY_FILE, SSH_REMOTE_DIR, SSH_KNOWN_HOSTS missing" in message
    assert not load_settings(_env_file=None).ssh_enabled
    key, known = tmp_path / "id", tmp_path / "known_hosts"
    complete = {
        "ssh_host": "stats.example.org",
        "ssh_user": "et",
        "ssh_key_file": key,
        "ssh_remote_dir": "gamestats",
        "ssh_known_hosts": known,
    }
    with pytest.raises(ConfigError, match=r"SSH_KEY_FILE .*: no such file"):
        load_settings(_env_file=None, **complete)
    key.write_text("key")
    with pytest.raises(ConfigError, match=r"SSH_KNOWN_HOSTS .*: no such file"):
        load_settings(_env_file=None, **complete)
    known.write_text("")
    settings = load_settings(_env_file=None, ssh_port="2222", **complete)
    config = SshConfig.from_settings(settings)
    assert config is not None
    assert config.port == 2222
    assert config.poll_seconds == 5.0


def test_a_partial_ssh_configuration_stops_the_cli_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("SSH_HOST", "stats.example.org")
    monkeypatch.setenv("SSH_REMOTE_DIR", "gamestats")
    assert cli.main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "SSH_USER, SSH_KEY_FILE, SSH_KNOWN_HOSTS missing" in err
    assert "Traceback" not in err


async def test_the_bot_runs_the_ssh_source_when_configured(
    tmp_path: Path, ssh_server: SshServer
) -> None:
    files = paired_rounds()[:2]
    for path in files:
        ssh_server.put(path)
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    database = open_database(url)
    async with FakeDiscord() as server:
        settings = make_settings(
            url,
            discord_api_base=server.base_url,
            ssh_host="127.0.0.1",
            ssh_port=ssh_server.port,
            ssh_user="et",
            ssh_key_file=ssh_server.client_key_file,
            ssh_remote_dir="/",
            ssh_known_hosts=ssh_server.known_hosts,
            ssh_poll_seconds=0.05,
        )
        bot = EtBot(settings, Db(database), renderer=FakeRenderer())  # type: ignore[arg-type]
        await bot.login("fake-bot-token")
        try:
            await until(lambda: Round.select().count() == 2, "both rounds imported", timeout=WAIT)
            # The source records what it fetched right after the import commits (a stop in
            # between only means fetching them again, and the import skips duplicates).
            await until(
                lambda: FetchedFile.select().count() == 2, "both files remembered", timeout=WAIT
            )
        finally:
            await bot.close()
    assert Round.select().count() == 2
