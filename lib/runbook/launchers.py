"""Launchers: where the server runs. A registry of two variants behind one interface.

* ``docker`` — the recipe's way: ``docker run -d`` with the profile's flags (through the Docker
  SDK), the pre-install step and the server started inside with ``docker exec``.
* ``process`` — the fallback where no Docker daemon can run: the same engine from a
  project-managed venv on the host.

Both start the server through the same small shell wrapper, which writes the server's pid and,
when it ends, its exit code into the run folder's ``logs/`` — so any later process (another
notebook, the CLI) can tell whether the server is alive without holding a handle to it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from runbook.errors import EngineError
from runbook.params import PROJECT_ROOT, Profile
from runbook.progress import Progress
from runbook.runfolder import RunFolder
from runbook.server import LaunchCommand

Out = Callable[[str], None]
LABEL_RUN = "org.runbook.run"
LABEL_CONFIG = "org.runbook.config"


@dataclass
class ExecResult:
    code: int
    output: str


def weights_dir(p: Profile) -> Path:
    d = Path(os.path.expandvars(p.target.weights_dir))
    return d if d.is_absolute() else PROJECT_ROOT / d


def expand(value: str, p: Profile, run: RunFolder) -> str:
    """``${WEIGHTS_DIR}``, ``${RUN_DIR}`` and ``${PROJECT_ROOT}`` in profile values."""
    return (value.replace("${WEIGHTS_DIR}", str(weights_dir(p)))
            .replace("${RUN_DIR}", str(run.path))
            .replace("${PROJECT_ROOT}", str(PROJECT_ROOT)))


def expand_path(value: str | None, p: Profile) -> str | None:
    """``${WEIGHTS_DIR}`` / ``${PROJECT_ROOT}`` in a value that doesn't depend on the run."""
    if value is None:
        return None
    return (value.replace("${WEIGHTS_DIR}", str(weights_dir(p)))
            .replace("${PROJECT_ROOT}", str(PROJECT_ROOT)))


def engine_python(p: Profile) -> str:
    """The process launcher's interpreter, which must exist before anything is started."""
    py = expand_path(p.server.python, p) or ""
    if not Path(py).exists() and not shutil.which(py):
        raise EngineError(f"the engine's python {py!r} does not exist",
                          hint="run `runbook engine build -f PROFILE` to create the engine venv")
    return py


def wrapper_script(cmd: LaunchCommand, log: str, pid: str, exitf: str, workdir: str = "/tmp") -> str:
    """Start ``cmd`` in the background with its output in ``log``; record pid and exit code."""
    # "${RUNBOOK_API_KEY}" stays unquoted so the shell expands it from the process environment.
    argv = " ".join(f'"{a}"' if a == "${RUNBOOK_API_KEY}" else shlex.quote(a) for a in cmd.argv)
    # Unbuffered: the log shows what the server is doing while it loads, and right up to a crash.
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {"PYTHONUNBUFFERED": "1", **cmd.env}.items())
    return (f"cd {shlex.quote(workdir)} && rm -f {shlex.quote(exitf)} && "
            f"( exec env {env} {argv} ) > {shlex.quote(log)} 2>&1 & "
            f"p=$!; echo $p > {shlex.quote(pid)}; wait $p; echo $? > {shlex.quote(exitf)}")


