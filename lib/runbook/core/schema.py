"""The profile schema: one pydantic model per section of a profile (``params/*.yaml``) — the
target (hardware, model), the container, the server launch, the benchmark tiers and sweep, the
report's tolerances, the cluster — and ``TierRun``, what one run of a tier is once resolved.

Every model forbids unknown keys, so a typo is an error, not a silently ignored setting.
Loading, ``extends:`` and overrides are ``params.py``'s.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runbook.core.errors import ParamsError


class Strict(BaseModel):
    """Base for every params model: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Target(Strict):
    hardware: str = Field(description="What the run is on, e.g. 'AMD MI300X x8'")
    model: str = Field(description="Model name clients send (the served model name)")
    tokenizer: str | None = Field(None, description="Tokenizer id or path for client-side use")
    revision: str | None = Field(None, description="Pinned model revision (commit) to stage; "
                                 "passed to the server as --revision")
    weights_source: Literal["auto", "hub", "folder", "image", "generate", "server"] = Field(
        "auto", description="Where the server's weights come from. hub: the weights step downloads "
        "into weights_dir (the hub cache layout) and the server loads that copy offline; folder: "
        "weights_dir IS the model folder (offline clusters), the server is pointed at it; image: "
        "the locally built image's generated model; generate: a project-generated model "
        "(a tiny-kimi variant named by server.model_path's folder) written on the host; server: "
        "the server downloads at start, into "
        "weights_dir; auto: image for locally built images, folder where weights_dir holds a "
        "config.json, else hub")
    model_size_gb: float = Field(gt=0, description="Size of the weights on disk, for checks")
    weight_dtype: Literal["auto", "fp8", "bf16", "fp16", "fp32", "int4"] = Field(
        "auto", description="bytes per weight for the decode floor (auto: from the checkpoint's "
        "config.json; Kimi-K2-Instruct is block FP8)")
    weights_dir: str = Field(description="Host folder holding (or receiving) the weights")
    endpoint: str | None = Field(
        None, description="Base URL of the server; default http://127.0.0.1:<server.port>"
    )
    tool_choice: str = Field(
        "auto", description="tool_choice of the tool-calling check: auto (a real model chooses), "
        "required, or a function name (a random model calls only when forced)")
    hf_token_env: str | None = Field(
        "HF_TOKEN", description="Environment variable holding the hub token (never a literal)"
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must start with http:// or https:// followed by a host")
        return v.rstrip("/") if v else v


class Container(Strict):
    launcher: Literal["docker", "process", "attach"] = Field(
        "docker", description="docker: the recipe's container; process: a host venv; attach: the "
        "server already up at target.endpoint (nothing created, started or stopped)")
    image: str = Field(min_length=1)
    build: Literal["local"] | None = Field(
        None, description="'local': the image is built by `runbook engine build`, never pulled"
    )
    name: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
    privileged: bool = False
    ipc: str | None = None
    network: str | None = None
    cap_add: list[str] = []
    devices: list[str] = []
    gpus: Literal["all"] | None = Field(None, description="NVIDIA: docker run --gpus all (AMD passes "
                                        "/dev/kfd and /dev/dri as devices instead)")
    group_add: list[str] = []
    security_opt: list[str] = []
    volumes: list[str] = []
    env: dict[str, str] = {}
    command: str = "/bin/bash"
    pre_install: str | None = None

    @field_validator("volumes")
    @classmethod
    def _volume_spec(cls, v: list[str]) -> list[str]:
        for spec in v:
            parts = spec.split(":")
            if len(parts) not in (2, 3) or not parts[0] or not parts[1].startswith("/"):
                raise ValueError(
                    f"volume {spec!r} must be HOST:CONTAINER[:ro|rw] with an absolute container path"
                )
            if len(parts) == 3 and parts[2] not in ("ro", "rw"):
                raise ValueError(f"volume {spec!r}: mode must be ro or rw")
        return v


class Readiness(Strict):
    endpoints: list[str] = Field(
        default_factory=lambda: ["/health_generate", "/health"], min_length=1
    )
    timeout_s: float = Field(gt=0, description="Give up waiting for readiness after this")
    interval_s: float = Field(2.0, gt=0, le=60)

    @field_validator("endpoints")
    @classmethod
    def _no_models_probe(cls, v: list[str]) -> list[str]:
        for ep in v:
            if not ep.startswith("/"):
                raise ValueError(f"endpoint {ep!r} must start with '/'")
            if ep.rstrip("/") == "/v1/models":
                raise ValueError(
                    "/v1/models answers before the model can generate; use /health_generate "
                    "or /health"
                )
        return v


class Server(Strict):
    engine: Literal["sglang", "vllm"] = "sglang"
    python: str = "python3"
    module: str = "sglang.launch_server"
    env: dict[str, str] = {}
    model_path: str
    tokenizer_path: str | None = None
    tp: int = Field(1, ge=1, le=64)
    tool_call_parser: str | None = None
    sglang_version: str | None = Field(None, description="the SGLang release the image ships; the "
                                       "launch command is checked against that release's parser")
    trust_remote_code: bool = False
    host: str = "127.0.0.1"
    port: int = Field(30000, ge=1, le=65535)
    extra_args: list[str] = []
    readiness: Readiness
    api_key_env: str | None = Field(
        None, description="Environment variable holding the server's API key (--api-key)")
    api_key_file: str | None = Field(None, description="Or a file holding it")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v):
            raise ValueError("must be the NAME of an environment variable, not the key itself")
        return v

    @field_validator("extra_args")
    @classmethod
    def _no_literal_key(cls, v: list[str]) -> list[str]:
        for a in v:
            if a.split("=")[0] in ("--api-key", "--hf-token"):
                raise ValueError(f"{a.split('=')[0]} must not be a literal in params: set "
                                 "server.api_key_env (or api_key_file) instead")
        return v


