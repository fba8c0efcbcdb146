"""A small Chrome DevTools Protocol client for tests: load a page in headless Chromium and
report what a reader would notice (console errors, failed loads, images not shown).

Chromium is started with ``--remote-debugging-port=0`` (it picks a free loopback port and
prints the browser's websocket address on stderr); the client talks to it over aiohttp's
websocket, attaches to one tab with ``flatten`` sessions, enables the Runtime, Log,
Network and Page domains, navigates, waits for the load event and evaluates JavaScript.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from etbot.render import EXTRA_BROWSER_FLAGS

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


@dataclass
class PageReport:
    """What happened while a page loaded."""

    #: Console messages of level error and uncaught exceptions (text).
    errors: list[str] = field(default_factory=list)
    #: Every URL the page requested.
    requests: list[str] = field(default_factory=list)
    #: Requests that failed (URL: reason).
    failed: list[str] = field(default_factory=list)
    #: The value of the evaluated expression.
    value: Any = None


class DevTools:
    """One browser websocket with flattened target sessions."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self._pending:
                self._pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                await self.events.put(data)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send a command and return its result (raises on a protocol error)."""
        msg_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        payload: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session is not None:
            payload["sessionId"] = session
        await self.ws.send_str(json.dumps(payload))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self.ws.close()


async def _websocket_url(proc: asyncio.subprocess.Process) -> str:
    """Read Chromium's stderr until it prints its DevTools websocket address."""
    assert proc.stderr is not None
    seen: list[str] = []
    while line := (await proc.stderr.readline()).decode(errors="replace"):
        seen.append(line)
        found = _LISTENING.search(line)
        if found:
            return found.group(1)
    raise RuntimeError("chromium exited before listening: " + "".join(seen[-5:]))


async def _drain(stream: asyncio.StreamReader) -> None:
    """Keep reading a pipe so that the browser never blocks writing its log."""
    while await stream.read(65536):
        pass


async def load_page(browser: str, page: Path, expression: str, timeout: float = 60.0) -> PageReport:
    """Open ``page`` (a file) in headless ``browser``, wait for its load event, then
    evaluate ``expression`` (its value must be JSON-serialisable)."""
    report = PageReport()
    url = page.resolve().as_uri()  # noqa: ASYNC240 a path, before anything runs
    with tempfile.TemporaryDirectory(prefix="etbot-cdp-") as profile:
        proc = await asyncio.create_subprocess_exec(
            browser,
            *EXTRA_BROWSER_FLAGS,
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        drain: asyncio.Task[None] | None = None
        try:
            ws_url = await asyncio.wait_for(_websocket_url(proc), timeout)
            assert proc.stderr is not None
            drain = asyncio.get_running_loop().create_task(_drain(proc.stderr))
            async with aiohttp.ClientSession() as http:
                ws = await http.ws_connect(ws_url, max_msg_size=0)
                tools = DevTools(ws)
                try:
                    await _drive(tools, url, expression, report, timeout)
                finally:
                    await tools.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
            if drain is not None:
                drain.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drain
    return report


async def _drive(
    tools: DevTools, url: str, expression: str, report: PageReport, timeout: float
) -> None:
    target = await tools.send("Target.createTarget", {"url": "about:blank"})
    attached = await tools.send(
        "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
    )
    session = attached["sessionId"]
    for domain in ("Runtime", "Log", "Network", "Page"):
        await tools.send(f"{domain}.enable", session=session)
    await tools.send("Page.navigate", {"url": url}, session=session)
    loaded = False
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        wait = deadline - loop.time()
        if wait <= 0:
            raise TimeoutError(f"{url} did not finish loading")
        try:
            event = await asyncio.wait_for(tools.events.get(), 0.5 if loaded else wait)
        except TimeoutError:
            if loaded:
                break  # quiet for half a second after the load event: done
            raise
        if event.get("sessionId") != session:
            continue
        method, params = event["method"], event.get("params", {})
        if method == "Page.loadEventFired":
            loaded = True
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            texts = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
            report.errors.append("console: " + " ".join(texts))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            report.errors.append("exception: " + str(details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            report.errors.append(f"log: {entry.get('text')} ({entry.get('url', '')})")
        elif method == "Network.requestWillBeSent":
            report.requests.append(params.get("request", {}).get("url", ""))
        elif method == "Network.loadingFailed":
            report.failed.append(f"{params.get('requestId')}: {params.get('errorText')}")
    evaluated = await tools.send(
        "Runtime.evaluate",
        {"expression": expression, "returnByValue": True, "awaitPromise": True},
        session=session,
    )
    if "exceptionDetails" in evaluated:
        raise RuntimeError(f"evaluation failed: {evaluated['exceptionDetails']}")
    report.value = evaluated.get("result", {}).get("value")
