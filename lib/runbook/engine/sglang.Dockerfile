# The local stand-in for lmsysorg/sglang:v0.5.7-rocm700-mi30x: Debian bookworm's Python 3.11, the
# real sglang 0.5.7 (server, bench_serving, kimi_k2 parser) on CPU torch, and the generated
# tiny-kimi model (Kimi K2's architecture, scaled down) with a ShareGPT-format dataset.
# Built by `runbook engine build`; never pulled. What differs from the real image, and why, is
# written beside each step.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_CERT=/etc/runbook/host-ca.crt \
    SSL_CERT_FILE=/etc/runbook/host-ca.crt \
    PATH=/opt/engine/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SGLANG_USE_CPU_ENGINE=1

# TLS to the package registries passes a proxy only the host trusts: carry its CA bundle in.
COPY host-ca.crt /etc/runbook/host-ca.crt

# torch 2.13.0+cpu (a local wheel carried in, else PyTorch's CPU index: the package registry's
# torch is a CUDA build), then sglang 0.5.7 without
# its CUDA pins, then its CPU-usable requirements with torch held by a constraint. torchao 0.9.0
# is imported unconditionally and imports with torch 2.13 (--no-deps: its pins are older).
COPY wheels/ /wheels/
COPY sglang-cpu-requirements.txt /opt/runbook/
ARG TORCH_INDEX=""
RUN python3 -m venv /opt/engine \
 && if [ -n "$TORCH_INDEX" ]; then pip install --index-url "$TORCH_INDEX" "torch==2.13.0+cpu"; \
    else pip install /wheels/torch-*.whl; fi \
 && echo "torch==2.13.0" > /opt/runbook/constraints.txt \
 && pip install --no-deps "sglang==0.5.7" \
 && pip install -c /opt/runbook/constraints.txt -r /opt/runbook/sglang-cpu-requirements.txt \
 && pip install --no-deps "torchao==0.9.0" \
 && rm -rf /wheels

# The registry's torchvision is CUDA-linked (see patch_torchvision.py); the two 0.5.7 CPU bugs
# (see patch_sglang.py); placeholders for the GPU kernel packages with no CPU build (see
# placeholders/README.md: they raise, and log, if ever called).
COPY patch_torchvision.py patch_sglang.py install_placeholders.py /opt/runbook/
COPY placeholders/ /opt/runbook/placeholders/
RUN python3 /opt/runbook/patch_torchvision.py \
 && python3 /opt/runbook/patch_sglang.py \
 && python3 /opt/runbook/install_placeholders.py \
 && python3 -c "import sglang, sglang.srt.entrypoints.http_server, sglang.bench_serving; print('sglang', sglang.__version__)" \
 && if python3 -c "import tiktoken" 2>/dev/null; then echo "tiktoken must come from the pre-install step" >&2; exit 1; fi

# The project's own model and dataset, generated deterministically (fixed seeds, same bytes).
COPY make_kimi.py make_dataset.py /opt/runbook/
RUN python3 /opt/runbook/make_kimi.py /models/tiny-kimi \
 && python3 /opt/runbook/make_dataset.py /data/sharegpt.json \
 && (cd /models/tiny-kimi && sha256sum * > /models/tiny-kimi.sha256)

WORKDIR /work
