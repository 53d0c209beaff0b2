"""Progress for long steps: plain, throttled lines in headless runs; a live bar in JupyterLab.

Headless runs (papermill, CI, the CLI) get a line every ``every_s`` seconds — readable in logs and
executed notebooks. A person stepping through JupyterLab (the notebook's form calls
``set_interactive(True)``) gets tqdm's notebook bar instead.
"""

from __future__ import annotations

import sys
import time
from typing import Any

_INTERACTIVE = False


def set_interactive(on: bool = True) -> None:
    global _INTERACTIVE
    _INTERACTIVE = on


class Progress:
    def __init__(self, desc: str, total: float | None = None, unit: str = "it",
                 every_s: float = 10.0, stream: Any = None) -> None:
        self.desc, self.total, self.unit, self.every_s = desc, total, unit, every_s
        self.stream = stream or sys.stdout
        self.n = 0.0
        self.t0 = time.monotonic()
        self._last = -1e9
        self._bar = None
        if _INTERACTIVE:
            try:
                from tqdm.auto import tqdm

                self._bar = tqdm(total=total, desc=desc, unit=unit)
            except Exception:  # no widgets: fall back to lines
                self._bar = None

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def update(self, n: float = 1, note: str = "", force: bool = False) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
            if note:
                self._bar.set_postfix_str(note[:80])
            return
        now = time.monotonic()
        if force or now - self._last >= self.every_s:
            self._last = now
            done = f"{self.n:.0f}/{self.total:.0f} {self.unit}" if self.total else ""
            parts = [f"[{self.elapsed:6.0f} s] {self.desc}", done, note]
            print(" | ".join(p for p in parts if p), file=self.stream, flush=True)

    def close(self, note: str = "") -> None:
        if self._bar is not None:
            self._bar.close()
        else:
            self.update(0, note or "done", force=True)


class ThrottledEcho:
    """Echo a tool's output line by line, but its progress-bar redraws at most every ``every_s``.

    tqdm, writing to a pipe, redraws with carriage returns; in a notebook or a log that is one
    line per request. Lines that look like a bar (``NN%|``) are shown when ``every_s`` has passed
    or when the bar reaches 100 %; everything else is shown as it comes, or — ``only_bars``, for
    a tool whose whole output goes to a log file the reader is pointed to — not at all.
    """

    def __init__(self, out: Any = print, every_s: float = 10.0, only_bars: bool = False) -> None:
        import re

        self.out, self.every_s, self.only_bars = out, every_s, only_bars
        self._bar = re.compile(r"\d+%\|")  # tqdm's "NN%|", alone or after a description
        # A whole bar: " 30%|███       | 3/10 [00:06<00:19,  2.84s/it]"
        self._whole_bar = re.compile(r"\s*\d+%\|[^|]*\|[^\[\n]*\[[^\]]*\]")
        self._last = -1e9

    def __call__(self, text: str) -> None:
        for line in text.replace("\r", "\n").split("\n"):
            if not line.strip():
                continue
            if self._bar.search(line):
                now = time.monotonic()
                if now - self._last < self.every_s and "100%|" not in line:
                    continue
                self._last = now
                if self.only_bars:  # a bar's last redraw may run into the tool's next print
                    whole = self._whole_bar.search(line)
                    line = whole.group(0) if whole else line[self._bar.search(line).start():][:120]
            elif self.only_bars:
                continue
            self.out(line)


class TerminalEcho:
    """A step's notebook output, echoed to the terminal while ``runbook run`` executes it
    (papermill's ``stdout_file``/``stderr_file``): the readiness wait's elapsed time and log
    line, download and tier progress — so an hour of loading is not an hour of silence. A file
    for papermill, a ``ThrottledEcho`` inside: whole lines go through, prefixed; bar redraws are
    throttled."""

    def __init__(self, stream: Any = None, prefix: str = "    │ ", every_s: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.prefix = prefix
        self._echo = ThrottledEcho(self._line, every_s)
        self._buf = ""

    def _line(self, line: str) -> None:
        self.stream.write(self.prefix + line.rstrip()[:300] + "\n")

    def write(self, text: str) -> int:
        self._buf += text
        cut = max(self._buf.rfind("\n"), self._buf.rfind("\r"))
        if cut >= 0:  # complete pieces only: papermill hands over chunks, not lines
            self._echo(self._buf[:cut])
            self._buf = self._buf[cut + 1:]
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()
