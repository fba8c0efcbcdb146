"""Fetch stats files from the game server's machine over SSH/SFTP (asyncssh).

For bots that do not run beside the game server. :class:`SftpPoller` logs in with a key,
lists the remote stats folder every ``poll_seconds`` and hands new files, as
``(file name, bytes)``, to the same ingest as the local watcher (the bot's
``ingest_files``). Rules:

* **Strict host-key checking.** The server must present a key listed for it in the
  configured known_hosts file; an unknown host or a different key is refused before
  anything is authenticated or read, with a log line naming the offered key's
  fingerprint. There is no switch to turn this off.
* **Never half a file.** A file is fetched only once its size and mtime were the same in
  two polls in a row, and only if the bytes read are exactly that size.
* **Remembered in the database.** Each fetched file is stored in ``fetched_file``
  (unique per source and name, with size, mtime and SHA-256), so a restart or a second
  bot process fetches only what is new or changed. The rows are written after the import
  commits: a crash in between costs one download whose import is a duplicate (by
  SHA-256), never a lost file.
* **Reconnects** with exponential backoff (1 s doubling up to 5 min), reset after a
  successful poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import posixpath
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncssh

from etbot.db import retry_locked
from etbot.models import FetchedFile, database_proxy

if TYPE_CHECKING:
    from etbot.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Larger than any real stats file (the importer refuses bigger ones too).
MAX_FILE_BYTES = 4 * 1024 * 1024
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 300.0
#: Files handed to the importer per call (one transaction each).
FETCH_BATCH = 100

#: (size, mtime in ns) of a remote file.
Signature = tuple[int, int]
FileBatch = list[tuple[str, bytes]]
RunDb = Callable[..., Awaitable[Any]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class SshConfig:
    """Where to fetch from; built from the ``SSH_*`` settings."""

    host: str
    user: str
    key_file: Path
    remote_dir: str
    known_hosts: Path
    port: int = 22
    poll_seconds: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SshConfig | None:
        """The SSH source of ``settings``, or None when it is not configured."""
        if not settings.ssh_enabled:
            return None
        host, user, remote_dir = settings.ssh_host, settings.ssh_user, settings.ssh_remote_dir
        key_file, known_hosts = settings.ssh_key_file, settings.ssh_known_hosts
        if not (host and user and remote_dir and key_file and known_hosts):
            # Settings' validator refuses a partial set; only unvalidated Settings get here.
            raise ValueError(
                "the SSH source needs SSH_HOST, SSH_USER, SSH_KEY_FILE, SSH_REMOTE_DIR "
                "and SSH_KNOWN_HOSTS"
            )
        return cls(
            host=host,
            user=user,
            key_file=key_file,
            remote_dir=remote_dir,
            known_hosts=known_hosts,
            port=settings.ssh_port,
            poll_seconds=settings.ssh_poll_seconds,
        )

    @property
    def source(self) -> str:
        """The key of this remote folder in ``fetched_file`` (not the login: another
        user reading the same folder fetches the same files)."""
        return f"{self.host}:{self.port}:{self.remote_dir}"

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


class HostKeyRefused(Exception):
    """The server's host key is not the one in known_hosts (already logged)."""


class _StrictClient(asyncssh.SSHClient):
    """Trusts nothing beyond the known_hosts file (asyncssh checks that one first); keeps
    the key it refused so the log can name its fingerprint."""

    def __init__(self) -> None:
        self.refused_key: asyncssh.SSHKey | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        self.refused_key = key
        return False


# --------------------------------------------------------------------------- fetched state
# Plain synchronous peewee, run through ``run_db`` (the bot's DB threads).


def load_fetched(source: str, names: Sequence[str] | None = None) -> dict[str, Signature]:
    """What ``source`` has fetched: name → (size, mtime); only ``names`` when given."""
    query = FetchedFile.select(FetchedFile.name, FetchedFile.size, FetchedFile.mtime_ns).where(
        FetchedFile.source == source
    )
    if names is not None:
        query = query.where(FetchedFile.name.in_(list(names)))
    return {row.name: (row.size, row.mtime_ns) for row in query}


