#!/usr/bin/env bash
# `make test-latest`: the runbook on the newest versions pyproject.toml allows, as a user who
# imports it into their own JupyterLab gets them. A throwaway venv resolves them afresh (no lock),
# then runs the unit tests and one invocation test against the miniature (the engine image, built
# by `make engines`). Kept out of CI on purpose: the registry changes under it. What it finds is a
# reason to fix the code or a range, then `make lock-upgrade`.
set -uo pipefail
py=${PY:-python3}
dir=$(mktemp -d "${TMPDIR:-/tmp}/runbook-latest.XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "test-latest: resolving the newest allowed versions into $dir/venv"
"$py" -m venv "$dir/venv" || exit 1
"$dir/venv/bin/pip" install -q --disable-pip-version-check -e '.[test]' || exit 1
"$dir/venv/bin/python" - <<'PY'
from importlib.metadata import version
from runbook import lockfile
have, want = lockfile.installed(), lockfile.expected(lockfile.read())
newer = [f"{n} {want[n]} -> {v}" for n, v in sorted(have.items()) if n in want and want[n] != v]
print(f"test-latest: {len(newer)} package(s) differ from requirements.lock")
for line in newer:
    print("  " + line)
PY
"$dir/venv/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
rc=0
# The unit tests (the one that asserts the venv is the lock is not for this venv).
"$dir/venv/bin/pytest" -q -p no:cacheprovider -m "not engine" tests \
  --deselect tests/test_lock.py::test_the_suite_runs_in_exactly_the_lock || rc=1
# One invocation test against the real SGLang miniature: the client path users' openai takes.
"$dir/venv/bin/pytest" -q -p no:cacheprovider tests/test_invoke.py -k "api_key or basic_all_pass" || rc=1
echo "test-latest: $([ $rc = 0 ] && echo PASS || echo FAIL) on the newest allowed versions"
exit $rc