class TierWorkload(Strict):
    """What a tier sends: bench_serving's random workload and pacing. Shared by a profile's tiers
    and by the resolved ``TierRun``, so both are bounded by one definition."""

    concurrency: int = Field(ge=1, description="--max-concurrency: streams in flight")
    num_prompts: int = Field(ge=1)
    input_len: int = Field(ge=1, description="--random-input-len")
    output_len: int = Field(ge=1, description="--random-output-len")
    range_ratio: float = Field(0.0, ge=0.0, le=1.0)
    request_rate: float = Field(math.inf, gt=0, description="req/s; inf = all at t=0")
    seed: int = Field(1, ge=0)
    warmup_requests: int = Field(1, ge=0)
    flush_cache: bool = True

    @field_validator("request_rate", mode="before")
    @classmethod
    def _inf(cls, v: Any) -> Any:
        if isinstance(v, str) and v.strip().lower() in ("inf", "infinity"):
            return math.inf
        return v


class Tier(TierWorkload):
    """A profile's tier: its workload, run ``repeats`` times."""

    repeats: int = Field(1, ge=1, le=20, description="runs of the tier; 2 or more give each figure a "
                         "95 % confidence interval")
    vary_seed: bool = Field(False, description="repeat k uses seed + k (a different workload each "
                            "time); the default keeps one workload, so the fingerprint holds")


class TierRun(TierWorkload):
    """One run of a tier as a runner sees it: the workload, fully resolved, and where it goes."""

    tier: str = Field(min_length=1)
    endpoint: str = "http://127.0.0.1:30000"
    model: str = ""
    backend: str = "sglang"
    tokenizer: str | None = None
    dataset_path: str | None = None
    min_dataset_conversations: int = Field(0, ge=0, description="checked before bench_serving runs "
                                           "(0: no check)")
    tag: str | None = None
    repeat: int = Field(0, ge=0, description="k of a tier's repeats (1-based; 0: the tier runs once)")
    api_key: str | None = None
    request_timeout_s: float = Field(1800.0, gt=0)
    prompt_format: Literal["auto", "token_ids", "text"] = "auto"  # the builtin runner's only
    extra_args: list[str] = Field(default_factory=list)

    def workload_fields(self) -> dict[str, Any]:
        """The fields bench_serving writes (or that identify the workload) for a result row."""
        return {"tier": self.tier, "num_prompts": self.num_prompts, "seed": self.seed,
                "dataset_name": "random", "random_input_len": self.input_len,
                "random_output_len": self.output_len, "random_range_ratio": self.range_ratio,
                "max_concurrency": self.concurrency, "request_rate": self.request_rate,
                "backend": self.backend, "tag": self.tag}


class Sweep(Strict):
    """A concurrency ladder with the recipe's methodology (random 1000/1000, seed 1) and, as
    InferenceX does, prompts and warm-up requests in proportion to the concurrency."""

    concurrencies: list[int] = Field(default_factory=lambda: [1, 4, 16, 64, 100], min_length=1,
                                     description="--max-concurrency of each point")
    prompts_per_concurrency: int = Field(10, ge=1, description="--num-prompts = this × concurrency")
    warmup_per_concurrency: int = Field(2, ge=0, description="warm-up requests = this × concurrency")
    input_len: int = Field(1000, ge=1)
    output_len: int = Field(1000, ge=1)
    range_ratio: float = Field(0.0, ge=0.0, le=1.0)
    seed: int = Field(1, ge=0)
    repeats: int = Field(1, ge=1, le=20, description="runs per point (the same workload each time)")
    vary_seed: bool = Field(False, description="repeat k uses seed + k")

    @field_validator("concurrencies")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(c < 1 for c in v):
            raise ValueError("every concurrency must be ≥ 1")
        return sorted(set(v))


class Slo(Strict):
    """A per-request service level: goodput counts the requests meeting it; a sweep point meets
    it when at least ``attainment`` of its requests do."""

    ttft_ms: float | None = Field(2000.0, gt=0, description="time to first token bound (ms)")
    tpot_ms: float | None = Field(50.0, gt=0, description="time per output token bound (ms)")
    attainment: float = Field(0.99, gt=0, le=1, description="share of requests that must meet it")


