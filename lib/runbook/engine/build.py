"""Build the local engine images, each cached by a content hash of its inputs.

No registry can be pulled from, so the base is made here: ``debootstrap`` a minimal Debian
bookworm (Python 3.11, which the carried-in torch wheel needs) and ``docker import`` it. Each
engine image is then built FROM that base with its Dockerfile beside this module — a registry of
two: ``sglang`` (the embedded default: the real SGLang 0.5.7 serving tiny-kimi) and ``vllm`` (the
second engine profile: vLLM's CPU build serving tiny-llava). Every image carries a label with the
hash of its inputs; a build whose hash matches an existing image is skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runbook.core.errors import EngineError
from runbook.engine.sources import TORCH_PIN, TorchSource, host_ca_bundle, torch_source

HERE = Path(__file__).resolve().parent
BASE_REPO = "runbook-base"
LABEL = "org.runbook.inputs"
SUITE = "bookworm"
# g++ and python3-dev: vLLM CPU compiles its model with torch inductor at start-up.
BASE_PACKAGES = ("python3", "python3-venv", "python3-dev", "g++", "ca-certificates", "libnuma1",
                 "procps")

Log = Callable[[str], None]


@dataclass(frozen=True)
class ImageSpec:
    """One engine image: its Dockerfile, the files of its build context, the model it ships."""

    engine: str
    tag: str
    dockerfile: str
    context: tuple[str, ...]  # files and folders beside this module
    model: str  # /models/<model> in the image, with /models/<model>.sha256 beside it

    def files(self) -> list[Path]:
        out: list[Path] = []
        for name in (self.dockerfile, *self.context):
            p = HERE / name
            out += sorted(f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts) \
                if p.is_dir() else [p]
        return out


IMAGES = {
    "sglang": ImageSpec("sglang", "runbook-sglang:local", "sglang.Dockerfile",
                        ("sglang-constraints.txt", "sglang-cpu-requirements.txt",
                         "make_kimi.py", "kimi_code", "make_dataset.py",
                         "patch_torchvision.py", "patch_sglang.py", "install_placeholders.py",
                         "placeholders"), "tiny-kimi"),
    "vllm": ImageSpec("vllm", "runbook-vllm:local", "vllm.Dockerfile",
                      ("vllm-constraints.txt", "make_model.py", "make_dataset.py",
                       "patch_torchvision.py"), "tiny-llava"),
}


def image_spec(engine: str) -> ImageSpec:
    try:
        return IMAGES[engine]
    except KeyError:
        raise EngineError(f"no local image for engine {engine!r}",
                          hint=f"server.engine must be one of {', '.join(IMAGES)}") from None


@dataclass
class BuildReport:
    image: str
    image_id: str
    inputs_hash: str
    cached: bool
    seconds: float
    size_mb: float
    base_seconds: float = 0.0

    def as_text(self) -> str:
        how = "cached (inputs unchanged)" if self.cached else f"built in {self.seconds:.0f} s"
        return (f"{self.image} {self.image_id[:19]}: {how}; size {self.size_mb:.0f} MB; "
                f"inputs {self.inputs_hash}")


def _client():
    import docker

    try:
        c = docker.from_env(timeout=600)
        c.ping()
        return c
    except Exception as e:  # docker raises several unrelated types here
        raise EngineError(
            f"no Docker daemon reachable: {e}",
            hint="run `make setup` (installs and starts dockerd as root), or use a profile "
            "with container.launcher: process",
        ) from None


def inputs_hash(spec: ImageSpec, extra: str = "", torch: TorchSource | None = None) -> str:
    h = hashlib.sha256()
    for f in spec.files():
        h.update(str(f.relative_to(HERE)).encode() + b"\0" + f.read_bytes() + b"\0")
    src = torch or torch_source()  # a caller that already probed passes what it found
    h.update((src.wheel.name if src.wheel else TORCH_PIN).encode())
    h.update(extra.encode())
    return h.hexdigest()[:16]


def _apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (read, never hard-coded)."""
    for f in [Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")]:
        if not f.is_file():
            continue
        text = f.read_text()
        m = re.search(r"^URIs:\s*(\S+/debian)\s*$", text, re.M) or re.search(
            r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)\s+\w+", text, re.M)
        if m:
            return m.group(1)
    raise EngineError("cannot find a Debian mirror in this machine's apt sources",
                      hint="the base image is bootstrapped from the mirror apt uses")


def _find_labelled(client, repo: str, digest: str):
    for img in client.images.list(name=repo):
        if (img.labels or {}).get(LABEL) == digest:
            return img
    return None


def ensure_base(client, log: Log = print) -> tuple[str, float]:
    """The Debian base image, bootstrapped once and reused (tag carries its inputs' hash)."""
    # "debian-list": the base records its Debian packages (/etc/runbook/debian-packages.txt).
    digest = hashlib.sha256(f"{SUITE} minbase {' '.join(BASE_PACKAGES)} debian-list"
                            .encode()).hexdigest()[:12]
    tag = f"{BASE_REPO}:{SUITE}-{digest}"
    try:
        client.images.get(tag)
        return tag, 0.0
    except Exception:
        pass
    if not shutil.which("debootstrap"):
        raise EngineError("debootstrap is not installed", hint="apt-get install debootstrap")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="runbook-rootfs-") as tmp:
        root = Path(tmp) / "rootfs"
        log(f"bootstrapping Debian {SUITE} (minbase) for the base image…")
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
               SUITE, str(root), _apt_mirror()]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise EngineError("debootstrap failed", log_tail="\n".join(p.stdout.splitlines()[-20:]
                                                                      + p.stderr.splitlines()[-20:]))
        record_debian_packages(root, log)
        tar_path = Path(tmp) / "rootfs.tar"
        with tarfile.open(tar_path, "w") as tar:
            tar.add(root, arcname=".")
        with open(tar_path, "rb") as fh:
            client.api.import_image_from_data(fh.read(), repository=BASE_REPO,
                                              tag=f"{SUITE}-{digest}")
    secs = time.monotonic() - t0
    log(f"base image {tag} ready in {secs:.0f} s")
    return tag, secs


