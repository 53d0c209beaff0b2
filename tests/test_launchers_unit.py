"""The launcher's reading of how the server ended, on the host with real processes (no engine)."""

from __future__ import annotations

import subprocess
import threading
import time

from runbook.launchers import ProcessLauncher
from runbook.params import load_profile
from runbook.runfolder import RunFolder


def _launcher_with_dead_pid(tmp_path) -> ProcessLauncher:
    launcher = ProcessLauncher(load_profile("local-process"), RunFolder.create("exit", tmp_path),
                               out=lambda s: None)
    dead = subprocess.Popen(["true"])
    dead.wait()  # reaped: its pid names no process now
    launcher.pid_file.write_text(f"{dead.pid}\n")
    return launcher


def test_exit_code_written_just_after_the_pid_died_is_read(tmp_path):
    """The wrapper writes server.exit a moment after the server's pid is gone; a poll that lands
    in between must wait for it (a kill -9 reads as 137), not report an unknown exit (-1)."""
    launcher = _launcher_with_dead_pid(tmp_path)
    launcher.exit_file.write_text("")  # the wrapper's `echo $? > file` has opened it, not written
    writer = threading.Timer(0.5, lambda: launcher.exit_file.write_text("137\n"))
    writer.start()
    try:
        assert launcher.server_exit_code() == 137
    finally:
        writer.cancel()


def test_exit_code_unknown_when_the_wrapper_never_writes_it(tmp_path):
    launcher = _launcher_with_dead_pid(tmp_path)
    t0 = time.monotonic()
    assert launcher.server_exit_code(settle_s=0.5) == -1
    assert 0.4 < time.monotonic() - t0 < 3


def test_exit_code_none_while_the_server_runs(tmp_path):
    launcher = ProcessLauncher(load_profile("local-process"), RunFolder.create("run", tmp_path),
                               out=lambda s: None)
    with subprocess.Popen(["sleep", "30"]) as proc:
        launcher.pid_file.write_text(f"{proc.pid}\n")
        try:
            assert launcher.server_exit_code() is None
        finally:
            proc.kill()
