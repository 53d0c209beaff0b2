"""The ``runbook`` command: the non-notebook operations, calling the same lib as the notebooks.

Every subcommand validates its input before doing anything and prints ``RunbookError``s as one
clear message (exit code 2), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runbook.core.errors import ParamsError, RunbookError


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def _dump(obj: Any) -> str:
    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), indent=2, default=_json_default)


def _int_at_least(name: str, low: int):
    """An argparse type: an integer ≥ ``low``, with a message naming the option."""
    def conv(v: str) -> int:
        try:
            i = int(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {v!r}") from None
        if i < low:
            raise argparse.ArgumentTypeError(f"{name} must be ≥ {low}, got {i}")
        return i
    return conv


def _ratio(v: str) -> float:
    try:
        f = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--range-ratio must be a number, got {v!r}") from None
    if not 0.0 <= f <= 1.0:
        raise argparse.ArgumentTypeError(f"--range-ratio must be within 0..1, got {f}")
    return f


def cmd_workload(a: argparse.Namespace) -> int:
    from runbook.measure.workload import Workload, fingerprint

    fp = fingerprint(Workload(a.num_prompts, a.input_len, a.output_len, a.range_ratio, a.seed))
    if a.format == "json":
        print(_dump(fp))
    else:
        print(f"{fp['num_prompts']} prompts, random {fp['input_len']}/{fp['output_len']}, range "
              f"ratio {fp['range_ratio']}, seed {fp['seed']}: input {fp['total_input_tokens']} "
              f"tokens, output {fp['total_output_tokens']} tokens")
    return 0


def _print_findings(findings: list, fmt: str, what: str) -> None:
    if fmt == "json":
        print(_dump([f.as_dict() for f in findings]))
        return
    if not findings:
        print(f"{what}: no findings (consistent)")
        return
    print(f"{what}: {len(findings)} finding(s)")
    for f in findings:
        print(f"  [{f.tier or '-'}] {f.metric}: {f.check}: printed {f.printed}, expected "
              f"{f.expected} — {f.detail}")


def cmd_parse(a: argparse.Namespace) -> int:
    """bench_serving's printed blocks or JSONL → one row per run, bench_serving's field names."""
    from runbook.measure.results import read_results, summary_columns

    df = read_results(a.files)
    df = df[summary_columns(df)]  # per-request detail lists stay in the JSONL
    if a.format == "json":
        print(df.to_json(orient="records", indent=1))
    elif a.format == "csv":
        print(df.to_csv(index=False), end="")
    else:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", None,
                               "display.max_colwidth", 60):
            print(df.T.to_string(header=[f"{s}#{i}" for s, i in zip(df["source"], df["run_index"],
                                                                         strict=True)]))
    return 0


def _print_frame(df: Any, fmt: str, number: str) -> None:
    """A result table on stdout: JSON records, or a plain table with numbers as ``number``."""
    if fmt == "json":
        print(df.to_json(orient="records", indent=1))
        return
    import pandas as pd

    with pd.option_context("display.width", 220, "display.max_columns", None):
        print(df.to_string(index=False, float_format=number.format))


def _print_provenance(run_a: str, run_b: str) -> None:
    """What differs in what ran (lock, image, engine packages, bench client, model), on stderr."""
    from runbook.core.runfolder import read_json
    from runbook.judge.provenance import differences, package_changes

    ea, eb = (read_json(Path(r) / "environment.json") for r in (run_a, run_b))
    diffs = differences(ea, eb)
    if not diffs:
        print("what ran: the same lock, image, engine packages, bench client and model", file=sys.stderr)
        return
    print("what ran differs:", file=sys.stderr)
    for d in diffs:
        print(f"  {d.what}: {d.a}  vs  {d.b}", file=sys.stderr)
    for line in package_changes(ea, eb)[:20]:
        print(f"    host package {line}", file=sys.stderr)


def cmd_diff(a: argparse.Namespace) -> int:
    """Per tier and metric: the change from RUN_A to RUN_B, its interval, a verdict; exit 1 on a
    regression beyond the tolerance (a CI job can gate a new image on it)."""
    from runbook.judge.diff import diff_runs, table

    diffs = diff_runs(a.run_a, a.run_b, a.tier or None)
    _print_frame(table(diffs), a.format, "{:.2f}")
    _print_provenance(a.run_a, a.run_b)
    bad = [d.tier for d in diffs if d.regression]
    print(f"regression in tier(s) {', '.join(bad)}" if bad else "no regression", file=sys.stderr)
    return 1 if bad else 0


def cmd_compare_engines(a: argparse.Namespace) -> int:
    """Two runs (two engines) side by side: the table on stdout, an HTML page; exit 1 when the
    runs are not like for like (another model, or a tier's workload differs)."""
    from runbook.judge.sidebyside import side_by_side, table
    from runbook.report.engines import write_page

    s = side_by_side(a.run_a, a.run_b, a.tier or None)
    _print_frame(table(s), a.format, "{:.3g}")
    _print_provenance(a.run_a, a.run_b)
    out = Path(a.out) if a.out else Path(a.run_a).resolve().parent / \
        f"compare-{Path(a.run_a).resolve().name}-vs-{Path(a.run_b).resolve().name}.html"
    print(f"page: {write_page(s, out)}", file=sys.stderr)
    if not s.fair:
        print("not like for like: " + ("different models; " if not s.same_model else "")
              + "; ".join(f"{t.tier}: {', '.join(t.reasons)}" for t in s.tiers if not t.comparable),
              file=sys.stderr)
    return 0 if s.fair else 1


def cmd_sweep(a: argparse.Namespace) -> int:
    """notebooks/sweep.ipynb into a new run folder; the headline, the page and the table's path."""
    from runbook.orchestrate import run_one

    params: dict[str, Any] = {"runner": a.runner}
    if a.concurrencies:
        params["concurrencies"] = _int_list(a.concurrencies)
    for k in ("prompts_per_concurrency", "warmup_per_concurrency", "input_len", "output_len", "repeats"):
        if getattr(a, k) is not None:
            params[k] = getattr(a, k)
    code, run, page = run_one(a.profile, a.param, "sweep.ipynb", params)
    st = run.read_state().get("sweep") or {}
    if st.get("headline"):
        print(st["headline"], file=sys.stderr)
    print(json.dumps({"run": str(run.path), "page": str(page), "table": st.get("csv"), "exit": code}))
    return code


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.replace("[", "").replace("]", "").split(",") if x.strip()]
    except ValueError:
        raise ParamsError(f"--concurrencies must be integers separated by commas, got {text!r}",
                          field="--concurrencies") from None


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def cmd_check(a: argparse.Namespace) -> int:
    from runbook.judge.files import check_files

    findings = check_files(a.files, _say, a.tier, a.num_prompts, a.seed, a.rel)
    _print_findings(findings, a.format, ", ".join(a.files))
    return 1 if a.strict and findings else 0