def record_debian_packages(root: Path, log: Log = print) -> list[str]:
    """Write the bootstrapped packages (name=version) into the rootfs, and say what moved since
    the committed list (a Debian mirror serves only a suite's current versions: they are
    recorded and compared, not requested)."""
    from runbook.engine.freeze import DEBIAN_LIST, debian_file, pins

    p = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W",
                        "-f=${Package}==${Version}\n"], capture_output=True, text=True)
    if p.returncode != 0:
        raise EngineError("cannot list the base image's Debian packages", log_tail=p.stderr[-2000:])
    lines = sorted(ln for ln in p.stdout.splitlines() if ln.strip())
    dest = root / DEBIAN_LIST.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("\n".join(lines) + "\n")
    committed = debian_file(SUITE)
    if committed.is_file():
        from runbook.engine.freeze import drift

        moved = drift(pins(committed.read_text()), pins("\n".join(lines)))
        if moved:
            log(f"Debian {SUITE} moved since {committed.name} was frozen ({len(moved)} packages; "
                "recorded in the image and in each run's environment.json): " + "; ".join(moved[:8]))
    return lines


def build(engine: str = "sglang", tag: str | None = None, force: bool = False,
          log: Log = print) -> BuildReport:
    """Build (or reuse) an engine's image; returns what was done and how long it took."""
    spec = image_spec(engine)
    tag = tag or spec.tag
    client = _client()
    t0 = time.monotonic()
    base, base_secs = ensure_base(client, log)
    torch = torch_source()  # probed once: the hash and the build context use the same answer
    digest = inputs_hash(spec, extra=base, torch=torch)
    repo = tag.split(":")[0]
    existing = None if force else _find_labelled(client, repo, digest)
    if existing is not None:
        existing.tag(tag)
        return BuildReport(tag, existing.id, digest, True, time.monotonic() - t0,
                           existing.attrs["Size"] / 1e6)
    with tempfile.TemporaryDirectory(prefix="runbook-ctx-") as tmp:
        ctx = Path(tmp)
        for f in spec.files():
            (ctx / f.relative_to(HERE)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, ctx / f.relative_to(HERE))
        shutil.copy2(host_ca_bundle(), ctx / "host-ca.crt")
        (ctx / "wheels").mkdir()
        if torch.wheel is not None:  # carried in; otherwise the Dockerfile installs from the index
            wheel = torch.wheel
            os.link(wheel, ctx / "wheels" / wheel.name) if _same_fs(wheel, ctx) else shutil.copy2(
                wheel, ctx / "wheels" / wheel.name)
        log(f"building {tag} (inputs {digest}) from {base}; torch: {torch.describe()}…")
        last: list[str] = []
        image_id = None
        for chunk in client.api.build(path=str(ctx), dockerfile=spec.dockerfile,
                                      tag=f"{repo}:{digest}", rm=True,
                                      forcerm=True, decode=True, network_mode="host",
                                      buildargs={"BASE_IMAGE": base, "TORCH_INDEX": torch.index or ""},
                                      labels={LABEL: digest}):
            if "stream" in chunk:
                line = chunk["stream"].rstrip()
                if line:
                    last = ([*last, line])[-30:]
                    if line.startswith("Step ") or line.startswith("Successfully"):
                        log(line)
            if "error" in chunk:
                raise EngineError(f"image build failed: {chunk['error'].strip()}",
                                  log_tail="\n".join(last))
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
    img = client.images.get(image_id or f"{repo}:{digest}")
    img.tag(tag)
    return BuildReport(tag, img.id, digest, False, time.monotonic() - t0, img.attrs["Size"] / 1e6,
                       base_secs)


def _same_fs(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_dev == b.stat().st_dev
    except OSError:
        return False