class Launcher:
    """What every launcher does; state lives in the run folder so any process can resume it."""

    name = "base"

    def __init__(self, profile: Profile, run: RunFolder, out: Out = print) -> None:
        self.p = profile
        self.run = run
        self.out = out

    def container_path(self, host_path: Path) -> str:
        """Where a host path appears to the server (the same path for a host process)."""
        return str(host_path.resolve())

    # Files the wrapper writes, as seen on the host.
    @property
    def server_log(self) -> Path:
        return self.run.logs / "server.log"

    @property
    def pid_file(self) -> Path:
        return self.run.logs / "server.pid"

    @property
    def exit_file(self) -> Path:
        return self.run.logs / "server.exit"

    def prepare(self) -> dict[str, Any]:
        raise NotImplementedError

    def pre_install(self) -> ExecResult | None:
        raise NotImplementedError

    def start_server(self, cmd: LaunchCommand) -> None:
        raise NotImplementedError

    def exec(self, argv: list[str], timeout_s: float | None = None, env: dict[str, str] | None = None,
             echo: bool = True, out: Out | None = None) -> ExecResult:
        """Run a command where the engine lives; its output is echoed line by line to ``out``."""
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def stop_server(self, grace_s: float = 20.0) -> None:
        raise NotImplementedError

    def teardown(self) -> list[str]:
        raise NotImplementedError

    def _recorded_exit(self) -> int | None:
        """The code the wrapper wrote, or None while the file is absent or not yet written."""
        try:
            text = self.exit_file.read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.lstrip("-").isdigit() else None

    def server_exit_code(self, settle_s: float = 3.0) -> int | None:
        """None while the server runs; its exit code (or -1 when its host is gone) once it ended."""
        code = self._recorded_exit()
        if code is not None:
            return code
        if self.pid_file.exists() and not self.alive():
            # The wrapper writes server.exit right after `wait` returns, a moment after the pid is
            # gone: wait for it, so a kill reads as 137 rather than "unknown" (-1).
            deadline = time.monotonic() + settle_s
            while time.monotonic() < deadline:
                time.sleep(0.1)
                code = self._recorded_exit()
                if code is not None:
                    return code
            return -1
        return None


# ---------------------------------------------------------------------------------------------


def _docker():
    import docker

    try:
        c = docker.from_env(timeout=120)
        c.ping()
        return c
    except Exception as e:  # the SDK raises several unrelated types here
        raise EngineError(f"no Docker daemon reachable: {e}",
                          hint="run `make setup` (starts dockerd as root) or use "
                          "container.launcher=process") from None


