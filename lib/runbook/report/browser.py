"""Open an HTML page in a real headless Chromium: console messages, DOM, screenshot.

Used on index.html after a run (the screenshot is kept in the run folder) and by the tests. The
flags keep Chromium from reaching for the network (no background services, no QUIC).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]
_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]?\s*(.*)")


@dataclass
class PageCheck:
    console: list[str]
    dom: str
    screenshot: str | None


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def check_page(page: Path, screenshot: Path | None = None, width: int = 1280, height: int = 2000,
               timeout_s: float = 90) -> PageCheck:
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("no chromium on PATH (apt-get install chromium)")
    url = page.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="runbook-chromium-") as ud:
        base = [exe, *FLAGS, f"--user-data-dir={ud}"]
        shot = subprocess.run([*base, "--enable-logging=stderr", "--v=0",
                               f"--window-size={width},{height}",
                               f"--screenshot={screenshot or Path(ud) / 'shot.png'}", url],
                              capture_output=True, text=True, timeout=timeout_s)
        console = [m.group(1) for m in map(_CONSOLE.search, shot.stderr.splitlines()) if m]
        dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True,
                             timeout=timeout_s).stdout
    return PageCheck(console, dom, str(screenshot) if screenshot and screenshot.exists() else None)
