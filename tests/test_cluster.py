"""Launch plans for more than one node, from the profiles planned for real clusters (their
commands are also parsed by SGLang's and sglang-router's own parsers: test_launch_parse.py)."""

from __future__ import annotations

import json

import pytest

from runbook.core.errors import ParamsError
from runbook.core.params import load_profile
from runbook.core.runfolder import RunFolder
from runbook.deploy.cluster import plan, show


def test_multi_node_tp_gives_each_rank_its_command():
    p = load_profile("mi300x-kimi-k2-2node")
    r0, r1 = plan(p)
    assert (r0.node, r0.role, r1.node, r1.role) == ("10.0.0.1", "rank 0", "10.0.0.2", "rank 1")
    for i, x in enumerate((r0, r1)):
        a = x.argv
        assert a[a.index("--tp") + 1] == "16" and a[a.index("--node-rank") + 1] == str(i)
        assert a[a.index("--nnodes") + 1] == "2" and a[a.index("--dist-init-addr") + 1] == "10.0.0.1:5000"
        assert a[a.index("--host") + 1] == "0.0.0.0" and a.count("--host") == 1
        assert "--tool-call-parser" in a and x.env == {"SGLANG_ROCM_FUSED_DECODE_MLA": "0"}  # the recipe's


def test_pd_disaggregation_gives_prefill_decode_and_the_router(tmp_path):
    p = load_profile("mi300x-kimi-k2-pd")
    pre, dec, router = plan(p)
    assert pre.argv[pre.argv.index("--disaggregation-mode") + 1] == "prefill"
    assert dec.argv[dec.argv.index("--disaggregation-mode") + 1] == "decode"
    assert dec.argv[dec.argv.index("--disaggregation-ib-device") + 1] == "rdma0"
    assert router.argv[:4] == ["python3", "-m", "sglang_router.launch_router", "--pd-disaggregation"]
    assert router.display().endswith("--prefill http://10.0.0.1:30000 8998 --decode http://10.0.0.2:30000 "
                                     "--host 0.0.0.0 --port 8000")
    run = RunFolder.create("pd", tmp_path)
    df = show(p, run)
    assert list(df["role"]) == ["prefill", "decode", "router"]
    written = json.loads((run.path / "cluster-plan.json").read_text())
    assert written["mode"] == "pd-disaggregation" and len(written["commands"]) == 3
    assert "# router on 10.0.0.1" in (run.path / "cluster-plan.sh").read_text()


def test_one_node_has_no_plan(tmp_path):
    p = load_profile("mi300x-kimi-k2")
    assert plan(p) == [] and "one node" in show(p, RunFolder.create("one", tmp_path))
    assert not (tmp_path / "cluster-plan.json").exists()


@pytest.mark.parametrize("overrides, phrase", [
    (["cluster.mode=multi-node-tp", "cluster.nodes=[a]"], "two or more cluster.nodes"),
    (["cluster.mode=multi-node-tp", "cluster.nodes=[a, b, c]"], "must split evenly over 3 nodes"),
    (["cluster.mode=pd-disaggregation", "cluster.prefill=[a]"], "cluster.prefill and cluster.decode"),
])
def test_a_plan_that_cannot_work_is_refused_naming_the_field(overrides, phrase):
    with pytest.raises(ParamsError, match=phrase):
        load_profile("mi300x-kimi-k2", overrides)
