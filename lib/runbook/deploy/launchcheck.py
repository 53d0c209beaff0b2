"""A profile's launch flags checked by the engine release it names, with that release's own parser.

Flags are the first thing a new image breaks (renamed, removed, a choice dropped) and the last
thing a 60-minute weight load reveals. Each profile's ``sglang.launch_server`` arguments go
through ``ServerArgs.add_cli_args`` + argparse of the release in ``server.sglang_version``, inside
the local stand-in image (its Python stack): the image's own SGLang (0.5.7) where that is the
release named, else that release's wheel (no dependencies; downloaded once into the runbook
cache) put first on ``PYTHONPATH``. An unknown flag or a value outside a flag's choices fails.
vLLM profiles' ``vllm.entrypoints.openai.api_server`` arguments go through vLLM's own
``make_arg_parser`` in the local vLLM image (the CPU build: the same argument code as the ROCm
and CUDA builds), and the tool-call parser named must be one vLLM registers.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from runbook.core.errors import EngineError
from runbook.core.schema import Profile

IMAGE_SGLANG = "0.5.7"  # the stand-in image's own release (engine/sglang-cpu-requirements.txt)

# Runs inside the image: argv per name → parsed (a few resolved values) or the parser's error.
_SCRIPT = r"""
import argparse, json, sys
import sglang
from sglang.srt.server_args import ServerArgs
out = {}
for name, argv in json.loads(sys.argv[1]).items():
    if name.endswith(" router"):  # sglang-router's own parser (its release on PYTHONPATH)
        from sglang_router.launch_router import parse_router_args
        try:
            a = parse_router_args(argv)
            out[name] = {"ok": True, "values": {"pd_disaggregation": str(a.pd_disaggregation),
                                                "prefill_urls": str(a.prefill_urls),
                                                "decode_urls": str(a.decode_urls)}}
        except (argparse.ArgumentError, SystemExit, ValueError) as e:
            out[name] = {"ok": False, "error": str(e)}
        continue
    p = argparse.ArgumentParser(prog="sglang.launch_server", exit_on_error=False)
    ServerArgs.add_cli_args(p)
    try:
        a, extra = p.parse_known_args(argv)
        out[name] = ({"ok": False, "error": "unrecognized arguments: " + " ".join(extra)} if extra else
                     {"ok": True, "values": {k: str(v) for k, v in vars(a).items()
                                             if k in ("tp_size", "attention_backend", "kv_cache_dtype",
                                                      "tool_call_parser", "nnodes", "node_rank",
                                                      "dist_init_addr", "disaggregation_mode")}})
    except (argparse.ArgumentError, SystemExit) as e:
        out[name] = {"ok": False, "error": str(e)}
print("RUNBOOK_PARSE " + json.dumps({"version": sglang.__version__, "results": out}))
"""


# The same for vLLM: its OpenAI server's parser (the module moved between releases) and its
# registry of tool parsers (a wrong --tool-call-parser passes argparse, then fails at start).
_VLLM_SCRIPT = r"""
import argparse, importlib, json, sys
import vllm
from vllm.utils.argparse_utils import FlexibleArgumentParser
from vllm.tool_parsers import ToolParserManager
for m in ("vllm.entrypoints.openai.cli_args", "vllm.entrypoints.launchers.cli_args"):
    try:
        make_arg_parser = importlib.import_module(m).make_arg_parser
        break
    except ImportError:
        pass
out = {}
for name, argv in json.loads(sys.argv[1]).items():
    p = make_arg_parser(FlexibleArgumentParser(prog="vllm", exit_on_error=False))
    try:
        a, extra = p.parse_known_args(argv)
        if extra:
            out[name] = {"ok": False, "error": "unrecognized arguments: " + " ".join(extra)}
            continue
        if a.tool_call_parser:
            ToolParserManager.get_tool_parser(a.tool_call_parser)
        out[name] = {"ok": True, "values": {k: str(v) for k, v in vars(a).items() if k in (
            "model", "tensor_parallel_size", "tool_call_parser", "enable_auto_tool_choice",
            "trust_remote_code", "enable_prefix_caching", "kv_cache_dtype", "max_model_len")}}
    except (argparse.ArgumentError, SystemExit, KeyError, ValueError) as e:
        out[name] = {"ok": False, "error": str(e) or type(e).__name__}