class Benchmark(Strict):
    runner: Literal["auto", "bench_serving", "builtin"] = "auto"
    backend: str = "sglang"
    dataset_name: Literal["random"] = "random"
    dataset_path: str | None = Field(
        None, description="ShareGPT JSON bench_serving samples prompts from (offline clusters)"
    )
    min_dataset_conversations: int = Field(0, ge=0)
    prompt_format: Literal["auto", "token_ids", "text"] = Field(
        "auto", description="builtin runner's prompts: auto (token ids: input_ids on SGLang's "
        "/generate, else on /v1/completions), token_ids, or text made with the local tokenizer "
        "(servers that take no token ids)")
    tiers: dict[str, Tier] = Field(min_length=1)
    sweep: Sweep = Field(default_factory=Sweep)
    slo: Slo = Field(default_factory=Slo)
    extra_args: list[str] = []

    @field_validator("tiers")
    @classmethod
    def _tier_names(cls, v: dict[str, Tier]) -> dict[str, Tier]:
        for name in v:
            if not re.match(r"^[a-z][a-z0-9_-]*$", name):
                raise ValueError(f"tier name {name!r} must be lowercase letters, digits, - or _")
        return v


class Tolerances(Strict):
    default_rel: float = Field(0.05, ge=0, le=10)
    per_metric: dict[str, float] = {}
    consistency_rel: float = Field(0.01, ge=0, le=1)


class Report(Strict):
    reference: str | None = Field(None, description="Reference file under params/reference/")
    baseline: str | None = Field(None, description="a previous run folder (outputs/<run-id>) this "
                                 "run is judged against, as `runbook diff BASELINE THIS_RUN` does")
    tolerances: Tolerances = Tolerances()


class Cluster(Strict):
    """More than one node: launch plans the runbook writes (and checks with SGLang's parsers) for a
    person or a scheduler to run on each node; a run itself drives one node."""

    mode: Literal["single", "multi-node-tp", "pd-disaggregation"] = "single"
    nodes: list[str] = Field([], description="multi-node-tp: each node's address, rank 0 first "
                             "(its address is --dist-init-addr)")
    dist_init_port: int = Field(5000, ge=1, le=65535, description="rank 0's port for torch.distributed")
    prefill: list[str] = Field([], description="pd-disaggregation: the prefill nodes' addresses")
    decode: list[str] = Field([], description="pd-disaggregation: the decode nodes' addresses")
    transfer_backend: Literal["mooncake", "nixl"] = Field(
        "mooncake", description="--disaggregation-transfer-backend: how KV moves prefill → decode")
    ib_device: str | None = Field(None, description="--disaggregation-ib-device (RDMA NIC), e.g. mlx5_0")
    bootstrap_port: int = Field(8998, ge=1, le=65535, description="--disaggregation-bootstrap-port")
    router_port: int = Field(8000, ge=1, le=65535,
                             description="sglang-router's port: the endpoint clients use")
    router_version: str = Field("0.3.2", description="the sglang-router release the router command is "
                                "checked against (install the same on the router node)")

    @model_validator(mode="after")
    def _enough_nodes(self) -> Cluster:
        if self.mode == "multi-node-tp" and len(self.nodes) < 2:
            raise ValueError("multi-node-tp needs two or more cluster.nodes (rank 0 first)")
        if self.mode == "pd-disaggregation" and not (self.prefill and self.decode):
            raise ValueError("pd-disaggregation needs cluster.prefill and cluster.decode nodes")
        return self


class Profile(Strict):
    profile: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
    description: str = ""
    target: Target
    container: Container
    server: Server
    benchmark: Benchmark
    report: Report = Report()
    cluster: Cluster = Cluster()

    @model_validator(mode="after")
    def _local_image_not_a_registry_path(self) -> Profile:
        # A local build has no registry to pull from: make sure nobody points it at one.
        if self.container.build == "local" and "/" in self.container.image.split(":")[0]:
            raise ValueError(
                "container.image: a locally built image must not look like a registry path"
            )
        n = len(self.cluster.nodes)
        if self.cluster.mode == "multi-node-tp" and self.server.tp % n:
            raise ValueError(f"cluster: server.tp {self.server.tp} must split evenly over {n} nodes "
                             f"(TP 16 over 2 nodes of 8 GPUs, say)")
        return self

    @property
    def endpoint(self) -> str:
        return self.target.endpoint or f"http://127.0.0.1:{self.server.port}"

    def tier(self, name: str) -> Tier:
        try:
            return self.benchmark.tiers[name]
        except KeyError:
            raise ParamsError(
                f"tier {name!r} does not exist",
                file=self.profile,
                field="benchmark.tiers",
                allowed=", ".join(self.benchmark.tiers),
            ) from None


# --------------------------------------------------------------------------------------------
# Loading
