"""Render plotly figures to PNG with one warm headless Chromium per process.

kaleido 1.x drives a real Chromium over the DevTools protocol (via choreographer) and is
fully async, so rendering never blocks the event loop. Starting the browser takes about a
second or two; after that a render is a single DevTools round trip. :class:`ChartRenderer`
keeps one browser (two tabs by default) alive, serialises renders on it and replaces it when a
render fails, times out or is cancelled.

Typical use::

    async with ChartRenderer() as renderer:
        png = await renderer.render_png(fig, width=900, height=600)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import struct
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import kaleido
from choreographer.browsers.chromium import Chromium
from kaleido.errors import JavascriptError, KaleidoError

log = logging.getLogger(__name__)

#: Environment variable naming the browser executable to use.
BROWSER_ENV_VAR = "ETBOT_BROWSER_PATH"
#: Executable names looked up on PATH when no browser path is configured.
BROWSER_NAMES: tuple[str, ...] = (
    "chromium",
    "chromium-browser",
    "google-chrome-stable",
    "google-chrome",
    "chrome",
)
#: Absolute locations tried last.
BROWSER_PATHS: tuple[str, ...] = (
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome-stable",
    "/usr/bin/google-chrome",
    "/snap/bin/chromium",
)
#: Flags added on top of choreographer's defaults (which already include --headless,
#: --no-sandbox and --disable-gpu for our constructor arguments). They stop Chromium from
#: phoning home, which on a host without internet access only produces refused connections.
EXTRA_BROWSER_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--mute-audio",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_THIRD_PARTY_LOGGERS = ("kaleido", "choreographer", "browser_proc", "chrome_wrapper")


class RenderError(Exception):
    """A chart could not be rendered (no browser, browser crash, timeout, bad figure)."""


class BrowserNotFoundError(RenderError):
    """No Chromium/Chrome executable could be found."""


def find_browser(path: str | os.PathLike[str] | None = None) -> str | None:
    """Locate a Chromium-based browser executable.

    Order: the explicit ``path``; the ``ETBOT_BROWSER_PATH`` environment variable; the
    ``BROWSER_PATH`` variable (kaleido's own); the names in :data:`BROWSER_NAMES` on
    ``PATH``; the absolute paths in :data:`BROWSER_PATHS`. An explicit ``path`` or
    ``ETBOT_BROWSER_PATH`` that is not an executable file yields ``None`` (no fallback), so a
    misconfiguration is reported instead of silently using another browser.
    """
    configured = str(path) if path else os.environ.get(BROWSER_ENV_VAR)
    if configured:
        return configured if _is_executable(configured) else None
    candidates: list[str] = []
    if env_path := os.environ.get("BROWSER_PATH"):
        candidates.append(env_path)
    candidates.extend(found for name in BROWSER_NAMES if (found := shutil.which(name)))
    candidates.extend(BROWSER_PATHS)
    return next((c for c in candidates if _is_executable(c)), None)


def _is_executable(path: str) -> bool:
    p = Path(path)
    return p.is_file() and os.access(p, os.X_OK)


def png_dimensions(data: bytes) -> tuple[int, int]:
    """Return ``(width, height)`` from a PNG's IHDR chunk.

    Raises:
        ValueError: if ``data`` does not start with a PNG signature and IHDR chunk.
    """
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


class _ContainerChromium(Chromium):
    """choreographer's Chromium launcher plus :attr:`extra_flags` on the command line.

    choreographer rejects unknown constructor arguments, so extra flags are injected by
    overriding ``get_cli``; subclasses created by :func:`_chromium_with_flags` set them.
    """

    extra_flags: ClassVar[tuple[str, ...]] = EXTRA_BROWSER_FLAGS

    def get_cli(self) -> Sequence[str]:
        cli = list(super().get_cli())
        cli.extend(flag for flag in self.extra_flags if flag not in cli)
        return cli


def _chromium_with_flags(flags: Sequence[str]) -> type[_ContainerChromium]:
    merged = tuple(dict.fromkeys((*EXTRA_BROWSER_FLAGS, *flags)))
    return type("_ConfiguredChromium", (_ContainerChromium,), {"extra_flags": merged})


class _DeferredReloadKaleido(kaleido.Kaleido):  # type: ignore[misc]
    """kaleido that hands back a render's result before the tab's reload finishes.

    kaleido reloads its page after every render (to reset plotly.js state) and awaits that
    reload, about 100 ms here, before returning the image. This subclass runs the reload in
    the background instead; the next render that needs the tab waits for it through
    kaleido's own ready-tab queue, so correctness is unchanged. With two tabs, back-to-back
    renders alternate between them. ``_return_kaleido_tab`` is kaleido-internal: if a future
    kaleido stops calling it, the override is simply unused and renders take the normal path.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reloads: set[asyncio.Task[None]] = set()
        self._closing = False

    async def _return_kaleido_tab(self, tab: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._reload_and_return(tab))
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def _reload_and_return(self, tab: Any) -> None:
        try:
            await super()._return_kaleido_tab(tab)
        except Exception as exc:  # noqa: BLE001 the tab is lost; the next render recycles it
            level = logging.DEBUG if self._closing else logging.WARNING
            log.log(level, "reloading a kaleido tab failed: %s: %s", type(exc).__name__, exc)

    async def close(self) -> None:
        self._closing = True
        for task in self._reloads:
            task.cancel()
        await asyncio.gather(*self._reloads, return_exceptions=True)
        await super().close()


class _WrapperByeFilter(logging.Filter):
    """Drop choreographer's ERROR about failing to parse ``{bye}`` as JSON.

    choreographer's Unix pipe wrapper prints ``{bye}`` to the DevTools pipe when Chromium
    exits, and choreographer then logs a JSON decode error with a traceback on a normal
    shutdown. Only that exact message is dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        cause = exc.__cause__ if exc is not None else None
        doc = getattr(cause, "doc", None)
        return not (isinstance(doc, str) and doc.strip() == "{bye}")


def _quiet_third_party_loggers() -> None:
    """kaleido/choreographer log several INFO lines per render; cap them at WARNING.

    Only loggers whose level was never set are touched, so explicit configuration wins.
    The harmless ``{bye}`` decode error at browser shutdown is filtered out as well.
    """
    for name in _THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
    pipe_logger = logging.getLogger("choreographer.channels.pipe")
    if not any(isinstance(f, _WrapperByeFilter) for f in pipe_logger.filters):
        pipe_logger.addFilter(_WrapperByeFilter())


class ChartRenderer:
    """Render plotly figures to PNG bytes on a single warm headless Chromium.

    * :meth:`start` launches the browser (optional: the first :meth:`render_png` starts it).
    * Renders run one at a time (an :class:`asyncio.Lock`); concurrent callers queue up.
    * A render that fails, times out or is cancelled raises :class:`RenderError` (or
      propagates the cancellation) and the browser is replaced in the background, so the
      next call gets a fresh one. Figures rejected by plotly.js do not cost a restart.
    * :meth:`close` stops the browser; after it, renders raise until :meth:`start` is
      called again.

    The class is also an async context manager (start on enter, close on exit).
    """

    def __init__(
        self,
        *,
        browser_path: str | os.PathLike[str] | None = None,
        extra_flags: Sequence[str] = (),
        tabs: int = 2,
        start_timeout: float = 30.0,
        close_timeout: float = 5.0,
        quiet_third_party_logs: bool = True,
    ) -> None:
        """Configure the renderer; nothing is launched until :meth:`start` / first render.

        Args:
            browser_path: Chromium/Chrome executable; see :func:`find_browser` for defaults.
            extra_flags: Extra Chromium command line flags, added to
                :data:`EXTRA_BROWSER_FLAGS`.
            tabs: Browser tabs kept loaded. Renders still run one at a time; a second tab
                lets the next render start while the previous tab reloads in the background.
            start_timeout: Seconds allowed for launching the browser.
            close_timeout: Seconds allowed for a graceful browser shutdown before killing.
            quiet_third_party_logs: Cap kaleido/choreographer loggers at WARNING unless
                their level is already configured.
        """
        self._browser_path_arg = browser_path
        if tabs < 1:
            raise ValueError("tabs must be at least 1")
        self._browser_cls = _chromium_with_flags(extra_flags)
        self._tabs = tabs
        self._start_timeout = start_timeout
        self._close_timeout = close_timeout
        self._lock = asyncio.Lock()
        self._kaleido: Any = None  # kaleido.Kaleido once started
        self._closed = False
        self._background: set[asyncio.Task[None]] = set()
        self.browser_starts = 0
        """How many browsers this renderer launched (1 + number of restarts)."""
        self.renders = 0
        """Number of successful renders."""
        self.last_start_seconds: float | None = None
        """Wall time of the most recent browser launch."""
        if quiet_third_party_logs:
            _quiet_third_party_loggers()

    # ----------------------------------------------------------------- properties

    @property
    def browser_path(self) -> str | None:
        """The browser executable that will be used, or ``None`` if none was found."""
        return find_browser(self._browser_path_arg)

    @property
    def available(self) -> bool:
        """True when a browser executable exists, i.e. rendering can work at all."""
        return self.browser_path is not None

    @property
    def running(self) -> bool:
        """True while a warm browser is up."""
        return self._kaleido is not None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Launch the browser now (idempotent) so the first render is fast.

        Raises:
            BrowserNotFoundError: no browser executable exists.
            RenderError: the browser failed to start within ``start_timeout``.
        """
        self._closed = False
        async with self._lock:
            await self._ensure_browser()

    async def close(self) -> None:
        """Stop the browser and wait for background restarts; safe to call repeatedly."""
        self._closed = True
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        async with self._lock:
            kaleido, self._kaleido = self._kaleido, None
        if kaleido is not None:
            await self._dispose(kaleido)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ----------------------------------------------------------------- rendering

    async def render_png(
        self,
        fig: Any,
        *,
        width: int = 900,
        height: int = 600,
        scale: float = 1,
        # Not the caller's asyncio.timeout: waiting for earlier renders must not count.
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> bytes:
        """Render ``fig`` (a plotly Figure or figure dict) to PNG bytes.

        The image is ``width * scale`` by ``height * scale`` pixels. ``timeout`` bounds the
        render itself; time spent waiting for earlier renders or for a (re)start of the
        browser (bounded by ``start_timeout``) is not counted.

        Raises:
            ValueError: for non-positive ``width``, ``height``, ``scale`` or ``timeout``.
            RenderError: the renderer is closed, no browser exists, the browser failed, the
                render timed out, or plotly.js rejected the figure.
        """
        if width <= 0 or height <= 0 or scale <= 0:
            raise ValueError("width, height and scale must be positive")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if not (hasattr(fig, "to_dict") or (isinstance(fig, dict) and "data" in fig)):
            raise RenderError(f"cannot render {type(fig).__name__}: not a plotly figure")
        if self._closed:
            raise RenderError("renderer is closed")

        async with self._lock:
            if self._closed:
                raise RenderError("renderer was closed while the render was waiting")
            kaleido = await self._ensure_browser()
            opts = {"format": "png", "width": width, "height": height, "scale": scale}
            started = time.perf_counter()
            deadline = asyncio.timeout(timeout)
            try:
                async with deadline:
                    data: bytes = await kaleido.calc_fig(fig, opts=opts)
            except asyncio.CancelledError:
                # The tab may never be handed back to kaleido's pool: replace the browser.
                self._recycle(kaleido, "render cancelled")
                raise
            except Exception as exc:
                # choreographer turns a cancellation that lands inside a DevTools write into
                # ChannelClosedError, so neither our deadline nor a caller's cancel reliably
                # surfaces as TimeoutError / CancelledError. Check both states explicitly.
                if deadline.expired():
                    self._recycle(kaleido, "timeout")
                    raise RenderError(
                        f"render timed out after {timeout:g}s; the browser is being restarted"
                    ) from None
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    self._recycle(kaleido, "render cancelled")
                    raise asyncio.CancelledError from exc
                if _is_figure_error(exc):
                    raise RenderError(f"plotly.js rejected the figure: {exc}") from exc
                self._recycle(kaleido, f"{type(exc).__name__}: {exc}")
                raise RenderError(
                    f"render failed ({type(exc).__name__}: {exc}); the browser is being restarted"
                ) from exc

        elapsed = time.perf_counter() - started
        try:
            png_dimensions(data)
        except ValueError:
            raise RenderError(f"browser returned {len(data)} bytes that are not a PNG") from None
        self.renders += 1
        log.debug(
            "rendered %dx%d@%g PNG (%d bytes) in %.3fs", width, height, scale, len(data), elapsed
        )
        return data

    # ----------------------------------------------------------------- internals

    async def _ensure_browser(self) -> Any:
        """Return the running kaleido, launching one if needed. Call with the lock held."""
        if self._kaleido is not None:
            return self._kaleido
        path = self.browser_path
        if path is None:
            configured = self._browser_path_arg or os.environ.get(BROWSER_ENV_VAR)
            where = f" at {configured!s}" if configured else ""
            raise BrowserNotFoundError(
                f"no Chromium/Chrome executable found{where}; install chromium or set "
                f"{BROWSER_ENV_VAR} to its path"
            )

        started = time.perf_counter()
        try:
            k = _DeferredReloadKaleido(
                path=path,
                browser_cls=self._browser_cls,
                n=self._tabs,
                timeout=None,  # we bound renders ourselves
                mathjax=False,  # the default is a CDN URL; no LaTeX in our charts anyway
                headless=True,
                enable_gpu=False,
                enable_sandbox=False,
                enable_extensions=False,
            )
        except Exception as exc:
            raise RenderError(f"cannot launch browser {path}: {exc}") from exc
        try:
            await asyncio.wait_for(k.open(), self._start_timeout)
        except BaseException as exc:
            self._recycle(k, "start failed", restart=False)
            if isinstance(exc, TimeoutError):
                raise RenderError(
                    f"browser {path} did not start within {self._start_timeout:g}s"
                ) from None
            if isinstance(exc, Exception):
                raise RenderError(f"browser {path} failed to start: {exc}") from exc
            raise
        self._kaleido = k
        self.browser_starts += 1
        self.last_start_seconds = time.perf_counter() - started
        log.info("browser %s started in %.2fs", path, self.last_start_seconds)
        return k

    def _recycle(self, kaleido: Any, reason: str, *, restart: bool = True) -> None:
        """Drop ``kaleido`` now; close it (and warm up a new one) in a background task."""
        if self._kaleido is kaleido:
            self._kaleido = None
        log.warning("discarding browser: %s", reason)
        task = asyncio.get_running_loop().create_task(self._replace(kaleido, restart))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _replace(self, old: Any, restart: bool) -> None:
        await self._dispose(old)
        if not restart or self._closed:
            return
        try:
            async with self._lock:
                if not self._closed:
                    await self._ensure_browser()
        except RenderError as exc:
            log.error("could not restart browser: %s", exc)

    async def _dispose(self, kaleido: Any) -> None:
        """Close a kaleido browser, killing its process group if a clean close fails."""
        try:
            await asyncio.wait_for(kaleido.close(), self._close_timeout)
        except Exception as exc:  # noqa: BLE001 however the close failed, the kill below follows
            log.warning(
                "browser did not close cleanly (%s: %s); killing it", type(exc).__name__, exc
            )
        proc = getattr(kaleido, "subprocess", None)
        if proc is None or proc.poll() is not None:
            return
        # choreographer starts the browser in its own session, so its pid is the group id.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(loop.run_in_executor(None, proc.wait), self._close_timeout)


def _is_figure_error(exc: BaseException) -> bool:
    """True for errors plotly.js reported about the figure; the tab is still healthy then."""
    return isinstance(exc, KaleidoError | JavascriptError)
