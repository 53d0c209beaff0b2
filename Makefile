# The README's two commands: `make demo` (the main job on the embedded default) and `make test`.
# Each does all set-up on a fresh machine: the venv, the Docker daemon, the engine image.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup engine demo test lint clean-runs

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

setup: $(BIN)/.installed
	bash scripts/ensure-docker.sh

# Built once, then reused until its inputs change (a content hash in its label).
engine: setup
	$(BIN)/runbook engine build

demo: engine
	$(BIN)/runbook check-reference
	$(BIN)/runbook engine up
	$(BIN)/runbook engine status
	$(BIN)/runbook engine down

lint: setup
	$(BIN)/ruff check lib tests bench

test: engine lint
	$(BIN)/pytest -ra tests
