# The README's two commands: `make demo` (the main job on the embedded default) and `make test`.
# Each does all set-up on a fresh machine: the venv, the Docker daemon, the engine image.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup engine engines demo test test-fast test-latest lint lock lock-upgrade clean-runs

# The venv is exactly requirements.lock (hashes checked, nothing resolved), made anew when the
# lock changes; pyproject.toml's ranges only feed `make lock`.
$(BIN)/.installed: requirements.lock scripts/install-lock.sh
	PY=$(PY) bash scripts/install-lock.sh $(VENV) requirements.lock .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# Re-resolve pyproject.toml's ranges into requirements.lock and show what changed: `make lock`
# keeps the pins that still fit, `make lock-upgrade` takes the newest allowed.
lock: $(BIN)/.installed
	$(BIN)/python scripts/lock.py

lock-upgrade: $(BIN)/.installed
	$(BIN)/python scripts/lock.py --upgrade

setup: $(BIN)/.installed
	bash scripts/setup-host.sh

# Built once, then reused until its inputs change (a content hash in its label): the SGLang
# stand-in for the main job. Without a Docker daemon (not root), the process launcher's venv.
engine: setup
	@if docker info >/dev/null 2>&1; then $(BIN)/runbook engine build; \
	else echo "no Docker daemon: building the engine venv for the process launcher"; \
	$(BIN)/runbook engine build -f local-process; fi

# The main job: every notebook on the embedded default into outputs/<run-id>/ (index.html).
demo: engine
	@p=local; docker info >/dev/null 2>&1 || p=local-process; \
	$(BIN)/runbook run -f params/$$p.yaml

# The tests also need the second engine profile's image (vLLM stand-in) and the engine venv:
# built side by side after the shared base image (scripts/build-engines.sh).
engines: setup
	BIN=$(BIN) bash scripts/build-engines.sh

lint: setup
	$(BIN)/ruff check lib tests scripts bench notebooks

test: engines lint
	$(BIN)/pytest -ra --durations=15 tests

# The inner loop: the unit tests only (no engine, image, browser, kernel or venv).
test-fast: $(BIN)/.installed
	$(BIN)/pytest -q -m "not engine and not browser and not slow" tests

# The newest versions pyproject.toml allows, in a throwaway venv: unit tests and one invocation
# test against the miniature. Not CI's (the registry changes under it).
test-latest: engines
	PY=$(PY) bash scripts/test-latest.sh
