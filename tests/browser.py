"""A headless Chromium driven over the DevTools protocol on a pipe, for tests of HTML pages.

No extra package: Chromium is started with ``--remote-debugging-pipe`` (it reads commands on fd 3
and writes replies on fd 4, NUL-separated JSON). Tests open a page, evaluate JavaScript in it
(typing into inputs, clicking), read the DOM back and take screenshots; script errors in the page
are collected in ``Page.errors``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest


def chromium() -> str:
    """The chromium binary; skipped locally without one, a failure under CI."""
    path = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if path:
        return path
    message = "chromium not found: apt-get install chromium"
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set: refusing to skip the browser test. {message}", False)
    pytest.skip(message)


class Browser:
    """One headless Chromium process; ``open(url)`` gives a `Page`. Use as a context manager."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 900) -> None:
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        for fd in (to_chrome_r, from_chrome_w):
            os.set_inheritable(fd, True)
        args = [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        actions = [
            (os.POSIX_SPAWN_DUP2, to_chrome_r, 3),
            (os.POSIX_SPAWN_DUP2, from_chrome_w, 4),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ]
        self.pid = os.posix_spawn(args[0], args, dict(os.environ), file_actions=actions)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._out = os.fdopen(to_chrome_w, "wb", buffering=0)
        self._in = os.fdopen(from_chrome_r, "rb", buffering=0)
        self._buffer = b""
        self._id = 0
        self.width, self.height = width, height
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile are kept."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})  # type: ignore[no-any-return]
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        """The next event ``method`` of ``session`` (already received or still to come)."""
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self._read())

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = self._in.read(1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)  # type: ignore[no-any-return]

    def open(self, url: str) -> Page:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        page = Page(self, session)
        self.send("Page.enable", session)
        self.send("Runtime.enable", session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=self.width,
            height=self.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.send("Page.navigate", session, url=url)
        self.wait_for("Page.loadEventFired", session)
        return page

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._out.write(json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
        os.waitpid(self.pid, 0)
        self._out.close()
        self._in.close()


class Page:
    """One tab: evaluate JavaScript, take screenshots, see the page's script errors."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser, self.session = browser, session

    def js(self, expression: str) -> Any:
        """The value of ``expression`` (JSON-able), evaluated in the page; errors raise."""
        result = self.browser.send(
            "Runtime.evaluate",
            self.session,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    @property
    def errors(self) -> list[str]:
        """Uncaught exceptions of the page's scripts so far."""
        return [
            json.dumps(e["params"]["exceptionDetails"])[:2000]
            for e in self.browser.events
            if e.get("method") == "Runtime.exceptionThrown" and e.get("sessionId") == self.session
        ]

    def type(self, selector: str, text: str) -> None:
        """Set the value of an input and fire its ``input`` event, as typing does."""
        self.js(
            f"(function(){{var e=document.querySelector({json.dumps(selector)});"
            f"e.focus();e.value={json.dumps(text)};"
            "e.dispatchEvent(new Event('input',{bubbles:true}));})()"
        )

    def drag(self, x: float, y0: float, y1: float) -> None:
        """Press the left mouse button at (x, y0), move to (x, y1) and release: real input
        events, as a user's drag makes them (a click when y0 == y1)."""
        for kind, y in (("mousePressed", y0), ("mouseMoved", (y0 + y1) / 2), ("mouseReleased", y1)):
            self.browser.send(
                "Input.dispatchMouseEvent",
                self.session,
                type=kind,
                x=x,
                y=y,
                button="left",
                buttons=0 if kind == "mouseReleased" else 1,
                clickCount=1,
            )

    def move(self, x: float, y: float) -> None:
        """Move the mouse pointer to (x, y), as a real input event."""
        self.browser.send("Input.dispatchMouseEvent", self.session, type="mouseMoved", x=x, y=y)

    def settle(self, ms: int = 300) -> None:
        """Let timers (the filter's debounce) and rendering run."""
        self.js(f"new Promise(function(r){{setTimeout(r,{ms})}})")

    def screenshot(self, path: Path, full: bool = True) -> Path:
        """A PNG of the page (all of it when ``full``)."""
        params: dict[str, Any] = {"format": "png"}
        if full:
            size = self.js(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params.update(
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
            )
        data = self.browser.send("Page.captureScreenshot", self.session, **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path
