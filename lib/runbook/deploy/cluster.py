"""Launch plans for more than one node: SGLang's multi-node tensor parallelism and prefill/decode
disaggregation behind ``sglang-router``.

A run drives one node; a cluster is started by a person or a scheduler running one command per
node. The plan is that list — each node's command, derived from the profile's own launch (the
same model, parser, flags) plus the flags its role needs — shown in the server notebook and
written to the run folder (``cluster-plan.json`` and ``cluster-plan.sh``). ``launchcheck`` parses
every server command with SGLang's parser and the router's with sglang-router's.

* multi-node-tp: ``--tp`` is the total over all nodes; node i gets ``--nnodes N --node-rank i
  --dist-init-addr NODE0:PORT``; rank 0 serves HTTP.
* pd-disaggregation: prefill nodes ``--disaggregation-mode prefill``, decode nodes ``decode``,
  both with the transfer backend (and RDMA device); the router fronts them with
  ``--pd-disaggregation --prefill URL BOOTSTRAP_PORT … --decode URL …``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path

from runbook.core.schema import Profile

ROUTER_MODULE = "sglang_router.launch_router"


@dataclass(frozen=True)
class NodeCommand:
    node: str
    role: str  # "rank 0" … | "prefill" | "decode" | "router"
    env: dict[str, str]
    argv: list[str]

    def display(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        return (env + " " if env else "") + " ".join(shlex.quote(a) for a in self.argv)


def _serving(argv: list[str]) -> list[str]:
    """The profile's launch listening on every interface (other nodes and the router reach it)."""
    out, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if a == "--host" and i + 1 < len(argv):
            skip = True
            continue
        if not a.startswith("--host="):
            out.append(a)
    return [*out, "--host", "0.0.0.0"]


def plan(p: Profile) -> list[NodeCommand]:
    """Each node's command for the profile's ``cluster`` (empty for a single node)."""
    from runbook.deploy.server import launch_command

    c = p.cluster
    if c.mode == "single":
        return []
    lc = launch_command(p)
    base = _serving(lc.argv)
    if c.mode == "multi-node-tp":
        head = f"{c.nodes[0]}:{c.dist_init_port}"
        return [NodeCommand(n, f"rank {i}", lc.env, [*base, "--nnodes", str(len(c.nodes)),
                                                     "--node-rank", str(i), "--dist-init-addr", head])
                for i, n in enumerate(c.nodes)]
    pd = ["--disaggregation-transfer-backend", c.transfer_backend,
          "--disaggregation-bootstrap-port", str(c.bootstrap_port)]
    pd += ["--disaggregation-ib-device", c.ib_device] if c.ib_device else []
    out = [NodeCommand(n, role, lc.env, [*base, "--disaggregation-mode", role, *pd])
           for role, nodes in (("prefill", c.prefill), ("decode", c.decode)) for n in nodes]
    router = [p.server.python, "-m", ROUTER_MODULE, "--pd-disaggregation"]
    for n in c.prefill:
        router += ["--prefill", f"http://{n}:{p.server.port}", str(c.bootstrap_port)]
    for n in c.decode:
        router += ["--decode", f"http://{n}:{p.server.port}"]
    router += ["--host", "0.0.0.0", "--port", str(c.router_port)]
    return [*out, NodeCommand(c.prefill[0], "router", {}, router)]


def write(p: Profile, run_path: Path) -> list[NodeCommand]:
    """The plan into the run folder: cluster-plan.json (data) and cluster-plan.sh (to read or run)."""
    cmds = plan(p)
    if not cmds:
        return cmds
    (run_path / "cluster-plan.json").write_text(json.dumps(
        {"mode": p.cluster.mode, "commands": [asdict(x) for x in cmds]}, indent=2))
    lines = [f"# {p.profile}: {p.cluster.mode} — run each block on its node, the router last", ""]
    for x in cmds:
        lines += [f"# {x.role} on {x.node}", x.display(), ""]
    (run_path / "cluster-plan.sh").write_text("\n".join(lines))
    return cmds


def show(p: Profile, run: object) -> object:
    """The server notebook's view: the plan written to the run folder, a row per node."""
    import pandas as pd

    cmds = write(p, run.path)  # type: ignore[attr-defined]
    if not cmds:
        return "one node (cluster.mode: single): the launch above is the whole plan"
    return pd.DataFrame([{"node": x.node, "role": x.role, "command": x.display()} for x in cmds])
