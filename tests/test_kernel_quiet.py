"""`runbook run` starts each notebook's kernel over IPC: ipykernel's "Kernel is running over TCP
without encryption" warning (once per notebook, eleven a run) is not printed, because the kernel
is not on TCP, not because output is filtered. The same notebook on papermill's default TCP
kernel prints it (what the test would see if the manager were lost)."""

from __future__ import annotations

import nbformat
import papermill as pm
import pytest

from runbook.orchestrate import execute

WARNING = "without encryption"

pytestmark = pytest.mark.slow


def _notebook(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                             "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 0", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print(x + 1)")]
    path = tmp_path / "k.ipynb"
    nbformat.write(nb, path)
    return path


def test_the_runs_kernels_start_quietly_on_ipc(tmp_path, capfd):
    out = tmp_path / "out.ipynb"
    execute(_notebook(tmp_path), out, {"x": 41})
    assert nbformat.read(out, 4).cells[-1].outputs[0]["text"] == "42\n"
    assert WARNING not in capfd.readouterr().err


def test_papermills_default_tcp_kernel_warns(tmp_path, capfd):
    pm.execute_notebook(str(_notebook(tmp_path)), str(tmp_path / "o.ipynb"), kernel_name="python3",
                        progress_bar=False)
    assert WARNING in capfd.readouterr().err