def cmd_check_reference(a: argparse.Namespace) -> int:
    from runbook.judge.files import check_reference

    findings = check_reference(a.reference, a.rel)
    _print_findings(findings, a.format, "published reference")
    return 1 if a.strict and findings else 0


def cmd_compare(a: argparse.Namespace) -> int:
    from runbook.core.params import parse_override
    from runbook.judge.files import compare_file

    meta = dict(parse_override(kv) for kv in a.meta or [])
    out = compare_file(a.result, a.reference, _say, a.tier, a.profile, meta)
    if a.format == "json":
        print(_dump([c.as_dict() for c in out] if len(out) > 1 else out[0].as_dict()))
    else:
        import pandas as pd

        with pd.option_context("display.width", 160, "display.max_columns", 20):
            for c in out:
                print(f"tier {c.tier}: {c.label}")
                print(c.table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0


def cmd_engine(a: argparse.Namespace) -> int:
    from runbook import engine_cli

    return engine_cli.run(a)


def cmd_params(a: argparse.Namespace) -> int:
    """The resolved profile, each value with the file (or -p, or the schema) it came from."""
    from runbook.core.params import provenance

    rows = provenance(a.profile, a.param)
    if a.format == "json":
        print(_dump([{"key": k, "value": v, "from": s} for k, v, s in rows]))
        return 0
    width = max(len(k) for k, _, _ in rows)
    for k, v, s in rows:
        val = json.dumps(v, default=str)
        print(f"{k:<{width}}  {val}  ← {s}" if len(val) <= 60 else f"{k:<{width}}  ← {s}\n"
              f"{'':<{width}}  {val}")
    return 0


def cmd_run(a: argparse.Namespace) -> int:
    from runbook.orchestrate import main_run

    extra = ["container.launcher=attach"] if a.attach else []
    if a.baseline:  # absolute: the report step's kernel runs in the project root, not here
        b = Path(a.baseline)
        extra.append(f"report.baseline={b.resolve() if b.exists() else a.baseline}")
    return main_run(a.profile, [*a.param, *extra])


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="runbook", description="SGLang Kimi K2 runbook operations")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    w = sub.add_parser("workload", help="token totals of bench_serving's seeded random workload")
    w.add_argument("--num-prompts", type=_int_at_least("--num-prompts", 1), required=True)
    w.add_argument("--input-len", type=_int_at_least("--input-len", 1), required=True)
    w.add_argument("--output-len", type=_int_at_least("--output-len", 1), required=True)
    w.add_argument("--range-ratio", type=_ratio, default=0.0)
    w.add_argument("--seed", type=_int_at_least("--seed", 0), default=1)
    w.add_argument("--format", choices=("text", "json"), default="text")
    w.set_defaults(fn=cmd_workload)

    for name, fn, helptext in (("check", cmd_check, "consistency checks of result files"),
                               ("check-reference", cmd_check_reference,
                                "consistency checks of the published reference")):
        c = sub.add_parser(name, help=helptext)
        if name == "check":
            c.add_argument("files", nargs="+", help="bench_serving JSONL or printed output")
            c.add_argument("--tier", default="", help="label for the findings")
            c.add_argument("--num-prompts", type=_int_at_least("--num-prompts", 1),
                           help="enables the workload fingerprint check")
            c.add_argument("--seed", type=_int_at_least("--seed", 0), default=1)
        c.add_argument("--reference", default=None, help="reference file (params/reference/)")
        c.add_argument("--rel", type=_ratio, default=0.01, help="relative tolerance")
        c.add_argument("--format", choices=("text", "json"), default="text")
        c.add_argument("--strict", action="store_true", help="exit 1 when there are findings")
        c.set_defaults(fn=fn)

    c = sub.add_parser("compare", help="compare a result with the reference for a tier")
    c.add_argument("result", help="bench_serving JSONL or printed output")
    c.add_argument("--tier", default=None, help="the reference tier (default: inferred from the "
                   "result's token totals)")
    c.add_argument("--reference", default=None)
    c.add_argument("--profile", default=None, help="profile the run used (hardware, model, TP)")
    c.add_argument("--meta", action="append", help="KEY=VALUE facts about the run")
    c.add_argument("--format", choices=("text", "json"), default="text")
    c.set_defaults(fn=cmd_compare)

    pa = sub.add_parser("parse", help="bench_serving's printed output or JSONL as a table with "
                        "bench_serving's field names")
    pa.add_argument("files", nargs="+", help="bench_serving JSONL or printed output (logs)")
    pa.add_argument("--format", choices=("table", "csv", "json"), default="table")
    pa.set_defaults(fn=cmd_parse)

    d = sub.add_parser("diff", help="RUN_A (base) against RUN_B: per tier and metric the change, "
                       "its 95 %% interval and a verdict; exit 1 on a regression")
    d.add_argument("run_a", help="the base run folder (outputs/<run-id>)")
    d.add_argument("run_b", help="the candidate run folder")
    d.add_argument("--tier", action="append", help="only this tier (repeatable); default: all shared")
    d.add_argument("--format", choices=("table", "json"), default="table")
    d.set_defaults(fn=cmd_diff)

    ce = sub.add_parser("compare-engines", help="two runs of two engines (e.g. local-kimi576 and "
                        "local-vllm-kimi576) side by side per tier: each metric, the ratio B/A, "
                        "whether it is beyond the repeats' noise; an HTML page")
    ce.add_argument("run_a", help="run folder A, the base (outputs/<run-id>)")
    ce.add_argument("run_b", help="run folder B, the other engine")
    ce.add_argument("--tier", action="append", help="only this tier (repeatable); default: all shared")
    ce.add_argument("--out", help="the HTML page (default: beside RUN_A, compare-A-vs-B.html)")
    ce.add_argument("--format", choices=("table", "json"), default="table")
    ce.set_defaults(fn=cmd_compare_engines)

    sw = sub.add_parser("sweep", help="a concurrency sweep (notebooks/sweep.ipynb): Pareto front, "
                        "goodput under the profile's SLO, a run folder with the HTML page")
    sw.add_argument("-f", "--profile", default="local", help="profile name or YAML path")
    sw.add_argument("-p", "--param", action="append", default=[], help="KEY=VALUE override")
    sw.add_argument("--concurrencies", help="e.g. 1,4,16 (default: the profile's benchmark.sweep)")
    sw.add_argument("--prompts-per-concurrency", type=_int_at_least("--prompts-per-concurrency", 1))
    sw.add_argument("--warmup-per-concurrency", type=_int_at_least("--warmup-per-concurrency", 0))
    sw.add_argument("--input-len", type=_int_at_least("--input-len", 1))
    sw.add_argument("--output-len", type=_int_at_least("--output-len", 1))
    sw.add_argument("--repeats", type=_int_at_least("--repeats", 1))
    sw.add_argument("--runner", choices=("auto", "bench_serving", "builtin"), default="auto")
    sw.set_defaults(fn=cmd_sweep)

    r = sub.add_parser("run", help="the whole runbook: every notebook, a run folder, an HTML report")
    r.add_argument("-f", "--profile", default="local", help="profile name or YAML path")
    r.add_argument("-p", "--param", action="append", default=[], help="KEY=VALUE override")
    r.add_argument("--attach", action="store_true",
                   help="use the server already up at the profile's endpoint: no container, no "
                   "launch, no teardown (rerun the tiers without reloading the model); the same as "
                   "-p container.launcher=attach")
    r.add_argument("--baseline", metavar="RUN_DIR",
                   help="judge this run against an earlier run folder, as `runbook diff RUN_DIR "
                   "THIS_RUN` does; a regression fails the report step (-p report.baseline=RUN_DIR)")
    r.set_defaults(fn=cmd_run)

    pr = sub.add_parser("params", help="show a profile resolved: every value, and the file in its "
                        "extends: chain (or -p, or the schema default) it came from")
    pr.add_argument("action", choices=("show",))
    pr.add_argument("-f", "--profile", default="local", help="profile name or YAML path")
    pr.add_argument("-p", "--param", action="append", default=[], help="KEY=VALUE override")
    pr.add_argument("--format", choices=("text", "json"), default="text")
    pr.set_defaults(fn=cmd_params)

    e = sub.add_parser("engine", help="the local engine: base | build | up | down | status | "
                       "freeze | unfreeze | check")
    e.add_argument("action", choices=("base", "build", "up", "down", "status", "freeze", "unfreeze",
                                      "check"),
                   help="base: only the Debian base image every local engine image is built FROM; "
                   "freeze: write the built image's packages to its constraints file; unfreeze: "
                   "hold only torch (the next build re-resolves); check: the built image against "
                   "its constraints (exit 1 on drift)")
    e.add_argument("-f", "--profile", default="local")
    e.add_argument("-p", "--param", action="append", default=[], help="KEY=VALUE override")
    e.add_argument("--force", action="store_true", help="build: ignore the cache")
    e.set_defaults(fn=cmd_engine)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except RunbookError as e:
        print(f"runbook {args.cmd}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"runbook {args.cmd}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
