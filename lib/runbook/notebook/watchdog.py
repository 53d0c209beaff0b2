"""The guard of a standalone notebook's server: a small process outside the kernel.

When a standalone notebook starts a server it arms a guard: this process, in its own session,
watching the kernel's pid. papermill sent SIGTERM or SIGINT dies at once and its kernel follows
within a second (ipykernel's parent poller calls ``os._exit``) — no handler inside the kernel
gets to run, and the container (a 1 TB model holding 8 GPUs) would outlive the notebook. The
watchdog sees the kernel gone while the guard is still armed and tears down what the run
started. Releasing the guard (the server is ready and meant to stay, or the notebook stopped it
itself) removes the arm file and the watchdog exits.

    python -m runbook.notebook.watchdog KERNEL_PID RUN_DIR
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ARM_FILE = "guard.armed"


def arm(run_dir: Path) -> subprocess.Popen:
    """Start the watchdog for this process (the kernel) and the run folder."""
    arm_file = run_dir / ARM_FILE
    arm_file.write_text(str(os.getpid()))
    (run_dir / "logs").mkdir(exist_ok=True)
    with open(run_dir / "logs" / "watchdog.log", "a") as log:  # the child keeps its own copy
        return subprocess.Popen([sys.executable, "-m", "runbook.notebook.watchdog", str(os.getpid()),
                                 str(run_dir)], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def release(run_dir: Path) -> None:
    (run_dir / ARM_FILE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch(pid: int, run_dir: Path, every_s: float = 0.5) -> int:
    from runbook.core.runfolder import RunFolder
    from runbook.core.schema import Profile
    from runbook.deploy.steps import teardown

    arm_file = run_dir / ARM_FILE
    while arm_file.exists():
        if not _alive(pid):
            run = RunFolder(run_dir)
            p = Profile.model_validate(run.read_state()["params"])
            print(f"{time.strftime('%H:%M:%S')} kernel {pid} gone with the guard armed: tearing down",
                  flush=True)
            for line in teardown(p, run):
                print("  " + line, flush=True)
            arm_file.unlink(missing_ok=True)
            return 1
        time.sleep(every_s)
    return 0


if __name__ == "__main__":
    sys.exit(watch(int(sys.argv[1]), Path(sys.argv[2])))
