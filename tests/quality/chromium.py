"""Headless Chromium (Debian's `chromium`) driven over the DevTools protocol, for report tests.

`render(url, expression)` opens the page in a fresh profile, waits for the load event, evaluates
`expression` (a JSON-returning JavaScript expression) and returns its value together with every
console message, uncaught exception and browser log entry (failed resource loads) of the page.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1280,2000",
]


def chromium_executable() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError(
        "no chromium on PATH: `apt-get install -y chromium` (the CI image installs it)"
    )


@dataclass
class Rendered:
    value: object
    console: list[str] = field(default_factory=list)  # "<level>: <text>"
    exceptions: list[str] = field(default_factory=list)
    log: list[str] = field(
        default_factory=list
    )  # browser log entries (network errors, violations)
    screenshot: bytes = b""

    @property
    def errors(self) -> list[str]:
        return (
            [c for c in self.console if c.startswith(("error", "warning", "assert"))]
            + self.exceptions
            + [entry for entry in self.log if entry.startswith(("error", "warning"))]
        )


def render(url: str, expression: str, timeout: float = 60) -> Rendered:
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    proc = subprocess.Popen(
        [chromium_executable(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ws_url = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"chromium exited with {proc.returncode} before DevTools started"
                    )
                continue
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                ws_url = m.group(1)
                break
        if ws_url is None:
            raise RuntimeError("chromium did not start DevTools in time")
        return asyncio.run(asyncio.wait_for(_session(ws_url, url, expression), timeout))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


async def _session(ws_url: str, url: str, expression: str) -> Rendered:
    import base64

    import websockets

    out = Rendered(value=None)
    loaded = asyncio.Event()
    pending: dict[int, asyncio.Future] = {}
    counter = iter(range(1, 1_000_000))

    async with websockets.connect(ws_url, max_size=None) as ws:

        async def reader():
            async for raw in ws:
                msg = json.loads(raw)
                if "id" in msg and msg["id"] in pending:
                    pending.pop(msg["id"]).set_result(msg)
                    continue
                method, params = msg.get("method"), msg.get("params", {})
                if method == "Page.loadEventFired":
                    loaded.set()
                elif method == "Runtime.consoleAPICalled":
                    text = " ".join(
                        str(a.get("value", a.get("description", "")))
                        for a in params.get("args", [])
                    )
                    out.console.append(f"{params.get('type')}: {text}")
                elif method == "Runtime.exceptionThrown":
                    details = params.get("exceptionDetails", {})
                    out.exceptions.append(
                        details.get("exception", {}).get("description") or details.get("text", "")
                    )
                elif method == "Log.entryAdded":
                    entry = params.get("entry", {})
                    out.log.append(
                        f"{entry.get('level')}: {entry.get('text')} {entry.get('url', '')}".strip()
                    )

        task = asyncio.create_task(reader())

        async def send(
            method: str, params: dict | None = None, session: str | None = None
        ) -> dict:
            i = next(counter)
            fut = asyncio.get_running_loop().create_future()
            pending[i] = fut
            msg = {"id": i, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            await ws.send(json.dumps(msg))
            reply = await fut
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply["result"]

        target = (await send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        session = (await send("Target.attachToTarget", {"targetId": target, "flatten": True}))[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            await send(f"{domain}.enable", session=session)
        await send("Page.navigate", {"url": url}, session)
        await loaded.wait()
        await asyncio.sleep(0.3)  # late console messages
        result = await send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session
        )
        if "exceptionDetails" in result:
            raise RuntimeError(
                f"evaluating the test expression failed: {result['exceptionDetails']}"
            )
        out.value = result["result"].get("value")
        shot = await send(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session
        )
        out.screenshot = base64.b64decode(shot["data"])
        task.cancel()
    return out