print("RUNBOOK_PARSE " + json.dumps({"version": vllm.__version__, "results": out}))
"""


def server_argv(argv: list[str]) -> list[str]:
    """What follows ``python3 -m sglang.launch_server`` in a launch command."""
    i = argv.index("-m") if "-m" in argv else -1
    return argv[i + 2:] if i >= 0 else argv[1:]


def release_tree(package: str, version: str, cache: Path) -> Path:
    """A release's wheel (no dependencies), downloaded once into ``cache`` and unpacked beside it."""
    import sys
    import zipfile

    tree = cache / f"{package}-{version}-tree"
    if (tree / package.replace("-", "_")).is_dir():
        return tree
    stem = package.replace("-", "_")
    have = sorted(cache.glob(f"{stem}-{version}-*.whl"))
    if not have:
        cache.mkdir(parents=True, exist_ok=True)
        p = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                            "--python-version", "3.11", f"{package}=={version}", "-d", str(cache)],
                           capture_output=True, text=True, timeout=600)
        have = sorted(cache.glob(f"{stem}-{version}-*.whl"))
        if p.returncode != 0 or not have:
            raise EngineError(f"cannot fetch {package} {version} to check its flags: "
                              f"{p.stderr.strip()[-300:]}",
                              hint="a package index must be reachable once; the wheel is cached after")
    with zipfile.ZipFile(have[0]) as z:
        z.extractall(tree)
    return tree


def parse_launches(launches: dict[str, list[str]], version: str, image: str, cache: Path,
                   router_version: str | None = None) -> dict[str, Any]:
    """``launches`` (name → arguments) parsed by SGLang ``version`` in ``image``; names ending in
    " router" by sglang-router ``router_version``."""
    cmd = ["docker", "run", "--rm", "--network=none", "--entrypoint", "python3"]
    paths = []
    if version != IMAGE_SGLANG:
        cmd += ["-v", f"{release_tree('sglang', version, cache)}:/opt/sglang-release:ro"]
        paths.append("/opt/sglang-release")
    if router_version:
        cmd += ["-v", f"{release_tree('sglang-router', router_version, cache)}:/opt/sglang-router:ro"]
        paths.append("/opt/sglang-router")
    if paths:
        cmd += ["-e", "PYTHONPATH=" + ":".join(paths)]
    cmd += [image, "-c", _SCRIPT, json.dumps(launches)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RUNBOOK_PARSE ")), None)
    if line is None:
        raise EngineError(f"the parser check did not run (exit {p.returncode})",
                          hint=(p.stderr or p.stdout).strip()[-600:])
    return json.loads(line.removeprefix("RUNBOOK_PARSE "))


def parse_vllm_launches(launches: dict[str, list[str]], image: str) -> dict[str, Any]:
    """``launches`` (name → arguments) parsed by the vLLM of ``image`` (the local vLLM image)."""
    p = subprocess.run(["docker", "run", "--rm", "--network=none", "--entrypoint", "python3", image,
                        "-c", _VLLM_SCRIPT, json.dumps(launches)],
                       capture_output=True, text=True, timeout=600)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("RUNBOOK_PARSE ")), None)
    if line is None:
        raise EngineError(f"the vLLM parser check did not run (exit {p.returncode})",
                          hint=(p.stderr or p.stdout).strip()[-600:])
    return json.loads(line.removeprefix("RUNBOOK_PARSE "))


def vllm_launches(profiles: list[Profile]) -> dict[str, list[str]]:
    """Each vLLM profile's launch arguments (what follows ``-m MODULE``)."""
    from runbook.deploy.server import launch_command

    return {p.profile: server_argv(launch_command(p).argv) for p in profiles if p.server.engine == "vllm"}


def profile_launches(profiles: list[Profile]) -> dict[str, dict[str, list[str]]]:
    """Per SGLang release: each SGLang profile's launch arguments, and each node's of its cluster
    plan ("PROFILE ROLE on NODE"; the router's name ends in " router"). vLLM profiles are not
    SGLang's."""
    from runbook.deploy.cluster import plan
    from runbook.deploy.server import launch_command

    by_version: dict[str, dict[str, list[str]]] = {}
    for p in profiles:
        if p.server.engine != "sglang":
            continue
        launches = by_version.setdefault(p.server.sglang_version or IMAGE_SGLANG, {})
        launches[p.profile] = server_argv(launch_command(p).argv)
        for x in plan(p):
            where = f"{x.node} router" if x.role == "router" else f"{x.role} on {x.node}"
            launches[f"{p.profile} {where}"] = server_argv(x.argv)
    return by_version