class DockerLauncher(Launcher):
    name = "docker"

    def __init__(self, profile: Profile, run: RunFolder, out: Out = print) -> None:
        super().__init__(profile, run, out)
        self.client = _docker()
        self._last_liveness = time.monotonic()

    # -- container configuration ------------------------------------------------------------
    def volumes(self) -> dict[str, dict[str, str]]:
        vols = {}
        for spec in self.p.container.volumes:
            parts = expand(spec, self.p, self.run).split(":")
            host, cpath = parts[0], parts[1]
            vols[host] = {"bind": cpath, "mode": parts[2] if len(parts) > 2 else "rw"}
        return vols

    def container_path(self, host_path: Path) -> str:
        """Where a host path appears inside the container (through the profile's volumes)."""
        best = None
        for host, spec in self.volumes().items():
            hp = Path(host).resolve()
            try:
                rel = host_path.resolve().relative_to(hp)
            except ValueError:
                continue
            if best is None or len(str(hp)) > len(best[0]):
                best = (str(hp), str(PurePosixPath(spec["bind"]) / rel))
        if best is None:
            raise EngineError(
                f"{host_path} is not visible inside the container",
                hint="add a volume that covers it to container.volumes (e.g. ${RUN_DIR}:/runbook/run "
                "for the run folder, ${WEIGHTS_DIR}:/root/.cache/huggingface for the weights)")
        return best[1]

    def scratch_path(self, name: str) -> str:
        """A path inside the container for a file to copy out afterwards. Not in the run folder's
        mount: a reused container may hold another run's folder there (or none at all)."""
        return f"/tmp/runbook-{self.run.run_id}-{name}"

    def copy_in(self, host_dir: Path, inside_parent: str) -> str:
        """Copy a host folder into the container under ``inside_parent``; returns its path."""
        ctr = self._container()
        if ctr is None:
            raise EngineError(f"no container {self.p.container.name!r} to copy {host_dir} into")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(str(host_dir), arcname=host_dir.name,
                    filter=lambda ti: None if "__pycache__" in ti.name else ti)
        self.exec(["mkdir", "-p", inside_parent], echo=False)
        ctr.put_archive(inside_parent, buf.getvalue())
        return f"{inside_parent.rstrip('/')}/{host_dir.name}"

    def copy_out(self, inside: str, host: Path) -> bool:
        """Copy one file out of the container to ``host`` and remove it inside; False if absent."""
        import docker

        ctr = self._container()
        if ctr is None:
            return False
        try:
            stream, _ = ctr.get_archive(inside)
        except docker.errors.NotFound:
            return False
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            data = tar.extractfile(member) if member is not None else None
            if data is None:
                return False
            host.write_bytes(data.read())
        self.exec(["rm", "-f", inside], echo=False)
        return True

    def run_kwargs(self) -> dict[str, Any]:
        c = self.p.container
        kw = dict(
            image=c.image, command=c.command, name=c.name, detach=True, tty=True, stdin_open=True,
            privileged=c.privileged, ipc_mode=c.ipc, network_mode=c.network, cap_add=c.cap_add or None,
            devices=[f"{d}:{d}:rwm" for d in c.devices] or None, group_add=c.group_add or None,
            security_opt=c.security_opt or None, volumes=self.volumes(),
            environment=dict(c.env),
        )
        if c.gpus == "all":  # docker run --gpus all: every NVIDIA GPU, through the NVIDIA runtime
            from docker.types import DeviceRequest

            kw["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
        return kw

    def config_hash(self, image_id: str) -> str:
        kw = {k: v for k, v in self.run_kwargs().items() if k != "image"}
        blob = json.dumps({"image": image_id, **kw}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def docker_run_display(self) -> str:
        """The equivalent ``docker run`` command line, for the reader."""
        c = self.p.container
        parts = ["docker run -d -it"]
        parts += [f"--ipc={c.ipc}"] if c.ipc else []
        parts += [f"--network={c.network}"] if c.network else []
        parts += ["--privileged"] if c.privileged else []
        parts += [f"--cap-add={x}" for x in c.cap_add]
        parts += [f"--device={d}" for d in c.devices]
        parts += ["--gpus all"] if c.gpus == "all" else []
        parts += [f"--group-add {g}" for g in c.group_add]
        parts += [f"--security-opt {s}" for s in c.security_opt]
        parts += [f"-v {h}:{v['bind']}" + (":ro" if v["mode"] == "ro" else "")
                  for h, v in self.volumes().items()]
        parts += [f"-e {k}={shlex.quote(v)}" for k, v in c.env.items()]
        parts += [f"--name {c.name}", c.image, c.command]
        return " \\\n  ".join(parts)

    # -- lifecycle --------------------------------------------------------------------------
    def ensure_image(self) -> Any:
        import docker

        c = self.p.container
        try:
            return self.client.images.get(c.image)
        except docker.errors.ImageNotFound:
            pass
        if c.build == "local":
            from runbook.engine.build import build

            build(self.p.server.engine, tag=c.image, log=self.out)
            return self.client.images.get(c.image)
        return self.pull(c.image)

    def pull(self, image: str) -> Any:
        repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
        prog = Progress(f"pulling {image}", unit="layers")
        layers: dict[str, str] = {}
        try:
            for ev in self.client.api.pull(repo, tag=tag, stream=True, decode=True):
                if "error" in ev:
                    raise EngineError(f"pull of {image} failed: {ev['error']}",
                                      hint="check the image name and registry access")
                if ev.get("id"):
                    layers[ev["id"]] = ev.get("status", "")
                    done = sum(1 for s in layers.values() if s in ("Pull complete", "Already exists"))
                    prog.update(0, f"{done}/{len(layers)} layers; {ev['id']}: {ev.get('status')} "
                                   f"{ev.get('progress', '')}")
        except EngineError:
            raise
        except Exception as e:
            raise EngineError(f"pull of {image} failed: {e}",
                              hint="no registry reachable? load or build the image locally") from None
        prog.close(f"{len(layers)} layers")
        return self.client.images.get(image)

    def find_existing(self) -> Any:
        import docker

        try:
            return self.client.containers.get(self.p.container.name)
        except docker.errors.NotFound:
            return None

    def prepare(self) -> dict[str, Any]:
        """Image present (built or pulled), container running with the profile's flags."""
        image = self.ensure_image()
        cfg = self.config_hash(image.id)
        name = self.p.container.name
        existing = self.find_existing()
        created = False
        if existing is not None:
            labels = existing.labels or {}
            same = (existing.status == "running" and existing.image.id == image.id
                    and labels.get(LABEL_CONFIG) == cfg)
            if not same:
                why = ("it is not running" if existing.status != "running" else
                       "its image differs" if existing.image.id != image.id else
                       "its flags or mounts differ from this profile's")
                # A stopped one left by an earlier run (node rebooted, daemon restarted) is named
                # as such, but still not removed: its logs may be what someone needs to read.
                origin = (f" (left by runbook run {labels[LABEL_RUN]})" if LABEL_RUN in labels
                          else "")
                raise EngineError(
                    f"a container named {name!r}{origin} already exists and {why}; the runbook "
                    "never removes a container this run did not create",
                    hint=f"free the name with: docker rm -f {name}   (or set container.name)")
            container = existing
            self.out(f"reusing running container {name} ({container.short_id}): same image and flags")
        else:
            kw = self.run_kwargs()
            kw["labels"] = {LABEL_RUN: self.run.run_id, LABEL_CONFIG: cfg}
            for host in kw["volumes"]:
                Path(host).mkdir(parents=True, exist_ok=True) if host.startswith(
                    (str(self.run.path), str(weights_dir(self.p)))) else None
            container = self.client.containers.run(**kw)
            created = True
            # Recorded at once, so teardown finds it whatever happens next.
            self.run.update_state(container={"container_id": container.id, "container_name": name,
                                             "created_container": True, "launcher": self.name})
            # `docker run -d` succeeds even when the container dies at once: confirm it runs.
            time.sleep(1.0)
            container.reload()
            if container.status != "running":
                logs = container.logs(tail=200).decode(errors="replace")
                (self.run.logs / "container.log").write_text(logs)
                code = container.attrs.get("State", {}).get("ExitCode")
                container.remove(force=True)  # ours, and dead: its output is kept in the run folder
                raise EngineError(f"container {name} exited right after start (code {code})",
                                  log_tail="\n".join(logs.splitlines()[-30:]),
                                  hint=f"its own output is above and in {self.run.logs / 'container.log'}")
        facts = {"container_id": container.id, "container_name": name, "created_container": created,
                 "image": self.p.container.image, "image_id": image.id,
                 "image_digests": image.attrs.get("RepoDigests") or [], "config_hash": cfg,
                 "launcher": self.name}
        self.run.update_state(container=facts)
        return facts

    def _container(self) -> Any:
        state = self.run.read_state().get("container") or {}
        import docker

        try:
            return self.client.containers.get(state.get("container_id") or self.p.container.name)
        except docker.errors.NotFound:
            return None

    def exec(self, argv: list[str], timeout_s: float | None = None, env: dict[str, str] | None = None,
             echo: bool = True, out: Out | None = None) -> ExecResult:
        out = out or self.out
        ctr = self._container()
        if ctr is None:
            raise EngineError("the container is gone", hint="re-run the container step")
        if timeout_s:
            argv = ["timeout", "--signal=TERM", "--kill-after=10", str(int(timeout_s)), *argv]
        eid = self.client.api.exec_create(ctr.id, argv, environment=env or None)["Id"]
        chunks: list[str] = []
        pending = ""
        for raw in self.client.api.exec_start(eid, stream=True):
            text = raw.decode(errors="replace")
            chunks.append(text)
            if echo:
                pending += text
                # tqdm redraws with \r: treat it as a line end so progress shows as it happens.
                *lines, pending = pending.replace("\r", "\n").split("\n")
                for ln in lines:
                    out(ln)
        if echo and pending:
            out(pending)
        code = self.client.api.exec_inspect(eid)["ExitCode"]
        return ExecResult(int(code if code is not None else -1), "".join(chunks))

    def pre_install(self) -> ExecResult | None:
        cmd = self.p.container.pre_install
        if not cmd:
            return None
        res = self.exec(["sh", "-c", cmd])
        self.run.update_state(pre_install={"command": cmd, "code": res.code})
        if res.code != 0:
            raise EngineError(f"pre-install `{cmd}` failed with exit code {res.code}",
                              log_tail="\n".join(res.output.splitlines()[-20:]))
        return res

    def start_server(self, cmd: LaunchCommand) -> None:
        for f in (self.exit_file, self.pid_file):
            f.unlink(missing_ok=True)
        script = wrapper_script(cmd, self.container_path(self.server_log),
                                self.container_path(self.pid_file),
                                self.container_path(self.exit_file))
        ctr = self._container()
        if ctr is None:
            raise EngineError("the container is gone", hint="re-run the container step")
        ctr.exec_run(["sh", "-c", script], detach=True, environment=cmd.secret_env or None)
        self.run.update_state(server={"command": cmd.display(), "argv": cmd.argv, "env": cmd.env,
                                      "log": str(self.server_log), "launcher": self.name})

    def alive(self) -> bool:
        ctr = self._container()
        if ctr is None or ctr.status != "running":
            return False
        if not self.pid_file.exists():
            return True  # starting: the wrapper has not written its pid yet
        pid = self.pid_file.read_text().strip()
        # `kill` is a shell builtin (minimal images have no /bin/kill).
        res = self.exec(["sh", "-c", f"kill -0 {int(pid)}"], echo=False)
        return res.code == 0

    LIVENESS_EVERY_S = 60.0  # the `docker exec kill -0` fallback, for a wrapper killed outright

    def server_exit_code(self, settle_s: float = 3.0) -> int | None:
        """Cheap, for the readiness loop: the exit code the wrapper wrote (a file in the run
        folder) and one container inspect. Only once a minute is the server's pid probed with
        `docker exec` — for the rare case where the wrapper itself was killed and wrote nothing."""
        code = self._recorded_exit()
        if code is not None:
            return code
        ctr = self._container()  # one inspect
        if ctr is None:
            return -1
        if ctr.status != "running":
            return int(ctr.attrs.get("State", {}).get("ExitCode", -1) or -1)
        now = time.monotonic()
        if now - self._last_liveness >= self.LIVENESS_EVERY_S:
            self._last_liveness = now
            return super().server_exit_code(settle_s)
        return None

    def stop_server(self, grace_s: float = 20.0) -> None:
        if not self.pid_file.exists() or self.exit_file.exists():
            return
        ctr = self._container()
        if ctr is None or ctr.status != "running":
            return
        pid = self.pid_file.read_text().strip()
        self.exec(["sh", "-c", f"kill -TERM {int(pid)}"], echo=False)
        t0 = time.monotonic()
        while time.monotonic() - t0 < grace_s and not self.exit_file.exists():
            time.sleep(0.5)
        if not self.exit_file.exists():
            self.exec(["sh", "-c", f"kill -KILL {int(pid)}"], echo=False)

    def teardown(self) -> list[str]:
        done = []
        state = self.run.read_state().get("container") or {}
        ctr = self._container()
        if ctr is None:
            return ["container already gone"]
        if not state.get("created_container"):
            try:
                self.stop_server()
                done.append("server stopped")
            except Exception as e:  # teardown must go on
                done.append(f"server stop failed: {e}")
            done.append(f"container {ctr.name} left running: this run did not create it")
            return done
        try:
            ctr.remove(force=True)
            done.append(f"container {ctr.name} removed")
        except Exception as e:
            done.append(f"container removal failed: {e}")
        return done


# ---------------------------------------------------------------------------------------------


class ProcessLauncher(Launcher):
    """The engine as a host process, from a project-managed venv (no Docker needed)."""

    name = "process"

    def prepare(self) -> dict[str, Any]:
        py = engine_python(self.p)
        facts = {"launcher": self.name, "python": py, "created_container": False}
        self.run.update_state(container=facts)
        return facts

    def pre_install(self) -> ExecResult | None:
        cmd = self.p.container.pre_install
        if not cmd:
            return None
        py = expand(self.p.server.python, self.p, self.run)
        # Run the pre-install with the engine's own interpreter, as inside the container.
        cmd = cmd.replace("pip install", f"{shlex.quote(py)} -m pip install", 1)
        res = self.exec(["sh", "-c", cmd])
        self.run.update_state(pre_install={"command": cmd, "code": res.code})
        if res.code != 0:
            raise EngineError(f"pre-install `{cmd}` failed with exit code {res.code}",
                              log_tail="\n".join(res.output.splitlines()[-20:]))
        return res

    def exec(self, argv: list[str], timeout_s: float | None = None, env: dict[str, str] | None = None,
             echo: bool = True, out: Out | None = None) -> ExecResult:
        out = out or self.out
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, **(env or {})})
        lines = []
        assert proc.stdout is not None
        t0 = time.monotonic()
        for ln in proc.stdout:
            lines.append(ln)
            if echo:
                out(ln.rstrip("\n"))
            if timeout_s and time.monotonic() - t0 > timeout_s:
                proc.kill()
                break
        return ExecResult(proc.wait(), "".join(lines))

    def start_server(self, cmd: LaunchCommand) -> None:
        for f in (self.exit_file, self.pid_file):
            f.unlink(missing_ok=True)
        py = expand(self.p.server.python, self.p, self.run)
        argv = [py if a == self.p.server.python else expand(a, self.p, self.run) for a in cmd.argv]
        cmd = LaunchCommand({k: expand(v, self.p, self.run) for k, v in cmd.env.items()}, argv,
                            cmd.secret_env)
        script = wrapper_script(cmd, str(self.server_log), str(self.pid_file), str(self.exit_file),
                                workdir=str(self.run.path))
        subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, **cmd.secret_env})
        self.run.update_state(server={"command": cmd.display(), "argv": cmd.argv, "env": cmd.env,
                                      "log": str(self.server_log), "launcher": self.name})

    def _pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self._pid()
        if pid is None:
            return True
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop_server(self, grace_s: float = 20.0) -> None:
        pid = self._pid()
        if pid is None or self.exit_file.exists():
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        t0 = time.monotonic()
        while time.monotonic() - t0 < grace_s and self.alive():
            time.sleep(0.5)
        if self.alive():
            os.kill(pid, signal.SIGKILL)

    def teardown(self) -> list[str]:
        self.stop_server()
        return ["server process stopped"]