def remember_fetched(source: str, rows: Sequence[tuple[str, int, int, str | None]]) -> None:
    """Record ``(name, size, mtime_ns, sha256)`` rows; a row already there is updated
    (the unique key makes several processes agree)."""
    now = datetime.now()
    values = [
        {
            "source": source,
            "name": name,
            "size": size,
            "mtime_ns": mtime_ns,
            "sha256": digest,
            "fetched_at": now,
        }
        for name, size, mtime_ns, digest in rows
    ]

    def write() -> None:
        with database_proxy.atomic():
            FetchedFile.insert_many(values).on_conflict(
                conflict_target=[FetchedFile.source, FetchedFile.name],
                preserve=[
                    FetchedFile.size,
                    FetchedFile.mtime_ns,
                    FetchedFile.sha256,
                    FetchedFile.fetched_at,
                ],
            ).execute()

    if values:
        retry_locked(write)


async def _run_inline(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


def _signature(attrs: asyncssh.SFTPAttrs) -> Signature:
    mtime_ns = attrs.mtime_ns if attrs.mtime_ns is not None else (attrs.mtime or 0) * 10**9
    return (attrs.size or 0, mtime_ns)


# --------------------------------------------------------------------------- the poller


class SftpPoller:
    """Polls one remote folder and hands new, completely written stats files to
    ``on_files`` (a list of ``(name, bytes)``; the bot's ``ingest_files``).

    Args:
        config: Host, login, folder, known_hosts and poll interval.
        on_files: The ingest. When it raises, nothing is remembered and the files are
            fetched again on a later poll.
        run_db: Runs a synchronous database function (the bot passes ``Db.run``;
            by default it runs inline).
        sleep: Waits between polls and reconnects (tests record the backoff).
    """

    def __init__(
        self,
        config: SshConfig,
        on_files: Callable[[FileBatch], Awaitable[Any]],
        *,
        run_db: RunDb = _run_inline,
        sleep: Sleep = asyncio.sleep,
        backoff_first: float = BACKOFF_FIRST_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
        batch_size: int = FETCH_BATCH,
    ) -> None:
        self.config = config
        self.on_files = on_files
        self._run_db = run_db
        self._sleep = sleep
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self.batch_size = batch_size
        #: What the previous poll saw: name → signature.
        self._previous: dict[str, Signature] = {}
        #: What was fetched (from the database, then kept up to date).
        self._fetched: dict[str, Signature] | None = None
        #: Problems already logged, so a bad file is reported once, not every poll.
        self._reported: dict[str, Signature] = {}

    async def run(self) -> None:
        """Connect, poll every ``poll_seconds``, reconnect after any failure with
        exponential backoff; until cancelled."""
        delay = self.backoff_first
        while True:
            try:
                async with self.session() as sftp:
                    log.info("SSH source %s: connected, polling %s", self.config.where, self.folder)
                    while True:
                        await self.poll(sftp)
                        delay = self.backoff_first
                        await self._sleep(self.config.poll_seconds)
            except HostKeyRefused:
                pass  # logged with the details where it happened
            except (OSError, asyncssh.Error) as exc:
                log.warning(
                    "SSH source %s: %s; reconnecting in %g s",
                    self.config.where,
                    _describe(exc),
                    delay,
                )
            except Exception:
                log.exception(
                    "SSH source %s failed; reconnecting in %g s", self.config.where, delay
                )
            await self._sleep(delay)
            delay = min(delay * 2, self.backoff_max)

    @property
    def folder(self) -> str:
        return self.config.remote_dir

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[asyncssh.SFTPClient]:
        """An SFTP session on a connection whose host key is in known_hosts.

        Raises :class:`HostKeyRefused` (after logging why) for an unknown host or a
        different key: no authentication, no file read.
        """
        cfg = self.config
        client = _StrictClient()
        try:
            conn = await asyncssh.connect(
                cfg.host,
                cfg.port,
                username=cfg.user,
                client_keys=[str(cfg.key_file)],
                # Always a file: None would switch verification off.
                known_hosts=str(cfg.known_hosts),
                client_factory=lambda: client,
                config=None,  # no ~/.ssh/config: only what the settings say
                agent_path=None,
                connect_timeout=30,
                keepalive_interval=15,
                keepalive_count_max=4,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            log.error("%s", self._refusal(client.refused_key, exc))
            raise HostKeyRefused(str(exc)) from exc
        async with conn, conn.start_sftp_client() as sftp:
            yield sftp

    def _refusal(self, offered: asyncssh.SSHKey | None, exc: Exception) -> str:
        cfg = self.config
        try:
            trusted = asyncssh.match_known_hosts(str(cfg.known_hosts), cfg.host, cfg.host, cfg.port)
            why = (
                "its key differs from the one in known_hosts (a changed or forged key)"
                if trusted[0]
                else "the host is not in known_hosts"
            )
        except (OSError, ValueError):
            why = str(exc)
        key = (
            f"{offered.get_algorithm()} {offered.get_fingerprint()}"
            if offered is not None
            else "unknown"
        )
        return (
            f"SSH source {cfg.where}: host key refused, nothing read: {why}. "
            f"The server offered {key}; known_hosts file: {cfg.known_hosts}. "
            "If the server's key really changed, verify it and update that file "
            "(README: Sources of stats files)."
        )

    async def poll(self, sftp: asyncssh.SFTPClient) -> list[str]:
        """One poll: list the folder, fetch the files that were the same in the previous
        poll and are not fetched yet, hand them over, remember them. Returns their names."""
        listing = await self._list(sftp)
        if self._fetched is None:
            self._fetched = await self._run_db(load_fetched, self.config.source)
        fetched = self._fetched
        stable = [
            name
            for name, sig in sorted(listing.items())
            if fetched.get(name) != sig and self._previous.get(name) == sig
        ]
        self._previous = listing
        if not stable:
            return []
        # Another process sharing the database may have fetched some since we looked.
        fetched.update(await self._run_db(load_fetched, self.config.source, stable))
        todo = [name for name in stable if fetched.get(name) != listing[name]]
        done: list[str] = []
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            done += await self._fetch_batch(sftp, batch, listing, fetched)
        return done

    async def _list(self, sftp: asyncssh.SFTPClient) -> dict[str, Signature]:
        found: dict[str, Signature] = {}
        for entry in await sftp.readdir(self.folder):
            name = entry.filename
            if not isinstance(name, str) or not name.endswith(".txt"):
                continue
            attrs = entry.attrs
            if attrs.type == asyncssh.FILEXFER_TYPE_SYMLINK:
                try:
                    attrs = await sftp.stat(self._remote(name))
                except asyncssh.SFTPError:
                    continue  # dangling link
            if attrs.type == asyncssh.FILEXFER_TYPE_REGULAR:
                found[name] = _signature(attrs)
        return found

    def _remote(self, name: str) -> str:
        return posixpath.join(self.folder, name)

    async def _fetch_batch(
        self,
        sftp: asyncssh.SFTPClient,
        names: list[str],
        listing: dict[str, Signature],
        fetched: dict[str, Signature],
    ) -> list[str]:
        files: FileBatch = []
        rows: list[tuple[str, int, int, str | None]] = []
        for name in names:
            size, mtime_ns = listing[name]
            if size == 0 or size > MAX_FILE_BYTES:
                why = "empty file (0 bytes)" if size == 0 else f"{size} bytes, too large"
                log.warning("SSH source %s: not importing %s: %s", self.config.where, name, why)
                rows.append((name, size, mtime_ns, None))  # not again until it changes
                continue
            try:
                async with sftp.open(self._remote(name), "rb") as fh:
                    data = await fh.read(size + 1)  # one byte more shows it grew
                assert isinstance(data, bytes)  # noqa: S101 opened in binary mode (narrows str | bytes)
            except asyncssh.SFTPError as exc:
                if self._reported.get(name) != listing[name]:
                    self._reported[name] = listing[name]
                    log.warning(
                        "SSH source %s: cannot read %s: %s", self.config.where, name, exc.reason
                    )
                continue
            if len(data) != size:
                # It changed between the listing and the read: wait for it to settle again.
                self._previous.pop(name, None)
                continue
            files.append((name, data))
            rows.append((name, size, mtime_ns, hashlib.sha256(data).hexdigest()))
        if files:
            await self.on_files(files)
            log.info("SSH source %s: fetched %d new file(s)", self.config.where, len(files))
        await self._run_db(remember_fetched, self.config.source, rows)
        for name, size, mtime_ns, _digest in rows:
            fetched[name] = (size, mtime_ns)
        return [name for name, _data in files]


def _describe(exc: BaseException) -> str:
    """A one-line reason for a connection problem (asyncssh errors carry ``reason``)."""
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason or exc}"