class AttachedLauncher(DockerLauncher):
    """A server already up at the profile's endpoint — started by hand, or by an earlier run that
    left it loaded — so the tiers can be rerun without reloading 1 TB: nothing is created, started
    or stopped. Commands (bench_serving) still run where the engine lives: in the running
    container of the profile's name, when there is one."""

    name = "attach"

    def __init__(self, profile: Profile, run: RunFolder, out: Out = print) -> None:
        Launcher.__init__(self, profile, run, out)
        self.client = None  # Docker only if a command must run in the engine's container

    def _container(self) -> Any:
        import docker

        if self.client is None:
            try:
                self.client = _docker()
            except EngineError:
                return None
        try:
            return self.client.containers.get(self.p.container.name)
        except docker.errors.NotFound:
            return None

    def prepare(self) -> dict[str, Any]:
        ctr = self._container()
        facts = {"launcher": self.name, "attached_to": self.p.endpoint, "created_container": False,
                 "container_name": ctr.name if ctr is not None else None,
                 "image": (ctr.image.tags or [ctr.image.id])[0] if ctr is not None else None,
                 "image_id": ctr.image.id if ctr is not None else None}
        self.run.update_state(container=facts)
        return facts

    def pre_install(self) -> ExecResult | None:
        return None  # whoever started the server installed what it needs

    def start_server(self, cmd: LaunchCommand | None) -> None:
        self.run.update_state(server={"command": f"(attached to {self.p.endpoint}: started outside "
                                      "this run)", "launcher": self.name, "attached": True})

    def exec(self, argv: list[str], timeout_s: float | None = None, env: dict[str, str] | None = None,
             echo: bool = True, out: Out | None = None) -> ExecResult:
        ctr = self._container()
        if ctr is None or ctr.status != "running":
            raise EngineError(f"attached to {self.p.endpoint}, but no running container named "
                              f"{self.p.container.name!r} to run {argv[0]} in",
                              hint="set container.name to the server's container, or run the tiers "
                              "with the builtin runner (benchmark.runner=builtin)")
        return super().exec(argv, timeout_s, env, echo, out)

    def alive(self) -> bool:
        return True

    def server_exit_code(self, settle_s: float = 3.0) -> int | None:
        return None  # not ours to watch: the readiness wait ends on its timeout

    def stop_server(self, grace_s: float = 20.0) -> None:
        return None

    def teardown(self) -> list[str]:
        return [f"attached to {self.p.endpoint}: nothing was started here, nothing stopped"]


LAUNCHERS: dict[str, type[Launcher]] = {"docker": DockerLauncher, "process": ProcessLauncher,
                                        "attach": AttachedLauncher}


def get_launcher(profile: Profile, run: RunFolder, out: Out = print) -> Launcher:
    return LAUNCHERS[profile.container.launcher](profile, run, out)
